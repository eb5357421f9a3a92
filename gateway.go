package opa

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/opakit/opa/storage"
)

// Gateway is a gateway agent of a team: what an AD connection reaches its domain controllers
// through (ADConnection.GatewayID) and what projects select by label (gateway_selector). A
// gateway comes from a fixture (AddGateway) or registers with a setup token (RegisterGateway).
type Gateway struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	AccessAddress     string            `json:"access_address"`
	DefaultAddress    string            `json:"default_address"`
	Description       string            `json:"description"`
	CloudProvider     string            `json:"cloud_provider"`
	RefuseConnections bool              `json:"refuse_connections"`
	Labels            map[string]string `json:"labels"`
	// SetupTokenID is the setup token the gateway registered with; empty for AddGateway's.
	SetupTokenID string    `json:"-"`
	CreatedAt    time.Time `json:"-"`
}

func gatewayOf(g *storage.Gateway) Gateway {
	labels := maps.Clone(g.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	return Gateway{ID: g.ID, Name: g.Name, AccessAddress: g.AccessAddress, DefaultAddress: g.DefaultAddress,
		Description: g.Description, CloudProvider: g.CloudProvider, RefuseConnections: g.RefuseConnections,
		Labels: labels, SetupTokenID: g.SetupTokenID, CreatedAt: g.CreatedAt}
}

// GatewayInput describes a gateway to add (AddGateway) or to register (RegisterGateway).
type GatewayInput struct {
	// ID is the gateway's id, a UUID; empty: a new one. RegisterGateway ignores it.
	ID string
	// Name is required: 1-255 characters, no control characters, unique in the team
	// (case-insensitive).
	Name string
	// AccessAddress and DefaultAddress are the addresses clients reach the gateway at; at most
	// 255 characters each.
	AccessAddress, DefaultAddress string
	// Description is free text of at most 1024 characters.
	Description string
	// CloudProvider is one of CloudProviders, or empty.
	CloudProvider string
	// RefuseConnections makes the gateway refuse new client connections.
	RefuseConnections bool
	// Labels are the gateway's labels (checkLabels' rules); RegisterGateway adds the setup
	// token's labels, which win over these.
	Labels map[string]string
	// Status is the gateway's status report (GatewayStatus); zero: nothing reported yet.
	Status GatewayStatusReport
}

// GatewayStatusReport is what a gateway reports about itself (the SDK's GatewayStatusReport).
// The fake has no live agents: it reports what the gateway was described with.
type GatewayStatusReport struct {
	// GatewayID is the gateway's id (set by Engine.GatewayStatus).
	GatewayID string
	// Status is a status word of at most 64 characters; empty: none reported (null on the wire).
	Status string
	// ActiveConnections is the number of clients connected through the gateway.
	ActiveConnections int
	// TotalStorageBytes and UsedStorageBytes are the storage for session recordings.
	TotalStorageBytes, UsedStorageBytes int64
}

func (r GatewayStatusReport) check() error {
	switch {
	case len(r.Status) > 64 || hasControl(r.Status):
		return invalidf("status must be at most 64 characters without control characters")
	case r.ActiveConnections < 0 || r.ActiveConnections > 1<<31-1:
		return invalidf("active_connections must be between 0 and %d", 1<<31-1)
	case r.TotalStorageBytes < 0 || r.UsedStorageBytes < 0 || r.UsedStorageBytes > r.TotalStorageBytes:
		return invalidf("used_storage_bytes must be between 0 and total_storage_bytes")
	}
	return nil
}

// CloudProviders returns the accepted cloud_provider values (the SDK's CloudProviderType). Each
// call returns a new slice.
func CloudProviders() []string { return []string{"aws", "gce", "azure"} }

// Limits of gateway and setup token labels.
const (
	MaxLabels          = 64
	MaxLabelKeyLength  = 255
	MaxLabelValueBytes = 255
)

// checkLabels checks a label map: at most MaxLabels labels; keys 1-MaxLabelKeyLength bytes,
// values at most MaxLabelValueBytes, neither with a control character, a ',' (which separates
// the labels of a gateway_selector) or, in a key, a '='.
func checkLabels(what string, labels map[string]string) error {
	if len(labels) > MaxLabels {
		return invalidf("%s: at most %d labels", what, MaxLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		switch {
		case k == "" || len(k) > MaxLabelKeyLength:
			return invalidf("%s: a label key must be 1-%d bytes", what, MaxLabelKeyLength)
		case strings.ContainsAny(k, ",=") || hasControl(k):
			return invalidf("%s: label key %q must not hold ',', '=' or control characters", what, k)
		case len(v) > MaxLabelValueBytes:
			return invalidf("%s: the value of label %q must be at most %d bytes", what, k, MaxLabelValueBytes)
		case strings.Contains(v, ",") || hasControl(v):
			return invalidf("%s: the value of label %q must not hold ',' or control characters", what, k)
		}
	}
	return nil
}

// hasControl reports whether s holds a control character or is not valid UTF-8.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return true
		}
	}
	return false
}

// record checks in and returns the gateway record it describes, with id, team and time set.
func (in GatewayInput) record(id, teamID string, now time.Time) (*storage.Gateway, error) {
	switch {
	case in.Name == "" || len(in.Name) > 255 || hasControl(in.Name):
		return nil, invalidf("name must be 1-255 characters without control characters")
	case len(in.AccessAddress) > 255 || hasControl(in.AccessAddress):
		return nil, invalidf("access_address must be at most 255 characters without control characters")
	case len(in.DefaultAddress) > 255 || hasControl(in.DefaultAddress):
		return nil, invalidf("default_address must be at most 255 characters without control characters")
	case len(in.Description) > 1024:
		return nil, invalidf("description must be at most 1024 characters")
	case in.CloudProvider != "" && !slices.Contains(CloudProviders(), in.CloudProvider):
		return nil, invalidf("cloud_provider must be one of %s", strings.Join(CloudProviders(), ", "))
	}
	if err := checkLabels("labels", in.Labels); err != nil {
		return nil, err
	}
	if err := in.Status.check(); err != nil {
		return nil, err
	}
	var labels map[string]string
	if len(in.Labels) > 0 {
		labels = maps.Clone(in.Labels)
	}
	return &storage.Gateway{ID: id, TeamID: teamID, Name: in.Name, AccessAddress: in.AccessAddress,
		DefaultAddress: in.DefaultAddress, Description: in.Description, CloudProvider: in.CloudProvider,
		RefuseConnections: in.RefuseConnections, Labels: labels, Status: in.Status.Status,
		ActiveConnections: in.Status.ActiveConnections, TotalStorageBytes: in.Status.TotalStorageBytes,
		UsedStorageBytes: in.Status.UsedStorageBytes, CreatedAt: now}, nil
}

// requireGatewayRead allows reading gateways: resource and security admins (team-wide) and
// delegated resource admins of any resource group, who pick gateways for their projects.
func (p Principal) requireGatewayRead() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRole(RoleResourceAdmin) || p.HasRole(RoleSecurityAdmin) || p.HasAnyDelegated(RoleResourceAdmin) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin or security_admin role is required")
}

// requireGatewayAdmin allows managing gateways and their setup tokens: resource admins, team-wide
// or delegated (Okta's "Create tokens and labels" prerequisites, docs/wire.md#gateways).
func (p Principal) requireGatewayAdmin() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRole(RoleResourceAdmin) || p.HasAnyDelegated(RoleResourceAdmin) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin role is required")
}

// AddGateway adds a gateway to p's team as it is described (fixtures and tests use it; a real
// gateway agent registers with a setup token, RegisterGateway). Needs resource_admin (team-wide or
// delegated). Errors: ErrInvalid for a bad field or an id that is not a UUID, ErrConflict when the
// id or (case-insensitively) the name is taken. Safe for concurrent use.
func (e *Engine) AddGateway(ctx context.Context, p Principal, in GatewayInput) (Gateway, error) {
	if err := p.requireGatewayAdmin(); err != nil {
		return Gateway{}, err
	}
	id := in.ID
	if id == "" {
		id = e.newID()
	} else if !uuidRE.MatchString(id) {
		return Gateway{}, invalidf("a gateway id must be a UUID")
	}
	g, err := in.record(strings.ToLower(id), p.TeamID, e.now())
	if err != nil {
		return Gateway{}, err
	}
	err = e.store.Update(ctx, func(tx storage.WriteTx) error {
		return insertGateway(tx, g)
	})
	if err != nil {
		return Gateway{}, err
	}
	return gatewayOf(g), nil
}

// insertGateway stores a new gateway, naming the conflict.
func insertGateway(tx storage.WriteTx, g *storage.Gateway) error {
	if _, err := storage.Gateways.Get(tx, g.ID); err == nil {
		return conflictf("a gateway with id %q already exists", g.ID)
	}
	return wrapConflict(storage.Gateways.Insert(tx, g), "a gateway named %q already exists", g.Name)
}

// Gateway returns the gateway of p's team with the id. Needs resource_admin or security_admin
// (team-wide) or a delegated resource admin role. ErrNotFound for an unknown id or another team's
// gateway. Safe for concurrent use.
func (e *Engine) Gateway(ctx context.Context, p Principal, id string) (Gateway, error) {
	if err := p.requireGatewayRead(); err != nil {
		return Gateway{}, err
	}
	var out Gateway
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		g, err := e.teamGateway(tx, p, id)
		if err == nil {
			out = gatewayOf(g)
		}
		return err
	})
	return out, err
}

// teamGateway finds a gateway of p's team by id.
func (e *Engine) teamGateway(tx storage.ReadTx, p Principal, id string) (*storage.Gateway, error) {
	g, err := storage.Gateways.Get(tx, id)
	if err != nil {
		return nil, wrapNotFound(err, "gateway %q does not exist", id)
	}
	if err := p.sameTeam(g.TeamID, "gateway", id); err != nil {
		return nil, err
	}
	return g, nil
}

// GatewayFilter selects the gateways of a list (Engine.ListGateways). The zero value selects every
// gateway of the team.
type GatewayFilter struct {
	// Contains keeps the gateways whose name contains it, case-insensitively.
	Contains string
}

// ListGateways returns one page of the gateways of p's team that f selects, in id order
// (PageRequest). Cost: one range read of the team's gateways from the cursor (rangePage), passing
// over the gateways f refuses until the page is full. Needs what Gateway needs. ErrInvalid for a
// bad page request. Safe for concurrent use.
func (e *Engine) ListGateways(ctx context.Context, p Principal, f GatewayFilter, page PageRequest) (Page[Gateway], error) {
	if err := p.requireGatewayRead(); err != nil {
		return Page[Gateway]{}, err
	}
	sub := strings.ToLower(f.Contains)
	var out Page[Gateway]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		src := pageSource[storage.Gateway]{table: storage.Gateways, index: storage.GatewaysByTeam, args: []string{p.TeamID},
			in: func(g *storage.Gateway) bool { return g.TeamID == p.TeamID }, borrow: true,
			keep: func(g *storage.Gateway) bool { return sub == "" || containsFold(g.Name, sub) }}
		var err error
		out, err = rangePage(tx, src, page, func(g *storage.Gateway) string { return g.ID }, gatewayOf)
		return err
	})
	return out, err
}

// GatewayStatus returns the status report of a gateway of p's team: what it was last described
// with (AddGateway, RegisterGateway). Needs what Gateway needs. ErrNotFound for an unknown id or
// another team's gateway. Safe for concurrent use.
func (e *Engine) GatewayStatus(ctx context.Context, p Principal, id string) (GatewayStatusReport, error) {
	if err := p.requireGatewayRead(); err != nil {
		return GatewayStatusReport{}, err
	}
	var out GatewayStatusReport
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		g, err := e.teamGateway(tx, p, id)
		if err == nil {
			out = GatewayStatusReport{GatewayID: g.ID, Status: g.Status, ActiveConnections: g.ActiveConnections,
				TotalStorageBytes: g.TotalStorageBytes, UsedStorageBytes: g.UsedStorageBytes}
		}
		return err
	})
	return out, err
}

// SetGatewayLabels replaces the labels of a gateway of p's team (the SDK's UpdateGatewayInstance;
// Okta's "Edit labels"). Needs resource_admin, team-wide or delegated. Errors: ErrNotFound for an
// unknown id or another team's gateway, ErrInvalid for bad labels. Safe for concurrent use.
func (e *Engine) SetGatewayLabels(ctx context.Context, p Principal, id string, labels map[string]string) error {
	if err := p.requireGatewayAdmin(); err != nil {
		return err
	}
	if err := checkLabels("labels", labels); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		g, err := e.teamGateway(tx, p, id)
		if err != nil {
			return err
		}
		g.Labels = nil
		if len(labels) > 0 {
			g.Labels = maps.Clone(labels)
		}
		return storage.Gateways.Update(tx, g)
	})
}

// DeleteGateway removes a gateway of p's team (the SDK's DeleteGatewayInstance; the agent would
// have to register again). Needs resource_admin, team-wide or delegated. Errors: ErrNotFound for
// an unknown id or another team's gateway; ErrConflict while an AD connection of the team names
// it as its gateway_id (the connection would reach its domain through nothing). It reads the
// team's connections: O(connections of the team). Safe for concurrent use.
func (e *Engine) DeleteGateway(ctx context.Context, p Principal, id string) error {
	if err := p.requireGatewayAdmin(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		g, err := e.teamGateway(tx, p, id)
		if err != nil {
			return err
		}
		conns, err := storage.Connections.BorrowList(tx, storage.ConnectionsByTeam, p.TeamID)
		if err != nil {
			return err
		}
		for _, c := range conns {
			if strings.EqualFold(c.GatewayID, g.ID) {
				return conflictf("gateway %q is the gateway of AD connection %q", g.Name, c.Domain)
			}
		}
		return storage.Gateways.Delete(tx, g.ID)
	})
}

// gatewayNameOf is the gateway_name of a connection on the gateway gatewayID: the name of the
// team's gateway with that id, or, when the team has none, given (what the request or fixture
// said). The ASA API derives it: its create request has no gateway_name and its GET has one.
func gatewayNameOf(tx storage.ReadTx, teamID, gatewayID, given string) string {
	if gatewayID == "" {
		return given
	}
	g, err := storage.Gateways.Get(tx, strings.ToLower(gatewayID))
	if err != nil || g.TeamID != teamID {
		return given
	}
	return g.Name
}
