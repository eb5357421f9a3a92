package opa

import (
	"context"
	"slices"
	"strings"

	"github.com/opakit/opa/storage"
)

// GroupFilter selects the groups of a list (Engine.ListGroups). The zero value selects every live
// group.
type GroupFilter struct {
	// Contains keeps groups whose name contains it, case-insensitively.
	Contains string
	// IDs, when not empty, keeps only the groups with these ids.
	IDs []string
	// Ignore drops the groups with these names (exact, case-insensitive).
	Ignore []string
	// IncludeDeleted adds deleted groups; OnlyDeleted lists deleted groups alone.
	IncludeDeleted, OnlyDeleted bool
}

func (f GroupFilter) keep(g *storage.Group) bool {
	deleted := !g.DeletedAt.IsZero()
	switch {
	case f.OnlyDeleted && !deleted, !f.OnlyDeleted && !f.IncludeDeleted && deleted:
		return false
	case f.Contains != "" && !strings.Contains(strings.ToLower(g.Name), strings.ToLower(f.Contains)):
		return false
	case len(f.IDs) > 0 && !slices.Contains(f.IDs, g.ID):
		return false
	}
	for _, n := range f.Ignore {
		if strings.EqualFold(n, g.Name) {
			return false
		}
	}
	return true
}

// requireDirectoryRead allows reading the team's users and groups: any admin role, team-wide or
// delegated (resource and security admins pick groups for delegated administration and policies).
func (p Principal) requireDirectoryRead() error {
	if err := p.check(); err != nil {
		return err
	}
	for _, r := range []Role{RolePAMAdmin, RoleResourceAdmin, RoleSecurityAdmin} {
		if p.HasRole(r) || p.HasAnyDelegated(r) {
			return nil
		}
	}
	return missingRolef("missing capability: an administrator role is required")
}

// GroupByName returns the group of p's team with the name (case-insensitive), deleted or not: a
// deleted group keeps its record with DeletedAt set. Needs an admin role (pam_admin,
// resource_admin, security_admin, or a delegated one). ErrNotFound if the team has no such group.
// Safe for concurrent use.
func (e *Engine) GroupByName(ctx context.Context, p Principal, name string) (Group, error) {
	if err := p.requireDirectoryRead(); err != nil {
		return Group{}, err
	}
	var g *storage.Group
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		g, err = e.teamGroupByName(tx, p, name)
		return err
	})
	if err != nil {
		return Group{}, err
	}
	return groupOf(g), nil
}

// ListGroups returns one page of the groups of p's team that f selects, in id order (PageRequest).
// Cost: a seek in the team's groups by id plus one page (rangePage): O(log N + k), k the page plus
// the groups f refuses between the cursor and the page's end (deleted ones included, unless f
// lists them). Needs an admin role (see GroupByName). ErrInvalid for a bad page request. Safe for
// concurrent use.
func (e *Engine) ListGroups(ctx context.Context, p Principal, f GroupFilter, page PageRequest) (Page[Group], error) {
	if err := p.requireDirectoryRead(); err != nil {
		return Page[Group]{}, err
	}
	var out Page[Group]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		out, err = rangePage(tx, teamGroups(p.TeamID, f), page, func(g *storage.Group) string { return g.ID }, groupOf)
		return err
	})
	return out, err
}

// teamGroups is the list of the groups of a team that f selects, read from GroupsByTeam.
func teamGroups(teamID string, f GroupFilter) pageSource[storage.Group] {
	return pageSource[storage.Group]{table: storage.Groups, index: storage.GroupsByTeam, args: []string{teamID},
		in: func(g *storage.Group) bool { return g.TeamID == teamID }, keep: f.keep, borrow: true}
}

// SetGroupRoles replaces the team-wide roles of a live group (the delegated grants, which resource
// groups' delegated admin lists manage, stay). Needs pam_admin. ErrNotFound for an unknown or
// deleted group; ErrInvalid for an unknown or delegated role.
func (e *Engine) SetGroupRoles(ctx context.Context, p Principal, name string, roles []Role) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	grants, err := teamWideGrants(roles)
	if err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		g, err := e.liveGroup(tx, p, name)
		if err != nil {
			return err
		}
		var kept []storage.RoleGrant
		for _, gr := range g.Roles {
			if gr.ResourceGroupID != "" {
				kept = append(kept, gr)
			}
		}
		grants = append(grants, kept...)
		g.Roles = grants
		return storage.Groups.Update(tx, g)
	})
}

// teamWideGrants converts role names to team-wide grants, refusing delegated roles (they are
// granted through a resource group) and unknown ones. Duplicates are kept once.
func teamWideGrants(roles []Role) ([]storage.RoleGrant, error) {
	out := []storage.RoleGrant{}
	for _, r := range roles {
		if !r.Valid() {
			return nil, invalidf("unknown role %q", r)
		}
		if r.Delegated() {
			return nil, invalidf("role %q is granted by listing the group in a resource group's delegated_resource_admin_groups", r)
		}
		if !slices.ContainsFunc(out, func(g storage.RoleGrant) bool { return g.Role == string(r) }) {
			out = append(out, storage.RoleGrant{Role: string(r)})
		}
	}
	return out, nil
}

// DeleteGroup soft-deletes a group: it keeps its record with DeletedAt set (GroupByName still
// finds it, ListGroups shows it only with IncludeDeleted or OnlyDeleted), loses its members and
// grants nothing. Its name can be used again: CreateGroup then replaces the deleted record. Needs
// pam_admin. ErrNotFound for an unknown or already deleted group. Checkouts whose holders lose
// access with it are checked in by the system (system_user_lost_access, lostaccess.go).
func (e *Engine) DeleteGroup(ctx context.Context, p Principal, name string) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	var memberIDs []string
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		g, err := e.liveGroup(tx, p, name)
		if err != nil {
			return err
		}
		members, err := storage.Users.List(tx, storage.UsersByGroup, g.ID)
		if err != nil {
			return err
		}
		memberIDs = memberIDs[:0]
		for _, u := range members {
			memberIDs = append(memberIDs, u.ID)
			u.GroupIDs = slices.DeleteFunc(u.GroupIDs, func(id string) bool { return id == g.ID })
			if err := storage.Users.Update(tx, u); err != nil {
				return err
			}
		}
		g.DeletedAt, g.Roles = e.now(), nil
		return storage.Groups.Update(tx, g)
	})
	return e.afterUsersChanged(ctx, p.TeamID, memberIDs, err)
}

// GroupMembers returns one page of the users of a group of p's team that f selects, in id order.
// Cost: the group's lookup by name, then a seek in the group's members by id plus one page
// (rangePage): O(log N + k), k the page plus the members f refuses between the cursor and the
// page's end. Needs an admin role (see GroupByName). ErrNotFound for an unknown group, ErrInvalid
// for a bad page request. Safe for concurrent use.
func (e *Engine) GroupMembers(ctx context.Context, p Principal, name string, f UserFilter, page PageRequest) (Page[User], error) {
	if err := p.requireDirectoryRead(); err != nil {
		return Page[User]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[User]{}, err
	}
	var out Page[User]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		g, err := e.teamGroupByName(tx, p, name)
		if err != nil {
			return err
		}
		out, err = rangePage(tx, groupUsers(g.ID, f), page, userID, userOf)
		return err
	})
	return out, err
}

// AddGroupMember adds a user (by username) to a live group (by name); adding a member twice is
// not an error. Needs pam_admin. ErrNotFound for an unknown group; ErrInvalid for an unknown or
// deleted user.
func (e *Engine) AddGroupMember(ctx context.Context, p Principal, groupName, username string) error {
	return e.changeMembership(ctx, p, groupName, username, true)
}

// RemoveGroupMember removes a user (by username) from a live group (by name). Needs pam_admin.
// ErrNotFound for an unknown group, an unknown user or a user who is not a member. Checkouts the
// user loses access to are checked in by the system (system_user_lost_access, lostaccess.go).
func (e *Engine) RemoveGroupMember(ctx context.Context, p Principal, groupName, username string) error {
	return e.changeMembership(ctx, p, groupName, username, false)
}

func (e *Engine) changeMembership(ctx context.Context, p Principal, groupName, username string, add bool) error {
	if err := p.require(RolePAMAdmin); err != nil {
		return err
	}
	var userID string
	err := e.store.Update(ctx, func(tx storage.WriteTx) error {
		g, err := e.liveGroup(tx, p, groupName)
		if err != nil {
			return err
		}
		u, err := storage.Users.First(tx, storage.UsersByUsername, p.TeamID, username)
		switch {
		case err != nil && add:
			return invalidf("user %q does not exist", username)
		case err != nil:
			return notFoundf("user %q does not exist", username)
		}
		userID = u.ID
		member := slices.Contains(u.GroupIDs, g.ID)
		switch {
		case add && u.Status == UserDeleted:
			return invalidf("user %q is deleted", username)
		case add && member:
			return nil
		case add:
			u.GroupIDs = append(u.GroupIDs, g.ID)
		case !member:
			return notFoundf("user %q is not a member of group %q", username, groupName)
		default:
			u.GroupIDs = slices.DeleteFunc(u.GroupIDs, func(id string) bool { return id == g.ID })
		}
		return storage.Users.Update(tx, u)
	})
	if add {
		return err
	}
	return e.afterUsersChanged(ctx, p.TeamID, []string{userID}, err)
}

// teamGroupByName finds a group of p's team by name, deleted or not.
func (e *Engine) teamGroupByName(tx storage.ReadTx, p Principal, name string) (*storage.Group, error) {
	g, err := storage.Groups.First(tx, storage.GroupsByName, p.TeamID, name)
	if err != nil {
		return nil, wrapNotFound(err, "group %q does not exist", name)
	}
	return g, nil
}

// liveGroup is teamGroupByName for a group that is not deleted.
func (e *Engine) liveGroup(tx storage.ReadTx, p Principal, name string) (*storage.Group, error) {
	g, err := e.teamGroupByName(tx, p, name)
	if err != nil {
		return nil, err
	}
	if !g.DeletedAt.IsZero() {
		return nil, notFoundf("group %q does not exist", name)
	}
	return g, nil
}

// purgeDeletedGroup removes a deleted group that holds name, so that a new group can take it.
func purgeDeletedGroup(tx storage.WriteTx, teamID, name string) error {
	g, err := storage.Groups.First(tx, storage.GroupsByName, teamID, name)
	if err != nil || g.DeletedAt.IsZero() {
		return nil // no such group, or a live one (the insert reports the conflict)
	}
	return storage.Groups.Delete(tx, g.ID)
}
