package opa_test

import (
	"time"

	"testing"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// TestLostAccessProperty: for any sequence of reveals, check-ins, clock moves, Ticks and policy
// changes that take a user's access away or give it back, what the engine shows matches a model
// in which a checkout is over at its expiry, at its holder's check-in, or when its holder loses
// access; and in the end each checkout that ended so was recorded once with its check-in type and
// rotated once with its reason.
func TestLostAccessProperty(t *testing.T) {
	key := testKey(t, revealjwe.KindP256)
	rapid.Check(t, func(rt *rapid.T) {
		f := newAccessFixture(t)
		a := f.account("svc1", opa.AccountTypeShared, "")
		users := []opa.Principal{f.alice, f.bob}
		policies := make([]string, len(users))
		input := func(u int, active bool) opa.PolicyInput {
			return opa.PolicyInput{Name: "p-" + users[u].Username, Active: active, PrincipalUserIDs: []string{users[u].UserID},
				Rules: []opa.PolicyRule{lostAccessRule(a)}}
		}
		for u := range users {
			pol, err := f.e.CreatePolicy(f.ctx, f.secAdmin, input(u, true))
			if err != nil {
				rt.Fatal(err)
			}
			policies[u] = pol.ID
		}
		var (
			access                    = []bool{true, true}
			holder                    = -1
			expiry                    time.Time
			ended                     bool // the last checkout was checked in or lost before its expiry
			expiredN, checkinN, lostN int
		)
		inForce := func() int {
			if holder >= 0 && !ended && f.clock.Now().Before(expiry) {
				return holder
			}
			return -1
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			u := rapid.IntRange(0, 1).Draw(rt, "user")
			switch op := rapid.SampledFrom([]string{"reveal", "checkin", "advance", "tick", "revoke", "grant"}).Draw(rt, "op"); op {
			case "reveal":
				if !access[u] {
					continue // no access method to reveal with; the views are checked below
				}
				h := inForce()
				_, err := f.reveal(users[u], a.ID, key)
				switch {
				case h >= 0 && h != u:
					if !errors.Is(err, opa.ErrConflict) {
						rt.Fatalf("%s's reveal during the other's checkout: %v", users[u].Username, err)
					}
					continue
				case err != nil:
					rt.Fatalf("%s's reveal: %v", users[u].Username, err)
				}
				if h < 0 {
					if holder >= 0 && !ended {
						expiredN++
					}
					holder, expiry, ended = u, f.clock.Now().Add(30*time.Minute), false
				}
			case "checkin":
				err := f.e.CheckInResource(f.ctx, users[u], opa.CheckinRequest{ResourceID: a.ID})
				if inForce() == u {
					if err != nil {
						rt.Fatalf("check-in in time: %v", err)
					}
					ended = true
					checkinN++
				} else if !errors.Is(err, opa.ErrNotFound) {
					rt.Fatalf("check-in of what %s does not hold: %v", users[u].Username, err)
				}
			case "advance":
				f.clock.Advance(time.Duration(rapid.IntRange(0, 40).Draw(rt, "minutes")) * time.Minute)
			case "tick":
				if err := f.e.Tick(f.ctx); err != nil {
					rt.Fatal(err)
				}
			case "revoke", "grant":
				if _, err := f.e.UpdatePolicy(f.ctx, f.secAdmin, policies[u], input(u, op == "grant")); err != nil {
					rt.Fatal(err)
				}
				access[u] = op == "grant"
				if !access[u] && inForce() == u {
					ended = true
					lostN++
				}
			}
			h := inForce()
			for i, p := range users {
				d, err := f.e.ADAccountEndUser(f.ctx, p, f.conn.ID, a.ID)
				if !access[i] {
					if !errors.Is(err, opa.ErrNotFound) {
						rt.Fatalf("%s without access sees the account: %v", p.Username, err)
					}
					continue
				}
				if err != nil {
					rt.Fatal(err)
				}
				want := opa.AvailabilityAvailable
				switch {
				case h == i:
					want = opa.AvailabilityCheckedOut
				case h >= 0:
					want = opa.AvailabilityCheckedOutByOther
				}
				if d.Account.AvailabilityStatus != want {
					rt.Fatalf("%s sees %s, want %s", p.Username, d.Account.AvailabilityStatus, want)
				}
			}
		}
		if holder >= 0 && !ended {
			expiredN++
		}
		f.clock.Advance(time.Hour)
		if err := f.e.Tick(f.ctx); err != nil {
			rt.Fatal(err)
		}
		recs := map[string]int{}
		for _, co := range f.checkouts(a.ID) {
			recs[co.CheckinType]++
		}
		want := map[string]int{opa.CheckinSystemExpired: expiredN, opa.CheckinSelf: checkinN, opa.CheckinSystemLostAccess: lostN}
		for typ, n := range want {
			if recs[typ] != n {
				rt.Fatalf("%d %s check-ins, model %d (all: %v)", recs[typ], typ, n, recs)
			}
		}
		for reason, n := range map[string]int{"CHECKOUT_EXPIRED": expiredN, "CHECKIN": checkinN, "USER_LOST_ACCESS": lostN} {
			if got := f.rotations(a.ID, reason); got != n {
				rt.Fatalf("%d %s rotations, model %d%s", got, reason, n, f.auditTrail(a.ID))
			}
		}
		var acct *storage.Account
		if err := f.e.Store().View(f.ctx, func(tx storage.ReadTx) error {
			var err error
			acct, err = storage.Accounts.Get(tx, a.ID)
			return err
		}); err != nil || acct.Credential.RotationPending {
			rt.Fatalf("account at the end: %v, rotation pending %v", err, acct != nil && acct.Credential.RotationPending)
		}
	})
}
