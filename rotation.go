package opa

import (
	"context"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/storage"
)

// Rotation error types recorded in last_password_change_error_type.
const (
	RotationErrPolicyViolation  = "PASSWORD_POLICY_VIOLATION"
	RotationErrAgentUnavailable = "AGENT_UNAVAILABLE"
	RotationErrAgentTimeout     = "AGENT_TIMEOUT"
	RotationErrAccountNotFound  = "ACCOUNT_NOT_FOUND"
	RotationErrUnknown          = "UNKNOWN_ERROR"
)

// Rotation reasons, recorded as next_rotation_reason, rotation_pending_reason and in the audit
// trail.
const (
	rotationReasonCheckin         = "CHECKIN"
	rotationReasonPeriodic        = "PERIODIC_ROTATION"
	rotationReasonOnDemand        = "ON_DEMAND"
	rotationReasonInitial         = "INITIAL_REVEAL"
	rotationReasonCheckoutExpired = "CHECKOUT_EXPIRED"
	rotationReasonAdmin           = "ADMIN"
)

var errAlreadyRotated = errors.New("already rotated")

// rotate sets a new password on the resource and records the outcome.
//
// The password is generated from e.random under the project's password policy (newPassword, when
// not empty, is used instead: a UD rotation with a client-chosen password). For an AD account it is
// set through the connection's directory with no storage transaction open; then a second transaction
// records the result: on success the sealed password, ROTATED, counters and times, the next periodic
// rotation, and the end of a pending post-check-in rotation; on failure ROTATION_FAILED, the error
// type and counters, and a pending rotation stays pending. A rotation that fails after the directory
// accepted the password but before it was recorded loses that password (the account then needs
// another rotation); the directory is the one place that cannot take part in a transaction.
func (e *Engine) rotate(ctx context.Context, actor Principal, kind, id, reason, newPassword string) error {
	unlock := e.rotationLocks.lock(id)
	defer unlock()

	var (
		r    resource
		pol  storage.PasswordPolicy
		conn *storage.Connection
	)
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		var err error
		r, err = loadResource(tx, "", kind, id)
		if err != nil {
			return err
		}
		pr, err := storage.Projects.Get(tx, r.projectID())
		if err != nil {
			return notFoundf("account %q is not in a project", id)
		}
		_, pol = r.settings(pr)
		if r.ad != nil {
			if conn, err = storage.Connections.Get(tx, r.ad.ConnectionID); err != nil {
				return notFoundf("the AD connection of account %q does not exist", id)
			}
		}
		switch {
		case reason == rotationReasonInitial && len(r.cred().Password) > 0:
			return errAlreadyRotated // a concurrent reveal set the first password
		case reason == rotationReasonInitialManagement && (len(r.cred().Password) > 0 || r.cred().RotationPendingReason != reason):
			return errAlreadyRotated // a reveal or another rotation set it first, or it was cancelled
		case r.lease().Status == leaseCheckedOut && reason != rotationReasonOnDemand:
			return errors.WithHint(conflictf("account %q is checked out", r.name()), "check it in first; check-in rotates the password")
		}
		r.setStatusDetail(StatusRotating)
		return r.save(tx, e.now())
	})
	if errors.Is(err, errAlreadyRotated) {
		return nil
	}
	if err != nil {
		return err
	}
	pw := newPassword
	if pw == "" {
		if validatePasswordPolicy(pol) != nil {
			pol = defaultPasswordPolicy()
		}
		if pw, err = generatePassword(e.random, pol); err != nil {
			return e.recordRotation(ctx, actor, r, reason, "", err)
		}
	}
	var dirErr error
	if r.ad != nil {
		var dir directory.Directory
		if dir, dirErr = e.directoryFor(ctx, conn); dirErr == nil {
			dirErr = dir.SetPassword(ctx, r.ad.DistinguishedName, pw)
		}
	}
	return e.recordRotation(ctx, actor, r, reason, pw, dirErr)
}

// rotationErrorType classifies a directory error for last_password_change_error_type, with fixed
// metadata that cannot carry a secret.
func rotationErrorType(err error) (string, string) {
	switch {
	case errors.Is(err, directory.ErrConstraint):
		return RotationErrPolicyViolation, "The directory refused the new password (password policy)."
	case errors.Is(err, ErrUnavailable):
		return RotationErrAgentUnavailable, "There are no connected agents for the AD connection."
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return RotationErrAgentTimeout, "Timed out waiting for the agent."
	case errors.Is(err, ErrNotFound):
		return RotationErrAccountNotFound, "The account no longer exists in the directory."
	}
	return RotationErrUnknown, "The password change failed."
}

func (e *Engine) recordRotation(ctx context.Context, actor Principal, r resource, reason, pw string, rotErr error) error {
	now := e.now()
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		cur, err := r.reload(tx)
		if err != nil {
			return err
		}
		c := cur.cred()
		if rotErr != nil {
			typ, meta := rotationErrorType(rotErr)
			c.ErrorCount++
			c.ErrorsSinceLastSuccess++
			c.LastErrorReportAt, c.LastErrorSystemAt = now, now
			c.LastErrorType, c.LastErrorMetadata = typ, meta
			cur.setStatusDetail(StatusRotationFailed)
			if err := cur.save(tx, now); err != nil {
				return err
			}
			return e.audit(tx, actor, AuditRotate, cur.kind(), cur.id(), "failure", "reason "+reason+"; "+typ)
		}
		c.Password = e.seal.seal(pw, cur.purpose(), cur.id())
		c.LastRotationAt = now
		c.SuccessCount++
		c.ErrorsSinceLastSuccess = 0
		c.LastSuccessReportAt, c.LastSuccessSystemAt = now, now
		c.RotationPending, c.RotationPendingReason, c.RotationPendingSinceTime = false, "", time.Time{}
		c.NextRotationAt, c.NextRotationReason = time.Time{}, ""
		if pr, err := storage.Projects.Get(tx, cur.projectID()); err == nil {
			if _, pol := cur.settings(pr); periodicSelected(cur, pol) {
				c.NextRotationAt = now.Add(time.Duration(pol.PeriodicRotationDurationSeconds) * time.Second)
				c.NextRotationReason = rotationReasonPeriodic
			}
		}
		cur.setStatusDetail(StatusRotated)
		if err := cur.save(tx, now); err != nil {
			return err
		}
		return e.audit(tx, actor, AuditRotate, cur.kind(), cur.id(), "success", "reason "+reason)
	})
	if err != nil {
		return err
	}
	if rotErr != nil {
		return errors.Wrapf(rotErr, "rotating the password of account %q", r.name())
	}
	return nil
}

// periodicSelected reports whether the password policy rotates the resource periodically.
func periodicSelected(r resource, pol storage.PasswordPolicy) bool {
	if !pol.EnablePeriodicRotation || pol.PeriodicRotationDurationSeconds <= 0 {
		return false
	}
	switch pol.AccountSelectorMode {
	case "INCLUDE":
		return r.inLists(pol.IncludeList, nil)
	case "EXCLUDE":
		return r.inLists(nil, pol.ExcludeList)
	}
	return true
}

// RotateRequest is the body of rotate_password: the access method that grants rotate_password.
// PasswordJWE is used by Universal Directory accounts only (see RotateUDAccountPassword).
type RotateRequest struct {
	PasswordJWE      string           `json:"password_jwe,omitempty"`
	UserAccessMethod UserAccessMethod `json:"user_access_method"`
}

// RotateADAccountPassword rotates an AD account's password on demand through an access method
// granting rotate_password. Errors: ErrNotFound (the account is not visible to p), ErrInvalid (the
// method names no rule), ErrForbidden (the method no longer authorizes p, or a condition of its
// rule is not met, as for RevealADAccountPassword), the ConditionDecider's errors, ErrConflict
// (checked out by another user or being rotated), and the directory's ErrUnavailable /
// ErrTimeout / ErrInvalid (policy violation), which are also recorded on the account. Safe for
// concurrent use.
func (e *Engine) RotateADAccountPassword(ctx context.Context, p Principal, connectionID, accountID string, req RotateRequest) error {
	if err := e.authorizeRotate(ctx, p, e.adAccount(connectionID, accountID), req.UserAccessMethod); err != nil {
		return err
	}
	return e.rotate(ctx, p, ResourceTypeADAccount, accountID, rotationReasonOnDemand, "")
}

// authorizeRotate checks that m lets p rotate the account find finds now: the policy conditions
// decided first (decideFor), then the access method and the account's state in one read.
func (e *Engine) authorizeRotate(ctx context.Context, p Principal, find accessFinder, m UserAccessMethod) error {
	view := func(tx storage.ReadTx, set *policySet) (accessView, error) { return find(tx, p, set) }
	met, err := e.decideFor(ctx, p, view, m, rotatePrivilege)
	if err != nil {
		return err
	}
	return e.withAccess(ctx, p, find, func(_ storage.ReadTx, v accessView) error {
		return e.checkRotate(v, p, m, met)
	})
}

// rotatePrivilege reports whether the privilege lets its holder rotate the password.
func rotatePrivilege(s string) bool { return s == PrivilegeRotatePassword }

func (e *Engine) checkRotate(v accessView, p Principal, m UserAccessMethod, met decisions) error {
	if _, err := v.authorize(m, rotatePrivilege, met); err != nil {
		return err
	}
	if l := v.r.lease(); l.Status == leaseCheckedOut && l.UserID != p.UserID {
		return usable(v.r, p.UserID)
	}
	if v.r.statusDetail() == StatusRotating {
		return usable(v.r, p.UserID)
	}
	return nil
}

// AdminRotateResource rotates the password of a resource of the project (rotate_resource). Needs
// security_admin, or delegated_security_admin of the resource group. ErrNotFound for an unknown
// project or resource outside it; ErrConflict while the resource is checked out (check it in
// first); directory errors as for RotateADAccountPassword. A successful rotation makes an account
// whose post-check-in rotation failed available again.
func (e *Engine) AdminRotateResource(ctx context.Context, p Principal, resourceGroupID, projectID string, req CheckinRequest) error {
	if err := e.requireProjectSecurity(ctx, p, resourceGroupID, projectID); err != nil {
		return err
	}
	typ := req.ResourceType
	if typ == "" {
		typ = ResourceTypeADAccount
	}
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		r, err := loadResource(tx, p.TeamID, typ, req.ResourceID)
		if err != nil {
			return err
		}
		if r.projectID() != projectID {
			return notFoundf("resource %q is not in the project", req.ResourceID)
		}
		if r.lease().Status == leaseCheckedOut {
			return errors.WithHint(conflictf("resource %q is checked out", req.ResourceID), "check it in first; check-in rotates the password")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.rotate(ctx, p, typ, req.ResourceID, rotationReasonAdmin, "")
}

// rotateDue rotates, for every project, the accounts that periodic rotation selects and whose time
// has come, and retries the pending rotations of accounts that were checked in but whose rotation
// failed. Rotation failures are recorded on the accounts, not returned. Accounts that are checked out are left alone (their check-in rotates them). Part of Tick.
func (e *Engine) rotateDue(ctx context.Context) error {
	now := e.now()
	type job struct {
		r      resource
		reason string
	}
	var jobs []job
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		prs, err := storage.Projects.All(tx)
		if err != nil {
			return err
		}
		for _, pr := range prs {
			var rs []resource
			accts, err := storage.Accounts.List(tx, storage.AccountsByProject, pr.ID)
			if err != nil {
				return err
			}
			for _, a := range accts {
				if adManaged(a) {
					rs = append(rs, resource{ad: a})
				}
			}
			uds, err := storage.UDAccounts.List(tx, storage.UDAccountsByProject, pr.ID)
			if err != nil {
				return err
			}
			for _, a := range uds {
				rs = append(rs, resource{ud: a})
			}
			for _, r := range rs {
				if r.lease().Status == leaseCheckedOut || r.statusDetail() == StatusRotating {
					continue
				}
				c := r.cred()
				if c.RotationPending {
					jobs = append(jobs, job{r, c.RotationPendingReason})
					continue
				}
				_, pol := r.settings(pr)
				if !periodicSelected(r, pol) {
					continue
				}
				due := c.NextRotationAt
				if due.IsZero() {
					base := c.LastRotationAt
					if base.IsZero() && r.ad != nil {
						base = r.ad.BroughtUnderManagementAt
					}
					if base.IsZero() {
						base = pol.ModifiedAt
					}
					if base.IsZero() && r.ad != nil {
						base = r.ad.CreatedAt
					} else if base.IsZero() {
						base = r.ud.CreatedAt
					}
					due = base.Add(time.Duration(pol.PeriodicRotationDurationSeconds) * time.Second)
				}
				if !due.After(now) {
					jobs = append(jobs, job{r, rotationReasonPeriodic})
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		sys := Principal{TeamID: j.r.teamID(), Username: "system", system: true}
		if err := e.rotate(ctx, sys, j.r.kind(), j.r.id(), j.reason, ""); err != nil {
			// Recorded on the account (ROTATION_FAILED, error type); not a failure of Tick.
			e.log.Warn("scheduled rotation failed", "resource_id", j.r.id(), "error_class", ErrorClass(err))
		}
	}
	return nil
}
