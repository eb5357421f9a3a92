package httpapi

// The condition control, served with the other test-fixture controls when Controls.Conditions is
// set (Controller.Conditions is its Go side):
//
//	GET    /_fake/conditions       {"list":[ConditionApproval…]} in the order they were set
//	POST   /_fake/conditions       set a ConditionApproval (201 with it, id assigned)
//	DELETE /_fake/conditions       forget them all (204): every condition unmet again
//	DELETE /_fake/conditions/{id}  forget one (204; 404 for an unknown id)
//
// Without Controls.Conditions these paths answer 404. A reset (/_fake/reset, Controller.Reset and
// Replace) forgets the approvals, as it forgets faults and recorded requests.

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// MaxConditionApprovals bounds how many approvals ConditionApprovals keeps.
const MaxConditionApprovals = 1000

// ConditionApproval says whether Condition is met (Met) for the user User of the team Team on the
// account ResourceID, until ExpiresAt. User is a username (compared without case) or a user id;
// Team a team name (without case); an empty ResourceID means every account; a nil ExpiresAt means
// no end. Of the approvals that match a question the one set last decides it, so a later denial
// (Met false) overrides an approval.
type ConditionApproval struct {
	ID         string        `json:"id"`
	Condition  opa.Condition `json:"condition"`
	Team       string        `json:"team"`
	User       string        `json:"user"`
	ResourceID string        `json:"resource_id,omitempty"`
	Met        bool          `json:"met"`
	ExpiresAt  *time.Time    `json:"expires_at,omitempty"`
}

// matches reports whether a answers req.
func (a *ConditionApproval) matches(req opa.ConditionRequest) bool {
	return a.Condition == req.Condition && strings.EqualFold(a.Team, req.Principal.TeamName) &&
		(strings.EqualFold(a.User, req.Principal.Username) || a.User == req.Principal.UserID) &&
		(a.ResourceID == "" || a.ResourceID == req.Resource.ID) &&
		(a.ExpiresAt == nil || req.Time.Before(*a.ExpiresAt))
}

// ConditionApprovals is the fake server's opa.ConditionDecider: a list of approvals and denials
// that a test sets through the /_fake/conditions control or from Go (Set), so that security
// policy rules requiring MFA or an access request can be exercised. A condition no approval
// answers is not met. Give the same value to the engine (opa.WithConditionDecider, for every
// engine a reset makes) and to the handler (Controls.Conditions). Safe for concurrent use.
type ConditionApprovals struct {
	mu   sync.Mutex
	next int
	list []ConditionApproval
}

var _ opa.ConditionDecider = (*ConditionApprovals)(nil)

// NewConditionApprovals returns an empty list: every condition unmet.
func NewConditionApprovals() *ConditionApprovals { return &ConditionApprovals{} }

// Set adds a, assigning its ID, and returns it. Errors (ErrInvalid, nothing added): a condition
// other than opa.ConditionMFA and opa.ConditionAccessRequest, no team or no user, or
// MaxConditionApprovals approvals already.
func (c *ConditionApprovals) Set(a ConditionApproval) (ConditionApproval, error) {
	a.Team, a.User = strings.TrimSpace(a.Team), strings.TrimSpace(a.User)
	switch {
	case a.Condition != opa.ConditionMFA && a.Condition != opa.ConditionAccessRequest:
		return ConditionApproval{}, errclass.Mark(errclass.Invalid, "condition must be %s or %s", opa.ConditionMFA, opa.ConditionAccessRequest)
	case a.Team == "" || a.User == "":
		return ConditionApproval{}, errclass.Mark(errclass.Invalid, "team and user (a username or user id) are required")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.list) >= MaxConditionApprovals {
		return ConditionApproval{}, errclass.Mark(errclass.Invalid, "at most %d condition approvals; delete some first", MaxConditionApprovals)
	}
	c.next++
	a.ID = strconv.Itoa(c.next)
	if a.ExpiresAt != nil {
		t := a.ExpiresAt.UTC()
		a.ExpiresAt = &t
	}
	c.list = append(c.list, a)
	return a, nil
}

// List returns the approvals in the order they were set. Its cost is O(approvals).
func (c *ConditionApprovals) List() []ConditionApproval {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

// Delete forgets the approval with the id. Errors: ErrNotFound for an unknown id.
func (c *ConditionApprovals) Delete(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.list, func(a ConditionApproval) bool { return a.ID == id })
	if i < 0 {
		return errclass.Mark(errclass.NotFound, "condition approval %q does not exist", id)
	}
	c.list = slices.Delete(c.list, i, i+1)
	return nil
}

// Clear forgets every approval.
func (c *ConditionApprovals) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = nil
}

// DecideCondition implements opa.ConditionDecider: the last approval set that matches req, or not
// met. It never returns an error. Its cost is O(approvals).
func (c *ConditionApprovals) DecideCondition(_ context.Context, req opa.ConditionRequest) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.list) - 1; i >= 0; i-- {
		if c.list[i].matches(req) {
			return c.list[i].Met, nil
		}
	}
	return false, nil
}

// Conditions returns the approvals served at /_fake/conditions, or an ErrNotFound error when
// Controls.Conditions is nil.
func (c *Controller) Conditions() (*ConditionApprovals, error) {
	if c.cfg.Conditions == nil {
		return nil, errclass.Mark(errclass.NotFound, "the condition controls are not available: the server decides no policy conditions")
	}
	return c.cfg.Conditions, nil
}

// conditionRoutes registers the condition control (called with the other controls).
func (h *Handler) conditionRoutes() {
	m := h.mux
	m.HandleFunc("GET /_fake/conditions", h.approvalsControl(listConditions))
	m.HandleFunc("POST /_fake/conditions", h.approvalsControl(setCondition))
	m.HandleFunc("DELETE /_fake/conditions", h.approvalsControl(clearConditions))
	m.HandleFunc("DELETE /_fake/conditions/{id}", h.approvalsControl(deleteCondition))
}

// approvalsControl is a control on the controller's approvals: 404 when it has none.
func (h *Handler) approvalsControl(fn func(w http.ResponseWriter, r *http.Request, a *ConditionApprovals) error) http.HandlerFunc {
	return h.control(func(w http.ResponseWriter, r *http.Request) error {
		a, err := h.ctl.Conditions()
		if err != nil {
			return err
		}
		return fn(w, r, a)
	})
}

func listConditions(w http.ResponseWriter, _ *http.Request, a *ConditionApprovals) error {
	encode(w, http.StatusOK, list[ConditionApproval]{List: a.List()})
	return nil
}

func setCondition(w http.ResponseWriter, r *http.Request, a *ConditionApprovals) error {
	var in ConditionApproval
	if err := requireBody(r, &in); err != nil {
		return err
	}
	out, err := a.Set(in)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, out)
	return nil
}

func clearConditions(w http.ResponseWriter, _ *http.Request, a *ConditionApprovals) error {
	a.Clear()
	noContent(w)
	return nil
}

func deleteCondition(w http.ResponseWriter, r *http.Request, a *ConditionApprovals) error {
	if err := a.Delete(r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
