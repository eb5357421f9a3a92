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
	rotationReasonLostAccess      = "USER_LOST_ACCESS"
)

// checkinRotationReason returns the reason of the rotation a check-in of the type asks for.
func checkinRotationReason(checkinType string) string {
	switch checkinType {
	case CheckinSystemExpired:
		return rotationReasonCheckoutExpired
	case CheckinSystemLostAccess:
		return rotationReasonLostAccess
	}
	return rotationReasonCheckin
}

// isCheckinRotation reports whether a rotation reason is that of a check-in (each check-in's
// rotation runs exactly once, see expiry.go).
func isCheckinRotation(reason string) bool {
	return reason == rotationReasonCheckin || reason == rotationReasonCheckoutExpired || reason == rotationReasonLostAccess
}

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
	key := rotationLeaseKey(id)
	unlock, token := e.waitLocal(key)
	var (
		r    resource
		pol  storage.PasswordPolicy
		conn *storage.Connection
		err  error
	)
	for attempt := 0; ; attempt++ {
		err = e.store.Update(ctx, func(tx storage.WriteTx) error {
			return e.claimRotation(tx, kind, id, reason, token, &r, &pol, &conn)
		})
		if !errors.Is(err, errLeaseHeld) {
			break
		}
		if err = pollLease(ctx, attempt); err != nil {
			break
		}
	}
	if errors.Is(err, errAlreadyRotated) {
		unlock()
		return nil
	}
	if err != nil {
		unlock()
		return err
	}
	l := e.hold(ctx, key, token, unlock)
	defer l.release()
	pw := newPassword
	if pw == "" {
		if validatePasswordPolicy(pol) != nil {
			pol = defaultPasswordPolicy()
		}
		if pw, err = generatePassword(e.random, pol); err != nil {
			return e.recordRotation(ctx, actor, r, reason, "", err, l)
		}
	}
	var dirErr error
	if r.ad != nil {
		var dir directory.Directory
		if dir, dirErr = e.directoryFor(l.ctx, conn); dirErr == nil {
			dirErr = dir.SetPassword(l.ctx, r.ad.DistinguishedName, pw)
		}
	}
	return e.recordRotation(ctx, actor, r, reason, pw, dirErr, l)
}

// claimRotation is the first transaction of a rotation: it loads the resource with its project's
// password policy and connection, checks that the rotation is still wanted (a rotation that
// finishes what another already did returns errAlreadyRotated: an initial rotation of an account
// that has a password, a post-check-in rotation no longer pending, a periodic rotation no longer
// due, unless the account is still ROTATING: a rotation interrupted by its engine's death, which
// rotateDue finds once its lease has expired), takes the account's rotation lease for token (errLeaseHeld while another rotation holds
// it) and marks the resource ROTATING.
func (e *Engine) claimRotation(tx storage.WriteTx, kind, id, reason, token string, rp *resource, polp *storage.PasswordPolicy, connp **storage.Connection) error {
	now := e.now()
	r, err := loadResource(tx, "", kind, id)
	if err != nil {
		return err
	}
	pr, err := storage.Projects.Get(tx, r.projectID())
	if err != nil {
		return notFoundf("account %q is not in a project", id)
	}
	_, pol := r.settings(pr)
	var conn *storage.Connection
	if r.ad != nil {
		if conn, err = storage.Connections.Get(tx, r.ad.ConnectionID); err != nil {
			return notFoundf("the AD connection of account %q does not exist", id)
		}
	}
	c := r.cred()
	switch {
	case reason == rotationReasonInitial && len(c.Password) > 0:
		return errAlreadyRotated // a concurrent reveal set the first password
	case reason == rotationReasonInitialManagement && (len(c.Password) > 0 || c.RotationPendingReason != reason):
		return errAlreadyRotated // a reveal or another rotation set it first, or it was cancelled
	case isCheckinRotation(reason) && !c.RotationPending:
		return errAlreadyRotated // another engine (or the retry of Tick) did the check-in's rotation
	case reason == rotationReasonPeriodic && r.statusDetail() != StatusRotating &&
		(c.RotationPending || !periodicSelected(r, pol) || periodicDue(r, pol).After(now)):
		return errAlreadyRotated // rotated meanwhile (the next periodic rotation moved on)
	case r.lease().Status == leaseCheckedOut && reason != rotationReasonOnDemand:
		return errors.WithHint(conflictf("account %q is checked out", r.name()), "check it in first; check-in rotates the password")
	}
	if err := e.takeLease(tx, rotationLeaseKey(id), token, now); err != nil {
		return err
	}
	r.setStatusDetail(StatusRotating)
	*rp, *polp, *connp = r, pol, conn
	return r.save(tx, now)
}

// periodicDue returns when periodic rotation under pol next rotates r: its NextRotationAt, or
// the period after its last rotation (or after it came under management, the policy changed, or
// it was made, the first of these that is known).
func periodicDue(r resource, pol storage.PasswordPolicy) time.Time {
	c := r.cred()
	if !c.NextRotationAt.IsZero() {
		return c.NextRotationAt
	}
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
	return base.Add(time.Duration(pol.PeriodicRotationDurationSeconds) * time.Second)
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

// recordRotation is the last transaction of a rotation: it records the outcome (rotErr nil: the
// directory took pw) if l, the account's rotation lease, is still the rotation's, and gives l up.
// A rotation that lost its lease records nothing and returns an ErrConflict error: another
// rotation has the account now, and its password is the one that counts.
func (e *Engine) recordRotation(ctx context.Context, actor Principal, r resource, reason, pw string, rotErr error, l *heldLease) error {
	now := e.now()
	l.stopRenewal()
	err := e.store.Update(context.WithoutCancel(ctx), func(tx storage.WriteTx) error {
		if err := l.fence(tx); err != nil {
			return err
		}
		if err := giveLease(tx, l.key, l.token); err != nil {
			return err
		}
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
	if errors.Is(err, errLeaseLost) {
		return errors.Wrap(conflictf("the rotation of account %q lost its lease to another rotation", r.name()), err.Error())
	}
	if err != nil {
		return err
	}
	l.given.Store(true)
	if rotErr != nil {
		return errors.Wrapf(rotErr, "rotating the password of account %q", r.name())
	}
	return nil
}

// nextRotation returns the next rotation of r as the views show it at now
// (next_scheduled_password_rotation_timestamp and _reason): the rotation a check-in or an expired
// checkout has made pending (due since then; an expired checkout counts as checked in at its
// expiry, settled or not), else the periodic one Tick acts on (periodicDue under the project's
// current policy, when it selects r). A time before now means the
// rotation is due and the next Tick (or, for an expired checkout, the next write to the account)
// runs it. Zero when none is scheduled.
func nextRotation(r resource, pr *storage.Project, now time.Time) (time.Time, string) {
	if l := r.lease(); expiredAt(l, now) {
		return l.ExpiresAt, rotationReasonCheckoutExpired
	}
	if c := r.cred(); c.RotationPending {
		return c.RotationPendingSinceTime, c.RotationPendingReason
	}
	if pr == nil {
		return time.Time{}, ""
	}
	if _, pol := r.settings(pr); periodicSelected(r, pol) {
		return periodicDue(r, pol), rotationReasonPeriodic
	}
	return time.Time{}, ""
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
// ErrTimeout / ErrInvalid (policy violation), which are also recorded on the account. An expired
// checkout of the account is settled first (expiry.go), with its own rotation. Safe for concurrent
// use.
func (e *Engine) RotateADAccountPassword(ctx context.Context, p Principal, connectionID, accountID string, req RotateRequest) error {
	if err := e.authorizeRotate(ctx, p, e.adAccount(connectionID, accountID), req.UserAccessMethod); err != nil {
		return err
	}
	if err := e.settleIfExpired(ctx, ResourceTypeADAccount, accountID); err != nil {
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

// rotatePrivilege reports whether the privilege lets its holder rotate the password
// (rotate_password on AD accounts, update_password on UD accounts).
func rotatePrivilege(s string) bool {
	return s == PrivilegeRotatePassword || s == PrivilegeUpdatePassword
}

func (e *Engine) checkRotate(v accessView, p Principal, m UserAccessMethod, met decisions) error {
	if _, err := v.authorize(m, rotatePrivilege, met); err != nil {
		return err
	}
	if l := v.r.lease(); inForce(l, v.now) && l.UserID != p.UserID {
		return usable(v.r, p.UserID, v.now)
	}
	if v.r.statusDetail() == StatusRotating {
		return usable(v.r, p.UserID, v.now)
	}
	return nil
}

// AdminRotateResource rotates the password of a resource of the project (rotate_resource). Needs
// security_admin, or delegated_security_admin of the resource group. ErrNotFound for an unknown
// project or resource outside it; ErrConflict while the resource is checked out (check it in
// first; an expired checkout is settled first, see expiry.go); directory errors as for
// RotateADAccountPassword. A successful rotation makes an account whose post-check-in rotation
// failed available again.
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
		if inForce(r.lease(), e.now()) {
			return errors.WithHint(conflictf("resource %q is checked out", req.ResourceID), "check it in first; check-in rotates the password")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := e.settleIfExpired(ctx, typ, req.ResourceID); err != nil {
		return err
	}
	return e.rotate(ctx, p, typ, req.ResourceID, rotationReasonAdmin, "")
}

// rotateDue rotates, for every project, the accounts that periodic rotation selects and whose time
// has come, and retries the pending rotations of accounts that were checked in but whose rotation
// failed, and the rotations of accounts left ROTATING by an engine that died (their rotation lease
// expired). Rotation failures are recorded on the accounts, not returned. Accounts that are checked out are left alone (their check-in rotates them). Part of Tick.
//
// It is a leased step (leasedStep): one engine of those sharing the store does it at a time, and
// each rotation checks again, in the transaction that claims it, that it is still due.
func (e *Engine) rotateDue(ctx context.Context) error {
	return leasedStep(ctx, e, "rotations", e.dueRotations, func(ctx context.Context, jobs []dueRotation) error {
		for _, j := range jobs {
			sys := Principal{TeamID: j.r.teamID(), Username: "system", system: true}
			if err := e.rotate(ctx, sys, j.r.kind(), j.r.id(), j.reason, ""); err != nil {
				// Recorded on the account (ROTATION_FAILED, error type); not a failure of Tick.
				e.log.Warn("scheduled rotation failed", "resource_id", j.r.id(), "error_class", ErrorClass(err))
			}
		}
		return nil
	})
}

// dueRotation is a rotation rotateDue found due.
type dueRotation struct {
	r      resource
	reason string
}

// dueRotations returns the rotations that are due at the clock's time: pending ones, then
// periodic ones, project by project. It costs O(managed accounts).
func (e *Engine) dueRotations(ctx context.Context) ([]dueRotation, error) {
	now := e.now()
	type job = dueRotation
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
				if r.lease().Status == leaseCheckedOut {
					continue
				}
				if r.statusDetail() == StatusRotating {
					// Under way, unless its rotation lease has expired: the engine that was rotating
					// died, and the account is rotated again (its pending reason, or periodic).
					if live, err := leaseLive(tx, rotationLeaseKey(r.id()), now); err != nil || live {
						if err != nil {
							return err
						}
						continue
					}
				}
				c := r.cred()
				if c.RotationPending {
					jobs = append(jobs, job{r, c.RotationPendingReason})
					continue
				}
				_, pol := r.settings(pr)
				if r.statusDetail() == StatusRotating {
					jobs = append(jobs, job{r, rotationReasonPeriodic}) // an interrupted rotation
					continue
				}
				if !periodicSelected(r, pol) {
					continue
				}
				due := periodicDue(r, pol)
				if !due.After(now) {
					jobs = append(jobs, job{r, rotationReasonPeriodic})
				}
			}
		}
		return nil
	})
	return jobs, err
}
