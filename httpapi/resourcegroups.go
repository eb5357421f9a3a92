package httpapi

import (
	"net/http"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/errclass"
)

// namedObjectWire is a NamedObject of TF's client and the SDK: a delegated admin group is
// {"id","name","type":"user_group"} (TF matches the groups by name when it reads them back).
type namedObjectWire struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// resourceGroupWire is the ResourceGroup of TF and the SDK (docs/wire.md#resource-groups):
// description always a string, delegated_resource_admin_groups always a list on a single read;
// list items (ListResourceGroup) have no delegated groups.
type resourceGroupWire struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name"`
	TeamID               string             `json:"team_id"`
	Description          string             `json:"description"`
	DelegatedAdminGroups *[]namedObjectWire `json:"delegated_resource_admin_groups,omitempty"`
}

func resourceGroupToWire(rg opa.ResourceGroup, withGroups bool) resourceGroupWire {
	out := resourceGroupWire{ID: rg.ID, Name: rg.Name, TeamID: rg.TeamID, Description: rg.Description}
	if withGroups {
		gs := make([]namedObjectWire, len(rg.DelegatedAdminGroups))
		for i, g := range rg.DelegatedAdminGroups {
			gs[i] = namedObjectWire{ID: g.ID, Name: g.Name, Type: "user_group"}
		}
		out.DelegatedAdminGroups = &gs
	}
	return out
}

// resourceGroupBody is TF's ResourceGroup as sent: {"name","description" (null when empty),
// "delegated_resource_admin_groups":[{"id","type":"user_group"}]}; id and team_id are ignored.
type resourceGroupBody struct {
	Name                 string  `json:"name"`
	Description          *string `json:"description"`
	DelegatedAdminGroups []struct {
		ID   *string `json:"id"`
		Type string  `json:"type"`
	} `json:"delegated_resource_admin_groups"`
}

func (b resourceGroupBody) input() (opa.ResourceGroupInput, error) {
	in := opa.ResourceGroupInput{Name: b.Name}
	if b.Description != nil {
		in.Description = *b.Description
	}
	for _, g := range b.DelegatedAdminGroups {
		if g.ID == nil || *g.ID == "" {
			return in, errclass.Mark(errclass.Invalid, "delegated_resource_admin_groups: every entry needs an id")
		}
		if g.Type != "" && g.Type != "user_group" {
			return in, errclass.Mark(errclass.Invalid, "delegated_resource_admin_groups: type must be user_group, not %q", g.Type)
		}
		in.DelegatedAdminGroupIDs = append(in.DelegatedAdminGroupIDs, *g.ID)
	}
	return in, nil
}

// createResourceGroup: POST …/resource_groups answers 201 with the resource group (TF reads its id).
func createResourceGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var body resourceGroupBody
	if err := requireBody(r, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	rg, err := e.CreateResourceGroupWith(r.Context(), p, in)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, resourceGroupToWire(rg, true))
	return nil
}

func getResourceGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	rg, err := e.ResourceGroup(r.Context(), p, r.PathValue("resource_group_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, resourceGroupToWire(rg, true))
	return nil
}

// updateResourceGroup: PUT …/resource_groups/{id} replaces name, description and the delegated
// admin groups (a missing list is an empty one) and answers 204.
func updateResourceGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var body resourceGroupBody
	if err := requireBody(r, &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	if err := e.UpdateResourceGroup(r.Context(), p, r.PathValue("resource_group_id"), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// deleteResourceGroup: DELETE answers 204; the projects go with it (docs/wire.md#resource-groups).
func deleteResourceGroup(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteResourceGroup(r.Context(), p, r.PathValue("resource_group_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listResourceGroups: GET …/resource_groups, paged, with the SDK's contains (before paging); its
// order_by and for_policy_only are not served (TF sends none; they are ignored).
func listResourceGroups(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ListResourceGroups(r.Context(), p, opa.ResourceGroupFilter{Contains: r.URL.Query().Get("contains")}, pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, func(rg opa.ResourceGroup) resourceGroupWire { return resourceGroupToWire(rg, false) }))
	return nil
}

// rgProjectWire is TF's ResourceGroupProject and the SDK's Project (docs/wire.md#resource-group-projects):
// server_account_management always a bool, gateway_selector and deleted_at only when set,
// ssh_certificate_type always.
type rgProjectWire struct {
	ID                      string     `json:"id"`
	Name                    string     `json:"name"`
	Team                    string     `json:"team"`
	ResourceGroupID         string     `json:"resource_group_id"`
	DeletedAt               *time.Time `json:"deleted_at,omitempty"`
	GatewaySelector         string     `json:"gateway_selector,omitempty"`
	SSHCertificateType      string     `json:"ssh_certificate_type"`
	ServerAccountManagement bool       `json:"server_account_management"`
}

func rgProjectToWire(pr opa.Project, team string) rgProjectWire {
	out := rgProjectWire{ID: pr.ID, Name: pr.Name, Team: team, ResourceGroupID: pr.ResourceGroupID,
		GatewaySelector: pr.GatewaySelector, SSHCertificateType: pr.SSHCertificateType,
		ServerAccountManagement: pr.ServerAccountManagement}
	if !pr.DeletedAt.IsZero() {
		t := pr.DeletedAt
		out.DeletedAt = &t
	}
	return out
}

// rgProjectBody is a create or (partial) update body: TF sends name and resource_group_id on
// create, and only the changed settings on update.
type rgProjectBody struct {
	Name                    string  `json:"name"`
	ResourceGroupID         string  `json:"resource_group_id"`
	GatewaySelector         *string `json:"gateway_selector"`
	SSHCertificateType      *string `json:"ssh_certificate_type"`
	ServerAccountManagement *bool   `json:"server_account_management"`
}

func (b rgProjectBody) input(r *http.Request) (opa.ProjectInput, error) {
	if b.ResourceGroupID != "" && b.ResourceGroupID != r.PathValue("resource_group_id") {
		return opa.ProjectInput{}, errclass.Mark(errclass.Invalid, "resource_group_id must be the resource group of the path")
	}
	return opa.ProjectInput{Name: b.Name, GatewaySelector: b.GatewaySelector, SSHCertificateType: b.SSHCertificateType,
		ServerAccountManagement: b.ServerAccountManagement}, nil
}

// createRGProject: POST …/resource_groups/{rg}/projects answers 201 with the project.
func createRGProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var body rgProjectBody
	if err := requireBody(r, &body); err != nil {
		return err
	}
	in, err := body.input(r)
	if err != nil {
		return err
	}
	pr, err := e.CreateProjectWith(r.Context(), p, r.PathValue("resource_group_id"), in)
	if err != nil {
		return err
	}
	encode(w, http.StatusCreated, rgProjectToWire(pr, p.TeamName))
	return nil
}

// getRGProject answers 200 with the project, a deleted one with deleted_at (TF treats it as gone).
func getRGProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := e.ResourceGroupProject(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, rgProjectToWire(pr, p.TeamName))
	return nil
}

// updateRGProject: PUT merges the keys sent and answers 204.
func updateRGProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	var body rgProjectBody
	if err := decode(r, &body); err != nil {
		return err
	}
	in, err := body.input(r)
	if err != nil {
		return err
	}
	if err := e.UpdateProject(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id"), in); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// deleteRGProject: DELETE soft-deletes and answers 204 (TF refuses a 200).
func deleteRGProject(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	if err := e.DeleteProject(r.Context(), p, r.PathValue("resource_group_id"), r.PathValue("project_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// listRGProjects: GET …/resource_groups/{rg}/projects, the live projects, paged.
func listRGProjects(w http.ResponseWriter, r *http.Request, e *opa.Engine, p opa.Principal) error {
	pr, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := e.ListProjects(r.Context(), p, r.PathValue("resource_group_id"), pr)
	if err != nil {
		return err
	}
	writePage(w, r, mapPage(page, func(x opa.Project) rgProjectWire { return rgProjectToWire(x, p.TeamName) }))
	return nil
}
