package opa

import (
	"context"
	"slices"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Lost access, decided here (docs/wire.md#checkout): a checkout in force whose holder no longer
// has access to its resource is checked in by the system (checkin_type system_user_lost_access,
// checked in when it is noticed) and the password rotated (reason USER_LOST_ACCESS), so the
// former holder's copy of the password stops working. The holder has access while an active
// policy naming the holder or one of the holder's live groups has a rule that selects the
// resource with a privilege that reads the password (reveal_password, password_checkout_rdp,
// password_checkout_ssh), and the holder is an active user. The rule's conditions (MFA, access
// requests) are not asked again: they were met when the checkout began. An AD account that left
// management is not the holder's loss: its checkout runs until check-in or expiry.
//
// It is noticed after every change that can take access away — UpdatePolicy, DeletePolicy,
// UpdateSecurityPolicy, RemoveGroupMember, DeleteGroup, SetUserGroups, SetUserStatus,
// SetUserStatusByName, UpdateADAccountMatch, every account rule or rule settings change
// (ruleChange) and every account sync that completes — and by Tick for a change whose sweep did not finish. Exactly once, as for expiry (expiry.go): the check-in commits only
// while the checkout is still the resource's active one and its holder still lacks access (both
// checked in the check-in's transaction), and its rotation runs only while it is still pending.

// holderLostAccess reports whether the holder of the active checkout co no longer has access to
// its resource (see the top of this file). A resource that no longer exists or left management
// reports false: there is nothing the holder lost.
func (e *Engine) holderLostAccess(tx storage.ReadTx, co *storage.Checkout) (bool, error) {
	r, err := loadResource(tx, co.TeamID, co.ResourceType, co.ResourceID)
	if errors.Is(err, ErrNotFound) || err == nil && r.ad != nil && !adManaged(r.ad) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	team, err := storage.Teams.Get(tx, co.TeamID)
	if err != nil {
		return false, err
	}
	u, err := storage.Users.Get(tx, co.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return true, nil
	case err != nil:
		return false, err
	case u.Status != UserActive:
		return true, nil
	}
	p, err := e.principalOf(tx, team, u.ID)
	if err != nil {
		return false, err
	}
	set, err := policiesFor(tx, p)
	if err != nil {
		return false, err
	}
	for _, g := range set.forResource(r) {
		if slices.ContainsFunc(g.rule.Privileges, revealPrivilege) {
			return false, nil
		}
	}
	return true, nil
}

// lostAccessCheckouts returns the checkouts in force whose holders lost access: those of the
// users when userIDs is not nil (O(their checkouts)), else the team's when teamID is set (O(the
// team's checkouts)), else every team's (O(checkouts)).
func (e *Engine) lostAccessCheckouts(ctx context.Context, teamID string, userIDs []string) ([]*storage.Checkout, error) {
	now := e.now()
	var due []*storage.Checkout
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var (
			cos []*storage.Checkout
			err error
		)
		switch {
		case userIDs != nil:
			for _, id := range userIDs {
				mine, err := storage.Checkouts.BorrowList(tx, storage.CheckoutsByUser, id)
				if err != nil {
					return err
				}
				cos = append(cos, mine...)
			}
		case teamID != "":
			cos, err = storage.Checkouts.BorrowList(tx, storage.CheckoutsByTeam, teamID)
		default: // every team's, borrowed: only the few kept are copied
			teams, terr := storage.Teams.All(tx)
			if terr != nil {
				return terr
			}
			for _, t := range teams {
				theirs, err := storage.Checkouts.BorrowList(tx, storage.CheckoutsByTeam, t.ID)
				if err != nil {
					return err
				}
				cos = append(cos, theirs...)
			}
		}
		if err != nil {
			return err
		}
		for _, co := range cos {
			if co.ActiveResourceID == "" || !co.ExpiresAt.After(now) || teamID != "" && co.TeamID != teamID {
				continue // ended, or expired: expiry settles it
			}
			lost, err := e.holderLostAccess(tx, co)
			if err != nil {
				return err
			}
			if lost {
				c := *co
				due = append(due, &c)
			}
		}
		return nil
	})
	return due, err
}

// checkInLostAccess checks in the checkouts due (system_user_lost_access) and rotates their
// passwords; a checkout someone else ended first is left to that caller, whose rotation is made
// sure of (settleIfExpired). Rotation failures are recorded on the account, not returned.
func (e *Engine) checkInLostAccess(ctx context.Context, due []*storage.Checkout) error {
	var errs error
	for _, co := range due {
		err := e.endCheckout(ctx, systemPrincipal(co.TeamID), CheckinRequest{ResourceID: co.ResourceID, ResourceType: co.ResourceType},
			CheckinSystemLostAccess, func(tx storage.ReadTx, cur *storage.Checkout) error {
				if cur.ID != co.ID {
					return notFoundf("the checkout %s of resource %q has ended", co.ID, co.ResourceID)
				}
				lost, err := e.holderLostAccess(tx, cur)
				if err == nil && !lost {
					err = notFoundf("the holder of resource %q has access again", co.ResourceID)
				}
				return err
			})
		if errors.Is(err, ErrNotFound) {
			err = e.settleIfExpired(ctx, co.ResourceType, co.ResourceID)
		}
		if err != nil {
			errs = errors.CombineErrors(errs, err)
		}
	}
	return errs
}

// afterAccessChange checks in the team's checkouts whose holders lost access through a change
// that has committed: those of the users when userIDs is not nil (a change to them alone), else
// every one of the team's. Its failures are logged, not returned: the change stands, and Tick
// (checkInLostAll) finishes the work.
func (e *Engine) afterAccessChange(ctx context.Context, teamID string, userIDs []string) {
	ctx = context.WithoutCancel(ctx)
	due, err := e.lostAccessCheckouts(ctx, teamID, userIDs)
	if err == nil {
		err = e.checkInLostAccess(ctx, due)
	}
	if err != nil {
		e.log.Warn("checking in the checkouts of users who lost access", "team_id", teamID, "error_class", ErrorClass(err))
	}
}

// afterUsersChanged runs afterAccessChange for the users when err is nil (the change to them
// committed) and returns err.
func (e *Engine) afterUsersChanged(ctx context.Context, teamID string, userIDs []string, err error) error {
	if err == nil {
		e.afterAccessChange(ctx, teamID, append([]string{}, userIDs...))
	}
	return err
}

// checkInLostAll is Tick's part: every team's checkouts whose holders lost access. A leased
// step (leasedStep), as expiry.
func (e *Engine) checkInLostAll(ctx context.Context) error {
	return leasedStep(ctx, e, "lost_access",
		func(ctx context.Context) ([]*storage.Checkout, error) { return e.lostAccessCheckouts(ctx, "", nil) },
		e.checkInLostAccess)
}
