package opa_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// rotations counts the successful rotations of the resource recorded for the reason.
func (f *accessFixture) rotations(resourceID, reason string) int {
	f.t.Helper()
	n := 0
	must(f.t, f.e.Store().View(f.ctx, func(tx storage.ReadTx) error {
		evs, err := storage.AuditEvents.All(tx)
		for _, ev := range evs {
			if ev.ResourceID == resourceID && ev.Action == opa.AuditRotate && ev.Outcome == "success" && ev.Detail == "reason "+reason {
				n++
			}
		}
		return err
	}))
	return n
}

// auditTrail describes the resource's audit events, oldest first, for a failure message.
func (f *accessFixture) auditTrail(resourceID string) string {
	f.t.Helper()
	var b strings.Builder
	must(f.t, f.e.Store().View(f.ctx, func(tx storage.ReadTx) error {
		evs, err := storage.AuditEvents.All(tx)
		for _, ev := range evs {
			if ev.ResourceID == resourceID {
				fmt.Fprintf(&b, "\n  %s %s %s %q", ev.ActorID, ev.Action, ev.Outcome, ev.Detail)
			}
		}
		return err
	}))
	return b.String()
}

// checkouts returns the checkout records of the resource, oldest first.
func (f *accessFixture) checkouts(resourceID string) []*storage.Checkout {
	f.t.Helper()
	var cos []*storage.Checkout
	must(f.t, f.e.Store().View(f.ctx, func(tx storage.ReadTx) error {
		var err error
		cos, err = storage.Checkouts.List(tx, storage.CheckoutsByResource, resourceID)
		return err
	}))
	for i := 1; i < len(cos); i++ { // insertion sort by checkout time: a handful of records
		for j := i; j > 0 && cos[j].CheckoutAt.Before(cos[j-1].CheckoutAt); j-- {
			cos[j], cos[j-1] = cos[j-1], cos[j]
		}
	}
	return cos
}

// TestExpiredCheckoutIsOverWithoutTick: two hours after a 30-minute checkout, with no Tick, every
// view shows the account available, the holder's checkout gone from the lists, and another user's
// reveal settles the expiry (one check-in, one rotation) and checks the account out to them.
func TestExpiredCheckoutIsOverWithoutTick(t *testing.T) {
	f, a := checkoutFixture(t)
	key := testKey(t, revealjwe.KindP256)
	alicePW, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	expiry := f.clock.Now().UTC().Add(30 * time.Minute)
	f.clock.Advance(2 * time.Hour)

	for _, p := range []opa.Principal{f.alice, f.bob} {
		if got := availability(t, f, p, a.ID); got != opa.AvailabilityAvailable {
			t.Fatalf("%s sees %s two hours after the checkout ended", p.Username, got)
		}
		d, err := f.e.ADAccountEndUser(f.ctx, p, f.conn.ID, a.ID)
		must(t, err)
		if d.CheckoutDetails.CurrentUserCheckoutExpiresAt != nil {
			t.Fatalf("%s still has a checkout: %+v", p.Username, d.CheckoutDetails)
		}
		if m := f.uam(p, a.ID, opa.PrivilegeRevealPassword); m.CurrentUserCheckoutExpiresAt != nil || m.ResourceStatus != "available" {
			t.Fatalf("%s's access method: %+v", p.Username, m)
		}
	}
	mine, err := f.e.CheckedOutResources(f.ctx, f.alice, opa.CheckedOutFilter{}, opa.PageRequest{})
	must(t, err)
	if len(mine.Items) != 0 {
		t.Fatalf("alice's active checkouts: %+v", mine.Items)
	}
	all, err := f.e.ProjectCheckedOutResources(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckedOutFilter{IncludeCheckedIn: true}, opa.PageRequest{})
	must(t, err)
	if len(all.Items) != 1 || all.Items[0].CheckinType != opa.CheckinSystemExpired || all.Items[0].CheckinBy != "system" ||
		all.Items[0].CheckinStartAt == nil || !all.Items[0].CheckinStartAt.Equal(expiry) || all.Items[0].ResourceStatus != "available" {
		t.Fatalf("project checkouts: %+v", all.Items)
	}
	d, err := f.e.GetADAccount(f.ctx, f.secAdmin, f.conn.ID, a.ID)
	must(t, err)
	if d.CheckoutStatus != opa.CheckoutAvailable || d.CheckoutExpiryAt != nil || d.LastCheckoutUser != "alice" ||
		d.NextScheduledPasswordRotationTimestamp == nil || !d.NextScheduledPasswordRotationTimestamp.Equal(expiry) ||
		d.NextScheduledPasswordRotationReason != "CHECKOUT_EXPIRED" {
		t.Fatalf("admin details: %+v", d)
	}
	if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != 0 {
		t.Fatalf("a read rotated the password (%d)", n)
	}

	bobPW, err := f.reveal(f.bob, a.ID, key)
	must(t, err)
	if bobPW == alicePW {
		t.Fatal("bob got the password alice knew: the expiry's rotation did not run before his checkout")
	}
	if dirPW, _ := f.dir.Password(a.DistinguishedName); dirPW != bobPW {
		t.Fatal("bob's password is not the directory's")
	}
	cos := f.checkouts(a.ID)
	if len(cos) != 2 || cos[0].CheckinType != opa.CheckinSystemExpired || !cos[0].CheckinAt.Equal(expiry) ||
		cos[1].UserID != f.bob.UserID || cos[1].ActiveResourceID != a.ID {
		t.Fatalf("checkout records: %+v", cos)
	}
	if got := availability(t, f, f.alice, a.ID); got != opa.AvailabilityCheckedOutByOther {
		t.Fatalf("alice sees %s during bob's checkout", got)
	}
	must(t, f.e.Tick(f.ctx))
	if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != 1 {
		t.Fatalf("%d rotations for one expired checkout", n)
	}
	if got := f.getAccount(a.ID); got.Lease.UserID != f.bob.UserID {
		t.Fatalf("Tick disturbed bob's checkout: %+v", got.Lease)
	}
}

// TestHolderAfterExpiry: the former holder can no longer reveal under the ended checkout: a reveal
// settles it and checks the account out afresh, with the rotated password; a late check-in
// answers not found and records the expiry, exactly once whatever runs after it.
func TestHolderAfterExpiry(t *testing.T) {
	f, a := checkoutFixture(t)
	key := testKey(t, revealjwe.KindP256)
	first, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	f.clock.Advance(31 * time.Minute)
	again, err := f.reveal(f.alice, a.ID, key)
	must(t, err)
	if again == first {
		t.Fatal("the holder revealed the old password after the checkout ended")
	}
	cos := f.checkouts(a.ID)
	if len(cos) != 2 || cos[0].CheckinType != opa.CheckinSystemExpired || cos[1].ActiveResourceID != a.ID ||
		!cos[1].ExpiresAt.Equal(f.clock.Now().UTC().Add(30*time.Minute)) {
		t.Fatalf("checkout records: %+v", cos)
	}

	// A check-in after the (second) checkout ended comes too late.
	f.clock.Advance(45 * time.Minute)
	err = f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID})
	wantErr(t, "check-in after expiry", err, opa.ErrNotFound)
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("the error does not say the checkout expired: %v", err)
	}
	if cos := f.checkouts(a.ID); len(cos) != 2 || cos[1].CheckinType != opa.CheckinSystemExpired || cos[1].CheckinBy != "system" {
		t.Fatalf("after the late check-in: %+v", cos)
	}
	must(t, f.e.Tick(f.ctx))
	wantErr(t, "second late check-in", f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID}), opa.ErrNotFound)
	wantErr(t, "late admin check-in", f.e.AdminCheckInResource(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID}), opa.ErrNotFound)
	if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != 2 {
		t.Fatalf("%d expiry rotations for two expired checkouts", n)
	}
	if n := f.rotations(a.ID, "CHECKIN"); n != 0 {
		t.Fatalf("%d check-in rotations; none was in time", n)
	}
}

// TestExpirySettledOnceWhicheverComesFirst: the expiry's check-in and rotation happen once, whether
// Tick or a write (another user's reveal, the holder's check-in, an admin rotation, an on-demand
// rotation) comes first, and whatever follows.
func TestExpirySettledOnceWhicheverComesFirst(t *testing.T) {
	writes := map[string]func(f *accessFixture, a storage.Account) error{
		"reveal": func(f *accessFixture, a storage.Account) error {
			_, err := f.reveal(f.bob, a.ID, testKey(t, revealjwe.KindP256))
			return err
		},
		"checkin": func(f *accessFixture, a storage.Account) error {
			err := f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID})
			if errors.Is(err, opa.ErrNotFound) {
				return nil
			}
			return errors.Newf("late check-in: %v", err)
		},
		"admin rotate": func(f *accessFixture, a storage.Account) error {
			return f.e.AdminRotateResource(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID})
		},
		"rotate": func(f *accessFixture, a storage.Account) error {
			return f.e.RotateADAccountPassword(f.ctx, f.bob, f.conn.ID, a.ID, opa.RotateRequest{UserAccessMethod: f.uam(f.bob, a.ID, opa.PrivilegeRotatePassword)})
		},
	}
	for name, write := range writes {
		for _, tickFirst := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/write first", true: "/tick first"}[tickFirst], func(t *testing.T) {
				f, a := checkoutFixture(t)
				f.policy(opa.PolicyRule{Name: "rot", Privileges: []string{opa.PrivilegeRotatePassword},
					Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}}, f.bob)
				_, err := f.reveal(f.alice, a.ID, testKey(t, revealjwe.KindP256))
				must(t, err)
				f.clock.Advance(time.Hour)
				if tickFirst {
					must(t, f.e.Tick(f.ctx))
				}
				must(t, write(f, a))
				must(t, f.e.Tick(f.ctx))
				if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != 1 {
					t.Fatalf("%d expiry rotations", n)
				}
				expired := 0
				for _, co := range f.checkouts(a.ID) {
					if co.CheckinType == opa.CheckinSystemExpired {
						expired++
					}
				}
				if expired != 1 {
					t.Fatalf("%d expiry check-ins", expired)
				}
			})
		}
	}
}

// TestExpiryRaceExactlyOnce: after a checkout expires, Ticks, reveals by other users, the holder's
// late check-in and an admin rotation race; the expiry is checked in once and rotated once, at
// most one new checkout wins, and its holder reveals the directory's password. Run with -race.
func TestExpiryRaceExactlyOnce(t *testing.T) {
	for round := 0; round < 5; round++ {
		f, a := checkoutFixture(t)
		carol := f.user("carol")
		f.policy(opa.PolicyRule{Name: "carol", Privileges: []string{opa.PrivilegeRevealPassword},
			Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}, Conditions: opa.PolicyConditions{CheckoutRequired: true}}, carol)
		key := testKey(t, revealjwe.KindP256)
		_, err := f.reveal(f.alice, a.ID, key)
		must(t, err)
		f.clock.Advance(time.Hour)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			start   = make(chan struct{})
			got     = map[string]string{}
			badErrs []error
		)
		run := func(fn func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := fn(); err != nil {
					mu.Lock()
					badErrs = append(badErrs, err)
					mu.Unlock()
				}
			}()
		}
		for range 2 {
			run(func() error { return f.e.Tick(f.ctx) })
		}
		for _, p := range []opa.Principal{f.bob, carol} {
			run(func() error {
				pw, err := f.reveal(p, a.ID, key)
				if errors.Is(err, opa.ErrConflict) { // the other one checked it out first
					return nil
				}
				mu.Lock()
				got[p.Username] = pw
				mu.Unlock()
				return err
			})
		}
		run(func() error {
			if err := f.e.CheckInResource(f.ctx, f.alice, opa.CheckinRequest{ResourceID: a.ID}); !errors.Is(err, opa.ErrNotFound) {
				return errors.Newf("late check-in: %v", err)
			}
			return nil
		})
		run(func() error {
			err := f.e.AdminRotateResource(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.CheckinRequest{ResourceID: a.ID})
			if errors.Is(err, opa.ErrConflict) { // a new checkout came first
				return nil
			}
			return err
		})
		close(start)
		wg.Wait()
		if len(badErrs) > 0 {
			t.Fatalf("round %d: %v", round, badErrs)
		}
		if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != 1 {
			t.Fatalf("round %d: %d expiry rotations; audit: %s", round, n, f.auditTrail(a.ID))
		}
		cos := f.checkouts(a.ID)
		active, expired := 0, 0
		for _, co := range cos {
			if co.ActiveResourceID != "" {
				active++
			}
			if co.CheckinType == opa.CheckinSystemExpired {
				expired++
			}
		}
		if expired != 1 || active != len(got) || len(got) > 1 {
			t.Fatalf("round %d: %d expiry check-ins, %d active checkouts, reveals %v", round, expired, active, len(got))
		}
		dirPW, _ := f.dir.Password(a.DistinguishedName)
		for who, pw := range got {
			if pw != dirPW {
				t.Fatalf("round %d: %s holds a password that is not the directory's", round, who)
			}
		}
	}
}

// TestUDCheckoutExpiryWithoutTick: a Universal Directory account's expired checkout is over for
// every view and settled by the next reveal, with one rotation.
func TestUDCheckoutExpiryWithoutTick(t *testing.T) {
	f := newAccessFixture(t)
	ud, err := f.e.CreateUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.UDAccountInput{Name: "ops", Username: "ops@okta.example", Password: "Vaulted-ops-1"})
	must(t, err)
	f.policy(opa.PolicyRule{Name: "ud", Privileges: []string{opa.PrivilegeRevealPassword},
		Resources: opa.PolicyResources{UDAccountIDs: []string{ud.ID}}, Conditions: opa.PolicyConditions{CheckoutRequired: true, CheckoutMaxSeconds: 900}}, f.alice, f.bob)
	key := testKey(t, revealjwe.KindP256)
	jwk, _ := key.PublicJWK()
	revealUD := func(p opa.Principal) (string, error) {
		ms, err := f.e.UDAccountUAMs(f.ctx, p, ud.ID)
		must(t, err)
		resp, err := f.e.RevealUDAccountPassword(f.ctx, p, ud.ID, opa.RevealRequest{PublicKey: jwk, UserAccessMethod: ms[0]})
		if err != nil {
			return "", err
		}
		pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
		return string(pt), err
	}
	pw, err := revealUD(f.alice)
	must(t, err)
	if _, err := revealUD(f.bob); !errors.Is(err, opa.ErrConflict) {
		t.Fatalf("bob during alice's checkout: %v", err)
	}
	f.clock.Advance(16 * time.Minute)
	eu, err := f.e.UDAccountEndUser(f.ctx, f.bob, ud.ID)
	must(t, err)
	if eu.Account.AvailabilityStatus != "available" || eu.CheckoutDetails.CurrentUserCheckoutExpiresAt != nil {
		t.Fatalf("bob's view after expiry: %+v", eu)
	}
	d, err := f.e.ProjectUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, ud.ID)
	must(t, err)
	if d.CheckoutStatus != "available" || d.CheckoutExpiryAt != nil || d.NextScheduledPasswordRotationReason != "CHECKOUT_EXPIRED" {
		t.Fatalf("admin view after expiry: %+v", d)
	}
	bobPW, err := revealUD(f.bob)
	must(t, err)
	if bobPW == pw {
		t.Fatal("bob got alice's password")
	}
	must(t, f.e.Tick(f.ctx))
	if n := f.rotations(ud.ID, "CHECKOUT_EXPIRED"); n != 1 {
		t.Fatalf("%d expiry rotations", n)
	}
	d, err = f.e.ProjectUDAccount(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, ud.ID)
	must(t, err)
	if d.CheckoutStatus != "checked_out" || d.CheckoutExpiryAt == nil || d.LastCheckoutUser != "bob" {
		t.Fatalf("admin view during bob's checkout: %+v", d)
	}
}

// TestPeriodicDueDateInViews: the admin views show the periodic rotation Tick will run, computed
// from the project's current policy, before any rotation and after its time has passed without
// a Tick; none once the policy no longer selects the account.
func TestPeriodicDueDateInViews(t *testing.T) {
	f := newAccessFixture(t)
	a := f.account("svc1", opa.AccountTypeShared, "")
	start := f.clock.Now().UTC()
	next := func() (*time.Time, string) {
		d, err := f.e.GetADAccount(f.ctx, f.secAdmin, f.conn.ID, a.ID)
		must(t, err)
		return d.NextScheduledPasswordRotationTimestamp, d.NextScheduledPasswordRotationReason
	}
	if ts, _ := next(); ts != nil {
		t.Fatalf("a schedule without periodic rotation: %v", ts)
	}
	policy := opa.ProjectPasswordPolicy{EnablePeriodicRotation: true, PeriodicRotationDurationInSeconds: 86400,
		CharacterOptions: opa.PasswordCharacterOptions{LowerCase: true, Digits: true}, MinLengthInBytes: 16, MaxLengthInBytes: 20}
	_, err := f.e.UpdateProjectPasswordPolicy(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, policy)
	must(t, err)
	if ts, reason := next(); ts == nil || !ts.Equal(start.Add(24*time.Hour)) || reason != "PERIODIC_ROTATION" {
		t.Fatalf("before the first rotation: %v %q (want a day after it came under management)", ts, reason)
	}
	f.clock.Advance(25 * time.Hour)
	if ts, _ := next(); ts == nil || !ts.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("overdue: %v (want the time it became due)", ts)
	}
	must(t, f.e.Tick(f.ctx))
	if ts, _ := next(); ts == nil || !ts.Equal(f.clock.Now().UTC().Add(24*time.Hour)) {
		t.Fatalf("after Tick rotated it: %v", ts)
	}
	policy.EnablePeriodicRotation = false
	_, err = f.e.UpdateProjectPasswordPolicy(f.ctx, f.secAdmin, f.rg.ID, f.proj.ID, opa.SettingsAD, policy)
	must(t, err)
	if ts, _ := next(); ts != nil {
		t.Fatalf("periodic rotation off, still shown: %v", ts)
	}
}
