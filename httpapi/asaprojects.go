package httpapi

import (
	"net/http"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// asaProjectWire is the ASA project of TF's client (docs/wire.md#asa-projects): every bool and
// number explicit (TF compares them), gateway_selector only when set, deleted_at only for a
// deleted project.
type asaProjectWire struct {
	ID                     string     `json:"id"`
	Name                   string     `json:"name"`
	Team                   string     `json:"team"`
	DeletedAt              *time.Time `json:"deleted_at,omitempty"`
	NextUnixGID            int        `json:"next_unix_gid"`
	NextUnixUID            int        `json:"next_unix_uid"`
	CreateServerUsers      bool       `json:"create_server_users"`
	ForwardTraffic         bool       `json:"forward_traffic"`
	RDPSessionRecording    bool       `json:"rdp_session_recording"`
	RequirePreauthForCreds bool       `json:"require_preauth_for_creds"`
	SSHSessionRecording    bool       `json:"ssh_session_recording"`
	GatewaySelector        string     `json:"gateway_selector,omitempty"`
	SSHCertificateType     string     `json:"ssh_certificate_type"`
	UserOnDemandPeriod     int        `json:"user_on_demand_period"`
}

func asaProjectToWire(pr opa.ASAProject, team string) asaProjectWire {
	out := asaProjectWire{ID: pr.ID, Name: pr.Name, Team: team, NextUnixGID: pr.NextUnixGID, NextUnixUID: pr.NextUnixUID,
		CreateServerUsers: pr.CreateServerUsers, ForwardTraffic: pr.ForwardTraffic, RDPSessionRecording: pr.RDPSessionRecording,
		RequirePreauthForCreds: pr.RequirePreauthForCreds, SSHSessionRecording: pr.SSHSessionRecording,
		GatewaySelector: pr.GatewaySelector, SSHCertificateType: pr.SSHCertificateType, UserOnDemandPeriod: pr.UserOnDemandPeriod}
	if !pr.DeletedAt.IsZero() {
		t := pr.DeletedAt
		out.DeletedAt = &t
	}
	return out
}

// asaProjectBody is a create or (partial) update body: every key optional.
type asaProjectBody struct {
	Name                   string  `json:"name"`
	NextUnixGID            *int    `json:"next_unix_gid"`
	NextUnixUID            *int    `json:"next_unix_uid"`
	CreateServerUsers      *bool   `json:"create_server_users"`
	ForwardTraffic         *bool   `json:"forward_traffic"`
	RDPSessionRecording    *bool   `json:"rdp_session_recording"`
	RequirePreauthForCreds *bool   `json:"require_preauth_for_creds"`
	SSHSessionRecording    *bool   `json:"ssh_session_recording"`
	GatewaySelector        *string `json:"gateway_selector"`
	SSHCertificateType     *string `json:"ssh_certificate_type"`
	UserOnDemandPeriod     *int    `json:"user_on_demand_period"`
}

func (b asaProjectBody) input() opa.ASAProjectInput {
	return opa.ASAProjectInput{Name: b.Name, NextUnixGID: b.NextUnixGID, NextUnixUID: b.NextUnixUID,
		CreateServerUsers: b.CreateServerUsers, ForwardTraffic: b.ForwardTraffic, RDPSessionRecording: b.RDPSessionRecording,
		RequirePreauthForCreds: b.RequirePreauthForCreds, SSHSessionRecording: b.SSHSessionRecording,
		GatewaySelector: b.GatewaySelector, SSHCertificateType: b.SSHCertificateType, UserOnDemandPeriod: b.UserOnDemandPeriod}
}

// createASAProject: POST …/projects answers 201 with the project (TF ignores the body).
func createASAProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in asaProjectBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	pr, err := e.CreateASAProject(r.Context(), p, in.input())
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, asaProjectToWire(pr, p.TeamName))
	return nil
}

func getASAProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := e.ASAProject(r.Context(), p, r.PathValue("project_name"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, asaProjectToWire(pr, p.TeamName))
	return nil
}

// updateASAProject: PUT …/projects/{project_name} merges the keys sent (TF sends only the changed
// ones) and answers 204.
func updateASAProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in asaProjectBody
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := e.UpdateASAProject(r.Context(), p, r.PathValue("project_name"), in.input()); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func deleteASAProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteASAProject(r.Context(), p, r.PathValue("project_name")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listASAProjects: GET …/projects with contains and self (TF's two parameters).
func listASAProjects(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	f := opa.ASAProjectFilter{Contains: r.URL.Query().Get("contains")}
	if f.Self, err = queryBool(r, "self"); err != nil {
		return err
	}
	page, err := e.ListASAProjects(r.Context(), p, f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, func(a opa.ASAProject) asaProjectWire { return asaProjectToWire(a, p.TeamName) }))
	return nil
}

// projectGroupWire is TF's ProjectGroup: the project name under the key "_" (TF's struct tag is
// `json:"_"`, so it sends and reads that key), the group by name, servers_selector only when set,
// removed_at only for a removed assignment.
type projectGroupWire struct {
	ID                string     `json:"id"`
	Project           string     `json:"_"`
	Group             string     `json:"group"`
	CreateServerGroup bool       `json:"create_server_group"`
	ServerAccess      bool       `json:"server_access"`
	ServerAdmin       bool       `json:"server_admin"`
	ServersSelector   string     `json:"servers_selector,omitempty"`
	RemovedAt         *time.Time `json:"removed_at,omitempty"`
}

func projectGroupToWire(pg opa.ProjectGroup) projectGroupWire {
	out := projectGroupWire{ID: pg.ID, Project: pg.ProjectName, Group: pg.GroupName, CreateServerGroup: pg.CreateServerGroup,
		ServerAccess: pg.ServerAccess, ServerAdmin: pg.ServerAdmin, ServersSelector: pg.ServersSelector}
	if !pg.RemovedAt.IsZero() {
		t := pg.RemovedAt
		out.RemovedAt = &t
	}
	return out
}

// projectGroupBody is TF's ProjectGroup as sent: {"id":null,"_":project,"group",…}; id and "_"
// are ignored (the path names the project).
type projectGroupBody struct {
	Group             string `json:"group"`
	CreateServerGroup bool   `json:"create_server_group"`
	ServerAccess      bool   `json:"server_access"`
	ServerAdmin       bool   `json:"server_admin"`
	ServersSelector   string `json:"servers_selector"`
}

func (b projectGroupBody) input() opa.ProjectGroupInput {
	return opa.ProjectGroupInput{GroupName: b.Group, CreateServerGroup: b.CreateServerGroup, ServerAccess: b.ServerAccess,
		ServerAdmin: b.ServerAdmin, ServersSelector: b.ServersSelector}
}

// assignProjectGroup: POST …/projects/{project_name}/groups answers 204 (TF requires exactly it).
func assignProjectGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in projectGroupBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if in.Group == "" {
		return errclass.Mark(errclass.Invalid, "group is required")
	}
	if err := e.AssignProjectGroup(r.Context(), p, r.PathValue("project_name"), in.input()); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func getProjectGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pg, err := e.ProjectGroupOf(r.Context(), p, r.PathValue("project_name"), r.PathValue("group_name"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, projectGroupToWire(pg))
	return nil
}

// updateProjectGroup: PUT replaces the assignment's settings and answers 204.
func updateProjectGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var in projectGroupBody
	if err := requireBody(r, &in); err != nil {
		return err
	}
	if err := e.UpdateProjectGroup(r.Context(), p, r.PathValue("project_name"), r.PathValue("group_name"), in.input()); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func removeProjectGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.RemoveProjectGroup(r.Context(), p, r.PathValue("project_name"), r.PathValue("group_name")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listProjectGroups: GET …/projects/{project_name}/groups with include_removed,
// create_server_group, has_selectors and has_no_selectors; disconnected_mode_on_only is accepted
// and selects nothing more.
func listProjectGroups(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	var f opa.ProjectGroupFilter
	for _, q := range []struct {
		name string
		dst  *bool
	}{{"include_removed", &f.IncludeRemoved}, {"create_server_group", &f.CreateServerGroup},
		{"has_selectors", &f.HasSelectors}, {"has_no_selectors", &f.HasNoSelectors}, {"disconnected_mode_on_only", new(bool)}} {
		if *q.dst, err = queryBool(r, q.name); err != nil {
			return err
		}
	}
	page, err := e.ListProjectGroups(r.Context(), p, r.PathValue("project_name"), f, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, projectGroupToWire))
	return nil
}
