package opa

import (
	"context"
	"slices"
	"time"

	"github.com/opakit/opa/storage"
)

// Audit actions.
const (
	AuditReveal        = "reveal_password"
	AuditCheckout      = "checkout"
	AuditCheckin       = "checkin"
	AuditRotate        = "rotate_password"
	AuditForceSync     = "force_sync"
	AuditGroupModify   = "directory_group_modify"
	AuditPolicyChange  = "policy_change"
	AuditConnectionSet = "connection_change"
)

// audit appends an event to the audit trail inside tx. detail must never hold a secret.
func (e *Engine) audit(tx storage.WriteTx, p Principal, action, resourceType, resourceID, outcome, detail string) error {
	ev := storage.AuditEvent{
		ID: e.newID(), TeamID: p.TeamID, At: e.now(), ActorID: p.UserID, Action: action,
		ResourceType: resourceType, ResourceID: resourceID, Outcome: outcome, Detail: detail,
	}
	if p.system {
		ev.ActorID = "system"
	}
	return storage.AuditEvents.Insert(tx, &ev)
}

// AuditEvent records who did what to which resource. It never holds a secret. ActorID is the
// user's id, or "system" for the engine's own work.
type AuditEvent struct {
	ID           string    `json:"id"`
	TeamID       string    `json:"team_id"`
	At           time.Time `json:"at"`
	ActorID      string    `json:"actor_id,omitempty"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Outcome      string    `json:"outcome"`
	Detail       string    `json:"detail,omitempty"`
}

// AuditFilter selects audit events. Empty fields match everything.
type AuditFilter struct {
	ResourceID string
	Action     string
	ActorID    string
}

// AuditEvents returns the team's audit events that match f, oldest first. Needs security_admin.
// The trail never contains a password.
func (e *Engine) AuditEvents(ctx context.Context, p Principal, f AuditFilter) ([]AuditEvent, error) {
	if err := p.require(RoleSecurityAdmin); err != nil {
		return nil, err
	}
	var out []AuditEvent
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var evs []*storage.AuditEvent
		var err error
		if f.ResourceID != "" {
			evs, err = storage.AuditEvents.List(tx, storage.AuditEventsByResource, f.ResourceID)
		} else {
			evs, err = storage.AuditEvents.List(tx, storage.AuditEventsByTeam, p.TeamID)
		}
		for _, ev := range evs {
			if ev.TeamID != p.TeamID || (f.Action != "" && ev.Action != f.Action) || (f.ActorID != "" && ev.ActorID != f.ActorID) {
				continue
			}
			out = append(out, AuditEvent(*ev))
		}
		return err
	})
	sortByTime(out)
	return out, err
}

func sortByTime(evs []AuditEvent) {
	slices.SortStableFunc(evs, func(a, b AuditEvent) int { return a.At.Compare(b.At) })
}
