package httpapi_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// namedJSON is TF's NamedObject as its client decodes it (pointer fields).
type namedJSON struct {
	ID   *string `json:"id"`
	Name *string `json:"name"`
	Type *string `json:"type"`
}

// resourceGroupJSON is TF's ResourceGroup as its client decodes it.
type resourceGroupJSON struct {
	ID                   *string     `json:"id"`
	Name                 *string     `json:"name"`
	TeamID               *string     `json:"team_id"`
	Description          *string     `json:"description"`
	DelegatedAdminGroups []namedJSON `json:"delegated_resource_admin_groups"`
}

// wantRG checks a single resource group read: its name and description, and its delegated admin
// groups by name (TF's test matches them by name; each needs id, name and type user_group).
func wantRG(name, description string, groups ...string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var rg resourceGroupJSON
		r.json(t, &rg)
		if rg.ID == nil || *rg.ID == "" || rg.Name == nil || *rg.Name != name || rg.TeamID == nil || *rg.TeamID == "" {
			t.Fatalf("resource group %s", r.body)
		}
		if rg.Description == nil || *rg.Description != description {
			t.Errorf("description in %s, want %q", r.body, description)
		}
		if !strings.Contains(string(r.body), `"delegated_resource_admin_groups":[`) {
			t.Errorf("no delegated_resource_admin_groups list in %s", r.body)
		}
		got := []string{}
		for _, g := range rg.DelegatedAdminGroups {
			if g.ID == nil || *g.ID == "" || g.Name == nil || g.Type == nil || *g.Type != "user_group" {
				t.Fatalf("delegated group %s", r.body)
			}
			got = append(got, *g.Name)
		}
		if groups == nil {
			groups = []string{}
		}
		if diff := cmp.Diff(groups, got); diff != "" {
			t.Errorf("delegated groups (-want +got):\n%s", diff)
		}
	}
}

func idOf(t *testing.T, r response) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	r.json(t, &v)
	if v.ID == "" {
		t.Fatalf("no id in %s", r.body)
	}
	return v.ID
}

func TestResourceGroupsRoutes(t *testing.T) {
	e := newEnv(t)
	lt := e.srv.Loaded().Team("demo")
	infra := lt.ResourceGroups["infra"]
	engineers := idOf(t, e.must(200, "all", "GET", "/groups/engineers", nil))
	admins := idOf(t, e.must(200, "all", "GET", "/groups/pam-admins", nil))
	security := idOf(t, e.must(200, "all", "GET", "/groups/security-admins", nil))
	// TF's exact create body: description null, an empty list.
	blue := idOf(t, e.must(201, "all", "POST", "/resource_groups", `{"name":"tf-blue","description":null,"delegated_resource_admin_groups":[]}`))
	rgPath := "/resource_groups/" + blue
	group := func(id string) map[string]any { return map[string]any{"id": id, "type": "user_group"} }
	steps := []step{
		{"create with delegated admins", "resource", "POST", "/resource_groups", map[string]any{"name": "tf-green", "description": "green things",
			"delegated_resource_admin_groups": []any{group(security), group(security)}}, 201, wantRG("tf-green", "green things", "security-admins")},
		{"create duplicate", "all", "POST", "/resource_groups", map[string]any{"name": "TF-BLUE", "description": nil, "delegated_resource_admin_groups": []any{}}, 409, nil},
		{"create unknown group", "all", "POST", "/resource_groups", map[string]any{"name": "x", "delegated_resource_admin_groups": []any{group("00000000-0000-4000-8000-000000000000")}}, 400, nil},
		{"create group without id", "all", "POST", "/resource_groups", map[string]any{"name": "x", "delegated_resource_admin_groups": []any{map[string]any{"id": nil, "type": "user_group"}}}, 400, nil},
		{"create wrong named type", "all", "POST", "/resource_groups", map[string]any{"name": "x", "delegated_resource_admin_groups": []any{map[string]any{"id": engineers, "type": "user"}}}, 400, nil},
		{"create no name", "all", "POST", "/resource_groups", map[string]any{"description": "d"}, 400, nil},
		{"create long name", "all", "POST", "/resource_groups", map[string]any{"name": strings.Repeat("n", 256)}, 400, nil},
		{"create wrong type", "all", "POST", "/resource_groups", map[string]any{"name": 7}, 400, nil},
		{"create no body", "all", "POST", "/resource_groups", nil, 400, nil},
		{"create malformed", "all", "POST", "/resource_groups", `{"name":`, 400, nil},
		{"create as security admin", "security", "POST", "/resource_groups", map[string]any{"name": "x"}, 401, nil},
		{"create as delegated admin", "delegated", "POST", "/resource_groups", map[string]any{"name": "x"}, 401, nil},
		{"create as end user", "end_user", "POST", "/resource_groups", map[string]any{"name": "x"}, 401, nil},
		{"create unauthenticated", "", "POST", "/resource_groups", map[string]any{"name": "x"}, 401, nil},
		{"nothing created by refusals", "all", "GET", "/resource_groups", nil, 200, wantNameSet("infra", "tf-blue", "tf-green")},
		{"get", "all", "GET", rgPath, nil, 200, wantRG("tf-blue", "")},
		{"get fixture group", "security", "GET", "/resource_groups/" + infra, nil, 200, wantRG("infra", "Infrastructure accounts", "infra-delegates")},
		{"get as its delegated admin", "delegated", "GET", "/resource_groups/" + infra, nil, 200, wantRG("infra", "Infrastructure accounts", "infra-delegates")},
		{"get as another group's delegated admin", "delegated", "GET", rgPath, nil, 401, nil},
		{"get as end user", "end_user", "GET", rgPath, nil, 401, nil},
		{"get unknown", "all", "GET", "/resource_groups/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"list as delegated admin", "delegated", "GET", "/resource_groups", nil, 200, wantNames("infra")},
		{"list items have no delegated groups", "resource", "GET", "/resource_groups", nil, 200, func(t *testing.T, r response) {
			if strings.Contains(string(r.body), "delegated_resource_admin_groups") || r.header.Get("Link") != "" {
				t.Errorf("list %s, Link %q", r.body, r.header.Get("Link"))
			}
		}},
		{"list contains", "all", "GET", "/resource_groups?contains=TF-", nil, 200, wantNameSet("tf-blue", "tf-green")},
		{"list contains repeated", "all", "GET", "/resource_groups?contains=green&contains=green", nil, 200, wantNames("tf-green")},
		{"list contains as delegated admin", "delegated", "GET", "/resource_groups?contains=tf", nil, 200, wantNames()},
		{"list as end user", "end_user", "GET", "/resource_groups", nil, 401, nil},
		{"list bad count", "all", "GET", "/resource_groups?count=0", nil, 400, nil},
		// TF's update body: the whole group.
		{"update", "all", "PUT", rgPath, map[string]any{"name": "tf-blue-2", "description": "now blue",
			"delegated_resource_admin_groups": []any{group(admins), group(engineers)}}, 204, nil},
		{"read updated", "all", "GET", rgPath, nil, 200, wantRG("tf-blue-2", "now blue", sortedGroupNames(admins, "pam-admins", engineers, "engineers")...)},
		{"the group shows the role", "all", "GET", "/groups/engineers", nil, 200, wantGroup("engineers", []string{"end_user", "delegated_resource_admin"}, false)},
		{"update replaces the list", "all", "PUT", rgPath, map[string]any{"name": "tf-blue-2", "description": nil}, 204, nil},
		{"read replaced", "all", "GET", rgPath, nil, 200, wantRG("tf-blue-2", "")},
		{"engineers lost the role", "all", "GET", "/groups/engineers", nil, 200, wantGroup("engineers", []string{"end_user"}, false)},
		{"security-admins still admin tf-green", "all", "GET", "/groups/security-admins", nil, 200,
			wantGroup("security-admins", []string{"security_admin", "delegated_resource_admin"}, false)},
		{"pam-admins lost the role", "all", "GET", "/groups/pam-admins", nil, 200, wantGroup("pam-admins", []string{"pam_admin"}, false)},
		{"update to a taken name", "all", "PUT", rgPath, map[string]any{"name": "tf-green"}, 409, nil},
		{"update unknown group", "all", "PUT", rgPath, map[string]any{"name": "tf-blue-2", "delegated_resource_admin_groups": []any{group("nope")}}, 400, nil},
		{"update no name", "all", "PUT", rgPath, map[string]any{"description": "d"}, 400, nil},
		{"update no body", "all", "PUT", rgPath, nil, 400, nil},
		{"update unknown", "all", "PUT", "/resource_groups/00000000-0000-4000-8000-000000000000", map[string]any{"name": "x"}, 404, nil},
		{"update as delegated admin", "delegated", "PUT", "/resource_groups/" + infra, map[string]any{"name": "infra"}, 401, nil},
		{"update as security admin", "security", "PUT", rgPath, map[string]any{"name": "x"}, 401, nil},
		{"unchanged by refusals", "all", "GET", rgPath, nil, 200, wantRG("tf-blue-2", "")},
		{"delete in use", "all", "DELETE", "/resource_groups/" + infra, nil, 409, nil},
		{"delete as delegated admin", "delegated", "DELETE", "/resource_groups/" + infra, nil, 401, nil},
		{"delete as security admin", "security", "DELETE", rgPath, nil, 401, nil},
		{"delete", "all", "DELETE", rgPath, nil, 204, nil},
		{"deleted is gone", "all", "GET", rgPath, nil, 404, nil},
		{"delete again", "all", "DELETE", rgPath, nil, 404, nil},
		{"list after delete", "all", "GET", "/resource_groups", nil, 200, wantNameSet("infra", "tf-green")},
		{"name reused", "all", "POST", "/resource_groups", map[string]any{"name": "tf-blue-2", "description": nil, "delegated_resource_admin_groups": []any{}}, 201, wantRG("tf-blue-2", "")},
	}
	runSteps(t, e, steps)
}

// sortedGroupNames returns the names of two groups in their ids' order (the answer's order).
func sortedGroupNames(id1, name1, id2, name2 string) []string {
	if id1 < id2 {
		return []string{name1, name2}
	}
	return []string{name2, name1}
}

// TestResourceGroupDelegationOverHTTP: a member of a group listed as delegated admin administers
// that resource group's projects with the next request, and loses it when the list drops it.
func TestResourceGroupDelegationOverHTTP(t *testing.T) {
	e := newEnv(t)
	engineers := idOf(t, e.must(200, "all", "GET", "/groups/engineers", nil))
	rg := idOf(t, e.must(201, "all", "POST", "/resource_groups", map[string]any{"name": "eng", "description": nil,
		"delegated_resource_admin_groups": []any{map[string]any{"id": engineers, "type": "user_group"}}}))
	e.must(201, "end_user", "POST", "/resource_groups/"+rg+"/projects", map[string]any{"name": "eng-p", "resource_group_id": rg})
	r := e.must(200, "end_user", "GET", "/resource_groups", nil)
	wantNames("eng")(t, r)
	e.must(204, "all", "PUT", "/resource_groups/"+rg, map[string]any{"name": "eng", "delegated_resource_admin_groups": []any{}})
	e.must(401, "end_user", "POST", "/resource_groups/"+rg+"/projects", map[string]any{"name": "eng-q"})
	e.must(401, "end_user", "GET", "/resource_groups", nil)
}

// rgProjectJSON is TF's ResourceGroupProject as its client decodes it.
type rgProjectJSON struct {
	ID                      *string `json:"id"`
	Name                    *string `json:"name"`
	Team                    *string `json:"team"`
	ResourceGroupID         *string `json:"resource_group_id"`
	DeletedAt               *string `json:"deleted_at"`
	GatewaySelector         *string `json:"gateway_selector"`
	SSHCertificateType      *string `json:"ssh_certificate_type"`
	ServerAccountManagement *bool   `json:"server_account_management"`
}

// wantProject checks a project answer the way TF's test compares it: server_account_management
// always a bool, gateway_selector absent when unset (selector ""), deleted_at only when deleted.
func wantRGProject(name, rg, selector, certType string, accounts, deleted bool) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		t.Helper()
		var p rgProjectJSON
		r.json(t, &p)
		if p.ID == nil || *p.ID == "" || p.Name == nil || *p.Name != name || p.Team == nil || *p.Team != "demo" ||
			p.ResourceGroupID == nil || *p.ResourceGroupID != rg {
			t.Fatalf("project %s", r.body)
		}
		if p.ServerAccountManagement == nil || *p.ServerAccountManagement != accounts {
			t.Errorf("server_account_management in %s, want %v", r.body, accounts)
		}
		if selector == "" && p.GatewaySelector != nil || selector != "" && (p.GatewaySelector == nil || *p.GatewaySelector != selector) {
			t.Errorf("gateway_selector in %s, want %q", r.body, selector)
		}
		if p.SSHCertificateType == nil || *p.SSHCertificateType != certType {
			t.Errorf("ssh_certificate_type in %s, want %s", r.body, certType)
		}
		if deleted != (p.DeletedAt != nil && *p.DeletedAt != "") {
			t.Errorf("deleted_at in %s, want deleted=%v", r.body, deleted)
		}
	}
}

func TestResourceGroupProjectsRoutes(t *testing.T) {
	e := newEnv(t)
	lt := e.srv.Loaded().Team("demo")
	infra := lt.ResourceGroups["infra"]
	blue := idOf(t, e.must(201, "all", "POST", "/resource_groups", map[string]any{"name": "blue", "description": nil, "delegated_resource_admin_groups": []any{}}))
	base := "/resource_groups/" + blue + "/projects"
	// TF's exact create body (ssh_certificate_type from the schema default, nothing else).
	p1 := idOf(t, e.must(201, "resource", "POST", base, `{"name":"tf-p1","resource_group_id":"`+blue+`","ssh_certificate_type":"CERT_TYPE_ED25519_01"}`))
	p1Path := base + "/" + p1
	const ed, rsa = "CERT_TYPE_ED25519_01", "CERT_TYPE_RSA_01"
	steps := []step{
		{"create with every setting", "all", "POST", base, map[string]any{"name": "tf-p2", "resource_group_id": blue,
			"gateway_selector": "env=test", "ssh_certificate_type": rsa, "server_account_management": true}, 201,
			wantRGProject("tf-p2", blue, "env=test", rsa, true, false)},
		{"create with defaults", "all", "POST", base, map[string]any{"name": "tf-p3"}, 201, wantRGProject("tf-p3", blue, "", ed, false, false)},
		{"create in the delegated group", "delegated", "POST", "/resource_groups/" + infra + "/projects", map[string]any{"name": "tf-p4", "resource_group_id": infra}, 201,
			wantRGProject("tf-p4", infra, "", ed, false, false)},
		{"create duplicate", "all", "POST", base, map[string]any{"name": "TF-P1", "resource_group_id": blue}, 409, nil},
		{"create other resource group id", "all", "POST", base, map[string]any{"name": "x", "resource_group_id": infra}, 400, nil},
		{"create bad cert type", "all", "POST", base, map[string]any{"name": "x", "ssh_certificate_type": "CERT_TYPE_DSA"}, 400, nil},
		{"create bad selector", "all", "POST", base, map[string]any{"name": "x", "gateway_selector": "env"}, 400, nil},
		{"create wrong type", "all", "POST", base, map[string]any{"name": "x", "server_account_management": "yes"}, 400, nil},
		{"create no name", "all", "POST", base, map[string]any{"resource_group_id": blue}, 400, nil},
		{"create no body", "all", "POST", base, nil, 400, nil},
		{"create malformed", "all", "POST", base, `{"name":`, 400, nil},
		{"create unknown resource group", "all", "POST", "/resource_groups/00000000-0000-4000-8000-000000000000/projects", map[string]any{"name": "x"}, 404, nil},
		{"create as security admin", "security", "POST", base, map[string]any{"name": "x"}, 401, nil},
		{"create as another group's delegated admin", "delegated", "POST", base, map[string]any{"name": "x"}, 401, nil},
		{"create as end user", "end_user", "POST", base, map[string]any{"name": "x"}, 401, nil},
		{"create unauthenticated", "", "POST", base, map[string]any{"name": "x"}, 401, nil},
		{"get", "security", "GET", p1Path, nil, 200, wantRGProject("tf-p1", blue, "", ed, false, false)},
		{"get through another resource group", "all", "GET", "/resource_groups/" + infra + "/projects/" + p1, nil, 404, nil},
		{"get unknown", "all", "GET", base + "/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"get as another group's delegated admin", "delegated", "GET", p1Path, nil, 401, nil},
		{"get as end user", "end_user", "GET", p1Path, nil, 401, nil},
		{"list", "all", "GET", base, nil, 200, wantNameSet("tf-p1", "tf-p2", "tf-p3")},
		{"list fixture projects as delegated admin", "delegated", "GET", "/resource_groups/" + infra + "/projects", nil, 200,
			wantNameSet("domain-admins", "service-accounts", "tf-p4")},
		{"list as end user", "end_user", "GET", base, nil, 401, nil},
		{"list unknown resource group", "all", "GET", "/resource_groups/00000000-0000-4000-8000-000000000000/projects", nil, 404, nil},
		// TF's update bodies: only the changed keys.
		{"update selector", "all", "PUT", p1Path, map[string]any{"gateway_selector": "env=prod"}, 204, nil},
		{"update accounts", "all", "PUT", p1Path, map[string]any{"server_account_management": true}, 204, nil},
		{"merged", "all", "GET", p1Path, nil, 200, wantRGProject("tf-p1", blue, "env=prod", ed, true, false)},
		{"remove selector", "all", "PUT", p1Path, map[string]any{"gateway_selector": "", "ssh_certificate_type": rsa}, 204, nil},
		{"removed", "all", "GET", p1Path, nil, 200, wantRGProject("tf-p1", blue, "", rsa, true, false)},
		{"update empty body", "all", "PUT", p1Path, nil, 204, nil},
		{"update rename", "all", "PUT", p1Path, map[string]any{"name": "renamed"}, 400, nil},
		{"update bad cert type", "all", "PUT", p1Path, map[string]any{"server_account_management": false, "ssh_certificate_type": "x"}, 400, nil},
		{"update malformed", "all", "PUT", p1Path, `{"gateway_selector":`, 400, nil},
		{"update unknown", "all", "PUT", base + "/00000000-0000-4000-8000-000000000000", map[string]any{}, 404, nil},
		{"update as security admin", "security", "PUT", p1Path, map[string]any{"server_account_management": false}, 401, nil},
		{"unchanged by refusals", "all", "GET", p1Path, nil, 200, wantRGProject("tf-p1", blue, "", rsa, true, false)},
		{"delete as security admin", "security", "DELETE", p1Path, nil, 401, nil},
		{"delete in use", "all", "DELETE", "/resource_groups/" + infra + "/projects/" + lt.Projects["infra/service-accounts"], nil, 409, nil},
		{"delete", "all", "DELETE", p1Path, nil, 204, nil},
		{"deleted is readable", "all", "GET", p1Path, nil, 200, wantRGProject("tf-p1", blue, "", rsa, true, true)},
		{"delete again", "all", "DELETE", p1Path, nil, 404, nil},
		{"update deleted", "all", "PUT", p1Path, map[string]any{"gateway_selector": "a=b"}, 404, nil},
		{"settings of a deleted project", "all", "GET", p1Path + "/server_password_settings", nil, 404, nil},
		{"list without it", "all", "GET", base, nil, 200, wantNameSet("tf-p2", "tf-p3")},
		{"name reused", "all", "POST", base, map[string]any{"name": "tf-p1", "resource_group_id": blue}, 201, wantRGProject("tf-p1", blue, "", ed, false, false)},
		// The resource group's delete takes its projects with it.
		{"delete the resource group", "all", "DELETE", "/resource_groups/" + blue, nil, 204, nil},
		{"its projects are gone", "all", "GET", base + "/" + p1, nil, 404, nil},
	}
	runSteps(t, e, steps)
}

// TestResourceGroupProjectsPaging: pages of count, a next link only while more follow, each
// project once.
func TestResourceGroupProjectsPaging(t *testing.T) {
	e := newEnv(t)
	rg := idOf(t, e.must(201, "all", "POST", "/resource_groups", map[string]any{"name": "paged"}))
	for _, n := range []string{"a", "b", "c"} {
		e.must(201, "all", "POST", "/resource_groups/"+rg+"/projects", map[string]any{"name": n})
	}
	seen := map[string]int{}
	next := e.srv.TeamURL("/resource_groups/" + rg + "/projects?count=2")
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		r := e.must(200, "all", "GET", next, nil)
		var l struct{ List []rgProjectJSON }
		r.json(t, &l)
		for _, p := range l.List {
			seen[*p.Name]++
		}
		next = ""
		link := r.header.Get("Link")
		if link != "" && !strings.Contains(link, `rel="next"`) {
			t.Errorf("a Link header without a next page: %q", link)
		}
		for _, part := range strings.Split(link, ",") {
			if strings.Contains(part, `rel="next"`) {
				next = strings.Trim(strings.TrimSpace(strings.Split(part, ";")[0]), "<>")
			}
		}
	}
	if diff := cmp.Diff(map[string]int{"a": 1, "b": 1, "c": 1}, seen); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

// The hostile-input fuzzing of the bodies (bodyRoutes in fuzz_test.go).
func FuzzResourceGroupCreate(f *testing.F) { fuzzRoute(f, "ResourceGroupCreate") }
func FuzzResourceGroupUpdate(f *testing.F) { fuzzRoute(f, "ResourceGroupUpdate") }
func FuzzRGProjectCreate(f *testing.F)     { fuzzRoute(f, "RGProjectCreate") }
func FuzzRGProjectUpdate(f *testing.F)     { fuzzRoute(f, "RGProjectUpdate") }
