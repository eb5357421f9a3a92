package opa_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// checkoutFixture has one shared account that alice and bob may reveal with checkout required by
// the policy (max 1 hour) while the project's duration is 30 minutes.
func checkoutFixture(t *testing.T) (*accessFixture, storage.Account) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	f.policy(opa.PolicyRule{Name: "co", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources:  opa.PolicyResources{ADAccountIDs: []string{a.ID}},
		Conditions: opa.PolicyConditions{CheckoutRequired: true, CheckoutMaxSeconds: 3600}}, f.alice, f.bob)
	return f, a
}

func availability(t *testing.T, f *accessFixture, p opa.Principal, id string) string {
	t.Helper()
	d, err := f.e.ADAccountEndUser(f.ctx, p, f.conn.ID, id)
	must(t, err)
	return d.Account.AvailabilityStatus
}

func TestCheckoutExclusiveAndSelfCheckinRotates(t *testing.T) {
	f, a := checkoutFixture(t)
	key := testKey(t, revealjwe.KindP256)
	pw, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	acct := f.getAccount(a.ID)
	start := f.clock.Now().UTC()
	if acct.Lease.Status != "checked_out" || acct.Lease.UserID != f.alice.UserID || !acct.Lease.ExpiresAt.Equal(start.Add(30*time.Minute)) {
		t.Fatalf("lease after reveal: %+v (want 30 minutes: the shorter of policy and project)", acct.Lease)
	}
	if got := availability(t, f, f.alice, a.ID); got != opa.AvailabilityCheckedOut {
		t.Fatalf("alice sees %s", got)
	}
	if got := availability(t, f, f.bob, a.ID); got != opa.AvailabilityCheckedOutByOther {
		t.Fatalf("bob sees %s", got)
	}
	if _, err := f.reveal(f.bob, a.ID, key); !errors.Is(err, opa.ErrConflict) {
		t.Fatalf("bob's reveal during alice's checkout: got %v, want conflict", err)
	}
	again, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	if again != pw {
		t.Fatal("the holder's second reveal returned another password")
	}
	ms, _ := f.e.ADAccountUAMs(f.ctx, f.alice, f.conn.ID, a.ID, "")
	if len(ms) != 1 || !ms[0].CheckoutRequirements.Required || ms[0].CheckoutRequirements.MaxCheckoutDurationInSeconds != 1800 || ms[0].CurrentUserCheckoutExpiresAt == nil {
		t.Fatalf("UAM during checkout: %+v", ms)
	}
	page, err := f.e.CheckedOutResources(f.ctx, f.alice, opa.CheckedOutFilter{}, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ResourceID != a.ID || page.Items[0].ResourceType != opa.ResourceTypeADAccount {
		t.Fatalf("alice's checkouts: %+v", page.Items)
	}
	// Bob cannot check in alice's checkout.
	if err := f.e.CheckInResource(f.ctx, f.bob, opa.CheckinRequest{ResourceID: a.ID}); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("bob's check-in: got %v", err)
	}
	must(t, f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID, ResourceType: opa.ResourceTypeADAccount}))
	acct = f.getAccount(a.ID)
	dirPW, _ := f.dir.Password(a.DistinguishedName)
	if acct.Lease.Status != "" || acct.Lease.LastCheckoutUserID != f.alice.UserID || acct.StatusDetail != "ROTATED" || dirPW == pw {
		t.Fatalf("after check-in: lease %+v, status %s, rotated=%v", acct.Lease, acct.StatusDetail, dirPW != pw)
	}
	got, err := f.reveal(f.bob, a.ID, key)
	must(t, err)
	if got != dirPW {
		t.Fatal("bob did not get the rotated password")
	}
	admin, err := f.e.ProjectCheckedOutResources(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckedOutFilter{IncludeCheckedIn: true}, opa.PageRequest{})
	must(t, err)
	types := map[string]int{}
	for _, it := range admin.Items {
		types[it.CheckinType]++
	}
	if types["self"] != 1 || types[""] != 1 {
		t.Fatalf("project checkouts: %+v", admin.Items)
	}
	if _, err := f.e.ProjectCheckedOutResources(f.ctx, f.alice, f.rg.ID, f.proj.ID, opa.CheckedOutFilter{}, opa.PageRequest{}); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("end user on the admin list: got %v", err)
	}
	// Forced check-in by the security admin.
	must(t, f.e.AdminCheckInResource(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID}))
	if got := availability(t, f, f.bob, a.ID); got != opa.AvailabilityAvailable {
		t.Fatalf("after admin check-in bob sees %s", got)
	}
}

func TestCheckoutExpiryChecksInAndRotates(t *testing.T) {
	f, a := checkoutFixture(t)
	key := testKey(t, revealjwe.KindP256)
	pw, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	f.clock.Advance(29 * time.Minute)
	must(t, f.e.Tick(f.ctx))
	if got := f.getAccount(a.ID); got.Lease.Status != "checked_out" {
		t.Fatal("checked in before expiry")
	}
	f.clock.Advance(time.Minute)
	must(t, f.e.Tick(f.ctx))
	acct := f.getAccount(a.ID)
	if acct.Lease.Status != "" || acct.Credential.SuccessCount != 2 {
		t.Fatalf("after expiry: lease %+v, %d rotations", acct.Lease, acct.Credential.SuccessCount)
	}
	if dirPW, _ := f.dir.Password(a.DistinguishedName); dirPW == pw {
		t.Fatal("the password was not rotated on expiry")
	}
	page, err := f.e.ProjectCheckedOutResources(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckedOutFilter{IncludeCheckedIn: true}, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].CheckinType != opa.CheckinSystemExpired || page.Items[0].CheckinBy != "system" {
		t.Fatalf("expired checkout: %+v", page.Items)
	}
	if _, err := f.reveal(f.bob, a.ID, key); err != nil {
		t.Fatalf("bob after expiry: %v", err)
	}
}

func TestFailedRotationAfterCheckinKeepsAccountUnavailable(t *testing.T) {
	f, a := checkoutFixture(t)
	key := testKey(t, revealjwe.KindP256)
	_, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	f.dir.SetNoAgent(true)
	must(t, f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID}))
	acct := f.getAccount(a.ID)
	if acct.StatusDetail != "ROTATION_FAILED" || acct.Credential.LastErrorType != opa.RotationErrAgentUnavailable || !acct.Credential.RotationPending {
		t.Fatalf("after failed rotation: %s %q pending=%v", acct.StatusDetail, acct.Credential.LastErrorType, acct.Credential.RotationPending)
	}
	must(t, f.e.Store().View(f.ctx, func(tx storage.ReadTx) error {
		cos, err := storage.Checkouts.List(tx, storage.CheckoutsByResource, a.ID)
		if err == nil && (len(cos) != 1 || cos[0].Status != "checkin_failed") {
			t.Errorf("checkout record after a failed rotation: %+v", cos)
		}
		return err
	}))
	for _, p := range []opa.Principal{f.alice, f.bob} {
		if got := availability(t, f, p, a.ID); got != opa.AvailabilityUnavailable {
			t.Fatalf("%s sees %s", p.Username, got)
		}
		if _, err := f.reveal(p, a.ID, key); !errors.Is(err, opa.ErrConflict) {
			t.Fatalf("%s's reveal while rotation is pending: got %v", p.Username, err)
		}
	}
	d, err := f.e.ADAccountEndUser(f.ctx, f.bob, f.conn.ID, a.ID)
	must(t, err)
	if d.Rotation.LastPasswordChangeErrorType == nil || *d.Rotation.LastPasswordChangeErrorType != "AGENT_UNAVAILABLE" || d.Rotation.PasswordChangeErrorCountSinceLastSuccess != 1 {
		t.Fatalf("rotation details: %+v", d.Rotation)
	}
	// Tick retries while the agent is down: still unavailable.
	must(t, f.e.Tick(f.ctx))
	if got := f.getAccount(a.ID); got.Credential.ErrorsSinceLastSuccess != 2 {
		t.Fatalf("retry not recorded: %d", got.Credential.ErrorsSinceLastSuccess)
	}
	f.dir.SetNoAgent(false)
	must(t, f.e.Tick(f.ctx))
	if got := availability(t, f, f.bob, a.ID); got != opa.AvailabilityAvailable {
		t.Fatalf("after a successful retry bob sees %s", got)
	}
	pw, err := f.reveal(f.bob, a.ID, key)
	must(t, err)
	if dirPW, _ := f.dir.Password(a.DistinguishedName); dirPW != pw {
		t.Fatal("revealed password differs from the directory's")
	}
}

func TestConcurrentRevealsExactlyOneCheckout(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	const n = 12
	users := make([]opa.Principal, n)
	var ids []string
	for i := range users {
		users[i] = f.user("u" + string(rune('a'+i)))
		ids = append(ids, users[i].UserID)
	}
	_, err := f.e.CreatePolicy(f.ctx, f.secAdmin, opa.PolicyInput{Name: "all", Active: true, PrincipalUserIDs: ids,
		Rules: []opa.PolicyRule{{Privileges: []string{opa.PrivilegeRevealPassword},
			Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}, Conditions: opa.PolicyConditions{CheckoutRequired: true}}}})
	must(t, err)
	key := testKey(t, revealjwe.KindP256)
	jwk, _ := key.PublicJWK()
	uams := make([]opa.UserAccessMethod, n)
	for i, u := range users {
		uams[i] = f.uam(u, a.ID, opa.PrivilegeRevealPassword)
	}
	for round := 0; round < 3; round++ {
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			wins, conflicts int
			winner          opa.Principal
			start           = make(chan struct{})
			unexpected      []error
		)
		for i, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := f.e.RevealADAccountPassword(f.ctx, u, f.conn.ID, a.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: uams[i]})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
					winner = u
				case errors.Is(err, opa.ErrConflict):
					conflicts++
				default:
					unexpected = append(unexpected, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != n-1 || len(unexpected) > 0 {
			t.Fatalf("round %d: %d wins, %d conflicts, unexpected %v", round, wins, conflicts, unexpected)
		}
		must(t, f.e.CheckInResource(f.ctx, winner, opa.CheckinRequest{ResourceID: a.ID}))
	}
}

func TestProjectSettingRequiresCheckoutAndConditionsForbid(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	b := f.account("svc2", opa.AccountTypeShared, "")
	f.policy(opa.PolicyRule{Name: "plain", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{ADProjectIDs: []string{f.proj.ID}}}, f.alice)
	_, err := f.e.UpdateProjectCheckoutSettings(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, opa.ProjectCheckoutSettings{
		CheckoutRequired: true, CheckoutDurationInSeconds: 7200, ExcludeList: []opa.ProjectAccountRef{{AccountSID: b.SID}}})
	must(t, err)
	key := testKey(t, revealjwe.KindP256)
	_, err = f.reveal(f.alice, a.ID, key)
	must(t, err)
	_, err = f.reveal(f.alice, b.ID, key)
	must(t, err)
	if got := f.getAccount(a.ID); got.Lease.Status != "checked_out" || !got.Lease.ExpiresAt.Equal(f.clock.Now().UTC().Add(2*time.Hour)) {
		t.Fatalf("project setting did not check out for 2 hours: %+v", got.Lease)
	}
	if got := f.getAccount(b.ID); got.Lease.Status != "" {
		t.Fatal("an excluded account was checked out")
	}

	// A rule with an MFA condition is listed, with condition_is_met false, but does not authorize.
	f.policy(opa.PolicyRule{Name: "mfa", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{ADAccountIDs: []string{b.ID}}, Conditions: opa.PolicyConditions{MFARequired: true}}, f.bob)
	m := f.uam(f.bob, b.ID, opa.PrivilegeRevealPassword)
	if len(m.Conditionals) != 1 || m.Conditionals[0].Type != "mfa" || m.Conditionals[0].ConditionIsMet {
		t.Fatalf("conditionals: %+v", m.Conditionals)
	}
	jwk, _ := key.PublicJWK()
	if _, err := f.e.RevealADAccountPassword(f.ctx, f.bob, f.conn.ID, b.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: m}); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("unmet MFA condition: got %v", err)
	}

	// A delegated security admin of the project's resource group may force the check-in.
	deleg := f.user("deleg", opa.RoleGrant{Role: opa.RoleDelegatedSecurityAdmin, ResourceGroupID: f.rg.ID})
	must(t, f.e.AdminCheckInResource(f.ctx, deleg, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID}))
	if err := f.e.AdminCheckInResource(f.ctx, deleg, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID}); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("second forced check-in: got %v", err)
	}
}
