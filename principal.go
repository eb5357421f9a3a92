package opa

import (
	"context"
	"slices"

	"github.com/opakit/opa/storage"
)

// Role is an OPA role.
type Role string

// The roles. The delegated roles apply inside one resource group.
const (
	RolePAMAdmin               Role = "pam_admin"
	RoleResourceAdmin          Role = "resource_admin"
	RoleSecurityAdmin          Role = "security_admin"
	RoleDelegatedResourceAdmin Role = "delegated_resource_admin"
	RoleDelegatedSecurityAdmin Role = "delegated_security_admin"
	RoleEndUser                Role = "end_user"
	// RoleAccessUser is ASA's name for RoleEndUser; like it, it grants nothing by itself (access
	// comes from policies and project groups). Accepted so that ASA-style group roles round-trip.
	RoleAccessUser Role = "access_user"
)

// AllRoles returns every role, in the order of the constants above: the module's one list of
// them (package fixture validates its documents against it). Each call returns a new slice.
func AllRoles() []Role {
	return []Role{RolePAMAdmin, RoleResourceAdmin, RoleSecurityAdmin, RoleDelegatedResourceAdmin, RoleDelegatedSecurityAdmin, RoleEndUser, RoleAccessUser}
}

// Valid reports whether r is one of AllRoles.
func (r Role) Valid() bool { return slices.Contains(AllRoles(), r) }

// Delegated reports whether r is a delegated role, which applies inside one resource group and so
// is granted with a resource group id.
func (r Role) Delegated() bool {
	return r == RoleDelegatedResourceAdmin || r == RoleDelegatedSecurityAdmin
}

// RoleGrant gives a role to a user or group. ResourceGroupID is set exactly for the delegated
// roles, which apply within that resource group.
type RoleGrant struct {
	Role            Role   `json:"role"`
	ResourceGroupID string `json:"resource_group_id,omitempty"`
}

// grantsOf converts stored grants to RoleGrants.
func grantsOf(gs []storage.RoleGrant) []RoleGrant {
	if gs == nil {
		return nil
	}
	out := make([]RoleGrant, len(gs))
	for i, g := range gs {
		out[i] = RoleGrant{Role: Role(g.Role), ResourceGroupID: g.ResourceGroupID}
	}
	return out
}

// storedGrants converts RoleGrants to their stored form.
func storedGrants(gs []RoleGrant) []storage.RoleGrant {
	if gs == nil {
		return nil
	}
	out := make([]storage.RoleGrant, len(gs))
	for i, g := range gs {
		out[i] = storage.RoleGrant{Role: string(g.Role), ResourceGroupID: g.ResourceGroupID}
	}
	return out
}

// Principal is who an operation acts as: a user of a team with the roles of the user and of its
// groups, resolved when the principal was made. Make one with Engine.Authenticate (bearer token),
// Engine.PrincipalForUser, or SystemPrincipal. The zero Principal is unauthenticated: every operation
// refuses it with ErrUnauthorized.
type Principal struct {
	TeamID   string
	TeamName string
	UserID   string
	Username string
	GroupIDs []string
	Roles    []RoleGrant
	system   bool
}

// SystemPrincipal returns a principal with every right in the team, for the embedding program's own
// work (loading fixtures, maintenance). It is never produced from a network credential.
func SystemPrincipal(team Team) Principal {
	return Principal{TeamID: team.ID, TeamName: team.Name, Username: "system", system: true}
}

// IsSystem reports whether p is a SystemPrincipal.
func (p Principal) IsSystem() bool { return p.system }

// HasRole reports whether p holds role team-wide.
func (p Principal) HasRole(role Role) bool {
	if p.system {
		return true
	}
	for _, g := range p.Roles {
		if g.Role == role && g.ResourceGroupID == "" {
			return true
		}
	}
	return false
}

// HasRoleIn reports whether p holds role (RoleResourceAdmin or RoleSecurityAdmin) for the resource
// group: team-wide, or through the delegated variant scoped to resourceGroupID.
func (p Principal) HasRoleIn(role Role, resourceGroupID string) bool {
	if p.HasRole(role) {
		return true
	}
	var delegated Role
	switch role {
	case RoleResourceAdmin:
		delegated = RoleDelegatedResourceAdmin
	case RoleSecurityAdmin:
		delegated = RoleDelegatedSecurityAdmin
	default:
		return false
	}
	for _, g := range p.Roles {
		if g.Role == delegated && g.ResourceGroupID == resourceGroupID && resourceGroupID != "" {
			return true
		}
	}
	return false
}

// HasAnyDelegated reports whether p holds the delegated variant of role in any resource group.
func (p Principal) HasAnyDelegated(role Role) bool {
	want := map[Role]Role{RoleResourceAdmin: RoleDelegatedResourceAdmin, RoleSecurityAdmin: RoleDelegatedSecurityAdmin}[role]
	for _, g := range p.Roles {
		if g.Role == want {
			return true
		}
	}
	return false
}

// check returns ErrUnauthorized for an unauthenticated principal.
func (p Principal) check() error {
	if p.TeamID == "" {
		return unauthorizedf("the request carries no valid credentials")
	}
	return nil
}

// require returns nil if p holds role team-wide, ErrForbidden otherwise.
func (p Principal) require(role Role) error {
	if err := p.check(); err != nil {
		return err
	}
	if !p.HasRole(role) {
		return missingRolef("missing capability: the %s role is required", role)
	}
	return nil
}

// requireIn returns nil if p holds role for the resource group, ErrForbidden otherwise.
func (p Principal) requireIn(role Role, resourceGroupID string) error {
	if err := p.check(); err != nil {
		return err
	}
	if !p.HasRoleIn(role, resourceGroupID) {
		return missingRolef("missing capability: the %s role is required for this resource group", role)
	}
	return nil
}

// sameTeam returns a not-found error when a record of another team is reached by id.
func (p Principal) sameTeam(teamID, kind, id string) error {
	if teamID != p.TeamID {
		return notFoundf("%s %q does not exist", kind, id)
	}
	return nil
}

// requireRGAdmin allows resource or security admins of the resource group (team-wide or delegated).
func (p Principal) requireRGAdmin(resourceGroupID string) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRoleIn(RoleResourceAdmin, resourceGroupID) || p.HasRoleIn(RoleSecurityAdmin, resourceGroupID) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin or security_admin role is required for this resource group")
}

// requireConnRead allows resource_admin and security_admin (read-only).
func (p Principal) requireConnRead() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRole(RoleResourceAdmin) || p.HasRole(RoleSecurityAdmin) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin or security_admin role is required")
}

// requireJobAdmin allows resource_admin, and delegated_resource_admin (whose rights are then
// checked per project by checkRuleProjects).
func (p Principal) requireJobAdmin() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRole(RoleResourceAdmin) || p.HasAnyDelegated(RoleResourceAdmin) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin role is required")
}

// requireResourceRead allows reading connections' jobs, rules and servers: resource admins
// (team-wide or delegated) and security admins.
func (p Principal) requireResourceRead() error {
	if err := p.check(); err != nil {
		return err
	}
	if p.HasRole(RoleResourceAdmin) || p.HasRole(RoleSecurityAdmin) || p.HasAnyDelegated(RoleResourceAdmin) {
		return nil
	}
	return missingRolef("missing capability: the resource_admin or security_admin role is required")
}

// requireProjectSecurity checks that the project exists in the resource group and that p is a
// (delegated) security admin of it.
func (e *Engine) requireProjectSecurity(ctx context.Context, p Principal, resourceGroupID, projectID string) error {
	if err := p.check(); err != nil {
		return err
	}
	return e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
		if err != nil {
			return err
		}
		return p.requireIn(RoleSecurityAdmin, pr.ResourceGroupID)
	})
}

// requireProjectAdmin checks that the project is in the resource group and that p administers its
// resources or its security (either role, team-wide or delegated).
func (e *Engine) requireProjectAdmin(tx storage.ReadTx, p Principal, resourceGroupID, projectID string) (*storage.Project, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	pr, err := e.teamProject(tx, p, resourceGroupID, projectID)
	if err != nil {
		return nil, err
	}
	if err := p.requireRGAdmin(pr.ResourceGroupID); err != nil {
		return nil, err
	}
	return pr, nil
}
