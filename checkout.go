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

// availabilityFor returns the end-user availability of the resource for userID.
func availabilityFor(r resource, userID string) string {
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

// usable returns nil if userID may read the resource's password now: not checked out by someone
// else, not being rotated, not waiting for a rotation after a check-in. ErrConflict otherwise.
func usable(r resource, userID string) error {
	l := r.lease()
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
// concurrent checkouts of one resource cannot both commit. ErrConflict when someone else holds it.
func (e *Engine) startCheckout(tx storage.WriteTx, p Principal, r resource, seconds int, now time.Time) error {
	l := r.lease()
	if l.Status == leaseCheckedOut {
		if l.UserID == p.UserID {
			return nil
		}
		return usable(r, p.UserID)
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
// password. ErrNotFound when p holds no checkout of it. The check-in itself succeeds even if the
// rotation then fails: the account stays UNAVAILABLE to everyone, with account_status_detail
// ROTATION_FAILED and the error type, until a rotation succeeds (Tick retries; admins can
// rotate_resource). Safe for concurrent use.
func (e *Engine) CheckInResource(ctx context.Context, p Principal, req CheckinRequest) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.endCheckout(ctx, p, req, CheckinSelf, func(co *storage.Checkout) error {
		if co.UserID != p.UserID || co.TeamID != p.TeamID {
			return notFoundf("you have not checked out resource %q", req.ResourceID)
		}
		return nil
	})
}

// AdminCheckInResource forces the check-in of a resource of the project (checkin_type admin) and
// rotates its password. Needs security_admin, or delegated_security_admin of the resource group.
// ErrNotFound for an unknown project or a resource of the project that is not checked out.
func (e *Engine) AdminCheckInResource(ctx context.Context, p Principal, resourceGroupID, projectID string, req CheckinRequest) error {
	if err := e.requireProjectSecurity(ctx, p, resourceGroupID, projectID); err != nil {
		return err
	}
	return e.endCheckout(ctx, p, req, CheckinAdmin, func(co *storage.Checkout) error {
		if co.ProjectID != projectID || co.TeamID != p.TeamID {
			return notFoundf("resource %q of the project is not checked out", req.ResourceID)
		}
		return nil
	})
}

// endCheckout ends the active checkout of req's resource, then rotates the password.
func (e *Engine) endCheckout(ctx context.Context, p Principal, req CheckinRequest, typ string, allow func(*storage.Checkout) error) error {
	if req.ResourceID == "" {
		return invalidf("resource_id is required")
	}
	var (
		r          resource
		checkoutID string
	)
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		co, err := storage.Checkouts.First(tx, storage.CheckoutsActive, req.ResourceID)
		if err != nil {
			return wrapNotFound(err, "resource %q is not checked out", req.ResourceID)
		}
		if req.ResourceType != "" && req.ResourceType != co.ResourceType {
			return notFoundf("resource %q of type %s is not checked out", req.ResourceID, req.ResourceType)
		}
		if err := allow(co); err != nil {
			return err
		}
		checkoutID = co.ID
		r, err = e.finishCheckout(tx, p, co, typ)
		return err
	})
	if err != nil {
		return err
	}
	if err := e.rotate(ctx, p, r.kind(), r.id(), rotationReasonCheckin, ""); err != nil {
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
	return nil
}

// finishCheckout closes co inside tx: the checkout record, the lease and a pending rotation.
func (e *Engine) finishCheckout(tx storage.WriteTx, p Principal, co *storage.Checkout, typ string) (resource, error) {
	now := e.now()
	co.ActiveResourceID = ""
	co.CheckinAt = now
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
	c.RotationPendingReason = rotationReasonCheckin
	if typ == CheckinSystemExpired {
		c.RotationPendingReason = rotationReasonCheckoutExpired
	}
	c.RotationPendingSinceTime = now
	if err := r.save(tx, now); err != nil {
		return resource{}, err
	}
	return r, e.audit(tx, p, AuditCheckin, r.kind(), r.id(), "success", "checkin_type "+typ)
}

// expireCheckouts checks in every checkout whose time is up (checkin_type system_checkout_expired)
// and rotates its password. Part of Tick. DESIGN: expiry takes effect at the first Tick at or after
// the expiry time; until then the account still shows as checked out (the server's Run ticks often
// enough for this to be invisible; tests move a ManualClock and call Tick).
//
// It is a leased step (leasedStep): one engine of those sharing the store processes expiries at a
// time; each check-in is still its own transaction that finds the checkout active.
func (e *Engine) expireCheckouts(ctx context.Context) error {
	return leasedStep(ctx, e, "expiry", e.expiredCheckouts, e.checkInExpired)
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

// checkInExpired checks in the expired checkouts due (system_checkout_expired) and rotates them.
func (e *Engine) checkInExpired(ctx context.Context, due []*storage.Checkout) error {
	now := e.now()
	var errs error
	for _, co := range due {
		sys := Principal{TeamID: co.TeamID, Username: "system", system: true}
		err := e.endCheckout(ctx, sys, CheckinRequest{ResourceID: co.ResourceID, ResourceType: co.ResourceType},
			CheckinSystemExpired, func(cur *storage.Checkout) error {
				if cur.ID != co.ID || cur.ExpiresAt.After(now) {
					return notFoundf("checkout %q already ended", co.ID)
				}
				return nil
			})
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = errors.CombineErrors(errs, err)
		}
	}
	return errs
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
func (e *Engine) CheckedOutResources(ctx context.Context, p Principal, f CheckedOutFilter, page PageRequest) (Page[CheckedOutResource], error) {
	if err := p.check(); err != nil {
		return Page[CheckedOutResource]{}, err
	}
	var items []CheckedOutResource
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		cos, err := storage.Checkouts.List(tx, storage.CheckoutsByUser, p.UserID)
		if err != nil {
			return err
		}
		items = checkoutItems(tx, cos, p.TeamID, f, false)
		return nil
	})
	if err != nil {
		return Page[CheckedOutResource]{}, err
	}
	return paginate(items, func(c CheckedOutResource) string { return c.CheckoutID }, page)
}

// ProjectCheckedOutResources returns the checkouts of a project's resources for admins, with the
// user who holds each (checkout_by_username) and the resource's status. Needs security_admin or
// delegated_security_admin of the resource group. ErrNotFound for an unknown project.
func (e *Engine) ProjectCheckedOutResources(ctx context.Context, p Principal, resourceGroupID, projectID string, f CheckedOutFilter, page PageRequest) (Page[CheckedOutResource], error) {
	if err := e.requireProjectSecurity(ctx, p, resourceGroupID, projectID); err != nil {
		return Page[CheckedOutResource]{}, err
	}
	var items []CheckedOutResource
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		cos, err := storage.Checkouts.List(tx, storage.CheckoutsByProject, projectID)
		if err != nil {
			return err
		}
		items = checkoutItems(tx, cos, p.TeamID, f, true)
		return nil
	})
	if err != nil {
		return Page[CheckedOutResource]{}, err
	}
	return paginate(items, func(c CheckedOutResource) string { return c.CheckoutID }, page)
}

func checkoutItems(tx storage.ReadTx, cos []*storage.Checkout, teamID string, f CheckedOutFilter, admin bool) []CheckedOutResource {
	items := []CheckedOutResource{}
	for _, co := range cos {
		if co.TeamID != teamID || (f.ResourceType != "" && co.ResourceType != f.ResourceType) {
			continue
		}
		if co.ActiveResourceID == "" && !f.IncludeCheckedIn {
			continue
		}
		if f.Contains != "" && !strings.Contains(strings.ToLower(co.ResourceName), strings.ToLower(f.Contains)) {
			continue
		}
		it := CheckedOutResource{
			ResourceID: co.ResourceID, ResourceType: co.ResourceType, ResourceName: co.ResourceName,
			CheckoutAt: co.CheckoutAt, CheckoutExpiryAt: co.ExpiresAt, CheckinBy: co.CheckinBy,
			CheckinType: co.CheckinType, CheckinStartAt: optTime(co.CheckinAt), CheckoutID: co.ID,
		}
		if admin {
			if u, err := storage.Users.Get(tx, co.UserID); err == nil {
				it.CheckoutByUsername = u.Username
			}
			if r, err := loadResource(tx, teamID, co.ResourceType, co.ResourceID); err == nil {
				it.ResourceStatus = lowerAvailability(availabilityFor(r, ""))
			}
		}
		items = append(items, it)
	}
	return items
}

// optTime returns nil for the zero time, so optional timestamps are omitted from JSON.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
