package httpapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// groupWire is the Group of the SDK and TF (docs/wire.md#groups): roles are role names, always
// present ([] when none); a live group has no deleted_at.
type groupWire struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	Roles     []string   `json:"roles"`
}

// groupToWire lists the group's team-wide roles, then each delegated role once (a group may hold
// one for several resource groups).
func groupToWire(g opa.Group) groupWire {
	out := groupWire{ID: g.ID, Name: g.Name, Roles: []string{}}
	if !g.DeletedAt.IsZero() {
		t := g.DeletedAt
		out.DeletedAt = &t
	}
	for _, r := range g.Roles {
		if !slices.Contains(out.Roles, string(r.Role)) {
			out.Roles = append(out.Roles, string(r.Role))
		}
	}
	return out
}

// groupRoles converts wire role names to roles.
func groupRoles(names []string) []opa.Role {
	out := make([]opa.Role, len(names))
	for i, n := range names {
		out[i] = opa.Role(n)
	}
	return out
}

// createGroup: POST …/groups {"name","roles"} answers 201 with the group (TF ignores the body and
// reads the group back; the SDK decodes a Group). Delegated roles are refused: they come from
// resource groups' delegated_resource_admin_groups.
func createGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	for _, role := range groupRoles(in.Roles) {
		if role.Delegated() {
			return errclass.Mark(errclass.Invalid, "role %q is granted by listing the group in a resource group's delegated_resource_admin_groups", role)
		}
	}
	var grants []opa.RoleGrant
	for _, role := range groupRoles(in.Roles) {
		if !slices.ContainsFunc(grants, func(g opa.RoleGrant) bool { return g.Role == role }) {
			grants = append(grants, opa.RoleGrant{Role: role})
		}
	}
	g, err := e.CreateGroup(r.Context(), p, opa.GroupInput{Name: in.Name, Roles: grants})
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, groupToWire(g))
	return nil
}

func getGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	g, err := e.GroupByName(r.Context(), p, r.PathValue("group_name"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, groupToWire(g))
	return nil
}

// updateGroup: PUT …/groups/{group_name} {"roles"} replaces the team-wide roles and answers 204;
// a body without roles changes nothing.
func updateGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		Roles *[]string `json:"roles"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	name := r.PathValue("group_name")
	if in.Roles == nil {
		// No change, but the same checks as one: the current team-wide roles are set again.
		g, err := e.GroupByName(r.Context(), p, name)
		if err != nil {
			return err
		}
		keep := []string{}
		for _, gr := range g.Roles {
			if gr.ResourceGroupID == "" {
				keep = append(keep, string(gr.Role))
			}
		}
		in.Roles = &keep
	}
	if err := e.SetGroupRoles(r.Context(), p, name, groupRoles(*in.Roles)); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteGroup(r.Context(), p, r.PathValue("group_name")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listGroups: GET …/groups with contains, id and ignore (repeated), include_deleted and
// only_include_deleted; disconnected_mode_on_only (TF) is accepted and selects nothing more, as
// the fake has no disconnected mode.
func listGroups(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := opa.GroupFilter{Contains: q.Get("contains"), IDs: q["id"], Ignore: q["ignore"]}
	if f.IncludeDeleted, err = queryBool(r, "include_deleted"); err != nil {
		return err
	}
	if f.OnlyDeleted, err = queryBool(r, "only_include_deleted"); err != nil {
		return err
	}
	if _, err := queryBool(r, "disconnected_mode_on_only"); err != nil {
		return err
	}
	page, err := e.ListGroups(r.Context(), p, f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, groupToWire))
	return nil
}

// listGroupUsers: GET …/groups/{group_name}/users with contains, starts_with, status (repeated)
// and user_type.
func listGroupUsers(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	f, err := userFilter(r)
	if err != nil {
		return err
	}
	page, err := e.GroupMembers(r.Context(), p, r.PathValue("group_name"), f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, func(u opa.User) userWire { return userToWire(u, p.TeamName) }))
	return nil
}

// addGroupUser: POST …/groups/{group_name}/users {"name"} answers 204 (the provider requires it).
func addGroupUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		return errclass.Mark(errclass.Invalid, "name is required")
	}
	if err := e.AddGroupMember(r.Context(), p, r.PathValue("group_name"), in.Name); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func removeGroupUser(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.RemoveGroupMember(r.Context(), p, r.PathValue("group_name"), r.PathValue("user_name")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// mapPage converts the items of a page, keeping its cursors.
func mapPage[T, U any](p opa.Page[T], f func(T) U) opa.Page[U] {
	out := opa.Page[U]{Items: make([]U, len(p.Items)), Next: p.Next, Prev: p.Prev}
	for i, it := range p.Items {
		out.Items[i] = f(it)
	}
	return out
}
