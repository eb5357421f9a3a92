package opa

import (
	"context"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Checkout expiry, decided here (docs/wire.md#checkout):
//
//   - A checkout is in force while the clock is before its expiry time, and over from that instant,
//     whether or not anything has run since. Every read and every decision sees it so at the
//     clock's current time: the holder no longer holds it (a reveal is a new request, which checks
//     the account out again when its access method requires that), another user may check the
//     account out, the views show it available, and the checkout lists show it checked in by the
//     system at its expiry (checkin_type system_checkout_expired).
//   - Settling records that end: the checkout's check-in (system_checkout_expired, checked in at the
//     expiry time) and the password rotation a check-in triggers (reason CHECKOUT_EXPIRED). It is
//     done by whichever comes first: Tick (expireCheckouts), or a write that touches the account (a
//     reveal, a check-in, a rotation), which settles before doing its own work. So the next user
//     never reads the password the previous holder knew.
//   - Exactly once, however those race: the check-in commits only while the checkout is still the
//     account's active one (the store's unique index on Checkout.ActiveResourceID), and the
//     rotation runs only while the account's rotation is still pending (rotate checks that under
//     the account's rotation lock). A caller that loses the check-in waits for, or runs, the pending
//     rotation, so when it goes on the account is settled.

// errUnsettled makes a write's transaction roll back so that what it found is settled first
// (settleExpired): an expired checkout, or a check-in whose rotation has not run yet. The write
// then starts again.
var errUnsettled = errors.New("a checkout has ended and is not yet settled")

// unsettled reports whether r was checked in (by its holder, an admin or at its expiry) and the
// rotation that asked for has not run yet: none has failed, it is pending or running now. A write
// waits for it (settleExpired) rather than answering a conflict; after a failed rotation the
// account stays unavailable until a rotation succeeds (usable).
func unsettled(r resource) bool {
	c := r.cred()
	return c.RotationPending && isCheckinRotation(c.RotationPendingReason) &&
		r.statusDetail() != StatusRotationFailed
}

// inForce reports whether the lease is a checkout in force at now.
func inForce(l *storage.LeaseState, now time.Time) bool {
	return l.Status == leaseCheckedOut && l.ExpiresAt.After(now)
}

// expiredAt reports whether the lease is a checkout that has ended by now but is not settled yet.
func expiredAt(l *storage.LeaseState, now time.Time) bool {
	return l.Status == leaseCheckedOut && !l.ExpiresAt.After(now)
}

// settledView returns co as it stands at now: an active checkout whose time is up is shown as its
// settling records it (checked in at its expiry by the system, system_checkout_expired). co itself
// is not changed (it may be borrowed from the store).
func settledView(co *storage.Checkout, now time.Time) *storage.Checkout {
	if co.ActiveResourceID == "" || co.ExpiresAt.After(now) {
		return co
	}
	v := *co
	v.ActiveResourceID, v.CheckinAt, v.CheckinType, v.CheckinBy = "", co.ExpiresAt, CheckinSystemExpired, "system"
	v.Status = checkoutStatusComplete
	return &v
}

// systemPrincipal is the engine itself acting in the team: Tick, settling, scheduled work.
func systemPrincipal(teamID string) Principal {
	return Principal{TeamID: teamID, Username: "system", system: true}
}

// settleExpired settles the expired checkout of the resource (see the top of this file): it checks
// it in as system_checkout_expired and rotates the password, or, when another caller checked it
// in first (at expiry or not), makes sure that caller's rotation has run. Rotation failures are recorded on the
// account (ROTATION_FAILED; Tick retries), not returned; storage errors are.
func (e *Engine) settleExpired(ctx context.Context, teamID, kind, id string) error {
	now := e.now()
	err := e.endCheckout(ctx, systemPrincipal(teamID), CheckinRequest{ResourceID: id, ResourceType: kind}, CheckinSystemExpired,
		func(_ storage.ReadTx, co *storage.Checkout) error {
			if co.ExpiresAt.After(now) {
				return notFoundf("the checkout of resource %q has not expired", id)
			}
			return nil
		})
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	// Someone else checked it in first. Its rotation stays pending until it has run; rotate runs
	// it now if it has not (and is a no-op if it has), under the same lock as the other caller's.
	var reason string
	err = e.store.View(ctx, func(tx storage.ReadTx) error {
		r, err := loadResource(tx, "", kind, id)
		if err == nil && unsettled(r) {
			reason = r.cred().RotationPendingReason
		}
		return err
	})
	if err != nil || reason == "" {
		return err
	}
	if err := e.rotate(ctx, systemPrincipal(teamID), kind, id, reason, ""); err != nil {
		e.log.Warn("rotation after a check-in failed", "resource_id", id, "error_class", ErrorClass(err))
	}
	return nil
}

// settleIfExpired settles the resource if it is unsettled: its checkout has expired, or it was
// checked in and the rotation that asked for has not run yet; a no-op otherwise. Writes that do
// not run the decision in a transaction of their own (rotations) call it before they change the
// account, so an admin's rotation never stands in for the check-in's own (each is recorded).
func (e *Engine) settleIfExpired(ctx context.Context, kind, id string) error {
	var teamID string
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		r, err := loadResource(tx, "", kind, id)
		if err == nil && (expiredAt(r.lease(), e.now()) || unsettled(r)) {
			teamID = r.teamID()
		}
		return err
	})
	if err != nil || teamID == "" {
		return err
	}
	return e.settleExpired(ctx, teamID, kind, id)
}

// expireCheckouts settles every checkout whose time is up that no write has settled yet (see the
// top of this file). Part of Tick.
//
// It is a leased step (leasedStep): one engine of those sharing the store processes expiries at a
// time; each settling is still its own transactions, exactly once against the writes too.
func (e *Engine) expireCheckouts(ctx context.Context) error {
	return leasedStep(ctx, e, "expiry", e.expiredCheckouts, e.settleAll)
}

// expiredCheckouts returns the active checkouts whose time is up at the clock's time. O(checkouts).
func (e *Engine) expiredCheckouts(ctx context.Context) ([]*storage.Checkout, error) {
	now := e.now()
	var due []*storage.Checkout
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		all, err := storage.Checkouts.All(tx)
		for _, co := range all {
			if co.ActiveResourceID != "" && !co.ExpiresAt.After(now) {
				due = append(due, co)
			}
		}
		return err
	})
	return due, err
}

// settleAll settles the expired checkouts due (settleExpired).
func (e *Engine) settleAll(ctx context.Context, due []*storage.Checkout) error {
	var errs error
	for _, co := range due {
		if err := e.settleExpired(ctx, co.TeamID, co.ResourceType, co.ResourceID); err != nil {
			errs = errors.CombineErrors(errs, err)
		}
	}
	return errs
}
