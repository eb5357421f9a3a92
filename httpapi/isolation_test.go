package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/opatest"
)

// isolationFixture is the demo fixture (team "demo", which we call B, with the in-memory directory
// of corp.example.com, its service account svc-opa and synced accounts) plus a team "alpha" (A)
// with an administrator, an end user, a project and a security policy that lets A's end users
// reveal and rotate, with a checkout, every shared AD account of team A.
func isolationFixture(t *testing.T) []byte {
	t.Helper()
	return demoWith(t, func(doc map[string]any) {
		doc["teams"] = append(doc["teams"].([]any), map[string]any{
			"name":            "alpha",
			"resource_groups": []any{map[string]any{"name": "rg", "projects": []any{map[string]any{"name": "p"}}}},
			"groups": []any{
				map[string]any{"name": "admins", "roles": []any{map[string]any{"role": "pam_admin"},
					map[string]any{"role": "resource_admin"}, map[string]any{"role": "security_admin"}}},
				map[string]any{"name": "users", "roles": []any{map[string]any{"role": "end_user"}}},
			},
			"users": []any{
				map[string]any{"username": "alpha-admin", "service_user": true, "groups": []any{"admins"},
					"service_keys": []any{map[string]any{"key_id": alphaAdminKey[0], "key_secret": alphaAdminKey[1]}}},
				map[string]any{"username": "alpha-user", "service_user": true, "groups": []any{"users"},
					"service_keys": []any{map[string]any{"key_id": alphaUserKey[0], "key_secret": alphaUserKey[1]}}},
			},
			"policies": []any{map[string]any{"name": "shared", "active": true, "groups": []any{"users"},
				"rules": []any{map[string]any{"name": "shared accounts", "privileges": []any{"reveal_password", "rotate_password"},
					"resources":  map[string]any{"ad_account_types": []any{"SHARED"}},
					"conditions": map[string]any{"checkout_required": true}}}}},
			"okta_api_tokens": []any{map[string]any{"token": alphaOktaToken, "user": "alpha-admin"}},
		})
	})
}

var (
	alphaAdminKey = [2]string{"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "alpha-admin-secret"}
	alphaUserKey  = [2]string{"2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", "alpha-user-secret"}
)

const alphaOktaToken = "00alpha-okta-api-token"

// teamToken exchanges a service key of team for a bearer token.
func teamToken(t *testing.T, srv *opatest.Server, team string, key [2]string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"key_id": key[0], "key_secret": key[1]})
	resp, err := http.Post(srv.URL+"/v1/teams/"+team+"/service_token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		BearerToken string `json:"bearer_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token for %s: status %d, %v", team, resp.StatusCode, err)
	}
	return out.BearerToken
}

// directoryState is everything a directory holds: each entry's attributes and password, by DN.
func directoryState(t *testing.T, e *env) map[string]any {
	t.Helper()
	dir := e.srv.Loaded().Directories["corp.example.com"]
	entries, err := dir.Search(context.Background(), directory.SearchRequest{BaseDN: "DC=corp,DC=example,DC=com"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, en := range entries {
		pw, _ := dir.Password(en.DN)
		attrs := map[string][]string{}
		for k, v := range en.Attributes {
			vs := append([]string(nil), v...)
			sort.Strings(vs)
			attrs[strings.ToLower(k)] = vs
		}
		out[en.DN] = map[string]any{"attributes": attrs, "password": pw}
	}
	return out
}

// teamBState is what team B's administrator sees of B's connection: the connection, its sync
// status, and every discovered account with its rotation and checkout details.
func teamBState(t *testing.T, e *env) map[string]any {
	t.Helper()
	conn := e.connID()
	ra := "/resource_assignment/active_directory/" + conn
	out := map[string]any{
		"connection":  json.RawMessage(e.must(200, "all", "GET", "/integrations/ad_connections/"+conn, nil).body),
		"sync_status": string(e.must(200, "all", "GET", ra+"/sync_status", nil).body),
	}
	var list struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", ra+"/accounts", nil).json(t, &list)
	for _, a := range list.List {
		out["account "+a.ID] = json.RawMessage(e.must(200, "all", "GET", ra+"/accounts/"+a.ID, nil).body)
	}
	return out
}

// TestTeamIsolationOfDirectories: team A (alpha), with every admin role and a policy of its own,
// tries every route that reaches a directory against team B's (demo's) in-memory directory of
// corp.example.com. A's connection to B's domain is answered as one to a domain nobody serves
// (its credentials cannot be checked: A has no directory there), and every directory operation
// through it is refused; B's ids in A's paths are unknown; A's credentials in B's paths are not
// B's. After every attempt B's directory (attributes, group members, passwords) and B's view of
// its connection and accounts are what they were.
func TestTeamIsolationOfDirectories(t *testing.T) {
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(isolationFixture(t)))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	login := func() {
		e.login()
		e.tokens["A"] = teamToken(t, srv, "alpha", alphaAdminKey)
		e.tokens["A user"] = teamToken(t, srv, "alpha", alphaUserKey)
	}
	login()
	const a = "/v1/teams/alpha"
	bConn := e.connID()
	bApp := "0oa1corpexample0ad01"
	var bAccounts struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", "/resource_assignment/active_directory/"+bConn+"/accounts", nil).json(t, &bAccounts)
	if len(bAccounts.List) == 0 {
		t.Fatal("team B has no accounts to protect")
	}
	bAccount := bAccounts.List[0].ID
	groupDN := "CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com"
	wantDir, wantB := directoryState(t, e), teamBState(t, e)

	var (
		intruder, intruderApp, project, userJob, serverJob string
	)
	project = srv.Loaded().Team("alpha").Projects["rg/p"]
	rg := srv.Loaded().Team("alpha").ResourceGroups["rg"]
	connBody := func(password string) map[string]any {
		return map[string]any{"name": "intruder", "domain": "corp.example.com", "gateway_id": "5a3af768-063f-4a12-a056-8ef24e555555",
			"domain_controllers": []string{"dc1.corp.example.com"}, "service_account_username": "svc-opa", "service_account_password": password}
	}
	status := func(r response) int { return r.status }
	// jobState is the task_state of a sync job's most recent result.
	jobState := func(path string) string {
		var job struct {
			Recent struct {
				TaskState string `json:"task_state"`
			} `json:"recent_task_result"`
		}
		e.must(200, "A", "GET", path, nil).json(t, &job)
		return job.Recent.TaskState
	}
	// testJob creates a sync job of the kind ("task_settings" or "user_sync_task_settings") on
	// A's connection and runs a test request; it returns the job's path and the result's state.
	testJob := func(kind string, body any) (string, string) {
		r := e.must(201, "A", "POST", a+"/integrations/ad_connections/"+intruder+"/"+kind, body)
		var j struct {
			ID string `json:"id"`
		}
		r.json(t, &j)
		path := a + "/integrations/ad_connections/" + intruder + "/" + kind + "/" + j.ID
		var res struct {
			TaskState string `json:"task_state"`
		}
		e.must(201, "A", "POST", path+"/test_requests", nil).json(t, &res)
		return path, res.TaskState
	}
	// endUser tries op (reveal_credentials or rotate_password), through A's policy, on every
	// account A's end user sees on A's connection, and on B's account by id; it returns the
	// statuses.
	endUser := func(op string) []int {
		var out []int
		var mine struct {
			List []struct {
				Account struct {
					ID string `json:"id"`
				} `json:"account"`
			} `json:"list"`
		}
		r := e.do("A user", "GET", a+"/active_directory/"+intruder+"/accounts", nil)
		out = append(out, r.status)
		if r.status == 200 {
			r.json(t, &mine)
		}
		ids := []string{bAccount}
		for _, m := range mine.List {
			ids = append(ids, m.Account.ID)
		}
		for _, id := range ids {
			path := a + "/active_directory/" + intruder + "/accounts/" + id
			uam := map[string]any{"rule_ids": []string{"none"}}
			if r := e.do("A user", "GET", path+"/user_access_methods", nil); r.status == 200 {
				var uams struct {
					List []map[string]any `json:"list"`
				}
				r.json(t, &uams)
				uam = uams.List[0]
			}
			body := map[string]any{"user_access_method": uam}
			if op == "reveal_credentials" {
				body["public_key"] = rsaJWK(t)
			}
			out = append(out, e.do("A user", "POST", path+"/"+op, body).status)
		}
		return out
	}

	for _, tc := range []struct {
		name string
		try  func() any // the statuses (or results) observed
		want any
	}{
		{"create a connection to B's domain with a guessed password: answered as for a domain nobody serves", func() any {
			r := e.do("A", "POST", a+"/integrations/ad_connections", connBody("guessed-password"))
			var c struct {
				ID string `json:"id"`
			}
			if r.status == 201 {
				r.json(t, &c)
				intruder = c.ID
			}
			nobody := connBody("guessed-password")
			nobody["name"], nobody["domain"] = "nobody", "nobody.example.com"
			return []int{r.status, e.do("A", "POST", a+"/integrations/ad_connections", nobody).status}
		}, []int{201, 201}},
		{"update it with B's real service account password", func() any {
			r := e.do("A", "PUT", a+"/integrations/ad_connections/"+intruder, connBody("Svc-Opa-Passw0rd!"))
			var o struct {
				AppInstanceID string `json:"app_instance_id"`
			}
			e.must(200, "A", "GET", a+"/connections/active_directory/"+intruder, nil).json(t, &o)
			intruderApp = o.AppInstanceID
			return r.status
		}, 204},
		{"an account rule on B's OUs (no directory is read)", func() any {
			return e.do("A", "POST", a+"/resource_assignment/active_directory/"+intruder+"/rules", map[string]any{
				"name": "grab", "rule_type": "SHARED", "organizational_units": []string{"OU=ServiceAccounts,DC=corp,DC=example,DC=com"},
				"resource_group": map[string]string{"id": rg}, "project": map[string]string{"id": project}}).status
		}, 201},
		{"force sync: recorded as failed (no directory answers)", func() any {
			ra := a + "/resource_assignment/active_directory/" + intruder
			var s string
			_ = json.Unmarshal(e.do("A", "GET", ra+"/sync_status", nil).body, &s)
			before := s
			st := status(e.do("A", "PUT", ra+"/force_sync", nil))
			_ = json.Unmarshal(e.do("A", "GET", ra+"/sync_status", nil).body, &s)
			return []any{before, st, s}
		}, []any{"NOT_SYNCED", 204, "SYNC_FAILED"}},
		{"user sync job test run", func() any {
			var state string
			userJob, state = testJob("user_sync_task_settings", seedSamples["001 user job request"])
			return state
		}, "failed"},
		{"server sync job test run", func() any {
			var state string
			serverJob, state = testJob("task_settings", sampleRequest(t, "001 server job request", func(m map[string]any) {
				m["rule_assignments"] = map[string]any{"base_dn": "OU=Servers,DC=corp,DC=example,DC=com",
					"ldap_query_filter": "(objectClass=computer)", "priority": "1", "project_id": project}
			}))
			return state
		}, "failed"},
		{"scheduled user and server sync runs", func() any {
			e.must(200, "", "POST", "/_fake/clock", map[string]string{"advance": "25h"})
			login()
			return []string{jobState(userJob), jobState(serverJob)}
		}, []string{"failed", "failed"}},
		{"directories API group change through A's connection", func() any {
			return status(e.do(alphaOktaToken, "POST", "/api/v1/directories/"+intruderApp+"/groups/modify", map[string]any{
				"id": groupDN, "parameters": map[string]any{"action": "ADD", "attribute": "member",
					"values": []string{"CN=svc-sql,OU=ServiceAccounts,DC=corp,DC=example,DC=com"}}}))
		}, 502},
		{"directories API group change through B's app instance", func() any {
			body := map[string]any{"id": groupDN, "parameters": map[string]any{"action": "REMOVE", "attribute": "member",
				"values": []string{"CN=svc-backup,OU=ServiceAccounts,DC=corp,DC=example,DC=com"}}}
			return []int{
				e.do(alphaOktaToken, "POST", "/api/v1/directories/"+bApp+"/groups/modify", body).status,
				e.do("A", "POST", "/api/v1/directories/"+bApp+"/groups/modify", body).status,
			}
		}, []int{404, 404}},
		{"reveal through A's policy", func() any { return endUser("reveal_credentials") }, []int{404, 404}},
		{"rotate through A's policy", func() any { return endUser("rotate_password") }, []int{404, 404}},
		{"check-in (which rotates) of B's account", func() any {
			ref := map[string]string{"resource_id": bAccount, "resource_type": "active_directory_account_password_login"}
			prj := a + "/resource_groups/" + rg + "/projects/" + project
			return []int{
				e.do("A user", "POST", a+"/checkin_resource", ref).status,
				e.do("A", "POST", prj+"/checkin_resource", ref).status,
				e.do("A", "POST", prj+"/rotate_resource", ref).status,
			}
		}, []int{404, 404, 404}},
		{"B's routes with A's token", func() any {
			ra := "/resource_assignment/active_directory/" + bConn
			return []int{
				e.do(e.tokens["A"], "PUT", ra+"/force_sync", nil).status,
				e.do(e.tokens["A"], "PUT", "/integrations/ad_connections/"+bConn, connBody("x")).status,
			}
		}, []int{401, 401}},
	} {
		got := tc.try()
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(wantDir, directoryState(t, e)); diff != "" {
			t.Fatalf("after %q, B's directory changed (-before +after):\n%s", tc.name, diff)
		}
		if diff := cmp.Diff(wantB, teamBState(t, e)); diff != "" {
			t.Fatalf("after %q, B's connection or accounts changed (-before +after):\n%s", tc.name, diff)
		}
	}
	// A's connection found nothing of B's.
	r := e.must(200, "A", "GET", a+"/resource_assignment/active_directory/"+intruder+"/accounts", nil)
	if !strings.Contains(string(r.body), `"list":[]`) {
		t.Errorf("A's connection to B's domain discovered accounts: %s", r.body)
	}
}

// TestConnectionCredentialsCheckedOverHTTP: a PUT of the demo connection with a password its
// directory refuses is 400 invalid_request naming the account, never the password, and changes
// nothing (the connection still syncs); the right password is 204.
func TestConnectionCredentialsCheckedOverHTTP(t *testing.T) {
	e := newEnv(t)
	conn := "/integrations/ad_connections/" + e.connID()
	body := map[string]any{"name": "corp", "domain": "corp.example.com", "gateway_id": "5a3af768-063f-4a12-a056-8ef24e555555",
		"domain_controllers": []string{"dc1.corp.example.com"}, "service_account_username": "svc-opa", "service_account_password": "Guessed-Passw0rd!"}
	before := e.must(200, "all", "GET", conn, nil).body
	r := e.must(400, "all", "PUT", conn, body)
	var msg struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	r.json(t, &msg)
	if msg.Type != "invalid_request" || !strings.Contains(msg.Message, "svc-opa") || strings.Contains(string(r.body), "Guessed-Passw0rd!") {
		t.Fatalf("refusal body %s", r.body)
	}
	if diff := cmp.Diff(string(before), string(e.must(200, "all", "GET", conn, nil).body)); diff != "" {
		t.Fatalf("a refused update changed the connection (-before +after):\n%s", diff)
	}
	e.must(204, "all", "PUT", "/resource_assignment/active_directory/"+e.connID()+"/force_sync", nil)
	body["service_account_password"] = "Svc-Opa-Passw0rd!"
	e.must(204, "all", "PUT", conn, body)
}
