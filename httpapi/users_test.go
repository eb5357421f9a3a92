package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// userJSON decodes a user the way TF's client does (pointer fields, so absent and null differ
// from "").
type userJSON struct {
	ID             *string `json:"id"`
	Name           *string `json:"name"`
	TeamName       *string `json:"team_name"`
	ServerUserName *string `json:"server_user_name"`
	DeletedAt      *string `json:"deleted_at"`
	Status         *string `json:"status"`
	UserType       *string `json:"user_type"`
}

func wantUser(name, status, userType string) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var u userJSON
		r.json(t, &u)
		str := func(p *string) string {
			if p == nil {
				return "<nil>"
			}
			return *p
		}
		got := []string{str(u.Name), str(u.TeamName), str(u.Status), str(u.UserType), str(u.ServerUserName)}
		if diff := cmp.Diff([]string{name, "demo", status, userType, "<nil>"}, got); diff != "" {
			t.Errorf("user (-want +got):\n%s", diff)
		}
		if u.ID == nil || *u.ID == "" {
			t.Errorf("no id: %s", r.body)
		}
		if deleted := status == "DELETED"; deleted != (u.DeletedAt != nil) {
			t.Errorf("deleted_at in %s", r.body)
		} else if deleted {
			if _, err := time.Parse(time.RFC3339, *u.DeletedAt); err != nil {
				t.Errorf("deleted_at %q is not RFC 3339", *u.DeletedAt)
			}
		}
	}
}

func TestUsersRoutes(t *testing.T) {
	e := newEnv(t)
	// TF's "delete": the GET result echoed with status DELETED; its update: nulls besides name and status.
	tfUpdate := map[string]any{"id": nil, "name": "tf-svc", "team_name": nil, "status": "DISABLED", "user_type": nil}
	runSteps(t, e, []step{
		{"create service user", "all", "POST", "/service_users", map[string]any{"name": "tf-svc"}, 201, wantUser("tf-svc", "ACTIVE", "service")},
		{"create taken name", "all", "POST", "/service_users", map[string]any{"name": "JANE.DOE"}, 409, nil},
		{"create bad name", "all", "POST", "/service_users", map[string]any{"name": "has space"}, 400, nil},
		{"create no body", "all", "POST", "/service_users", nil, 400, nil},
		{"create as resource admin", "resource", "POST", "/service_users", map[string]any{"name": "x"}, 401, nil},
		{"get service user", "all", "GET", "/service_users/tf-svc", nil, 200, wantUser("tf-svc", "ACTIVE", "service")},
		{"get human as service user", "all", "GET", "/service_users/jane.doe", nil, 404, nil},
		{"get unknown service user", "all", "GET", "/service_users/nobody", nil, 404, nil},
		{"get service user as end user", "end_user", "GET", "/service_users/tf-svc", nil, 401, nil},
		{"disable", "all", "PUT", "/service_users/tf-svc", tfUpdate, 200, wantUser("tf-svc", "DISABLED", "service")},
		{"bad status", "all", "PUT", "/service_users/tf-svc", map[string]any{"name": "tf-svc", "status": "GONE"}, 400, nil},
		{"no status", "all", "PUT", "/service_users/tf-svc", map[string]any{"name": "tf-svc"}, 400, nil},
		{"rename", "all", "PUT", "/service_users/tf-svc", map[string]any{"name": "other", "status": "ACTIVE"}, 400, nil},
		{"update unknown", "all", "PUT", "/service_users/nobody", map[string]any{"status": "ACTIVE"}, 404, nil},
		{"update as security admin", "security", "PUT", "/service_users/tf-svc", map[string]any{"status": "ACTIVE"}, 401, nil},
		{"list service users", "resource", "GET", "/service_users?contains=tf-", nil, 200, wantNames("tf-svc")},
		{"list service users by status", "all", "GET", "/service_users?status=ACTIVE&contains=tf-", nil, 200, wantNames()},
		{"delete (status DELETED)", "all", "PUT", "/service_users/tf-svc", map[string]any{"id": "x", "name": "tf-svc", "team_name": "demo",
			"status": "DELETED", "user_type": "service"}, 200, wantUser("tf-svc", "DELETED", "service")},
		{"deleted stays readable", "all", "GET", "/service_users/tf-svc", nil, 200, wantUser("tf-svc", "DELETED", "service")},
		{"delete again", "all", "PUT", "/service_users/tf-svc", map[string]any{"name": "tf-svc", "status": "DELETED"}, 200, wantUser("tf-svc", "DELETED", "service")},
		{"revive deleted", "all", "PUT", "/service_users/tf-svc", map[string]any{"name": "tf-svc", "status": "ACTIVE"}, 400, nil},
		{"get human", "security", "GET", "/users/jane.doe", nil, 200, wantUser("jane.doe", "ACTIVE", "human")},
		{"get self as end user", "end_user", "GET", "/users/enduser-bot", nil, 200, wantUser("enduser-bot", "ACTIVE", "service")},
		{"get other as end user", "end_user", "GET", "/users/jane.doe", nil, 401, nil},
		{"get unknown", "all", "GET", "/users/nobody", nil, 404, nil},
		{"disable human", "all", "PUT", "/users/john.smith", map[string]any{"name": "john.smith", "status": "DISABLED"}, 200, wantUser("john.smith", "DISABLED", "human")},
		{"service user through users", "all", "PUT", "/users/resource-bot", map[string]any{"status": "DISABLED"}, 404, nil},
		{"update human as delegated", "delegated", "PUT", "/users/jane.doe", map[string]any{"status": "DISABLED"}, 401, nil},
		{"list humans", "all", "GET", "/users", nil, 200, wantNameSet("jane.doe", "john.smith")},
		{"list humans by status", "all", "GET", "/users?status=ACTIVE", nil, 200, wantNames("jane.doe")},
		{"list with service users", "all", "GET", "/users?include_service_users=true&starts_with=tf", nil, 200, wantNames("tf-svc")},
		{"list bad status", "all", "GET", "/users?status=x", nil, 400, nil},
		{"list as end user", "end_user", "GET", "/users", nil, 401, nil},
	})
}

func TestUsersListOrder(t *testing.T) {
	// wantNames above compares in list order: ids ascending. The two humans' order follows their ids.
	e := newEnv(t)
	r := e.must(200, "all", "GET", "/users", nil)
	var l struct {
		List []struct{ ID string } `json:"list"`
	}
	r.json(t, &l)
	for i := 1; i < len(l.List); i++ {
		if l.List[i-1].ID >= l.List[i].ID {
			t.Errorf("not in id order: %s", r.body)
		}
	}
}

func TestUserByID(t *testing.T) {
	e := newEnv(t)
	id := e.srv.Loaded().Team("demo").UserIDs["jane.doe"]
	runSteps(t, e, []step{
		{"by id", "all", "GET", "/users_by_id/" + id, nil, 200, wantUser("jane.doe", "ACTIVE", "human")},
		{"unknown id", "all", "GET", "/users_by_id/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"as end user", "end_user", "GET", "/users_by_id/" + id, nil, 401, nil},
	})
}

// TestServiceUserKeys: a new key works for the token exchange at once, lists without its secret,
// records its last use, and once deleted neither exchanges nor keeps its bearer tokens working.
func TestServiceUserKeys(t *testing.T) {
	e := newEnv(t)
	e.must(201, "all", "POST", "/service_users", map[string]any{"name": "keyed"})
	e.must(204, "all", "POST", "/groups/resource-admins/users", map[string]any{"name": "keyed"})
	var k struct {
		ID        string  `json:"id"`
		Secret    string  `json:"secret"`
		IssuedAt  string  `json:"issued_at"`
		ExpiresAt *string `json:"expires_at"`
		LastUsed  *string `json:"last_used"`
	}
	r := e.must(201, "all", "POST", "/service_users/keyed/keys", nil)
	r.json(t, &k)
	if k.ID == "" || k.Secret == "" || k.ExpiresAt != nil || k.LastUsed != nil || !strings.Contains(string(r.body), `"last_used":null`) {
		t.Fatalf("new key %s", r.body)
	}
	if _, err := time.Parse(time.RFC3339, k.IssuedAt); err != nil {
		t.Errorf("issued_at %q", k.IssuedAt)
	}
	tok, err := e.srv.ExchangeToken(k.ID, k.Secret)
	if err != nil {
		t.Fatalf("exchanging the new key: %v", err)
	}
	e.tokens["keyed"] = tok
	e.must(200, "keyed", "GET", "/integrations/ad_connections", nil)
	r = e.must(200, "all", "GET", "/service_users/keyed/keys", nil)
	if strings.Contains(string(r.body), k.Secret) || strings.Contains(string(r.body), "secret") {
		t.Errorf("the key list shows a secret: %s", r.body)
	}
	var l struct {
		List []struct {
			ID       string  `json:"id"`
			LastUsed *string `json:"last_used"`
		} `json:"list"`
	}
	r.json(t, &l)
	if len(l.List) != 1 || l.List[0].ID != k.ID || l.List[0].LastUsed == nil {
		t.Errorf("key list %s", r.body)
	}
	runSteps(t, e, []step{
		{"list as resource admin", "resource", "GET", "/service_users/keyed/keys", nil, 401, nil},
		{"list for unknown user", "all", "GET", "/service_users/nobody/keys", nil, 404, nil},
		{"list for a human", "all", "GET", "/service_users/jane.doe/keys", nil, 404, nil},
		{"create as security admin", "security", "POST", "/service_users/keyed/keys", nil, 401, nil},
		{"create for unknown user", "all", "POST", "/service_users/nobody/keys", nil, 404, nil},
		{"delete another user's key", "all", "DELETE", "/service_users/resource-bot/keys/" + k.ID, nil, 404, nil},
		{"delete unknown key", "all", "DELETE", "/service_users/keyed/keys/00000000-0000-4000-8000-000000000000", nil, 404, nil},
		{"delete as delegated", "delegated", "DELETE", "/service_users/keyed/keys/" + k.ID, nil, 401, nil},
		{"delete", "all", "DELETE", "/service_users/keyed/keys/" + k.ID, nil, 204, nil},
		{"token of the deleted key", "keyed", "GET", "/integrations/ad_connections", nil, 401, nil},
		{"list after delete", "all", "GET", "/service_users/keyed/keys", nil, 200, func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"list":[]`) {
				t.Errorf("keys %s", r.body)
			}
		}},
	})
	if _, err := e.srv.ExchangeToken(k.ID, k.Secret); err == nil {
		t.Error("a deleted key still exchanges")
	}
	e.must(200, "all", "PUT", "/service_users/keyed", map[string]any{"status": "DELETED"})
	e.must(400, "all", "POST", "/service_users/keyed/keys", nil)
}
