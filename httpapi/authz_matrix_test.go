package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opakit/opa/opatest"
	"github.com/opakit/opa/storage"
)

// matrixFixture is the demo fixture plus a second team ("other", whose admin key is
// other-admin) and, in the demo team, a resource group "elsewhere" with its own delegated admin
// (key other-delegate).
func matrixFixture(t *testing.T) []byte {
	t.Helper()
	return demoWith(t, func(doc map[string]any) {
		teams := doc["teams"].([]any)
		demo := teams[0].(map[string]any)
		demo["resource_groups"] = append(demo["resource_groups"].([]any), map[string]any{
			"name": "elsewhere", "projects": []any{map[string]any{"name": "p"}}})
		demo["groups"] = append(demo["groups"].([]any), map[string]any{"name": "elsewhere-delegates", "roles": []any{
			map[string]any{"role": "delegated_resource_admin", "resource_group": "elsewhere"},
			map[string]any{"role": "delegated_security_admin", "resource_group": "elsewhere"}}})
		demo["users"] = append(demo["users"].([]any), map[string]any{"username": "other-delegate-bot", "service_user": true,
			"groups": []any{"elsewhere-delegates"}, "service_keys": []any{map[string]any{
				"key_id": "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "key_secret": "other-delegate-secret"}}})
		teams = append(teams, map[string]any{
			"name":   "other",
			"groups": []any{map[string]any{"name": "admins", "roles": []any{map[string]any{"role": "pam_admin"}, map[string]any{"role": "resource_admin"}, map[string]any{"role": "security_admin"}}}},
			"users": []any{map[string]any{"username": "other-admin", "service_user": true, "groups": []any{"admins"},
				"service_keys": []any{map[string]any{"key_id": "8e2f3a4b-5c6d-4e7f-8091-a2b3c4d5e6f7", "key_secret": "other-admin-secret"}}}},
		})
		doc["teams"] = teams
	})
}

// route is one registered route, read from routes.go.
type route struct{ method, pattern, wrapper string }

// registeredRoutes parses routes.go: every m.Handle("METHOD "+consts+"/path", h.wrapper(fn)), with
// the string constants resolved. A route added there without an expectation below fails the test.
func registeredRoutes(t *testing.T) []route {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	eval := func(expr string) string {
		var b strings.Builder
		for _, part := range strings.Split(expr, "+") {
			part = strings.TrimSpace(part)
			if strings.HasPrefix(part, `"`) {
				b.WriteString(strings.Trim(part, `"`))
			} else if v, ok := consts[part]; ok {
				b.WriteString(v)
			} else {
				t.Fatalf("routes.go: cannot resolve %q", part)
			}
		}
		return b.String()
	}
	constRE := regexp.MustCompile(`^\s*const (\w+) = (.+)$`)
	handleRE := regexp.MustCompile(`^\s*m\.Handle\(([^,]+), (.+)\)$`)
	wrapperRE := regexp.MustCompile(`h\.(public|v1|okta)\(`)
	var out []route
	for _, line := range strings.Split(string(src), "\n") {
		if m := constRE.FindStringSubmatch(line); m != nil {
			consts[m[1]] = eval(m[2])
		} else if m := handleRE.FindStringSubmatch(line); m != nil {
			pat := eval(m[1])
			method, path, ok := strings.Cut(pat, " ")
			if !ok {
				continue // the catch-all 404 routes
			}
			w := wrapperRE.FindStringSubmatch(m[2])
			if w == nil {
				t.Fatalf("routes.go: no known wrapper in %q", line)
			}
			out = append(out, route{method, path, w[1]})
		}
	}
	if len(out) < 50 {
		t.Fatalf("parsed only %d routes from routes.go", len(out))
	}
	return out
}

// outcome is the expected class of answer.
type outcome int

const (
	unauthenticated outcome = iota // exactly 401 authentication_error (401 E0000004/E0000011 on /api/v1)
	denied                         // 401 authorization_error (missing role), 403 or 404: refused, and nothing revealed about the target
	allowed                        // not 401/403 (and not 5xx): the role may call it
	anyOutcome                     // not a 5xx; no claim (documented per case below)
)

func (o outcome) String() string {
	return [...]string{"401 authentication", "401 authorization/403/404", "allowed", "any"}[o]
}

var matrixRoles = []string{"all", "resource", "security", "delegated", "other_delegate", "end_user", "other_team", "expired", "garbage", "none"}

// expect is the authorization policy the matrix checks, derived from the engine's role checks
// (identity.go require/requireIn, connection.go, rule.go, syncjob.go, account.go) and the API's
// role documentation.
func expect(r route, role string) outcome {
	p := r.pattern
	switch r.wrapper {
	case "public":
		return allowed // the token exchange itself
	case "okta":
		switch role {
		case "expired", "garbage", "none":
			return unauthenticated
		case "all":
			return allowed
		default:
			return anyOutcome // bearer tokens of any team are accepted on /api/v1 by design; see report
		}
	}
	switch role {
	case "expired", "garbage", "none", "other_team":
		return unauthenticated
	}
	if o, ok := expectAPI(r, role); ok {
		return o
	}
	settings := strings.HasSuffix(p, "_settings") && strings.Contains(p, "/projects/{project_id}/")
	if settings && r.method == "GET" {
		return allowed // any team member may read project settings (projectsettings.go, by design)
	}
	if strings.HasSuffix(p, "/vault/jwks.json") {
		return allowed // the reveal public keys, for every signed-in user
	}
	endUserRoute := strings.HasPrefix(p, "/v1/teams/{team_name}/active_directory") ||
		strings.HasPrefix(p, "/v1/teams/{team_name}/okta_universal_directory_accounts") ||
		p == "/v1/teams/{team_name}/active_directory" || strings.HasSuffix(p, "/current_user") ||
		p == "/v1/teams/{team_name}/checkin_resource" || p == "/v1/teams/{team_name}/checked_out_resources"
	userAction := strings.HasSuffix(p, "/reveal_credentials") || strings.HasSuffix(p, "/rotate_password") ||
		p == "/v1/teams/{team_name}/checkin_resource"
	if endUserRoute {
		switch {
		case role == "end_user":
			return allowed
		case userAction:
			return denied // no policy grants these admins the account
		default:
			return anyOutcome // admins see their own (empty) end-user views
		}
	}
	if role == "end_user" {
		return denied
	}
	connWrite := strings.HasPrefix(p, "/v1/teams/{team_name}/integrations/ad_connections") && !strings.Contains(p, "task_settings") && r.method != "GET" ||
		strings.HasSuffix(p, "/status")
	rgScoped := strings.Contains(p, "/resource_groups/{resource_group_id}")
	// Checkouts and the all-accounts views are the security admin's (checkout.go, account.go).
	securityOnly := strings.Contains(p, "all_active_directory_accounts") || strings.Contains(p, "all_okta_universal_directory_accounts") ||
		strings.HasSuffix(p, "/projects/{project_id}/checkin_resource") || strings.HasSuffix(p, "/rotate_resource") ||
		strings.HasSuffix(p, "/projects/{project_id}/checked_out_resources") ||
		strings.Contains(p, "/security_policy") // policy.go, securitypolicy.go: security_admin
	switch role {
	case "all":
		return allowed
	case "resource":
		if securityOnly {
			return denied
		}
		if settings {
			return anyOutcome
		}
		return allowed
	case "security":
		if connWrite || strings.Contains(p, "task_settings") && r.method != "GET" {
			return denied
		}
		if securityOnly {
			return allowed
		}
		return anyOutcome
	case "delegated":
		if connWrite {
			return denied
		}
		if rgScoped {
			return allowed
		}
		return anyOutcome
	case "other_delegate":
		if connWrite || rgScoped {
			return denied
		}
		return anyOutcome
	}
	panic("unknown role " + role)
}

// TestAuthzMatrix calls every registered route as every role and checks the expected outcome.
// An expected denial that succeeds is an escalation and fails the test.
func TestAuthzMatrix(t *testing.T) {
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(matrixFixture(t)))
	routes := registeredRoutes(t)
	keys := map[string][2]string{
		"all": roleKeys["all"], "resource": roleKeys["resource"], "security": roleKeys["security"],
		"delegated": roleKeys["delegated"], "end_user": roleKeys["end_user"],
		"other_delegate": {"7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "other-delegate-secret"},
	}
	serve := func(method, target, auth, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://opa.test"+target, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		return rec
	}
	exchange := func(team string, k [2]string) string {
		b, _ := json.Marshal(map[string]string{"key_id": k[0], "key_secret": k[1]})
		rec := serve("POST", "/v1/teams/"+team+"/service_token", "", string(b))
		var out struct {
			BearerToken string `json:"bearer_token"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("token exchange for %s: %d %s", k[0], rec.Code, rec.Body.Bytes())
		}
		return out.BearerToken
	}
	tokens := map[string]string{}
	ids := map[string]string{}
	// login (re)issues every token: "expired" is issued first, then the clock moves past its
	// lifetime (the default one hour) before the others are issued.
	login := func() {
		tokens["expired"] = exchange("demo", keys["end_user"])
		srv.Clock.Advance(61 * time.Minute)
		for role, k := range keys {
			tokens[role] = exchange("demo", k)
		}
		tokens["other_team"] = exchange("other", [2]string{"8e2f3a4b-5c6d-4e7f-8091-a2b3c4d5e6f7", "other-admin-secret"})
		tokens["garbage"] = "not-a-token"
		tokens["none"] = ""
		e := srv.Handler.Engine()
		_ = e.Store().View(context.Background(), func(tx storage.ReadTx) error {
			lt := srv.Loaded().Team("demo")
			ids["team_name"] = "demo"
			ids["ad_connection_id"] = lt.Connections["corp.example.com"]
			ids["resource_group_id"] = lt.ResourceGroups["infra"]
			ids["project_id"] = lt.Projects["infra/service-accounts"]
			ids["appInstanceId"] = "0oa1corpexample0ad01"
			apiMatrixIDs(ids, lt)
			for _, k := range []string{"ad_account_id", "ad_account_rule_id", "task_settings_id", "user_sync_task_settings_id", "result_id"} {
				ids[k] = "00000000-0000-4000-8000-000000000000"
			}
			if as, _ := storage.Accounts.All(tx); len(as) > 0 {
				for _, a := range as {
					if a.ProjectID == ids["project_id"] {
						ids["ad_account_id"] = a.ID
						break
					}
				}
			}
			ids["okta_universal_directory_account_id"] = "00000000-0000-4000-8000-000000000000"
			if us, _ := storage.UDAccounts.All(tx); len(us) > 0 {
				ids["okta_universal_directory_account_id"] = us[0].ID
			}
			if rs, _ := storage.Rules.All(tx); len(rs) > 0 {
				ids["ad_account_rule_id"] = rs[0].ID
			}
			ids["security_policy_id"] = "00000000-0000-4000-8000-000000000000"
			if ps, _ := storage.Policies.All(tx); len(ps) > 0 {
				ids["security_policy_id"] = ps[0].ID
			}
			return nil
		})
		apiMatrixState(t, e, ids)
	}
	login()
	reset := func() {
		if rec := serve("POST", "/_fake/reset", "", ""); rec.Code != 204 {
			t.Fatalf("reset: %d %s", rec.Code, rec.Body.Bytes())
		}
		login()
	}
	bodies := map[string]string{}
	for _, br := range bodyRoutes {
		h := &hostile{ids: map[string]string{"team": "demo", "conn": ids["ad_connection_id"], "rg": ids["resource_group_id"],
			"shared_project": ids["project_id"], "project": ids["project_id"], "account": ids["ad_account_id"], "rule": ids["ad_account_rule_id"],
			"bundle": ids["sudo_command_bundle_id"], "certificate": ids["certificate_id"]}}
		path := strings.NewReplacer("{team}", "{team_name}", "{conn}", "{ad_connection_id}", "{rule}", "{ad_account_rule_id}",
			"{account}", "{ad_account_id}", "{rg}", "{resource_group_id}", "{project}", "{project_id}",
			"{server_job}", "{task_settings_id}", "{user_job}", "{user_sync_task_settings_id}", "{app_instance}", "{appInstanceId}",
			"{policy}", "{security_policy_id}", "{gateway}", "{gateway_id}", "{bundle}", "{sudo_command_bundle_id}", "{certificate}", "{certificate_id}").Replace(br.path)
		bodies[path] = h.path(br.seeds[0])
	}
	// Valid settings bodies: what GET returns (so a denial is not masked by a 400 for the body).
	for _, r := range routes {
		if r.method == "PUT" && strings.HasSuffix(r.pattern, "_settings") && strings.Contains(r.pattern, "/projects/") {
			target := r.pattern
			for k, v := range ids {
				target = strings.ReplaceAll(target, "{"+k+"}", v)
			}
			if rec := serve("GET", target, "Bearer "+tokens["all"], ""); rec.Code == 200 {
				b := rec.Body.String()
				bodies[r.pattern] = strings.Replace(b, `"checkout_required":false`, `"checkout_required":true`, 1)
			}
		}
	}
	for path, b := range bodies {
		if strings.HasSuffix(path, "/reveal_credentials") {
			bodies["/v1/teams/{team_name}/okta_universal_directory_accounts/{okta_universal_directory_account_id}/reveal_credentials"] = b
		}
	}
	counts := map[outcome]int{}
	var escalations []string
	for _, r := range routes {
		for _, role := range matrixRoles {
			want := expect(r, role)
			target := r.pattern
			for k, v := range ids {
				target = strings.ReplaceAll(target, "{"+k+"}", v)
			}
			body := ""
			if r.method == "POST" || r.method == "PUT" {
				body = "{}"
				if b, ok := bodies[r.pattern]; ok {
					body = b
				}
			}
			auth := ""
			if tok := tokens[role]; tok != "" {
				auth = "Bearer " + tok
			}
			rec := serve(r.method, target, auth, body)
			got := rec.Code
			counts[want]++
			bad := got >= 500
			var errBody struct {
				Type      string `json:"type"`
				ErrorCode string `json:"errorCode"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &errBody)
			switch want {
			case unauthenticated:
				bad = bad || got != 401 || errBody.Type != "authentication_error" && errBody.ErrorCode != "E0000004" && errBody.ErrorCode != "E0000011"
			case denied:
				bad = bad || got != 403 && got != 404 && (got != 401 || errBody.Type != "authorization_error")
			case allowed:
				bad = bad || got == 401 || got == 403
			}
			if bad {
				msg := fmt.Sprintf("%s %s as %s: got %d, want %s: %.200s", r.method, r.pattern, role, got, want, rec.Body.Bytes())
				if got < 300 {
					escalations = append(escalations, msg)
				}
				t.Error(msg)
			}
			if got < 300 && r.method != "GET" {
				reset() // undo the change so every cell starts from the fixture
			}
		}
	}
	sort.Strings(escalations)
	t.Logf("%d routes x %d roles = %d calls: %d expect 401, %d expect 403/404, %d expect allowed, %d unchecked beyond no-5xx; %d escalations",
		len(routes), len(matrixRoles), len(routes)*len(matrixRoles), counts[unauthenticated], counts[denied], counts[allowed], counts[anyOutcome], len(escalations))
}
