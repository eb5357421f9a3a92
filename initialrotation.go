package opa

import (
	"context"
	"time"

	"github.com/opakit/opa/storage"
)

// Initial rotation: what an account rule's enable_initial_password_rotation does.
//
// An account rule with the flag rotates the password of every account it brings under management
// (an account that was unmanaged, or newly discovered, and that a rule now manages) when the
// engine holds no password for it, so that from then on the password is one the engine set and
// vaulted. The engine cannot read an AD password (unicodePwd can be written, never read), so
// without the flag an account comes under management with no vaulted password
// (MISSING_PASSWORD) and keeps its current password in the directory until its first reveal, which
// rotates it first (RevealADAccountPassword), or until a rotation on demand, by an administrator,
// or by the periodic schedule. docs/wire.md#rules records the decision and its sources.
//
// Rule evaluation (evaluator.apply) marks such an account: a pending rotation with the reason
// rotationReasonInitialManagement. The change that evaluated the accounts (a force sync, a sync
// job's run, a rule or rule settings change) commits first; then rotateInitial rotates the marked
// accounts of the connection, each outside any transaction as every rotation is. A failed one is
// recorded on the account (ROTATION_FAILED, error type, counters) and stays pending, and the next
// Tick retries it (rotateDue retries every pending rotation). The flag set on a rule later does not
// rotate the accounts the rule already manages (they are not coming under management), and
// clearing it, or the account leaving management, cancels a pending initial rotation that has not
// run. While one is pending the account stays available: a reveal rotates it itself, exactly as
// for any account without a vaulted password.

// rotationReasonInitialManagement is the reason of an initial rotation, in the audit trail and
// rotation_pending_reason.
const rotationReasonInitialManagement = "INITIAL_ROTATION"

// markInitialRotation sets or clears a's pending initial rotation during rule evaluation. r is the
// rule that manages a (nil: none); arriving says a comes under management in this evaluation.
// It never touches a pending rotation of another reason (a check-in's, which sets a password
// too).
func markInitialRotation(a *storage.Account, r *storage.Rule, arriving bool, now time.Time) {
	c := &a.Credential
	pending := c.RotationPending && c.RotationPendingReason == rotationReasonInitialManagement
	want := r != nil && r.EnableInitialPasswordRotation && len(c.Password) == 0 && (arriving || pending)
	switch {
	case want && !pending && !c.RotationPending:
		c.RotationPending, c.RotationPendingReason, c.RotationPendingSinceTime = true, rotationReasonInitialManagement, now
	case !want && pending:
		c.RotationPending, c.RotationPendingReason, c.RotationPendingSinceTime = false, "", time.Time{}
	}
}

// rotationBlocks reports whether a pending rotation makes the resource unavailable until it has
// run: a rotation after a check-in must come before anyone reads the password again; an initial
// rotation does not block, since a reveal of an account with no vaulted password rotates first.
func rotationBlocks(c *storage.CredentialState) bool {
	return c.RotationPending && c.RotationPendingReason != rotationReasonInitialManagement
}

// rotateInitial runs the initial rotations pending on the connection's managed accounts, after the
// change that marked them has committed. Failures are recorded on the accounts and logged, not
// returned: the change itself succeeded, and Tick retries them. Its cost is one read of the
// connection's accounts plus one rotation (a directory call) per marked account.
func (e *Engine) rotateInitial(ctx context.Context, connID string) {
	var (
		teamID string
		ids    []string
	)
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		accts, err := storage.Accounts.BorrowList(tx, storage.AccountsByConnection, connID)
		for _, a := range accts {
			if adManaged(a) && a.Credential.RotationPending && a.Credential.RotationPendingReason == rotationReasonInitialManagement {
				teamID = a.TeamID
				ids = append(ids, a.ID)
			}
		}
		return err
	})
	if err != nil {
		e.log.Warn("initial rotations not started", "connection_id", connID, "error_class", ErrorClass(err))
		return
	}
	sys := Principal{TeamID: teamID, Username: "system", system: true}
	for _, id := range ids {
		if err := e.rotate(ctx, sys, ResourceTypeADAccount, id, rotationReasonInitialManagement, ""); err != nil {
			e.log.Warn("initial rotation failed", "account_id", id, "error_class", ErrorClass(err))
		}
	}
}
