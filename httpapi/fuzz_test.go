package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
)

// hostile is a demo server (an env) driven in-process (handler.ServeHTTP, no sockets) for fuzzing
// and hostile-input tests, with the ids the routes need.
type hostile struct {
	*env
	ids map[string]string
}

func newHostile(tb testing.TB) *hostile {
	tb.Helper()
	h := &hostile{env: newEnv(tb), ids: map[string]string{}}
	srv := h.srv
	lt := srv.Loaded().Team("demo")
	h.ids["team"] = "demo"
	h.ids["conn"] = lt.Connections["corp.example.com"]
	h.ids["rg"] = lt.ResourceGroups["infra"]
	h.ids["project"] = lt.Projects["infra/domain-admins"]
	h.ids["shared_project"] = lt.Projects["infra/service-accounts"]
	h.ids["user"] = lt.UserIDs["jane.doe"]
	h.ids["group_name"] = "engineers"
	h.ids["user_name"] = "resource-bot"
	h.ids["group"] = lt.GroupIDs["engineers"]
	h.ids["project_name"] = "asa-servers"
	h.ids["gateway"] = lt.Gateways["gateway1"]
	h.ids["bundle"] = lt.SudoBundles["restart-web"]
	if team, err := srv.Engine().Team(context.Background(), "demo"); err == nil {
		if c, err := srv.Engine().CreateCertificate(context.Background(), opa.SystemPrincipal(team), opa.CertificateInput{
			DisplayName: "fuzz", CommonName: "fuzz", Type: opa.CertificateTypeSigningRequest}); err == nil {
			h.ids["certificate"] = c.ID
		}
	}
	ctx := context.Background()
	_ = srv.Engine().Store().View(ctx, func(tx storage.ReadTx) error {
		if as, err := storage.Accounts.All(tx); err == nil && len(as) > 0 {
			h.ids["account"] = as[0].ID
		}
		if rs, err := storage.Rules.All(tx); err == nil && len(rs) > 0 {
			h.ids["rule"] = rs[0].ID
		}
		if ss, err := storage.ServerSyncJobs.All(tx); err == nil && len(ss) > 0 {
			h.ids["server_job"] = ss[0].ID
		}
		if us, err := storage.UserSyncJobs.All(tx); err == nil && len(us) > 0 {
			h.ids["user_job"] = us[0].ID
		}
		if ps, err := storage.Policies.All(tx); err == nil && len(ps) > 0 {
			h.ids["policy"] = ps[0].ID
		}
		if cs, err := storage.Connections.All(tx); err == nil && len(cs) > 0 {
			h.ids["app_instance"] = cs[0].AppInstanceID
		}
		return nil
	})
	// A server and a user sync job (the fixture has none), from the seed samples.
	var job map[string]any
	_ = json.Unmarshal([]byte(seedSamples["001 server job request"]), &job)
	job["rule_assignments"] = map[string]any{"base_dn": "OU=Servers,DC=corp,DC=example,DC=com",
		"ldap_query_filter": "(objectClass=computer)", "priority": "1", "project_id": h.ids["shared_project"]}
	raw, _ := json.Marshal(job)
	for key, req := range map[string][2]string{
		"server_job": {"/v1/teams/demo/integrations/ad_connections/{conn}/task_settings", string(raw)},
		"user_job":   {"/v1/teams/demo/integrations/ad_connections/{conn}/user_sync_task_settings", seedSamples["001 user job request"]},
	} {
		if h.ids[key] != "" {
			continue
		}
		rec := h.serve("all", "POST", h.path(req[0]), []byte(req[1]))
		var out struct {
			ID string `json:"id"`
		}
		if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			tb.Fatalf("creating the %s: %d %s", key, rec.Code, rec.Body.Bytes())
		}
		h.ids[key] = out.ID
	}
	for _, k := range []string{"conn", "rg", "project", "account", "rule", "server_job", "user_job", "certificate"} {
		if h.ids[k] == "" {
			tb.Fatalf("demo fixture has no %s", k)
		}
	}
	return h
}

// path expands {name} placeholders from h.ids.
func (h *hostile) path(p string) string {
	for k, v := range h.ids {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return p
}

// serve sends one request through the handler as role ("" for none; an unknown role is a raw
// token) and returns the recorder.
func (h *hostile) serve(role, method, target string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://opa.test"+target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if role != "" {
		tok, ok := h.tokens[role]
		if !ok {
			tok = role
		}
		scheme := "Bearer "
		if strings.HasPrefix(target, "/api/") {
			scheme = "SSWS "
		}
		req.Header.Set("Authorization", scheme+tok)
	}
	rec := httptest.NewRecorder()
	h.srv.Handler.ServeHTTP(rec, req)
	return rec
}

// fingerprint is the JSON of every stored record except the audit trail and tokens (a request
// may audit a refusal; tokens record their last use).
func (h *hostile) fingerprint() string {
	var b strings.Builder
	err := h.srv.Handler.Engine().Store().View(context.Background(), func(tx storage.ReadTx) error {
		for _, s := range storage.Schema {
			if s.Name == storage.AuditEvents.Name() || s.Name == storage.Tokens.Name() {
				continue
			}
			recs, err := tx.List(s.Name, "id")
			if err != nil {
				return err
			}
			raw, err := json.Marshal(recs)
			if err != nil {
				return err
			}
			b.WriteString(s.Name)
			b.Write(raw)
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("fingerprint: %v", err)
	}
	return b.String()
}

// bodyRoute is a route that decodes a request body.
type bodyRoute struct {
	name, role, method, path string
	seeds                    []string
}

// bodyRoutes lists every route of httpapi that decodes a JSON request body, with seeds.
var bodyRoutes = []bodyRoute{
	{"ServiceToken", "", "POST", "/v1/teams/{team}/service_token", []string{
		`{"key_id":"6f2c1c0e-5b7a-4d8e-9a51-0c3f7f1b2a10","key_secret":"demo-secret-change-me"}`,
		`{"key_id":"x","key_secret":""}`, `{"key_id":1}`}},
	{"ConnectionCreate", "all", "POST", "/v1/teams/{team}/integrations/ad_connections", []string{
		`{"name":"c","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555","domain":"fuzz.example.com","domain_controllers":["1.2.3.4"],"service_account_username":"admin","service_account_password":"p@$$w0rD"}`,
		`{"domain":"","domain_controllers":null}`}},
	{"ConnectionUpdate", "all", "PUT", "/v1/teams/{team}/integrations/ad_connections/{conn}", []string{
		`{"name":"corp","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555","domain":"corp.example.com","domain_controllers":["dc2"],"service_account_username":"svc","service_account_password":"x"}`}},
	{"ConnectionStatus", "all", "PUT", "/v1/teams/{team}/connections/active_directory/{conn}/status", []string{
		`{"status":"disconnected"}`, `{"status":"connected"}`}},
	{"ServerSyncJob", "all", "POST", "/v1/teams/{team}/integrations/ad_connections/{conn}/task_settings", []string{
		`{"host_name_attribute":"dNSHostName","access_address_attribute":"dNSHostName","os_attribute":"operatingSystem","bastion_attribute":"","alt_names_attributes":[],"additional_attributes":[],"base_dn":"OU=Servers,DC=corp,DC=example,DC=com","ldap_query_filter":"(objectClass=computer)","project_id":"x","run_test":false,"frequency":12,"start_hour_utc":0,"is_active":true}`}},
	{"ServerSyncSchedule", "all", "PUT", "/v1/teams/{team}/integrations/ad_connections/{conn}/task_settings/{server_job}/schedule", []string{
		`{"frequency":6,"start_hour_utc":3}`, `{"frequency":-1}`}},
	{"UserSyncJob", "all", "POST", "/v1/teams/{team}/integrations/ad_connections/{conn}/user_sync_task_settings", []string{
		`{"name":"u","base_dn":"OU=Admins,DC=corp,DC=example,DC=com","ldap_query_filter":"(objectClass=user)","frequency":12,"start_hour_utc":1,"sid_field":"objectSid","upn_field":"userPrincipalName","is_active":true,"rule_assignments":[]}`}},
	{"UserSyncState", "all", "PUT", "/v1/teams/{team}/integrations/ad_connections/{conn}/user_sync_task_settings/{user_job}/state", []string{
		`{"is_active":false}`}},
	{"RuleCreate", "all", "POST", "/v1/teams/{team}/resource_assignment/active_directory/{conn}/rules", []string{
		`{"name":"r","rule_type":"SHARED","organizational_units":["OU=Users,DC=corp,DC=example,DC=com"],"resource_group":{"id":"{rg}"},"project":{"id":"{shared_project}"}}`,
		`{"name":"r2","rule_type":"INDIVIDUAL","organizational_units":[],"enhanced_filters":[[{"attribute":"sAMAccountName","operator":"STARTS WITH","value":"a"}]]}`}},
	{"RuleUpdate", "all", "PUT", "/v1/teams/{team}/resource_assignment/active_directory/{conn}/rules/{rule}", []string{
		`{"name":"renamed","rule_type":"SHARED","organizational_units":["OU=ServiceAccounts,DC=corp,DC=example,DC=com"],"resource_group":{"id":"{rg}"},"project":{"id":"{shared_project}"}}`}},
	{"Reorder", "all", "POST", "/v1/teams/{team}/resource_assignment/active_directory/{conn}/rules/reorder", []string{
		`[{"rule_id":"{rule}","priority":1}]`, `[]`, `[{"rule_id":"x","priority":-9223372036854775808}]`}},
	{"RuleSettings", "all", "PUT", "/v1/teams/{team}/resource_assignment/active_directory/{conn}/rule_settings", []string{
		`{"matching_criteria":{"username":true,"first_and_last_name":false,"display_name":false,"email":false},"allow_partial_matches":true,"partial_matching_criteria":[{"operator":"STARTS WITH","match_value":"adm"}]}`}},
	{"Match", "all", "PUT", "/v1/teams/{team}/resource_assignment/active_directory/{conn}/accounts/{account}/match", []string{
		`{"match_override_user_id":"{user}"}`, `{"force_no_match":true}`}},
	{"Reveal", "end_user", "POST", "/v1/teams/{team}/active_directory/{conn}/accounts/{account}/reveal_credentials", []string{
		`{"public_key":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},"user_access_method":{}}`,
		`{"public_key":"x"}`}},
	{"Rotate", "end_user", "POST", "/v1/teams/{team}/active_directory/{conn}/accounts/{account}/rotate_password", []string{
		`{"user_access_method":{"identity":"x"}}`}},
	{"CheckinSelf", "end_user", "POST", "/v1/teams/{team}/checkin_resource", []string{
		`{"resource_id":"{account}","resource_type":"active_directory_account"}`}},
	{"CheckinAdmin", "all", "POST", "/v1/teams/{team}/resource_groups/{rg}/projects/{project}/checkin_resource", []string{
		`{"resource_id":"{account}","resource_type":"active_directory_account"}`}},
	{"RotateResource", "all", "POST", "/v1/teams/{team}/resource_groups/{rg}/projects/{project}/rotate_resource", []string{
		`{"resource_id":"{account}","resource_type":"active_directory_account"}`}},
	{"GroupCreate", "all", "POST", "/v1/teams/{team}/groups", []string{
		`{"name":"fuzz-group","roles":["end_user"]}`, `{"name":"g","roles":null}`, `{"name":"g","roles":["delegated_resource_admin"]}`}},
	{"GroupUpdate", "all", "PUT", "/v1/teams/{team}/groups/{group_name}", []string{
		`{"roles":["end_user"]}`, `{"roles":[]}`, `{}`}},
	{"GroupAddUser", "all", "POST", "/v1/teams/{team}/groups/{group_name}/users", []string{
		`{"name":"jane.doe"}`, `{"name":""}`}},
	{"ServiceUserCreate", "all", "POST", "/v1/teams/{team}/service_users", []string{
		`{"name":"fuzz-svc"}`, `{"name":"a/b"}`}},
	{"ServiceUserUpdate", "all", "PUT", "/v1/teams/{team}/service_users/{user_name}", []string{
		`{"name":"resource-bot","status":"ACTIVE"}`, `{"id":null,"name":"resource-bot","team_name":null,"status":"DISABLED","user_type":null}`}},
	{"UserUpdate", "all", "PUT", "/v1/teams/{team}/users/{user_name}", []string{
		`{"name":"resource-bot","status":"ACTIVE"}`, `{"status":"DELETED"}`}},
	{"ServerCheckoutSettings", "all", "PUT", "/v1/teams/{team}/resource_groups/{rg}/projects/{project}/server_checkout_settings", []string{
		`{"checkout_required":true,"checkout_duration_in_seconds":3600,"include_list":["vaulted_account_1"],"exclude_list":[]}`,
		`{"checkout_required":false,"checkout_duration_in_seconds":900,"include_list":["a"],"exclude_list":["b"]}`}},
	{"ServerPasswordSettings", "all", "PUT", "/v1/teams/{team}/resource_groups/{rg}/projects/{project}/server_password_settings", []string{
		`{"enable_periodic_rotation":true,"periodic_rotation_duration_in_seconds":3600,"min_length_in_bytes":12,"max_length_in_bytes":16,"character_options":{"upper_case":true,"lower_case":true,"digits":true,"punctuation":true},"managed_privileged_accounts_config":["root","pamadmin"]}`,
		`{"enable_periodic_rotation":false,"min_length_in_bytes":8,"max_length_in_bytes":64,"managed_privileged_accounts_config":[],"character_options":{"upper_case":true}}`}},
	{"CertificateCreate", "all", "POST", "/v1/teams/{team}/certificates/json", certificateSeeds},
	{"CertificateUpdate", "all", "PUT", "/v1/teams/{team}/certificates/{certificate}", []string{`{"display_name":"renamed"}`, `{"display_name":null}`}},
	{"SudoBundleCreate", "all", "POST", "/v1/teams/{team}/sudo_command_bundles", sudoBundleSeeds},
	{"SudoBundleUpdate", "all", "PUT", "/v1/teams/{team}/sudo_command_bundles/{bundle}", sudoBundleSeeds},
	{"PolicyCreate", "all", "POST", "/v1/teams/{team}/security_policy", policySeeds},
	{"PolicyUpdate", "all", "PUT", "/v1/teams/{team}/security_policy/{policy}", policySeeds},
	{"ASAProjectCreate", "all", "POST", "/v1/teams/{team}/projects", []string{
		`{"name":"fuzz-proj","next_unix_gid":63020,"next_unix_uid":60120,"create_server_users":true,"forward_traffic":true,"gateway_selector":"env=test","ssh_certificate_type":"CERT_TYPE_ED25519_01"}`,
		`{"name":"p","user_on_demand_period":-1}`}},
	{"ASAProjectUpdate", "all", "PUT", "/v1/teams/{team}/projects/{project_name}", []string{
		`{"next_unix_uid":61200,"rdp_session_recording":true,"gateway_selector":""}`, `{"ssh_certificate_type":"x"}`}},
	{"ProjectGroupAssign", "all", "POST", "/v1/teams/{team}/projects/{project_name}/groups", []string{
		`{"id":null,"_":"asa-servers","group":"engineers","create_server_group":false,"server_access":true,"server_admin":true,"servers_selector":""}`}},
	{"ProjectGroupUpdate", "all", "PUT", "/v1/teams/{team}/projects/{project_name}/groups/{group_name}", []string{
		`{"id":null,"_":"asa-servers","group":"engineers","create_server_group":true,"server_access":true,"server_admin":false,"servers_selector":"env=prod"}`}},
	{"GatewayUpdate", "all", "PUT", "/v1/teams/{team}/gateways/{gateway}", []string{
		`{"labels":{"env":"prod","site":"corp"}}`, `{"labels":null,"infrastructure_orchestrator":null}`, `{"labels":{"a=b":"c"}}`,
		`{"infrastructure_orchestrator":{"id":"x","name":"o"}}`}},
	{"SetupTokenCreate", "all", "POST", "/v1/teams/{team}/gateway_setup_tokens", []string{
		`{"description":"Acceptance Test Setup Token: x","registration_type":"gateway-agent","details":{"labels":{"key-a":"value-a"}}}`,
		`{"id":"","name":"sdk","description":null,"details":{"Type":"gateway-agent","labels":{}},"registration_type":"gateway-agent"}`,
		`{"description":"d","details":{"labels":{"a=b":"c"}}}`, `{"details":{"infrastructure_orchestrator":{"id":"x"}}}`}},
	{"ResourceGroupCreate", "all", "POST", "/v1/teams/{team}/resource_groups", []string{
		`{"name":"fuzz-rg","description":null,"delegated_resource_admin_groups":[]}`,
		`{"name":"fuzz-rg2","description":"d","delegated_resource_admin_groups":[{"id":"{group}","type":"user_group"}]}`,
		`{"name":"x","delegated_resource_admin_groups":[{"id":null}]}`}},
	{"ResourceGroupUpdate", "all", "PUT", "/v1/teams/{team}/resource_groups/{rg}", []string{
		`{"name":"infra","description":"Infrastructure accounts","delegated_resource_admin_groups":[]}`,
		`{"name":"infra","description":null,"delegated_resource_admin_groups":[{"id":"{group}","type":"user_group"},{"id":"{group}","type":"user_group"}]}`}},
	{"RGProjectCreate", "all", "POST", "/v1/teams/{team}/resource_groups/{rg}/projects", []string{
		`{"name":"fuzz-p","resource_group_id":"{rg}","ssh_certificate_type":"CERT_TYPE_ED25519_01"}`,
		`{"name":"fuzz-q","gateway_selector":"env=test","server_account_management":true,"ssh_certificate_type":"CERT_TYPE_RSA_01"}`}},
	{"RGProjectUpdate", "all", "PUT", "/v1/teams/{team}/resource_groups/{rg}/projects/{project}", []string{
		`{"gateway_selector":"env=prod","server_account_management":true}`, `{"gateway_selector":""}`, `{"name":"renamed"}`}},
	{"GroupModify", "00demo-okta-api-token-change-me", "POST", "/api/v1/directories/{app_instance}/groups/modify", []string{
		`{"id":"a1","actionType":"ADD_MEMBERS","data":{"groupId":"x","members":["CN=x"]}}`, `{"actionType":"REMOVE_MEMBERS"}`}},
}

// sampleSeeds are request samples of the API reference (seed_samples_test.go) added to a route's
// seeds.
var sampleSeeds = map[string][]string{
	"ConnectionCreate":   {"001 create connection request"},
	"ConnectionUpdate":   {"001 create connection request"},
	"ConnectionStatus":   {"000 update status request"},
	"ServerSyncJob":      {"001 server job request"},
	"ServerSyncSchedule": {"001 schedule request"},
	"UserSyncJob":        {"001 user job request"},
	"UserSyncState":      {"001 user state request"},
}

// generic seeds added to every route's corpus.
var genericSeeds = []string{"", "null", "{}", "[]", `"`, "{", strings.Repeat("[", 1000), `{"a":` + strings.Repeat(`{"a":`, 200), "\x00\xff", `{"count":1e309}`}

// reachesDirectory lists the routes that may talk to the connection's directory (rotations, also
// after a check-in or for a first reveal). Earlier inputs of a fuzz run share the server and can
// legitimately make the directory unreachable (a ConnectionUpdate to another domain or service
// account), after which these routes answer 503 service_offline, the documented class for "no
// connected agents" (see opa.RotateADAccountPassword), and record the failed rotation.
var reachesDirectory = map[string]bool{"Reveal": true, "Rotate": true, "CheckinSelf": true, "CheckinAdmin": true, "RotateResource": true}

// checkBody sends body to the route and fails on a 5xx (a panic fails the fuzz run by itself)
// other than an unreachable directory's 503 on a route that reaches it, and on a 4xx that changed
// stored state.
func (h *hostile) checkBody(t *testing.T, rt bodyRoute, body []byte) {
	before := h.fingerprint()
	rec := h.serve(rt.role, rt.method, h.path(rt.path), body)
	if rec.Code == http.StatusServiceUnavailable && reachesDirectory[rt.name] && bytes.Contains(rec.Body.Bytes(), []byte(`"service_offline"`)) {
		return
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %s with %q: status %d: %s", rt.method, rt.path, body, rec.Code, rec.Body.Bytes())
	}
	if rec.Code >= 400 {
		if after := h.fingerprint(); after != before {
			t.Fatalf("%s %s with %q: status %d but stored state changed", rt.method, rt.path, body, rec.Code)
		}
	}
}

func fuzzRoute(f *testing.F, name string) {
	var rt bodyRoute
	for _, r := range bodyRoutes {
		if r.name == name {
			rt = r
		}
	}
	if rt.name == "" {
		f.Fatalf("no route %s", name)
	}
	h := newHostile(f)
	for _, s := range append(append([]string{}, rt.seeds...), genericSeeds...) {
		f.Add([]byte(h.path(s)))
	}
	for _, k := range sampleSeeds[rt.name] {
		f.Add([]byte(seedSamples[k]))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h.checkBody(t, rt, body)
	})
}

func FuzzServiceToken(f *testing.F)       { fuzzRoute(f, "ServiceToken") }
func FuzzConnectionCreate(f *testing.F)   { fuzzRoute(f, "ConnectionCreate") }
func FuzzConnectionUpdate(f *testing.F)   { fuzzRoute(f, "ConnectionUpdate") }
func FuzzConnectionStatus(f *testing.F)   { fuzzRoute(f, "ConnectionStatus") }
func FuzzServerSyncJob(f *testing.F)      { fuzzRoute(f, "ServerSyncJob") }
func FuzzServerSyncSchedule(f *testing.F) { fuzzRoute(f, "ServerSyncSchedule") }
func FuzzUserSyncJob(f *testing.F)        { fuzzRoute(f, "UserSyncJob") }
func FuzzUserSyncState(f *testing.F)      { fuzzRoute(f, "UserSyncState") }
func FuzzRuleCreate(f *testing.F)         { fuzzRoute(f, "RuleCreate") }
func FuzzRuleUpdate(f *testing.F)         { fuzzRoute(f, "RuleUpdate") }
func FuzzReorder(f *testing.F)            { fuzzRoute(f, "Reorder") }
func FuzzRuleSettings(f *testing.F)       { fuzzRoute(f, "RuleSettings") }
func FuzzMatch(f *testing.F)              { fuzzRoute(f, "Match") }
func FuzzReveal(f *testing.F)             { fuzzRoute(f, "Reveal") }
func FuzzRotate(f *testing.F)             { fuzzRoute(f, "Rotate") }
func FuzzCheckinSelf(f *testing.F)        { fuzzRoute(f, "CheckinSelf") }
func FuzzCheckinAdmin(f *testing.F)       { fuzzRoute(f, "CheckinAdmin") }
func FuzzRotateResource(f *testing.F)     { fuzzRoute(f, "RotateResource") }
func FuzzGroupModify(f *testing.F)        { fuzzRoute(f, "GroupModify") }
func FuzzGroupCreate(f *testing.F)        { fuzzRoute(f, "GroupCreate") }
func FuzzGroupUpdate(f *testing.F)        { fuzzRoute(f, "GroupUpdate") }
func FuzzGroupAddUser(f *testing.F)       { fuzzRoute(f, "GroupAddUser") }
func FuzzServiceUserCreate(f *testing.F)  { fuzzRoute(f, "ServiceUserCreate") }
func FuzzServiceUserUpdate(f *testing.F)  { fuzzRoute(f, "ServiceUserUpdate") }
func FuzzUserUpdate(f *testing.F)         { fuzzRoute(f, "UserUpdate") }
func FuzzPolicyCreate(f *testing.F)       { fuzzRoute(f, "PolicyCreate") }
func FuzzPolicyUpdate(f *testing.F)       { fuzzRoute(f, "PolicyUpdate") }
func FuzzASAProjectCreate(f *testing.F)   { fuzzRoute(f, "ASAProjectCreate") }
func FuzzASAProjectUpdate(f *testing.F)   { fuzzRoute(f, "ASAProjectUpdate") }
func FuzzProjectGroupAssign(f *testing.F) { fuzzRoute(f, "ProjectGroupAssign") }
func FuzzProjectGroupUpdate(f *testing.F) { fuzzRoute(f, "ProjectGroupUpdate") }
func FuzzSetupTokenCreate(f *testing.F)   { fuzzRoute(f, "SetupTokenCreate") }
func FuzzGatewayUpdate(f *testing.F)      { fuzzRoute(f, "GatewayUpdate") }

// FuzzPathID puts arbitrary bytes in every id position of a GET and a DELETE route: never a 5xx,
// never a panic, and a 4xx changes nothing.
func FuzzPathID(f *testing.F) {
	h := newHostile(f)
	for _, s := range []string{"..%2f..%2fetc%2fpasswd", "%00", "%2e%2e", strings.Repeat("a", 10000), "\u202e", "%ff%fe", h.ids["conn"], "x/y", "%25"} {
		f.Add(s)
	}
	templates := []string{
		"/v1/teams/demo/integrations/ad_connections/%s",
		"/v1/teams/demo/resource_assignment/active_directory/%s/accounts/%s",
		"/v1/teams/demo/active_directory/%s/accounts/%s/user_access_methods",
		"/v1/teams/%s/current_user",
		"/v1/teams/demo/groups/%s",
		"/v1/teams/demo/groups/engineers/users/%s",
		"/v1/teams/demo/service_users/%s/keys/%s",
		"/v1/teams/demo/users/%s",
		"/v1/teams/demo/security_policy/%s",
		"/v1/teams/demo/projects/%s",
		"/v1/teams/demo/projects/%s/groups/%s",
		"/v1/teams/demo/gateways/%s",
		"/v1/teams/demo/gateways/%s/status",
		"/v1/teams/demo/gateway_setup_tokens/%s",
		"/v1/teams/demo/gateway_setup_tokens/%s/token",
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, tmpl := range templates {
			p := strings.ReplaceAll(tmpl, "%s", id)
			for _, m := range []string{"GET", "DELETE"} {
				req, err := http.NewRequest(m, "http://opa.test"+p, nil)
				if err != nil {
					continue // not a URL a client could send
				}
				before := h.fingerprint()
				req.Header.Set("Authorization", "Bearer "+h.tokens["all"])
				rec := httptest.NewRecorder()
				h.srv.Handler.ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("%s %q: %d %s", m, p, rec.Code, rec.Body.Bytes())
				}
				if rec.Code >= 400 && h.fingerprint() != before {
					t.Fatalf("%s %q: %d but state changed", m, p, rec.Code)
				}
			}
		}
	})
}

// FuzzAllBodies fuzzes every body route in one target (the route chosen by the first input), so
// that a short CI budget goes to mutation rather than to per-target start-up.
func FuzzAllBodies(f *testing.F) {
	h := newHostile(f)
	for i, rt := range bodyRoutes {
		for _, s := range rt.seeds {
			f.Add(uint8(i), []byte(h.path(s)))
		}
		for _, k := range sampleSeeds[rt.name] {
			f.Add(uint8(i), []byte(seedSamples[k]))
		}
	}
	for _, s := range genericSeeds {
		f.Add(uint8(0), []byte(s))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		h.checkBody(t, bodyRoutes[int(route)%len(bodyRoutes)], body)
	})
}
