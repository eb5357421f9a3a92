package opa_test

import (
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
)

// TestCheckoutExpiryProperty: for any sequence of reveals and check-ins by two users, clock moves
// and Ticks, what the engine shows and decides matches a model in which a checkout is over at its
// expiry, whether or not anything ran since; every new checkout hands out a password its
// predecessor's holder never saw, and the directory's; and in the end, each checkout that ended by
// expiry was checked in and rotated exactly once as such, each one checked in on time once as a
// check-in.
func TestCheckoutExpiryProperty(t *testing.T) {
	key := testKey(t, revealjwe.KindP256)
	rapid.Check(t, func(rt *rapid.T) {
		f, a := checkoutFixture(t) // alice and bob, 30-minute checkouts
		users := []opa.Principal{f.alice, f.bob}
		var (
			holder     = -1 // index into users of the last checkout's holder; -1 before any
			expiry     time.Time
			checkedIn  bool // the last checkout was checked in by its holder before its expiry
			expiredN   int  // checkouts that ended by expiry
			checkinN   int  // checkouts checked in on time
			previousPW string
			currentPW  string
		)
		inForce := func() int {
			if holder >= 0 && !checkedIn && f.clock.Now().Before(expiry) {
				return holder
			}
			return -1
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			u := rapid.IntRange(0, 1).Draw(rt, "user")
			switch op := rapid.SampledFrom([]string{"reveal", "checkin", "advance", "tick"}).Draw(rt, "op"); op {
			case "reveal":
				h := inForce()
				pw, err := f.reveal(users[u], a.ID, key)
				switch {
				case h >= 0 && h != u:
					if !errors.Is(err, opa.ErrConflict) {
						rt.Fatalf("%s's reveal during the other's checkout: %v", users[u].Username, err)
					}
					continue
				case err != nil:
					rt.Fatalf("%s's reveal: %v", users[u].Username, err)
				}
				if h < 0 { // a new checkout
					if holder >= 0 && !checkedIn {
						expiredN++
					}
					holder, expiry, checkedIn = u, f.clock.Now().Add(30*time.Minute), false
					previousPW, currentPW = currentPW, pw
					if previousPW != "" && pw == previousPW {
						rt.Fatal("a new checkout handed out the password of the one before")
					}
				} else if pw != currentPW {
					rt.Fatal("the holder's second reveal gave another password")
				}
				if dirPW, _ := f.dir.Password(a.DistinguishedName); dirPW != pw {
					rt.Fatal("the revealed password is not the directory's")
				}
			case "checkin":
				err := f.e.CheckInResource(f.ctx, users[u], opa.CheckinRequest{ResourceID: a.ID})
				if inForce() == u {
					if err != nil {
						rt.Fatalf("check-in in time: %v", err)
					}
					checkedIn = true
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
			}
			h := inForce()
			for i, p := range users {
				want := opa.AvailabilityAvailable
				switch {
				case h == i:
					want = opa.AvailabilityCheckedOut
				case h >= 0:
					want = opa.AvailabilityCheckedOutByOther
				}
				d, err := f.e.ADAccountEndUser(f.ctx, p, f.conn.ID, a.ID)
				if err != nil {
					rt.Fatal(err)
				}
				if d.Account.AvailabilityStatus != want || (d.CheckoutDetails.CurrentUserCheckoutExpiresAt != nil) != (h == i) {
					rt.Fatalf("%s sees %s (expires %v), want %s", p.Username, d.Account.AvailabilityStatus, d.CheckoutDetails.CurrentUserCheckoutExpiresAt, want)
				}
				mine, err := f.e.CheckedOutResources(f.ctx, p, opa.CheckedOutFilter{}, opa.PageRequest{})
				if err != nil {
					rt.Fatal(err)
				}
				if (len(mine.Items) == 1) != (h == i) || len(mine.Items) > 1 {
					rt.Fatalf("%s's active checkouts: %d", p.Username, len(mine.Items))
				}
			}
		}
		// Let everything end and be settled.
		if holder >= 0 && !checkedIn {
			expiredN++
		}
		f.clock.Advance(time.Hour)
		if err := f.e.Tick(f.ctx); err != nil {
			rt.Fatal(err)
		}
		expiredRecs, checkinRecs := 0, 0
		for _, co := range f.checkouts(a.ID) {
			switch co.CheckinType {
			case opa.CheckinSystemExpired:
				expiredRecs++
				if !co.CheckinAt.Equal(co.ExpiresAt) {
					rt.Fatalf("an expiry recorded at %s for a checkout that ended at %s", co.CheckinAt, co.ExpiresAt)
				}
			case opa.CheckinSelf:
				checkinRecs++
			}
		}
		if expiredRecs != expiredN || checkinRecs != checkinN {
			rt.Fatalf("records: %d expired, %d checked in; model %d, %d", expiredRecs, checkinRecs, expiredN, checkinN)
		}
		if n := f.rotations(a.ID, "CHECKOUT_EXPIRED"); n != expiredN {
			rt.Fatalf("%d expiry rotations for %d expired checkouts", n, expiredN)
		}
		if n := f.rotations(a.ID, "CHECKIN"); n != checkinN {
			rt.Fatalf("%d check-in rotations for %d check-ins", n, checkinN)
		}
	})
}
