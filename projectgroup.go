package opa

import (
	"context"
	"time"

	"github.com/opakit/opa/storage"
)

// ProjectGroup is the assignment of a group to an ASA project: its members get server access
// (and, with ServerAdmin, admin rights) on the project's servers that ServersSelector selects
// (comma-separated key=value labels; empty: all). The engine records it for ASA clients; it grants
// no OPA account access (that comes from security policies). RemovedAt is set once removed.
type ProjectGroup struct {
	ID                string    `json:"id"`
	ProjectName       string    `json:"project_name"`
	GroupName         string    `json:"group_name"`
	CreateServerGroup bool      `json:"create_server_group"`
	ServerAccess      bool      `json:"server_access"`
	ServerAdmin       bool      `json:"server_admin"`
	ServersSelector   string    `json:"servers_selector,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	RemovedAt         time.Time `json:"removed_at,omitzero"`
}

// ProjectGroupInput is the whole configuration of an assignment (an update replaces it).
type ProjectGroupInput struct {
	GroupName         string
	CreateServerGroup bool
	ServerAccess      bool
	ServerAdmin       bool
	ServersSelector   string
}

func (in ProjectGroupInput) check() error {
	if !in.ServerAccess && !in.ServerAdmin {
		return invalidf("at least one of server_access and server_admin must be true")
	}
	return checkLabelSelector(in.ServersSelector)
}

func (in ProjectGroupInput) apply(pg *storage.ProjectGroup) {
	pg.CreateServerGroup, pg.ServerAccess, pg.ServerAdmin, pg.ServersSelector = in.CreateServerGroup, in.ServerAccess, in.ServerAdmin, in.ServersSelector
}

func projectGroupOf(pg *storage.ProjectGroup, project, group string) ProjectGroup {
	return ProjectGroup{ID: pg.ID, ProjectName: project, GroupName: group, CreateServerGroup: pg.CreateServerGroup,
		ServerAccess: pg.ServerAccess, ServerAdmin: pg.ServerAdmin, ServersSelector: pg.ServersSelector,
		CreatedAt: pg.CreatedAt, RemovedAt: pg.RemovedAt}
}

// AssignProjectGroup assigns a live group (by name) to a live ASA project (by name); a removed
// assignment of the same group is revived with the new settings. Needs resource_admin. Errors:
// ErrNotFound for the project; ErrInvalid for an unknown group or bad settings (neither
// server_access nor server_admin, a bad selector); ErrConflict if the group is assigned already.
func (e *Engine) AssignProjectGroup(ctx context.Context, p Principal, projectName string, in ProjectGroupInput) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		pr, err := e.teamASAProject(tx, p, projectName, false)
		if err != nil {
			return err
		}
		g, err := e.liveGroup(tx, p, in.GroupName)
		if err != nil {
			return invalidf("group %q does not exist", in.GroupName)
		}
		if old, err := storage.ProjectGroups.First(tx, storage.ProjectGroupsByProjectGroup, pr.ID, g.ID); err == nil {
			if old.RemovedAt.IsZero() {
				return conflictf("group %q is already assigned to project %q", g.Name, pr.Name)
			}
			in.apply(old)
			old.RemovedAt, old.CreatedAt = time.Time{}, e.now()
			return storage.ProjectGroups.Update(tx, old)
		}
		pg := storage.ProjectGroup{ID: e.newID(), TeamID: p.TeamID, ProjectID: pr.ID, GroupID: g.ID, CreatedAt: e.now()}
		in.apply(&pg)
		return storage.ProjectGroups.Insert(tx, &pg)
	})
}

// ProjectGroupOf returns the assignment of a group to an ASA project (both by name), removed or
// not. Needs resource_admin or security_admin. ErrNotFound for an unknown project, group or
// assignment.
func (e *Engine) ProjectGroupOf(ctx context.Context, p Principal, projectName, groupName string) (ProjectGroup, error) {
	if err := p.requireASAProjectRead(); err != nil {
		return ProjectGroup{}, err
	}
	var out ProjectGroup
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, g, pg, err := e.teamProjectGroup(tx, p, projectName, groupName)
		if err == nil {
			out = projectGroupOf(pg, pr.Name, g.Name)
		}
		return err
	})
	return out, err
}

// ProjectGroupFilter selects the assignments of a list: IncludeRemoved adds removed ones;
// CreateServerGroup keeps those that create a server group; HasSelectors and HasNoSelectors keep
// those with or without a servers selector.
type ProjectGroupFilter struct {
	IncludeRemoved, CreateServerGroup, HasSelectors, HasNoSelectors bool
}

// ListProjectGroups returns one page of the group assignments of an ASA project (by name) that
// f selects, in id order. Cost: the project's lookup by name, then a seek in the project's
// assignments by id plus one page (rangePage): O(log N + k), k the page plus the assignments f
// refuses between the cursor and the page's end; each assignment of the page also reads its
// group (for its name). Needs resource_admin or security_admin. ErrNotFound for an unknown
// project, ErrInvalid for a bad page request. Safe for concurrent use.
func (e *Engine) ListProjectGroups(ctx context.Context, p Principal, projectName string, f ProjectGroupFilter, page PageRequest) (Page[ProjectGroup], error) {
	if err := p.requireASAProjectRead(); err != nil {
		return Page[ProjectGroup]{}, err
	}
	if err := page.validate(); err != nil {
		return Page[ProjectGroup]{}, err
	}
	var out Page[ProjectGroup]
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		pr, err := e.teamASAProject(tx, p, projectName, false)
		if err != nil {
			return err
		}
		out, err = rangePage(tx, projectGroups(pr.ID, f), page, func(pg *storage.ProjectGroup) string { return pg.ID },
			func(pg *storage.ProjectGroup) ProjectGroup {
				name := ""
				if g, err := storage.Groups.Borrow(tx, pg.GroupID); err == nil {
					name = g.Name
				}
				return projectGroupOf(pg, pr.Name, name)
			})
		return err
	})
	return out, err
}

// projectGroups is the list of the group assignments of a project that f selects, read from
// ProjectGroupsByProject.
func projectGroups(projectID string, f ProjectGroupFilter) pageSource[storage.ProjectGroup] {
	return pageSource[storage.ProjectGroup]{table: storage.ProjectGroups, index: storage.ProjectGroupsByProject, args: []string{projectID},
		in: func(pg *storage.ProjectGroup) bool { return pg.ProjectID == projectID }, keep: f.keep, borrow: true}
}

func (f ProjectGroupFilter) keep(pg *storage.ProjectGroup) bool {
	switch {
	case !f.IncludeRemoved && !pg.RemovedAt.IsZero(), f.CreateServerGroup && !pg.CreateServerGroup,
		f.HasSelectors && pg.ServersSelector == "", f.HasNoSelectors && pg.ServersSelector != "":
		return false
	}
	return true
}

// UpdateProjectGroup replaces the settings of a live assignment (in.GroupName is ignored: the
// group is the one named). Needs resource_admin. Errors: ErrNotFound for an unknown project,
// group or assignment, or a removed one; ErrInvalid for bad settings.
func (e *Engine) UpdateProjectGroup(ctx context.Context, p Principal, projectName, groupName string, in ProjectGroupInput) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		_, _, pg, err := e.liveProjectGroup(tx, p, projectName, groupName)
		if err != nil {
			return err
		}
		in.apply(pg)
		return storage.ProjectGroups.Update(tx, pg)
	})
}

// RemoveProjectGroup removes a live assignment (a soft delete: RemovedAt is set). Needs
// resource_admin. ErrNotFound for an unknown project, group or assignment, or a removed one.
func (e *Engine) RemoveProjectGroup(ctx context.Context, p Principal, projectName, groupName string) error {
	if err := p.require(RoleResourceAdmin); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx storage.WriteTx) error {
		_, _, pg, err := e.liveProjectGroup(tx, p, projectName, groupName)
		if err != nil {
			return err
		}
		pg.RemovedAt = e.now()
		return storage.ProjectGroups.Update(tx, pg)
	})
}

func (e *Engine) teamProjectGroup(tx storage.ReadTx, p Principal, projectName, groupName string) (*storage.Project, *storage.Group, *storage.ProjectGroup, error) {
	pr, err := e.teamASAProject(tx, p, projectName, false)
	if err != nil {
		return nil, nil, nil, err
	}
	g, err := e.teamGroupByName(tx, p, groupName)
	if err != nil {
		return nil, nil, nil, err
	}
	pg, err := storage.ProjectGroups.First(tx, storage.ProjectGroupsByProjectGroup, pr.ID, g.ID)
	if err != nil {
		return nil, nil, nil, wrapNotFound(err, "group %q is not assigned to project %q", groupName, projectName)
	}
	return pr, g, pg, nil
}

func (e *Engine) liveProjectGroup(tx storage.ReadTx, p Principal, projectName, groupName string) (*storage.Project, *storage.Group, *storage.ProjectGroup, error) {
	pr, g, pg, err := e.teamProjectGroup(tx, p, projectName, groupName)
	if err == nil && !pg.RemovedAt.IsZero() {
		err = notFoundf("group %q is not assigned to project %q", groupName, projectName)
	}
	return pr, g, pg, err
}
