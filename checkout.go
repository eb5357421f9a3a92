package opa

import (
	"context"
	"strings"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// Checkout resource types (CheckoutResourceType). DESIGN: the SDK (v1.3.35) has no AD value; the
// engine uses active_directory_account_password_login by analogy with the others.
const (
	ResourceTypeADAccount = "active_directory_account_password_login"
	ResourceTypeUDAccount = "okta_universal_directory_account_password_login"
)

// Check-in types of a checkout.
const (
	CheckinSelf          = "self"
	CheckinAdmin         = "admin"
	CheckinSystemExpired = "system_checkout_expired"
	// CheckinSystemLostAccess: the system checked the resource in because its holder no longer
	// has access to it (lostaccess.go).
	CheckinSystemLostAccess = "system_user_lost_access"
)

// Lease and checkout statuses (ResourceLeaseStatus).
const (
	leaseCheckedOut        = "checked_out"
	checkoutStatusComplete = "checkin_complete"
	checkoutStatusFailed   = "checkin_failed"
)

// End-user availability of an AD account (ActiveDirectoryAccountStatus).
const (
	AvailabilityAvailable         = "AVAILABLE"
	AvailabilityUnavailable       = "UNAVAILABLE"
	AvailabilityCheckedOut        = "CHECKED_OUT"
	AvailabilityCheckedOutByOther = "CHECKED_OUT_BY_OTHER_USER"
)

// defaultCheckoutDurationFallback is the checkout duration of a project whose settings have none.
const defaultCheckoutDurationFallback = 1800

func (s *policySet) forResource(r resource) []grant {
	if r.ad != nil {
		return s.forAccount(r.ad)
	}
	return s.forUD(r.ud)
}

// checkoutRequirement returns whether revealing through a rule with the conditions needs a
// checkout, and for how long.
//
// DESIGN (precedence): a checkout is required when the policy rule requires one OR the project's
// checkout settings require one for this account (checkout_required, the account in the include
// list when there is one, not in the exclude list). Its duration is the shorter of the project's
// checkout_duration_in_seconds and the rule's checkout_max_seconds (when set), so neither a policy
// nor a project can extend the other's limit.
func checkoutRequirement(r resource, pr *storage.Project, c storage.PolicyConditions) (bool, int) {
	cs, _ := r.settings(pr)
	required := c.CheckoutRequired || (cs.Required && r.inLists(cs.IncludeList, cs.ExcludeList))
	d := cs.DurationSeconds
	if d <= 0 {
		d = defaultCheckoutDurationFallback
	}
	if c.CheckoutMaxSeconds > 0 && c.CheckoutMaxSeconds < d {
		d = c.CheckoutMaxSeconds
	}
	return required, d
}

// availabilityFor returns the end-user availability of the resource for userID at now. A checkout
// that has expired is over (see expiry.go), even before it is settled.
func availabilityFor(r resource, userID string, now time.Time) string {
	if expiredAt(r.lease(), now) {
		return AvailabilityAvailable // as once it is settled: checked in and rotated
	}
	l := r.lease()
	if l.Status == leaseCheckedOut {
		if l.UserID == userID && userID != "" {
			return AvailabilityCheckedOut
		}
		return AvailabilityCheckedOutByOther
	}
	if rotationBlocks(r.cred()) || r.statusDetail() == StatusRotating {
		return AvailabilityUnavailable
	}
	return AvailabilityAvailable
}

// lowerAvailability maps the end-user availability to ResourceAvailabilityStatus (lower case).
func lowerAvailability(s string) string { return strings.ToLower(s) }

// usable returns nil if userID may read the resource's password at now: not checked out by someone
// else, not being rotated, not waiting for a rotation after a check-in. ErrConflict otherwise. The
// caller settles first an expired checkout, or a check-in whose rotation has not run yet
// (errUnsettled for both, see expiry.go).
func usable(r resource, userID string, now time.Time) error {
	l := r.lease()
	if expiredAt(l, now) || unsettled(r) {
		return errUnsettled
	}
	if l.Status == leaseCheckedOut && l.UserID != userID {
		return errors.WithHint(conflictf("account %q is checked out by another user until %s",
			r.name(), l.ExpiresAt.Format(time.RFC3339)), "try again after it is checked in")
	}
	if r.statusDetail() == StatusRotating {
		return errors.WithHint(conflictf("the password of account %q is being rotated", r.name()), "try again in a moment")
	}
	if rotationBlocks(r.cred()) && l.Status != leaseCheckedOut {
		return errors.WithHint(conflictf("account %q is unavailable until its password is rotated (last error: %s)",
			r.name(), orNone(r.cred().LastErrorType)), "an administrator can rotate it with rotate_resource once the directory accepts the change")
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// startCheckout checks the resource out to p for seconds inside tx, unless p already holds it.
// The store's unique "active" index on Checkout.ActiveResourceID is the final guard: two
// concurrent checkouts of one resource cannot both commit. ErrConflict when someone else holds it;
// errCheckoutExpired when an expired checkout is still to be settled.
func (e *Engine) startCheckout(tx storage.WriteTx, p Principal, r resource, seconds int, now time.Time) error {
	l := r.lease()
	if l.Status == leaseCheckedOut {
		if l.UserID == p.UserID && inForce(l, now) {
			return nil
		}
		return usable(r, p.UserID, now)
	}
	co := storage.Checkout{
		ID: e.newID(), TeamID: r.teamID(), ResourceID: r.id(), ResourceType: r.kind(), ResourceName: r.name(),
		ProjectID: r.projectID(), ResourceGroupID: r.resourceGroupID(), UserID: p.UserID,
		ActiveResourceID: r.id(), CheckoutAt: now, ExpiresAt: now.Add(time.Duration(seconds) * time.Second),
		Status: leaseCheckedOut,
	}
	if err := storage.Checkouts.Insert(tx, &co); err != nil {
		return wrapConflict(err, "account %q is already checked out by another user", r.name())
	}
	*l = storage.LeaseState{Status: leaseCheckedOut, CheckoutID: co.ID, UserID: p.UserID, ExpiresAt: co.ExpiresAt,
		LastCheckoutUserID: p.UserID}
	if err := r.save(tx, now); err != nil {
		return err
	}
	return e.audit(tx, p, AuditCheckout, r.kind(), r.id(), "success",
		"checked out until "+co.ExpiresAt.Format(time.RFC3339))
}

// CheckinRequest names a checked-out resource: {"resource_id", "resource_type"}.
type CheckinRequest struct {
	ResourceID   string `json:"resource_id"`
	ResourceType string `json:"resource_type"`
}

// CheckInResource ends p's own checkout of the resource (checkin_type self) and rotates its
// password. ErrNotFound when p holds no checkout of it, including one that has expired: that
// checkout ended at its expiry, and this call records it so (system_checkout_expired, with its
// rotation) if no Tick or other write did yet. The check-in itself succeeds even if the
// rotation then fails: the account stays UNAVAILABLE to everyone, with account_status_detail
// ROTATION_FAILED and the error type, until a rotation succeeds (Tick retries; admins can
// rotate_resource). Safe for concurrent use.
func (e *Engine) CheckInResource(ctx context.Context, p Principal, req CheckinRequest) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.endCheckout(ctx, p, req, CheckinSelf, func(_ storage.ReadTx, co *storage.Checkout) error {
		if co.UserID != p.UserID || co.TeamID != p.TeamID {
			return notFoundf("you have not checked out resource %q", req.ResourceID)
		}
		return nil
	})
}

// AdminCheckInResource forces the check-in of a resource of the project (checkin_type admin) and
// rotates its password. Needs security_admin, or delegated_security_admin of the resource group.
// ErrNotFound for an unknown project or a resource of the project that is not checked out (an
// expired checkout is recorded as expired, as for CheckInResource).
func (e *Engine) AdminCheckInResource(ctx context.Context, p Principal, resourceGroupID, projectID string, req CheckinRequest) error {
	if err := e.requireProjectSecurity(ctx, p, resourceGroupID, projectID); err != nil {
		return err
	}
	return e.endCheckout(ctx, p, req, CheckinAdmin, func(_ storage.ReadTx, co *storage.Checkout) error {
		if co.ProjectID != projectID || co.TeamID != p.TeamID {
			return notFoundf("resource %q of the project is not checked out", req.ResourceID)
		}
		return nil
	})
}

// endCheckout ends the active checkout of req's resource, then rotates the password. allow, run
// in the check-in's transaction, refuses a checkout the caller may not end. A checkout that has
// expired is settled as expired instead (checkin_type system_checkout_expired, by the system), and
// then a check-in of another type answers ErrNotFound: it came after the end.
func (e *Engine) endCheckout(ctx context.Context, p Principal, req CheckinRequest, typ string, allow func(storage.ReadTx, *storage.Checkout) error) error {
	if req.ResourceID == "" {
		return invalidf("resource_id is required")
	}
	var (
		r          resource
		checkoutID string
		late       *storage.Checkout // the expired checkout a self or admin check-in found
	)
	actor, how := p, typ
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		co, err := storage.Checkouts.First(tx, storage.CheckoutsActive, req.ResourceID)
		if err != nil {
			return wrapNotFound(err, "resource %q is not checked out", req.ResourceID)
		}
		if req.ResourceType != "" && req.ResourceType != co.ResourceType {
			return notFoundf("resource %q of type %s is not checked out", req.ResourceID, req.ResourceType)
		}
		if err := allow(tx, co); err != nil {
			return err
		}
		if typ != CheckinSystemExpired && !co.ExpiresAt.After(e.now()) {
			late, actor, how = co, systemPrincipal(co.TeamID), CheckinSystemExpired
		}
		checkoutID = co.ID
		r, err = e.finishCheckout(tx, actor, co, how)
		return err
	})
	if err != nil {
		return err
	}
	reason := checkinRotationReason(how)
	if err := e.rotate(ctx, actor, r.kind(), r.id(), reason, ""); err != nil {
		e.log.Warn("rotation after check-in failed", "resource_id", r.id(), "error_class", ErrorClass(err))
		// The checkout's record says so too (ResourceLeaseStatus checkin_failed).
		_ = e.store.Update(ctx, func(tx storage.WriteTx) error {
			co, err := storage.Checkouts.Get(tx, checkoutID)
			if err != nil {
				return err
			}
			co.Status = checkoutStatusFailed
			return storage.Checkouts.Update(tx, co)
		})
	}
	if late != nil {
		return errors.WithHint(notFoundf("the checkout of resource %q expired at %s", req.ResourceID,
			late.ExpiresAt.Format(time.RFC3339)), "it was checked in by the system and its password rotated")
	}
	return nil
}

// finishCheckout closes co inside tx: the checkout record, the lease and a pending rotation.
func (e *Engine) finishCheckout(tx storage.WriteTx, p Principal, co *storage.Checkout, typ string) (resource, error) {
	now := e.now()
	co.ActiveResourceID = ""
	co.CheckinAt = now
	if typ == CheckinSystemExpired && co.ExpiresAt.Before(now) {
		co.CheckinAt = co.ExpiresAt // it ended then, whenever it is settled (expiry.go)
	}
	co.CheckinType = typ
	co.CheckinBy = p.UserID
	if p.system || co.CheckinBy == "" {
		co.CheckinBy = "system"
	}
	co.Status = checkoutStatusComplete
	if err := storage.Checkouts.Update(tx, co); err != nil {
		return resource{}, err
	}
	r, err := loadResource(tx, "", co.ResourceType, co.ResourceID)
	if err != nil {
		return resource{}, err
	}
	l := r.lease()
	if l.CheckoutID == co.ID {
		*l = storage.LeaseState{LastCheckoutUserID: co.UserID}
	}
	c := r.cred()
	c.RotationPending = true
	c.RotationPendingReason = checkinRotationReason(typ)
	c.RotationPendingSinceTime = co.CheckinAt
	if err := r.save(tx, now); err != nil {
		return resource{}, err
	}
	return r, e.audit(tx, p, AuditCheckin, r.kind(), r.id(), "success", "checkin_type "+typ)
}

// CheckedOutResource is an item of the checked-out resource lists.
type CheckedOutResource struct {
	ResourceID         string     `json:"resource_id"`
	ResourceType       string     `json:"resource_type"`
	ResourceName       string     `json:"resource_name"`
	CheckoutAt         time.Time  `json:"checkout_at"`
	CheckoutExpiryAt   time.Time  `json:"checkout_expiry_at"`
	CheckinBy          string     `json:"checkin_by,omitempty"`
	CheckinStartAt     *time.Time `json:"checkin_start_at,omitempty"`
	CheckinType        string     `json:"checkin_type,omitempty"`
	CheckoutByUsername string     `json:"checkout_by_username,omitempty"`
	ResourceStatus     string     `json:"resource_status,omitempty"`
	// CheckoutID is the checkout's own id, the paging key of the lists.
	CheckoutID string `json:"-"`
}

// CheckedOutFilter narrows the checked-out resource lists. IncludeCheckedIn adds ended checkouts
// (with their checkin_type) to the active ones.
type CheckedOutFilter struct {
	ResourceType     string
	Contains         string
	IncludeCheckedIn bool
}

// CheckedOutResources returns p's checkouts (active ones, and ended ones with IncludeCheckedIn),
// paged by checkout id. Any authenticated user. ErrInvalid for bad paging.
//
// Cost: a seek of p's checkouts and one page, O(page + log N); the filters are tested from the
// cursor until the page is full.
func (e *Engine) CheckedOutResources(ctx context.Context, p Principal, f CheckedOutFilter, page PageRequest) (Page[CheckedOutResource], error) {
	if err := p.check(); err != nil {
		return Page[CheckedOutResource]{}, err
	}
	return e.checkoutPage(ctx, storage.CheckoutsByUser, p.UserID, func(co *storage.Checkout) bool { return co.UserID == p.UserID }, p.TeamID, f, false, page)
}

// ProjectCheckedOutResources returns the checkouts of a project's resources for admins, with the
// user who holds each (checkout_by_username) and the resource's status. Needs security_admin or
// delegated_security_admin of the resource group. ErrNotFound for an unknown project, ErrInvalid
// for bad paging.
//
// Cost: a seek of the project's checkouts and one page, O(page + log N); the filters are tested
// from the cursor until the page is full.
func (e *Engine) ProjectCheckedOutResources(ctx context.Context, p Principal, resourceGroupID, projectID string, f CheckedOutFilter, page PageRequest) (Page[CheckedOutResource], error) {
	if err := e.requireProjectSecurity(ctx, p, resourceGroupID, projectID); err != nil {
		return Page[CheckedOutResource]{}, err
	}
	return e.checkoutPage(ctx, storage.CheckoutsByProject, projectID, func(co *storage.Checkout) bool { return co.ProjectID == projectID }, p.TeamID, f, true, page)
}

// checkoutPage returns the page of the checkouts under index = key (in tells a record under it)
// of the team that f keeps; admin adds the holder's username and the resource's status.
func (e *Engine) checkoutPage(ctx context.Context, index storage.IndexName[storage.Checkout], key string, in func(*storage.Checkout) bool,
	teamID string, f CheckedOutFilter, admin bool, page PageRequest) (Page[CheckedOutResource], error) {
	var out Page[CheckedOutResource]
	now := e.now()
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		src := pageSource[storage.Checkout]{table: storage.Checkouts, index: index, args: []string{key}, in: in, borrow: true,
			keep: func(co *storage.Checkout) bool { return checkoutKept(co, teamID, f, now) }}
		var err error
		out, err = rangePage(tx, src, page, func(co *storage.Checkout) string { return co.ID },
			func(co *storage.Checkout) CheckedOutResource { return checkoutItem(tx, co, teamID, admin, now) })
		return err
	})
	return out, err
}

// checkoutKept reports whether the checked-out lists of team show co under f, as it stands at
// now (an expired checkout is checked in at its expiry, settled or not).
func checkoutKept(co *storage.Checkout, teamID string, f CheckedOutFilter, now time.Time) bool {
	if co.TeamID != teamID || (f.ResourceType != "" && co.ResourceType != f.ResourceType) {
		return false
	}
	co = settledView(co, now)
	if co.ActiveResourceID == "" && !f.IncludeCheckedIn {
		return false
	}
	return f.Contains == "" || strings.Contains(strings.ToLower(co.ResourceName), strings.ToLower(f.Contains))
}

// checkoutItem is co's item of the checked-out lists as it stands at now: an expired checkout is
// shown checked in at its expiry by the system (system_checkout_expired), settled or not. admin
// adds the holder's username and the resource's status.
func checkoutItem(tx storage.ReadTx, co *storage.Checkout, teamID string, admin bool, now time.Time) CheckedOutResource {
	co = settledView(co, now)
	it := CheckedOutResource{
		ResourceID: co.ResourceID, ResourceType: co.ResourceType, ResourceName: co.ResourceName,
		CheckoutAt: co.CheckoutAt, CheckoutExpiryAt: co.ExpiresAt, CheckinBy: co.CheckinBy,
		CheckinType: co.CheckinType, CheckinStartAt: optTime(co.CheckinAt), CheckoutID: co.ID,
	}
	if admin {
		if u, err := storage.Users.Borrow(tx, co.UserID); err == nil {
			it.CheckoutByUsername = u.Username
		}
		if r, err := loadResource(tx, teamID, co.ResourceType, co.ResourceID); err == nil {
			it.ResourceStatus = lowerAvailability(availabilityFor(r, "", now))
		}
	}
	return it
}

// optTime returns nil for the zero time, so optional timestamps are omitted from JSON.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
