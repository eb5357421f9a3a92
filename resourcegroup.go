package opa

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/opakit/opa/storage"
)

// ResourceGroup groups projects; delegated admins are scoped to one.
type ResourceGroup struct {
	ID          string    `json:"id"`
	TeamID      string    `json:"team_id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// DelegatedAdminGroups are the live groups that hold delegated_resource_admin for this
	// resource group, in id order. They are read from the groups' grants (the grants are the one
	// record of who administers the group), and filled by Engine.ResourceGroup and
	// CreateResourceGroupWith; lists leave it nil.
	DelegatedAdminGroups []GroupRef `json:"delegated_resource_admin_groups,omitempty"`
}

// GroupRef names a group by id and name.
type GroupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ResourceGroupInput is a resource group to create or, in full, the new state of one to update.
type ResourceGroupInput struct {
	Name        string
	Description string
	// DelegatedAdminGroupIDs are the ids of the live groups of the team to hold
	// delegated_resource_admin for the resource group; every other group loses that grant.
	// Duplicates count once.
	DelegatedAdminGroupIDs []string
}

func resourceGroupOf(r *storage.ResourceGroup) ResourceGroup {
	return ResourceGroup{ID: r.ID, TeamID: r.TeamID, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt}
}

// CreateResourceGroup creates a resource group with no delegated admins. Needs resource_admin.
// Errors as CreateResourceGroupWith. Safe for concurrent use.
func (e *Engine) CreateResourceGroup(ctx context.Context, p Principal, name, description string) (ResourceGroup, error) {
	return e.CreateResourceGroupWith(ctx, p, ResourceGroupInput{Name: name, Description: description})
}

func checkResourceGroupInput(in ResourceGroupInput) error {
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 255 {
		return invalidf("resource group name must be 1-255 characters")
	}
	if len(in.Description) > 4096 {
		return invalidf("resource group description must be at most 4096 characters")
	}
	return nil
}

// CreateResourceGroupWith creates a resource group and grants delegated_resource_admin for it to
// the groups in.DelegatedAdminGroupIDs, in one transaction, and returns it with its delegated
// admin groups. Needs resource_admin (team-wide).
// Errors: ErrInvalid for a bad name or description or a delegated admin id that is not a live
// group of the team; ErrConflict when the team has a resource group of that name
// (case-insensitive). Nothing changes on error. Safe for concurrent use.
func (e *Engine) CreateResourceGroupWith(ctx context.Context, p Principal, in ResourceGroupInput) (ResourceGroup, error) {
	if err := p.require(RoleResourceAdmin); err != nil {
		return ResourceGroup{}, err
	}
	if err := checkResourceGroupInput(in); err != nil {
		return ResourceGroup{}, err
	}
	rg := storage.ResourceGroup{ID: e.newID(), TeamID: p.TeamID, Name: in.Name, Description: in.Description, CreatedAt: e.now()}
	out := resourceGroupOf(&rg)
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		if err := wrapConflict(storage.ResourceGroups.Insert(tx, &rg), "a resource group named %q already exists", in.Name); err != nil {
			return err
		}
		if err := e.setDelegatedAdmins(tx, p, rg.ID, in.DelegatedAdminGroupIDs); err != nil {
			return err
		}
		var err error
		out.DelegatedAdminGroups, err = delegatedAdmins(tx, p.TeamID, rg.ID)
		return err
	})
	if err != nil {
		return ResourceGroup{}, err
	}
	return out, nil
}

// ResourceGroups returns the resource groups of p's team (any authenticated principal of the team;
// the embedding program's and fixtures' view). ListResourceGroups is the paged, authorized list.
func (e *Engine) ResourceGroups(ctx context.Context, p Principal) ([]ResourceGroup, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	var out []ResourceGroup
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		rs, err := storage.ResourceGroups.List(tx, storage.ResourceGroupsByTeam, p.TeamID)
		for _, r := range rs {
			out = append(out, resourceGroupOf(r))
		}
		return err
	})
	return out, err
}

// ResourceGroup returns a resource group of p's team with its delegated admin groups. Needs
// resource_admin or security_admin, team-wide or delegated for that resource group. Errors:
// ErrNotFound for an unknown id or another team's group. It reads the team's groups, so it costs
// O(groups of the team). Safe for concurrent use.
func (e *Engine) ResourceGroup(ctx context.Context, p Principal, id string) (ResourceGroup, error) {
	if err := p.check(); err != nil {
		return ResourceGroup{}, err
	}
	var out ResourceGroup
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		rg, err := e.teamResourceGroup(tx, p, id)
		if err != nil {
			return err
		}
		if err := p.requireRGAdmin(rg.ID); err != nil {
			return err
		}
		out = resourceGroupOf(rg)
		out.DelegatedAdminGroups, err = delegatedAdmins(tx, p.TeamID, rg.ID)
		return err
	})
	return out, err
}

// ResourceGroupFilter selects the resource groups of a list (Engine.ListResourceGroups). The zero
// value selects every resource group the principal may read.
type ResourceGroupFilter struct {
	// Contains keeps resource groups whose name contains it, case-insensitively.
	Contains string
}

// ListResourceGroups returns one page of the resource groups of p's team that f selects, in id
// order: all of them for a team-wide resource_admin or security_admin, only those p administers
// for a delegated admin. Items carry no DelegatedAdminGroups (the list items of the API have
// none). Needs one of those roles; ErrInvalid for a bad page request. Cost: one seek and one
// page, O(page + log N) for a team-wide admin without a filter, plus the resource groups passed
// over otherwise. Safe for concurrent use.
func (e *Engine) ListResourceGroups(ctx context.Context, p Principal, f ResourceGroupFilter, page PageRequest) (Page[ResourceGroup], error) {
	if err := p.check(); err != nil {
		return Page[ResourceGroup]{}, err
	}
	all := p.HasRole(RoleResourceAdmin) || p.HasRole(RoleSecurityAdmin)
	if !all && !p.HasAnyDelegated(RoleResourceAdmin) && !p.HasAnyDelegated(RoleSecurityAdmin) {
		return Page[ResourceGroup]{}, missingRolef("missing capability: the resource_admin or security_admin role is required")
	}
	if err := page.validate(); err != nil {
		return Page[ResourceGroup]{}, err
	}
	src := pageSource[storage.ResourceGroup]{table: storage.ResourceGroups, index: storage.ResourceGroupsByTeam,
		args: []string{p.TeamID}, in: func(r *storage.ResourceGroup) bool { return r.TeamID == p.TeamID }}
	contains := strings.ToLower(f.Contains)
	if !all || contains != "" {
		src.keep = func(r *storage.ResourceGroup) bool {
			return (all || p.requireRGAdmin(r.ID) == nil) && strings.Contains(strings.ToLower(r.Name), contains)
		}
	}
	var out Page[ResourceGroup]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = rangePage(tx, src, page, func(r *storage.ResourceGroup) string { return r.ID }, resourceGroupOf)
		return err
	})
	return out, err
}

// UpdateResourceGroup replaces a resource group's name, description and delegated admin groups
// (a full replacement, as the API's PUT). Needs resource_admin (team-wide: the update decides who
// administers the group). Errors: ErrNotFound for an unknown resource group; ErrInvalid and
// ErrConflict as CreateResourceGroupWith. Nothing changes on error. Safe for concurrent use.
func (e *Engine) UpdateResourceGroup(ctx context.Context, p Principal, id string, in ResourceGroupInput) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if err := checkResourceGroupInput(in); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		rg, err := e.teamResourceGroup(tx, p, id)
		if err != nil {
			return err
		}
		rg.Name, rg.Description = in.Name, in.Description
		if err := wrapConflict(storage.ResourceGroups.Update(tx, rg), "a resource group named %q already exists", in.Name); err != nil {
			return err
		}
		return e.setDelegatedAdmins(tx, p, rg.ID, in.DelegatedAdminGroupIDs)
	})
}

// DeleteResourceGroup deletes a resource group: its live projects are soft-deleted with it (and
// with them their checkout and password settings), the delegated grants for it (resource and
// security admin) are removed from every group and user of the team, and the resource group itself is removed (it has no soft-deleted state: a read
// answers ErrNotFound, and its name can be used again). Needs resource_admin (team-wide).
// Errors: ErrNotFound for an unknown resource group; ErrConflict while one of its projects is in
// use (see DeleteProject) or a security policy is scoped to it. Nothing changes on error. Safe for
// concurrent use.
func (e *Engine) DeleteResourceGroup(ctx context.Context, p Principal, id string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		rg, err := e.teamResourceGroup(tx, p, id)
		if err != nil {
			return err
		}
		if err := resourceGroupInPolicies(tx, p.TeamID, rg); err != nil {
			return err
		}
		prs, err := storage.Projects.List(tx, storage.ProjectsByResourceGroup, rg.ID)
		if err != nil {
			return err
		}
		now := e.now()
		for _, pr := range prs {
			if !pr.DeletedAt.IsZero() {
				continue
			}
			if err := projectInUse(tx, p.TeamID, pr); err != nil {
				return err
			}
			pr.DeletedAt = now
			if err := storage.Projects.Update(tx, pr); err != nil {
				return err
			}
		}
		if err := e.dropResourceGroupGrants(tx, p, rg.ID); err != nil {
			return err
		}
		return storage.ResourceGroups.Delete(tx, rg.ID)
	})
}

// resourceGroupInPolicies returns ErrConflict if a security policy of the team is scoped to the
// resource group. It costs O(the team's policies).
func resourceGroupInPolicies(tx storage.ReadTx, teamID string, rg *storage.ResourceGroup) error {
	pols, err := storage.Policies.BorrowList(tx, storage.PoliciesByTeam, teamID)
	if err != nil {
		return err
	}
	for _, pol := range pols {
		if pol.ResourceGroupID == rg.ID {
			return conflictf("resource group %q is the scope of the security policy %q; change the policy first", rg.Name, pol.ID)
		}
	}
	return nil
}

// delegatedAdmins lists the live groups of the team holding delegated_resource_admin for the
// resource group, in id order.
func delegatedAdmins(tx storage.ReadTx, teamID, rgID string) ([]GroupRef, error) {
	gs, err := storage.Groups.BorrowList(tx, storage.GroupsByTeam, teamID)
	if err != nil {
		return nil, err
	}
	out := []GroupRef{}
	for _, g := range gs {
		if g.DeletedAt.IsZero() && slices.Contains(g.Roles, delegatedAdminGrant(rgID)) {
			out = append(out, GroupRef{ID: g.ID, Name: g.Name})
		}
	}
	slices.SortFunc(out, func(a, b GroupRef) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func delegatedAdminGrant(rgID string) storage.RoleGrant {
	return storage.RoleGrant{Role: string(RoleDelegatedResourceAdmin), ResourceGroupID: rgID}
}

// AuditDelegation is the audit action of granting or revoking a role scoped to a resource group
// through the resource group (its delegated admin list, or its delete). The event's resource is
// the resource group; its detail names the role and the group or user.
const AuditDelegation = "delegated_admin_change"

// setDelegatedAdmins makes exactly the groups ids (live groups of the team) hold
// delegated_resource_admin for the resource group: it grants it to those that lack it and
// removes it from every other group of the team, auditing each change. ErrInvalid for an id that
// is not a live group of the team. It costs O(groups of the team).
func (e *Engine) setDelegatedAdmins(tx storage.WriteTx, p Principal, rgID string, ids []string) error {
	for _, id := range ids {
		g, err := storage.Groups.Get(tx, id)
		if err != nil || g.TeamID != p.TeamID || !g.DeletedAt.IsZero() {
			return invalidf("delegated_resource_admin_groups: group %q does not exist", id)
		}
	}
	gs, err := storage.Groups.List(tx, storage.GroupsByTeam, p.TeamID)
	if err != nil {
		return err
	}
	grant := delegatedAdminGrant(rgID)
	for _, g := range gs {
		want := g.DeletedAt.IsZero() && slices.Contains(ids, g.ID)
		has := slices.Contains(g.Roles, grant)
		outcome := "granted"
		switch {
		case want && !has:
			g.Roles = append(g.Roles, grant)
		case !want && has:
			g.Roles = slices.DeleteFunc(g.Roles, func(r storage.RoleGrant) bool { return r == grant })
			outcome = "revoked"
		default:
			continue
		}
		if err := storage.Groups.Update(tx, g); err != nil {
			return err
		}
		if err := e.audit(tx, p, AuditDelegation, "resource_group", rgID, outcome, grant.Role+" to group "+g.Name); err != nil {
			return err
		}
	}
	return nil
}

// dropResourceGroupGrants removes every role grant scoped to the resource group from the team's
// groups and users, auditing each. It costs O(groups and users of the team).
func (e *Engine) dropResourceGroupGrants(tx storage.WriteTx, p Principal, rgID string) error {
	scoped := func(r storage.RoleGrant) bool { return r.ResourceGroupID == rgID }
	revoked := func(roles []storage.RoleGrant, whom string) error {
		for _, r := range roles {
			if scoped(r) {
				if err := e.audit(tx, p, AuditDelegation, "resource_group", rgID, "revoked", r.Role+" to "+whom); err != nil {
					return err
				}
			}
		}
		return nil
	}
	gs, err := storage.Groups.List(tx, storage.GroupsByTeam, p.TeamID)
	if err != nil {
		return err
	}
	for _, g := range gs {
		if slices.ContainsFunc(g.Roles, scoped) {
			if err := revoked(g.Roles, "group "+g.Name); err != nil {
				return err
			}
			g.Roles = slices.DeleteFunc(g.Roles, scoped)
			if err := storage.Groups.Update(tx, g); err != nil {
				return err
			}
		}
	}
	us, err := storage.Users.List(tx, storage.UsersByTeam, p.TeamID)
	if err != nil {
		return err
	}
	for _, u := range us {
		if slices.ContainsFunc(u.Roles, scoped) {
			if err := revoked(u.Roles, "user "+u.Username); err != nil {
				return err
			}
			u.Roles = slices.DeleteFunc(u.Roles, scoped)
			if err := storage.Users.Update(tx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) teamResourceGroup(tx storage.ReadTx, p Principal, id string) (*storage.ResourceGroup, error) {
	rg, err := storage.ResourceGroups.Get(tx, id)
	if err != nil {
		return nil, wrapNotFound(err, "resource group %q does not exist", id)
	}
	if err := p.sameTeam(rg.TeamID, "resource group", id); err != nil {
		return nil, err
	}
	return rg, nil
}
