package opa_test

import (
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// lostAccessRule is checkoutFixture's rule, for policies written again.
func lostAccessRule(a storage.Account) opa.PolicyRule {
	return opa.PolicyRule{Name: "co", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources:  opa.PolicyResources{ADAccountIDs: []string{a.ID}},
		Conditions: opa.PolicyConditions{CheckoutRequired: true, CheckoutMaxSeconds: 3600}}
}

// lastCheckout returns the resource's newest checkout record.
func (f *accessFixture) lastCheckout(id string) *storage.Checkout {
	f.t.Helper()
	cos := f.checkouts(id)
	if len(cos) == 0 {
		f.t.Fatalf("no checkout of %s", id)
	}
	return cos[len(cos)-1]
}

// TestLostAccessChecksIn (issue 17 A10): a policy change that leaves the holder of a checkout
// without access checks it in as system_user_lost_access before it returns, and rotates the
// password once (USER_LOST_ACCESS), so the former holder's copy is worthless; a change that
// leaves the holder access, or a second policy that still grants it, checks nothing in; a
// deleted policy and a disabled holder do.
func TestLostAccessChecksIn(t *testing.T) {
	f, a := checkoutFixture(t)
	pol, err := f.e.Policies(f.ctx, f.secAdmin)
	must(t, err)
	polID := pol[0].ID
	key := testKey(t, revealjwe.KindP256)
	alicePW, err := f.reveal(f.alice, a.ID, key)
	must(t, err)

	// A change that keeps alice's access: nothing happens.
	_, err = f.e.UpdatePolicy(f.ctx, f.secAdmin, polID, opa.PolicyInput{Name: "p-co", Description: "renamed", Active: true,
		PrincipalUserIDs: []string{f.alice.UserID, f.bob.UserID}, Rules: []opa.PolicyRule{lostAccessRule(a)}})
	must(t, err)
	if co := f.lastCheckout(a.ID); co.ActiveResourceID == "" {
		t.Fatalf("a change that keeps access ended the checkout: %+v", co)
	}

	// Alice is removed from the policy: checked in by the system now, one rotation.
	f.clock.Advance(5 * time.Minute)
	removedAt := f.clock.Now().UTC()
	_, err = f.e.UpdatePolicy(f.ctx, f.secAdmin, polID, opa.PolicyInput{Name: "p-co", Active: true,
		PrincipalUserIDs: []string{f.bob.UserID}, Rules: []opa.PolicyRule{lostAccessRule(a)}})
	must(t, err)
	co := f.lastCheckout(a.ID)
	if co.ActiveResourceID != "" || co.CheckinType != opa.CheckinSystemLostAccess || co.CheckinBy != "system" || !co.CheckinAt.Equal(removedAt) {
		t.Fatalf("after alice lost access: %+v", co)
	}
	if acct := f.getAccount(a.ID); acct.Lease.Status != "" || acct.Credential.RotationPending {
		t.Fatalf("account after the check-in: lease %+v, rotation pending %v", acct.Lease, acct.Credential.RotationPending)
	}
	if n := f.rotations(a.ID, "USER_LOST_ACCESS"); n != 1 {
		t.Fatalf("%d USER_LOST_ACCESS rotations, want 1%s", n, f.auditTrail(a.ID))
	}
	all, err := f.e.ProjectCheckedOutResources(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckedOutFilter{IncludeCheckedIn: true}, opa.PageRequest{})
	must(t, err)
	if len(all.Items) != 1 || all.Items[0].CheckinType != "system_user_lost_access" || all.Items[0].CheckinBy != "system" || all.Items[0].ResourceStatus != "available" {
		t.Fatalf("project checkouts: %+v", all.Items)
	}
	bobPW, err := f.reveal(f.bob, a.ID, key)
	must(t, err)
	if bobPW == alicePW {
		t.Fatal("the next holder got the password the one who lost access knew")
	}
	wantErr(t, "alice after losing access", errOf(f.e.ADAccountEndUser(f.ctx, f.alice, f.conn.ID, a.ID)), opa.ErrNotFound)
	must(t, f.e.Tick(f.ctx))
	if n := f.rotations(a.ID, "USER_LOST_ACCESS"); n != 1 {
		t.Fatalf("Tick rotated again: %d%s", n, f.auditTrail(a.ID))
	}

	// A second policy still grants bob: deleting the first checks nothing in.
	second := f.policy(opa.PolicyRule{Name: "also", Privileges: []string{opa.PrivilegePasswordCheckoutRDP},
		Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}}, f.bob)
	must(t, f.e.DeletePolicy(f.ctx, f.secAdmin, polID))
	if co := f.lastCheckout(a.ID); co.ActiveResourceID == "" || co.UserID != f.bob.UserID {
		t.Fatalf("bob's checkout ended while a policy still grants him: %+v", co)
	}
	// Deleting that one too does.
	must(t, f.e.DeletePolicy(f.ctx, f.secAdmin, second.ID))
	if co := f.lastCheckout(a.ID); co.ActiveResourceID != "" || co.CheckinType != opa.CheckinSystemLostAccess {
		t.Fatalf("after the last policy was deleted: %+v", co)
	}
	if n := f.rotations(a.ID, "USER_LOST_ACCESS"); n != 2 {
		t.Fatalf("%d USER_LOST_ACCESS rotations, want 2%s", n, f.auditTrail(a.ID))
	}

	// A disabled holder: checked in as the status changes.
	f.clock.Advance(time.Minute) // the checkout records sort by checkout time
	f.policy(lostAccessRule(a), f.alice)
	_, err = f.reveal(f.alice, a.ID, key)
	must(t, err)
	must(t, f.e.SetUserStatus(f.ctx, f.sys, f.alice.UserID, opa.UserDisabled))
	if co := f.lastCheckout(a.ID); co.ActiveResourceID != "" || co.CheckinType != opa.CheckinSystemLostAccess || co.UserID != f.alice.UserID {
		t.Fatalf("after alice was disabled: %+v", co)
	}
	must(t, f.e.Tick(f.ctx))
	if n := f.rotations(a.ID, "USER_LOST_ACCESS"); n != 3 {
		t.Fatalf("%d USER_LOST_ACCESS rotations, want 3%s", n, f.auditTrail(a.ID))
	}
	// An expired checkout is expiry's, not lost access.
	if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != 0 {
		t.Fatalf("%d CHECKOUT_EXPIRED rotations", n)
	}
}

// TestLostAccessExactlyOnce: the policy change, two Ticks and the holder's own check-in race;
// the checkout ends once and its password is rotated once, whoever wins.
func TestLostAccessExactlyOnce(t *testing.T) {
	for i := range 20 {
		f, a := checkoutFixture(t)
		pol, err := f.e.Policies(f.ctx, f.secAdmin)
		must(t, err)
		key := testKey(t, revealjwe.KindP256)
		_, err = f.reveal(f.alice, a.ID, key)
		must(t, err)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := f.e.UpdatePolicy(f.ctx, f.secAdmin, pol[0].ID, opa.PolicyInput{Name: "p-co", Active: true,
				PrincipalUserIDs: []string{f.bob.UserID}, Rules: []opa.PolicyRule{lostAccessRule(a)}})
			if err != nil {
				t.Errorf("update: %v", err)
			}
		})
		for range 2 {
			wg.Go(func() { _ = f.e.Tick(f.ctx) })
		}
		wg.Go(func() { _ = f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID}) })
		wg.Wait()
		must(t, f.e.Tick(f.ctx))
		cos := f.checkouts(a.ID)
		lost, self := f.rotations(a.ID, "USER_LOST_ACCESS"), f.rotations(a.ID, "CHECKIN")
		if len(cos) != 1 || cos[0].ActiveResourceID != "" || lost+self != 1 ||
			(cos[0].CheckinType == opa.CheckinSelf) != (self == 1) {
			t.Fatalf("run %d: checkouts %+v, %d USER_LOST_ACCESS and %d CHECKIN rotations%s", i, cos, lost, self, f.auditTrail(a.ID))
		}
		if acct := f.getAccount(a.ID); acct.Lease.Status != "" || acct.Credential.RotationPending {
			t.Fatalf("run %d: account %+v", i, acct)
		}
	}
}

// TestLostAccessThroughGroups: a policy granting a group; the holder's removal from the group,
// or the group's deletion, checks the holder's checkout in; a change written behind the engine's
// back (a sweep that never ran) is found by Tick.
func TestLostAccessThroughGroups(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	pam := f.user("pam", opa.RoleGrant{Role: opa.RolePAMAdmin})
	grp, err := f.e.CreateGroup(f.ctx, f.sys, opa.GroupInput{Name: "ops"})
	must(t, err)
	_, err = f.e.CreatePolicy(f.ctx, f.secAdmin, opa.PolicyInput{Name: "ops", Active: true, PrincipalGroupIDs: []string{grp.ID},
		Rules: []opa.PolicyRule{lostAccessRule(a)}})
	must(t, err)
	key := testKey(t, revealjwe.KindP256)
	checkout := func() {
		t.Helper()
		f.clock.Advance(time.Minute) // the checkout records sort by checkout time
		must(t, f.e.AddGroupMember(f.ctx, pam, "ops", "alice"))
		alice, err := f.e.PrincipalForUser(f.ctx, "acme", "alice")
		must(t, err)
		_, err = f.reveal(alice, a.ID, key)
		must(t, err)
		if co := f.lastCheckout(a.ID); co.ActiveResourceID == "" {
			t.Fatalf("no checkout: %+v", co)
		}
	}
	lost := func(what string, n int) {
		t.Helper()
		if co := f.lastCheckout(a.ID); co.ActiveResourceID != "" || co.CheckinType != opa.CheckinSystemLostAccess {
			t.Fatalf("%s: %+v", what, co)
		}
		if got := f.rotations(a.ID, "USER_LOST_ACCESS"); got != n {
			t.Fatalf("%s: %d USER_LOST_ACCESS rotations, want %d%s", what, got, n, f.auditTrail(a.ID))
		}
	}

	checkout()
	must(t, f.e.RemoveGroupMember(f.ctx, pam, "ops", "alice"))
	lost("removed from the group", 1)

	checkout()
	must(t, f.e.Store().Update(f.ctx, func(tx storage.WriteTx) error {
		u, err := storage.Users.Get(tx, f.alice.UserID)
		if err != nil {
			return err
		}
		u.GroupIDs = nil
		return storage.Users.Update(tx, u)
	}))
	if co := f.lastCheckout(a.ID); co.ActiveResourceID == "" {
		t.Fatal("a store write checked in by itself")
	}
	must(t, f.e.Tick(f.ctx))
	lost("Tick after a change behind the engine's back", 2)

	checkout()
	must(t, f.e.DeleteGroup(f.ctx, pam, "ops"))
	lost("the group deleted", 3)
	must(t, f.e.Tick(f.ctx))
	lost("Tick again", 3)

	// A deleted holder (the users path, by name).
	f.clock.Advance(time.Minute)
	f.policy(lostAccessRule(a), f.alice)
	_, err = f.reveal(f.alice, a.ID, key)
	must(t, err)
	_, err = f.e.SetUserStatusByName(f.ctx, pam, "alice", false, opa.UserDeleted)
	must(t, err)
	lost("the holder deleted", 4)
}

// TestLostAccessUDAccount: the same for an Okta Universal Directory account: a deleted policy
// checks the holder's UD checkout in (system_user_lost_access) and rotates the vaulted password
// once, so a later reveal hands out another one.
func TestLostAccessUDAccount(t *testing.T) {
	f := newAccessFixture(t)
	ud, err := f.e.CreateUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.UDAccountInput{Name: "alpha", Username: "alpha@okta.example", Password: "Vaulted-alpha"})
	must(t, err)
	rule := opa.PolicyRule{Name: "ud", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources:  opa.PolicyResources{UDAccountIDs: []string{ud.ID}},
		Conditions: opa.PolicyConditions{CheckoutRequired: true}}
	pol := f.policy(rule, f.alice)
	key := testKey(t, revealjwe.KindP256)
	jwk, _ := key.PublicJWK()
	reveal := func() string {
		t.Helper()
		ms, err := f.e.UDAccountUAMs(f.ctx, f.alice, ud.ID)
		must(t, err)
		resp, err := f.e.RevealUDAccountPassword(f.ctx, f.alice, ud.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: ms[0]})
		must(t, err)
		pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
		must(t, err)
		return string(pt)
	}
	if pw := reveal(); pw != "Vaulted-alpha" {
		t.Fatalf("first reveal %q", pw)
	}
	must(t, f.e.DeletePolicy(f.ctx, f.secAdmin, pol.ID))
	if co := f.lastCheckout(ud.ID); co.ActiveResourceID != "" || co.CheckinType != opa.CheckinSystemLostAccess ||
		co.ResourceType != opa.ResourceTypeUDAccount {
		t.Fatalf("UD checkout after the policy was deleted: %+v", co)
	}
	if n := f.rotations(ud.ID, "USER_LOST_ACCESS"); n != 1 {
		t.Fatalf("%d USER_LOST_ACCESS rotations%s", n, f.auditTrail(ud.ID))
	}
	f.clock.Advance(time.Minute)
	f.policy(rule, f.alice)
	if pw := reveal(); pw == "Vaulted-alpha" {
		t.Fatal("after the lost-access rotation the old password is handed out again")
	}
}
