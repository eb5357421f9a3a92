package httpapi_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one request of a scripted table test and the status it must get; check, when set,
// looks at the response.
type step struct {
	name         string
	role         string
	method, path string
	body         any
	want         int
	check        func(t *testing.T, r response)
}

func runSteps(t *testing.T, e *env, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.do(s.role, s.method, s.path, s.body)
			if r.status != s.want {
				t.Fatalf("%s %s as %s: status %d, want %d: %s", s.method, s.path, s.role, r.status, s.want, r.body)
			}
			if r.status == 204 && len(r.body) != 0 {
				t.Errorf("204 with a body: %s", r.body)
			}
			if s.check != nil {
				s.check(t, r)
			}
		})
	}
}

// groupJSON decodes a group answer the way TF's client does (pointer fields).
type groupJSON struct {
	ID        *string  `json:"id"`
	Name      *string  `json:"name"`
	DeletedAt *string  `json:"deleted_at"`
	Roles     []string `json:"roles"`
}

func wantGroup(name string, roles []string, deleted bool) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var g groupJSON
		r.json(t, &g)
		if g.ID == nil || *g.ID == "" || g.Name == nil || *g.Name != name {
			t.Fatalf("group %s", r.body)
		}
		if diff := cmp.Diff(roles, g.Roles); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}
		if deleted != (g.DeletedAt != nil && *g.DeletedAt != "") {
			t.Errorf("deleted_at in %s, want deleted=%v", r.body, deleted)
		}
		if !deleted && strings.Contains(string(r.body), "deleted_at") {
			t.Errorf("a live group carries deleted_at: %s", r.body)
		}
	}
}

func wantNames(names ...string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var l struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		}
		r.json(t, &l)
		got := []string{}
		for _, it := range l.List {
			got = append(got, it.Name)
		}
		if names == nil {
			names = []string{}
		}
		if diff := cmp.Diff(names, got); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	}
}

// wantNameSet is wantNames in any order.
func wantNameSet(names ...string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var l struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		}
		r.json(t, &l)
		got := map[string]bool{}
		for _, it := range l.List {
			got[it.Name] = true
		}
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		if diff := cmp.Diff(want, got); diff != "" || len(l.List) != len(names) {
			t.Errorf("names (-want +got):\n%s%s", diff, r.body)
		}
	}
}

func TestGroupsRoutes(t *testing.T) {
	e := newEnv(t)
	steps := []step{
		{"create", "all", "POST", "/groups", map[string]any{"name": "tf-group-1", "roles": []string{}}, 201, wantGroup("tf-group-1", []string{}, false)},
		{"create with ASA role", "all", "POST", "/groups", map[string]any{"name": "tf-group-2", "roles": []string{"access_user"}}, 201, wantGroup("tf-group-2", []string{"access_user"}, false)},
		{"create duplicate", "all", "POST", "/groups", map[string]any{"name": "TF-GROUP-1", "roles": []string{}}, 409, nil},
		{"create unknown role", "all", "POST", "/groups", map[string]any{"name": "g3", "roles": []string{"root"}}, 400, nil},
		{"create delegated role", "all", "POST", "/groups", map[string]any{"name": "g3", "roles": []string{"delegated_resource_admin"}}, 400, nil},
		{"create no name", "all", "POST", "/groups", map[string]any{"roles": []string{}}, 400, nil},
		{"create no body", "all", "POST", "/groups", nil, 400, nil},
		{"create malformed", "all", "POST", "/groups", `{"name":`, 400, nil},
		{"create as resource admin", "resource", "POST", "/groups", map[string]any{"name": "g4"}, 401, nil},
		{"create as end user", "end_user", "POST", "/groups", map[string]any{"name": "g4"}, 401, nil},
		{"create unauthenticated", "", "POST", "/groups", map[string]any{"name": "g4"}, 401, nil},
		{"get", "all", "GET", "/groups/tf-group-1", nil, 200, wantGroup("tf-group-1", []string{}, false)},
		{"get case-insensitive", "resource", "GET", "/groups/TF-Group-1", nil, 200, wantGroup("tf-group-1", []string{}, false)},
		{"get fixture group", "security", "GET", "/groups/infra-delegates", nil, 200,
			wantGroup("infra-delegates", []string{"delegated_resource_admin", "delegated_security_admin"}, false)},
		{"get unknown", "all", "GET", "/groups/nope", nil, 404, nil},
		{"get as end user", "end_user", "GET", "/groups/tf-group-1", nil, 401, nil},
		{"update roles", "all", "PUT", "/groups/tf-group-1", map[string]any{"roles": []string{"end_user"}}, 204, nil},
		{"read updated", "all", "GET", "/groups/tf-group-1", nil, 200, wantGroup("tf-group-1", []string{"end_user"}, false)},
		{"update without roles", "all", "PUT", "/groups/tf-group-1", map[string]any{}, 204, nil},
		{"unchanged", "all", "GET", "/groups/tf-group-1", nil, 200, wantGroup("tf-group-1", []string{"end_user"}, false)},
		{"update unknown role", "all", "PUT", "/groups/tf-group-1", map[string]any{"roles": []string{"god"}}, 400, nil},
		{"update wrong type", "all", "PUT", "/groups/tf-group-1", map[string]any{"roles": "end_user"}, 400, nil},
		{"update unknown group", "all", "PUT", "/groups/nope", map[string]any{"roles": []string{}}, 404, nil},
		{"update as security admin", "security", "PUT", "/groups/tf-group-1", map[string]any{"roles": []string{}}, 401, nil},
		{"update keeps delegated grants", "all", "PUT", "/groups/infra-delegates", map[string]any{"roles": []string{"end_user"}}, 204, nil},
		{"delegated grants kept", "all", "GET", "/groups/infra-delegates", nil, 200,
			wantGroup("infra-delegates", []string{"end_user", "delegated_resource_admin", "delegated_security_admin"}, false)},
		{"list contains", "all", "GET", "/groups?contains=tf-group-1", nil, 200, wantNames("tf-group-1")},
		{"list contains repeated", "all", "GET", "/groups?contains=TF-GROUP&contains=TF-GROUP", nil, 200, func(t *testing.T, r response) {
			var l struct{ List []groupJSON }
			r.json(t, &l)
			if len(l.List) != 2 {
				t.Errorf("%d groups: %s", len(l.List), r.body)
			}
		}},
		{"list ignore", "all", "GET", "/groups?contains=tf-group&ignore=tf-group-2", nil, 200, wantNames("tf-group-1")},
		{"list bad bool", "all", "GET", "/groups?include_deleted=maybe", nil, 400, nil},
		{"list bad count", "all", "GET", "/groups?count=0", nil, 400, nil},
		{"list as end user", "end_user", "GET", "/groups", nil, 401, nil},
		{"add member", "all", "POST", "/groups/tf-group-1/users", map[string]any{"name": "jane.doe"}, 204, nil},
		{"add member again", "all", "POST", "/groups/tf-group-1/users", map[string]any{"name": "jane.doe"}, 204, nil},
		{"add service user", "all", "POST", "/groups/tf-group-1/users", map[string]any{"name": "resource-bot"}, 204, nil},
		{"add unknown user", "all", "POST", "/groups/tf-group-1/users", map[string]any{"name": "nobody"}, 400, nil},
		{"add no name", "all", "POST", "/groups/tf-group-1/users", map[string]any{}, 400, nil},
		{"add to unknown group", "all", "POST", "/groups/nope/users", map[string]any{"name": "jane.doe"}, 404, nil},
		{"add as delegated", "delegated", "POST", "/groups/tf-group-1/users", map[string]any{"name": "jane.doe"}, 401, nil},
		{"members", "resource", "GET", "/groups/tf-group-1/users", nil, 200, func(t *testing.T, r response) {
			var l struct {
				List []struct{ Name, UserType string } `json:"list"`
			}
			r.json(t, &l)
			got := map[string]bool{}
			for _, u := range l.List {
				got[u.Name] = true
			}
			if len(got) != 2 || !got["jane.doe"] || !got["resource-bot"] {
				t.Errorf("members %s", r.body)
			}
		}},
		{"members by type", "all", "GET", "/groups/tf-group-1/users?user_type=service", nil, 200, wantNames("resource-bot")},
		{"members by status", "all", "GET", "/groups/tf-group-1/users?status=DISABLED", nil, 200, wantNames()},
		{"members starts_with", "all", "GET", "/groups/tf-group-1/users?starts_with=JANE", nil, 200, wantNames("jane.doe")},
		{"members bad type", "all", "GET", "/groups/tf-group-1/users?user_type=robot", nil, 400, nil},
		{"members bad status", "all", "GET", "/groups/tf-group-1/users?status=GONE", nil, 400, nil},
		{"members of unknown group", "all", "GET", "/groups/nope/users", nil, 404, nil},
		{"remove member", "all", "DELETE", "/groups/tf-group-1/users/resource-bot", nil, 204, nil},
		{"remove non-member", "all", "DELETE", "/groups/tf-group-1/users/resource-bot", nil, 404, nil},
		{"remove unknown user", "all", "DELETE", "/groups/tf-group-1/users/nobody", nil, 404, nil},
		{"remove as security admin", "security", "DELETE", "/groups/tf-group-1/users/jane.doe", nil, 401, nil},
		{"members after remove", "all", "GET", "/groups/tf-group-1/users", nil, 200, wantNames("jane.doe")},
		{"delete", "all", "DELETE", "/groups/tf-group-1", nil, 204, nil},
		{"deleted is readable", "all", "GET", "/groups/tf-group-1", nil, 200, wantGroup("tf-group-1", []string{}, true)},
		{"deleted has no members", "all", "GET", "/groups/tf-group-1/users", nil, 200, wantNames()},
		{"delete again", "all", "DELETE", "/groups/tf-group-1", nil, 404, nil},
		{"update deleted", "all", "PUT", "/groups/tf-group-1", map[string]any{"roles": []string{}}, 404, nil},
		{"add to deleted", "all", "POST", "/groups/tf-group-1/users", map[string]any{"name": "jane.doe"}, 404, nil},
		{"list hides deleted", "all", "GET", "/groups?contains=tf-group", nil, 200, wantNames("tf-group-2")},
		{"list include_deleted", "all", "GET", "/groups?contains=tf-group&include_deleted=true", nil, 200, func(t *testing.T, r response) {
			var l struct{ List []groupJSON }
			r.json(t, &l)
			if len(l.List) != 2 {
				t.Errorf("%d groups: %s", len(l.List), r.body)
			}
		}},
		{"list only deleted", "all", "GET", "/groups?contains=tf-group&only_include_deleted=true", nil, 200, wantNames("tf-group-1")},
		{"delete unknown", "all", "DELETE", "/groups/nope", nil, 404, nil},
		{"delete as resource admin", "resource", "DELETE", "/groups/tf-group-2", nil, 401, nil},
		{"name reused after delete", "all", "POST", "/groups", map[string]any{"name": "tf-group-1", "roles": []string{"pam_admin"}}, 201,
			wantGroup("tf-group-1", []string{"pam_admin"}, false)},
		{"new group has no members", "all", "GET", "/groups/tf-group-1/users", nil, 200, wantNames()},
	}
	runSteps(t, e, steps)
}

// TestDeletedGroupGrantsNothing: a member of a deleted group loses the group's roles.
func TestDeletedGroupGrantsNothing(t *testing.T) {
	e := newEnv(t)
	e.must(204, "all", "DELETE", "/groups/resource-admins", nil)
	e.login()
	e.must(401, "resource", "GET", "/integrations/ad_connections", nil)
}

// TestGroupsPaging: the list pages with count and a next link only while more follow.
func TestGroupsPaging(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"p-1", "p-2", "p-3"} {
		e.must(201, "all", "POST", "/groups", map[string]any{"name": n, "roles": []string{}})
	}
	seen := map[string]bool{}
	next := e.srv.TeamURL("/groups?contains=p-&count=2")
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		r := e.must(200, "all", "GET", next, nil)
		var l struct{ List []groupJSON }
		r.json(t, &l)
		for _, g := range l.List {
			seen[*g.Name] = true
		}
		next = ""
		for _, part := range strings.Split(r.header.Get("Link"), ",") {
			if strings.Contains(part, `rel="next"`) {
				next = strings.Trim(strings.TrimSpace(strings.Split(part, ";")[0]), "<>")
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("saw %v", seen)
	}
}
