package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
)

const (
	testServerID = "7d7f2456-e670-4d80-9e13-0d2f7557aaea"
	testFolderID = "2c3d4e5f-6071-4829-9bac-1d2e3f4a5b6c"
)

// jsonOf decodes b into generic JSON values.
func jsonOf(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// v1PolicyBody is what the provider's v1 client (oktapam/client/security_policy.go) sends: no
// "_type" anywhere, null rule ids, null conditions on the second rule.
func v1PolicyBody(group, bundle string) string {
	return `{"name":"pol","description":"d","active":true,
 "principals":{"user_groups":[{"id":"` + group + `","type":"user_group"}]},
 "rules":[{"id":null,"security_policy_id":null,"name":"first rule","resource_type":"server_based_resource",
   "resource_selector":{"selectors":[
     {"selector_type":"individual_server","selector":{"server":{"id":"` + testServerID + `","type":"server"}}},
     {"selector_type":"server_label","selector":{"server_selector":{"labels":{"system.os_type":"linux"}},
        "account_selector_type":"username","account_selector":{"usernames":["root","pamadmin"]}}}]},
   "privileges":[
     {"privilege_type":"password_checkout_ssh","privilege_value":{"password_checkout_ssh":true}},
     {"privilege_type":"principal_account_ssh","privilege_value":{"principal_account_ssh":true,"admin_level_permissions":false,
        "sudo_display_name":"foo-uam","sudo_command_bundles":[{"id":"` + bundle + `","type":"sudo_command_bundle"}]}}],
   "conditions":[{"condition_type":"access_request","condition_value":{"request_type_id":"abcd","request_type_name":"foo","expires_after_seconds":1200}},
     {"condition_type":"gateway","condition_value":{"traffic_forwarding":true,"session_recording":false}}]},
  {"id":null,"security_policy_id":null,"name":"second rule","resource_type":"secret_based_resource",
   "resource_selector":{"selectors":[{"selector_type":"secret_folder","selector":{"secret_folder":{"id":"` + testFolderID + `","type":"secret_folder"}}}]},
   "privileges":[{"privilege_type":"secret","privilege_value":{"list":true,"folder_create":false,"folder_update":false,"folder_delete":false,
     "secret_create":true,"secret_update":false,"secret_reveal":false,"secret_delete":false}}],
   "conditions":null}]}`
}

// v1PolicyWant is the GET answer to v1PolicyBody: every polymorphic object carries "_type", the
// rules carry the policy id and no rule id, admin_level_permissions (false) is omitted, names are
// resolved.
func v1PolicyWant(id, group, bundle string) string {
	return `{"id":"` + id + `","name":"pol","description":"d","active":true,
 "principals":{"user_groups":[{"id":"` + group + `","name":"engineers","type":"user_group","missing":false}]},
 "rules":[{"security_policy_id":"` + id + `","name":"first rule","resource_type":"server_based_resource",
   "resource_selector":{"_type":"server_based_resource","selectors":[
     {"selector_type":"individual_server","selector":{"_type":"individual_server","server":{"id":"` + testServerID + `","type":"server","missing":false}}},
     {"selector_type":"server_label","selector":{"_type":"server_label","server_selector":{"labels":{"system.os_type":"linux"}},
        "account_selector_type":"username","account_selector":{"_type":"username","usernames":["root","pamadmin"]}}}]},
   "privileges":[
     {"privilege_type":"password_checkout_ssh","privilege_value":{"_type":"password_checkout_ssh","password_checkout_ssh":true}},
     {"privilege_type":"principal_account_ssh","privilege_value":{"_type":"principal_account_ssh","principal_account_ssh":true,
        "sudo_display_name":"foo-uam","sudo_command_bundles":[{"id":"` + bundle + `","name":"restart-web","type":"sudo_command_bundle","missing":false}]}}],
   "conditions":[{"condition_type":"access_request","condition_value":{"_type":"access_request","request_type_id":"abcd","request_type_name":"foo","expires_after_seconds":1200}},
     {"condition_type":"gateway","condition_value":{"_type":"gateway","traffic_forwarding":true,"session_recording":false}}]},
  {"security_policy_id":"` + id + `","name":"second rule","resource_type":"secret_based_resource",
   "resource_selector":{"_type":"secret_based_resource","selectors":[{"selector_type":"secret_folder","selector":{"_type":"secret_folder","secret_folder":{"id":"` + testFolderID + `","type":"secret_folder","missing":false}}}]},
   "privileges":[{"privilege_type":"secret","privilege_value":{"_type":"secret","list":true,"folder_create":false,"folder_update":false,"folder_delete":false,
     "secret_create":true,"secret_update":false,"secret_reveal":false,"secret_delete":false}}]}]}`
}

// TestSecurityPolicyV1 drives the v1 client's create, read, update, list and delete: 200 with the
// policy on create, 204 on update and delete, the stored form read back with "_type" tags, and a
// hard delete (404 afterwards, gone from the list).
func TestSecurityPolicyV1(t *testing.T) {
	e := newEnv(t)
	group := e.srv.Loaded().Team("demo").GroupIDs["engineers"]
	bundle := e.srv.Loaded().Team("demo").SudoBundles["restart-web"]
	var created struct {
		ID    string           `json:"id"`
		Rules []map[string]any `json:"rules"`
	}
	e.must(200, "security", "POST", "/security_policy", v1PolicyBody(group, bundle)).json(t, &created)
	if created.ID == "" || len(created.Rules) != 2 {
		t.Fatalf("create answered %+v", created)
	}
	for _, r := range created.Rules {
		if _, ok := r["id"]; ok {
			t.Fatalf("create answered a rule id: %v", r)
		}
	}
	got := e.must(200, "security", "GET", "/security_policy/"+created.ID, nil)
	want := v1PolicyWant(created.ID, group, bundle)
	if d := cmp.Diff(jsonOf(t, []byte(want)), jsonOf(t, got.body)); d != "" {
		t.Fatalf("GET (-want +got):\n%s", d)
	}
	// The engine keeps rule ids (user access methods name them), only the wire omits them.
	team, err := e.srv.Engine().Team(t.Context(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	sys := opa.SystemPrincipal(team)
	stored, err := e.srv.Engine().SecurityPolicy(t.Context(), sys, created.ID)
	if err != nil || len(stored.Rules) != 2 || stored.Rules[0].ID == "" {
		t.Fatalf("stored policy %+v, %v", stored, err)
	}

	// A full replacement: one rule, no conditions; the rule keeps its id (same name).
	upd := strings.Replace(v1PolicyBody(group, bundle), `"active":true`, `"active":false`, 1)
	upd, _, ok := strings.Cut(upd, `,
  {"id":null,"security_policy_id":null,"name":"second rule"`)
	if !ok {
		t.Fatal("no second rule in the v1 body")
	}
	upd += "]}"
	if r := e.do("security", "PUT", "/security_policy/"+created.ID, upd); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	var after map[string]any
	e.must(200, "security", "GET", "/security_policy/"+created.ID, nil).json(t, &after)
	rules := after["rules"].([]any)
	if after["active"] != false || len(rules) != 1 {
		t.Fatalf("after PUT: %v", after)
	}
	if kept, err := e.srv.Engine().SecurityPolicy(t.Context(), sys, created.ID); err != nil || len(kept.Rules) != 1 || kept.Rules[0].ID != stored.Rules[0].ID {
		t.Fatalf("after PUT the rule id is not kept: %+v, %v", kept, err)
	}

	var listed struct {
		List []map[string]any `json:"list"`
	}
	r := e.must(200, "security", "GET", "/security_policy", nil)
	r.json(t, &listed)
	if len(listed.List) != 2 || r.header.Get("Link") != "" {
		t.Fatalf("list: %d policies, Link %q", len(listed.List), r.header.Get("Link"))
	}
	e.must(200, "security", "GET", "/security_policy?contains=POL", nil).json(t, &listed)
	if len(listed.List) != 1 || listed.List[0]["id"] != created.ID {
		t.Fatalf("contains=POL: %v", listed.List)
	}

	if r := e.do("security", "DELETE", "/security_policy/"+created.ID, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	e.must(404, "security", "GET", "/security_policy/"+created.ID, nil)
	e.must(404, "security", "DELETE", "/security_policy/"+created.ID, nil)
	e.must(200, "security", "GET", "/security_policy?contains=pol", nil).json(t, &listed)
	if len(listed.List) != 0 {
		t.Fatalf("the deleted policy is still listed: %v", listed.List)
	}
}

// TestSecurityPolicyV2 sends what the SDK (the provider's v2 resource) sends, with "_type" on
// every polymorphic object, no rule ids and type default, and reads back exactly that plus ids.
func TestSecurityPolicyV2(t *testing.T) {
	e := newEnv(t)
	group := e.srv.Loaded().Team("demo").GroupIDs["engineers"]
	rule := `{"name":"r","resource_type":"server_based_resource",
   "resource_selector":{"_type":"server_based_resource","selectors":[
     {"selector_type":"server_label","selector":{"_type":"server_label","server_selector":{"labels":{"env":"dev"}},
        "account_selector_type":"username","account_selector":{"_type":"username","usernames":["pamadmin"]}}},
     {"selector_type":"individual_server","selector":{"_type":"individual_server","server":{"id":"` + testServerID + `"}}}]},
   "privileges":[{"privilege_type":"password_checkout_ssh","privilege_value":{"_type":"password_checkout_ssh","password_checkout_ssh":true}},
     {"privilege_type":"principal_account_ssh","privilege_value":{"_type":"principal_account_ssh","principal_account_ssh":true,"admin_level_permissions":false}}],
   "override_checkout_duration_in_seconds":3600}`
	body := `{"name":"v2","type":"default","active":true,"principals":{"user_groups":[{"id":"` + group + `"}]},"rules":[` + rule + `]}`
	var created map[string]any
	e.must(200, "security", "POST", "/security_policy", body).json(t, &created)
	var got map[string]any
	e.must(200, "security", "GET", "/security_policy/"+created["id"].(string), nil).json(t, &got)
	if got["type"] != "default" || got["description"] != nil || got["resource_group"] != nil {
		t.Fatalf("policy fields: %v", got)
	}
	r := got["rules"].([]any)[0].(map[string]any)
	sels := r["resource_selector"].(map[string]any)["selectors"].([]any)
	first := sels[0].(map[string]any)["selector"].(map[string]any)
	if first["_type"] != "server_label" || first["account_selector"].(map[string]any)["_type"] != "username" ||
		sels[1].(map[string]any)["selector"].(map[string]any)["_type"] != "individual_server" {
		t.Fatalf("selectors: %v", sels)
	}
	privs := r["privileges"].([]any)
	ssh := privs[1].(map[string]any)["privilege_value"].(map[string]any)
	if _, ok := ssh["admin_level_permissions"]; ok || ssh["_type"] != "principal_account_ssh" || r["override_checkout_duration_in_seconds"] != float64(3600) {
		t.Fatalf("privileges %v, override %v", privs, r["override_checkout_duration_in_seconds"])
	}
	if _, ok := r["conditions"]; ok {
		t.Fatalf("a rule without conditions carries %v", r["conditions"])
	}
}

// TestSecurityPolicyADAndUDSelectors: the SDK's active_directory selector (shared accounts by
// domain and by SID, own individual accounts by domain) and the UD individual_okta_account
// selector are stored as the engine's selection and read back as sent.
func TestSecurityPolicyADAndUDSelectors(t *testing.T) {
	e := newEnv(t)
	lt := e.srv.Loaded().Team("demo")
	var accts struct {
		List []struct {
			ID  string `json:"id"`
			SID string `json:"sid"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", "/resource_assignment/active_directory/"+e.connID()+"/accounts", nil).json(t, &accts)
	var uds struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", "/all_okta_universal_directory_accounts", nil).json(t, &uds)
	if len(accts.List) == 0 || len(uds.List) == 0 {
		t.Fatal("the demo has no AD or UD accounts")
	}
	sid := accts.List[0].SID
	mfa := `[{"condition_type":"mfa","condition_value":{"_type":"mfa","re_auth_frequency_in_seconds":300,"acr_values":"urn:okta:loa:2fa:any"}}]`
	rules := []string{
		`{"name":"shared","resource_type":"active_directory_based_resource","resource_selector":{"_type":"active_directory_based_resource","selectors":[
		  {"selector_type":"active_directory","selector":{"_type":"active_directory","shared_accounts":{"by_domain":["corp.example.com"],
		   "specific_accounts":[{"domain":"corp.example.com","account_sid":"` + sid + `"}]}}}]},
		 "privileges":[{"privilege_type":"reveal_password","privilege_value":{"_type":"reveal_password","reveal_password":true}}],"conditions":` + mfa + `}`,
		`{"name":"own","resource_type":"active_directory_based_resource","resource_selector":{"_type":"active_directory_based_resource","selectors":[
		  {"selector_type":"active_directory","selector":{"_type":"active_directory","individual_accounts":{"by_domain":["corp.example.com"]}}}]},
		 "privileges":[{"privilege_type":"password_checkout_rdp","privilege_value":{"_type":"password_checkout_rdp","password_checkout_rdp":true}}]}`,
		`{"name":"ud","resource_type":"okta_app_based_resource","resource_selector":{"_type":"okta_app_based_resource","selectors":[
		  {"selector_type":"individual_okta_account","selector":{"_type":"individual_okta_account","service_account":{"id":"` + uds.List[0].ID + `"}}}]},
		 "privileges":[{"privilege_type":"reveal_password","privilege_value":{"_type":"reveal_password","reveal_password":true}}]}`,
	}
	body := `{"name":"ad","active":true,"principals":{"user_groups":[{"id":"` + lt.GroupIDs["engineers"] + `"}]},"resource_group":{"id":"` + e.rgID() + `"},"rules":[` + strings.Join(rules, ",") + `]}`
	var created map[string]any
	e.must(200, "security", "POST", "/security_policy", body).json(t, &created)
	var got map[string]any
	e.must(200, "security", "GET", "/security_policy/"+created["id"].(string), nil).json(t, &got)
	if rg := got["resource_group"].(map[string]any); rg["id"] != e.rgID() || rg["name"] != "infra" {
		t.Fatalf("resource_group: %v", rg)
	}
	sel := func(i int) map[string]any {
		r := got["rules"].([]any)[i].(map[string]any)
		return r["resource_selector"].(map[string]any)["selectors"].([]any)[0].(map[string]any)["selector"].(map[string]any)
	}
	shared := sel(0)["shared_accounts"].(map[string]any)
	spec := shared["specific_accounts"].([]any)[0].(map[string]any)
	if d := cmp.Diff([]any{"corp.example.com"}, shared["by_domain"]); d != "" || spec["account_sid"] != sid || spec["domain"] != "corp.example.com" {
		t.Fatalf("shared_accounts: %v", shared)
	}
	if d := cmp.Diff(map[string]any{"_type": "active_directory", "individual_accounts": map[string]any{"by_domain": []any{"corp.example.com"}}}, sel(1)); d != "" {
		t.Fatalf("own accounts selector (-want +got):\n%s", d)
	}
	if sa := sel(2)["service_account"].(map[string]any); sa["id"] != uds.List[0].ID || sel(2)["_type"] != "individual_okta_account" {
		t.Fatalf("UD selector: %v", sel(2))
	}
	cond := got["rules"].([]any)[0].(map[string]any)["conditions"].([]any)[0].(map[string]any)["condition_value"].(map[string]any)
	if d := cmp.Diff(map[string]any{"_type": "mfa", "re_auth_frequency_in_seconds": float64(300), "acr_values": "urn:okta:loa:2fa:any"}, cond); d != "" {
		t.Fatalf("mfa condition (-want +got):\n%s", d)
	}
}

// TestSecurityPolicyFromHTTPGrantsLikeFixture: the demo fixture's policy, read over HTTP, deleted
// (the end user then sees nothing) and created again from what was read, gives the end user the
// same access methods, and a checkout through the new policy works (reveal, then the checkout is
// listed).
func TestSecurityPolicyFromHTTPGrantsLikeFixture(t *testing.T) {
	e := newEnv(t)
	acct := e.endUserAccountID("svc-sql")
	eu := "/active_directory/" + e.connID() + "/accounts/" + acct
	type uam = map[string]any
	uams := func() []uam {
		var out struct {
			List []uam `json:"list"`
		}
		e.must(200, "end_user", "GET", eu+"/user_access_methods", nil).json(t, &out)
		for _, m := range out.List {
			delete(m, "rule_ids") // new rule ids
		}
		return out.List
	}
	before := uams()
	if len(before) == 0 {
		t.Fatal("the fixture's policy grants the end user nothing on svc-sql")
	}
	var listed struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "security", "GET", "/security_policy?contains=engineers", nil).json(t, &listed)
	if len(listed.List) != 1 {
		t.Fatalf("the demo policy: %v", listed.List)
	}
	fromFixture := listed.List[0]
	id := fromFixture["id"].(string)
	e.must(204, "security", "DELETE", "/security_policy/"+id, nil)
	e.must(404, "end_user", "GET", eu+"/user_access_methods", nil)

	delete(fromFixture, "id")
	var created map[string]any
	e.must(200, "security", "POST", "/security_policy", fromFixture).json(t, &created)
	if d := cmp.Diff(before, uams()); d != "" {
		t.Fatalf("access methods through the HTTP-created policy (-fixture +http):\n%s", d)
	}
	// Read back, the new policy is the fixture's (ids aside).
	var again map[string]any
	e.must(200, "security", "GET", "/security_policy/"+created["id"].(string), nil).json(t, &again)
	strip := func(v map[string]any) {
		delete(v, "id")
		for _, r := range v["rules"].([]any) {
			delete(r.(map[string]any), "id")
			delete(r.(map[string]any), "security_policy_id")
		}
	}
	strip(fromFixture)
	strip(again)
	if d := cmp.Diff(fromFixture, again); d != "" {
		t.Fatalf("read back (-fixture +http):\n%s", d)
	}

	// A checkout through the new policy: the rule requires one (checkout_required, 3600 s).
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicJWK()
	var m uam
	var out struct {
		List []uam `json:"list"`
	}
	e.must(200, "end_user", "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil).json(t, &out)
	for _, c := range out.List {
		if c["checkout_requirements"].(map[string]any)["required"] == true {
			m = c
		}
	}
	if m == nil {
		t.Fatalf("no access method requiring checkout: %v", out.List)
	}
	e.must(200, "end_user", "POST", eu+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": m})
	var co struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "end_user", "GET", "/checked_out_resources", nil).json(t, &co)
	if len(co.List) != 1 || co.List[0]["resource_id"] != acct {
		t.Fatalf("checked out: %v", co.List)
	}
}

// TestSecurityPolicyErrors: each documented refusal, with its status, and nothing stored.
func TestSecurityPolicyErrors(t *testing.T) {
	e := newEnv(t)
	group := e.srv.Loaded().Team("demo").GroupIDs["engineers"]
	wrap := func(rule string) string {
		return `{"name":"x","active":true,"principals":{"user_groups":[{"id":"` + group + `"}]},"rules":[` + rule + `]}`
	}
	adRule := func(sel, privs, extra string) string {
		return `{"name":"r","resource_type":"active_directory_based_resource","resource_selector":{"selectors":[{"selector_type":"active_directory","selector":` + sel +
			`}]},"privileges":` + privs + extra + `}`
	}
	reveal := `[{"privilege_type":"reveal_password","privilege_value":{"reveal_password":true}}]`
	shared := `{"shared_accounts":{"by_domain":["corp.example.com"]}}`
	tests := []struct {
		name, role, method, path string
		body                     string
		want                     int
	}{
		{"no token", "", "POST", "/security_policy", wrap(adRule(shared, reveal, "")), 401},
		{"resource admin (missing role)", "resource", "POST", "/security_policy", wrap(adRule(shared, reveal, "")), 401},
		{"end user lists (missing role)", "end_user", "GET", "/security_policy", "", 401},
		{"no body", "security", "POST", "/security_policy", "", 400},
		{"malformed", "security", "POST", "/security_policy", `{"name":`, 400},
		{"no name", "security", "POST", "/security_policy", strings.Replace(wrap(adRule(shared, reveal, "")), `"name":"x",`, "", 1), 400},
		{"no principal", "security", "POST", "/security_policy", strings.Replace(wrap(adRule(shared, reveal, "")), group, "", 1), 400},
		{"unknown group", "security", "POST", "/security_policy", strings.Replace(wrap(adRule(shared, reveal, "")), group, "00000000-0000-4000-8000-000000000000", 1), 400},
		{"unknown domain", "security", "POST", "/security_policy", wrap(adRule(`{"shared_accounts":{"by_domain":["nowhere.example"]}}`, reveal, "")), 400},
		{"unknown SID", "security", "POST", "/security_policy", wrap(adRule(`{"shared_accounts":{"specific_accounts":[{"domain":"corp.example.com","account_sid":"S-1-5-21-0"}]}}`, reveal, "")), 400},
		{"individual and shared", "security", "POST", "/security_policy", wrap(adRule(`{"individual_accounts":{},"shared_accounts":{}}`, reveal, "")), 400},
		{"by_matching_names", "security", "POST", "/security_policy", wrap(adRule(`{"shared_accounts":{"by_matching_names":["svc-*"]}}`, reveal, "")), 400},
		{"selects nothing", "security", "POST", "/security_policy", wrap(adRule(`{}`, reveal, "")), 400},
		{"unsupported resource type", "security", "POST", "/security_policy", wrap(`{"name":"r","resource_type":"database_based_resource","resource_selector":{"selectors":[]},"privileges":` + reveal + `}`), 400},
		{"no resource type", "security", "POST", "/security_policy", wrap(`{"name":"r","resource_selector":{"selectors":[]},"privileges":` + reveal + `}`), 400},
		{"wrong selector type", "security", "POST", "/security_policy", wrap(`{"name":"r","resource_type":"server_based_resource","resource_selector":{"selectors":[{"selector_type":"active_directory","selector":{}}]},"privileges":` + reveal + `}`), 400},
		{"unknown privilege", "security", "POST", "/security_policy", wrap(adRule(shared, `[{"privilege_type":"delete_all","privilege_value":{}}]`, "")), 400},
		{"server privilege on AD", "security", "POST", "/security_policy", wrap(adRule(shared, `[{"privilege_type":"principal_account_ssh","privilege_value":{"principal_account_ssh":true}}]`, "")), 400},
		{"no privileges", "security", "POST", "/security_policy", wrap(adRule(shared, `[]`, "")), 400},
		{"privilege value type", "security", "POST", "/security_policy", wrap(adRule(shared, `[{"privilege_type":"reveal_password","privilege_value":{"reveal_password":"yes"}}]`, "")), 400},
		{"unknown condition", "security", "POST", "/security_policy", wrap(adRule(shared, reveal, `,"conditions":[{"condition_type":"moon_phase","condition_value":{}}]`)), 400},
		{"gateway on AD", "security", "POST", "/security_policy", wrap(adRule(shared, reveal, `,"conditions":[{"condition_type":"gateway","condition_value":{"traffic_forwarding":true}}]`)), 400},
		{"bad acr", "security", "POST", "/security_policy", wrap(adRule(shared, reveal, `,"conditions":[{"condition_type":"mfa","condition_value":{"re_auth_frequency_in_seconds":1,"acr_values":"x"}}]`)), 400},
		{"override too short", "security", "POST", "/security_policy", wrap(adRule(shared, reveal, `,"override_checkout_duration_in_seconds":60`)), 400},
		{"bad type", "security", "POST", "/security_policy", strings.Replace(wrap(adRule(shared, reveal, "")), `"active":true`, `"active":true,"type":"magic"`, 1), 400},
		{"unknown resource group", "security", "POST", "/security_policy", strings.Replace(wrap(adRule(shared, reveal, "")), `"active":true`, `"active":true,"resource_group":{"id":"nope"}`, 1), 400},
		{"server id not a UUID", "security", "POST", "/security_policy", wrap(`{"name":"r","resource_type":"server_based_resource","resource_selector":{"selectors":[{"selector_type":"individual_server","selector":{"server":{"id":"x"}}}]},"privileges":[{"privilege_type":"password_checkout_ssh","privilege_value":{"password_checkout_ssh":true}}]}`), 400},
		{"get unknown", "security", "GET", "/security_policy/00000000-0000-4000-8000-000000000000", "", 404},
		{"put unknown", "security", "PUT", "/security_policy/00000000-0000-4000-8000-000000000000", wrap(adRule(shared, reveal, "")), 404},
		{"delete unknown", "security", "DELETE", "/security_policy/00000000-0000-4000-8000-000000000000", "", 404},
	}
	count := func() int {
		var listed struct {
			List []any `json:"list"`
		}
		e.must(200, "security", "GET", "/security_policy", nil).json(t, &listed)
		return len(listed.List)
	}
	n := count()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := e.do(tc.role, tc.method, tc.path, body)
			if r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	if got := count(); got != n {
		t.Fatalf("%d policies after the refusals, %d before", got, n)
	}
	// The good version of the bodies above is accepted.
	e.must(200, "security", "POST", "/security_policy", wrap(adRule(shared, reveal, "")))
}

// policySeeds are security policy bodies for the fuzz targets: the v1 client's, the SDK's with
// "_type" tags and AD, UD and secret selectors, and near misses.
var policySeeds = []string{
	v1PolicyBody("{group}", "{bundle}"),
	`{"name":"ad","type":"default","active":true,"principals":{"user_groups":[{"id":"{group}"}]},"resource_group":{"id":"{rg}"},"rules":[
	 {"name":"shared","resource_type":"active_directory_based_resource","resource_selector":{"_type":"active_directory_based_resource","selectors":[
	  {"selector_type":"active_directory","selector":{"_type":"active_directory","shared_accounts":{"by_domain":["corp.example.com"]},"projects":[{"id":"{shared_project}"}]}}]},
	  "privileges":[{"privilege_type":"reveal_password","privilege_value":{"_type":"reveal_password","reveal_password":true}}],
	  "conditions":[{"condition_type":"mfa","condition_value":{"_type":"mfa","re_auth_frequency_in_seconds":60}},
	   {"condition_type":"access_request","condition_value":{"_type":"access_request","request_type_id":"a","request_type_name":"b","expires_after_seconds":0}}],
	  "override_checkout_duration_in_seconds":900,"checkout_required":true},
	 {"name":"own","resource_type":"active_directory_based_resource","resource_selector":{"selectors":[{"selector_type":"active_directory","selector":{"individual_accounts":{}}}]},
	  "privileges":[{"privilege_type":"password_checkout_rdp","privilege_value":{"password_checkout_rdp":true,"admin_level_permissions":true}}]},
	 {"name":"ud","resource_type":"okta_app_based_resource","resource_selector":{"selectors":[{"selector_type":"okta_universal_directory_project","selector":{"project":{"id":"{shared_project}"}}}]},
	  "privileges":[{"privilege_type":"rotate_password","privilege_value":{"rotate_password":true}}]}]}`,
	`{"name":"x","active":true,"principals":{"user_groups":[{"id":"{group}"}]},"rules":[{"name":"r","resource_type":"active_directory_based_resource",
	  "resource_selector":{"selectors":[{"selector_type":"active_directory","selector":{"individual_accounts":{"by_condition":{"account_name_format":"x","value":"y"}}}}]},
	  "privileges":[{"privilege_type":"reveal_password","privilege_value":null}],"conditions":[{"condition_type":"gateway","condition_value":null}]}]}`,
}

// TestSecurityPolicyChangeChecksInLostAccess (issue 17 A10): the end user holds a checkout of
// svc-sql through the demo policy; the security admin deactivates that policy the way the
// provider updates one (PUT of the whole policy as read back, "active": false), answered 204;
// the end user's checkout is then listed checked in by the system with checkin_type
// system_user_lost_access.
func TestSecurityPolicyChangeChecksInLostAccess(t *testing.T) {
	e := newEnv(t)
	acct := e.endUserAccountID("svc-sql")
	eu := "/active_directory/" + e.connID() + "/accounts/" + acct
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicJWK()
	var uams struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "end_user", "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil).json(t, &uams)
	var m map[string]any
	for _, c := range uams.List {
		if c["checkout_requirements"].(map[string]any)["required"] == true {
			m = c
		}
	}
	if m == nil {
		t.Fatalf("no access method requiring checkout: %v", uams.List)
	}
	e.must(200, "end_user", "POST", eu+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": m})

	var listed struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "security", "GET", "/security_policy?contains=engineers", nil).json(t, &listed)
	if len(listed.List) != 1 {
		t.Fatalf("the demo policy: %v", listed.List)
	}
	pol := listed.List[0]
	pol["active"] = false
	if r := e.do("security", "PUT", "/security_policy/"+pol["id"].(string), pol); r.status != 204 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	var co struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "end_user", "GET", "/checked_out_resources", nil).json(t, &co)
	if len(co.List) != 0 {
		t.Fatalf("still checked out after losing access: %v", co.List)
	}
	e.must(200, "end_user", "GET", "/checked_out_resources?include_pending_checkin=true", nil).json(t, &co)
	if len(co.List) != 1 || co.List[0]["resource_id"] != acct || co.List[0]["checkin_type"] != "system_user_lost_access" ||
		co.List[0]["checkin_by"] != "system" || co.List[0]["checkin_start_at"] == nil {
		t.Fatalf("checked-in list: %v", co.List)
	}
}

// TestUDRulePrivilegeNames: a UD rule's rotation privilege is update_password, the SDK's name on
// service accounts (SecurityPolicyRulePrivilegeTypeForServiceAccounts): sent as update_password
// it reads back so, sent as rotate_password it reads back as update_password; an AD rule
// refuses update_password and a UD rule the checkout privileges.
func TestUDRulePrivilegeNames(t *testing.T) {
	e := newEnv(t)
	lt := e.srv.Loaded().Team("demo")
	group, project := lt.GroupIDs["engineers"], lt.Projects["infra/service-accounts"]
	body := func(typ, selector, priv string) string {
		return `{"name":"ud-` + priv + `-` + typ + `","type":"default","active":true,"principals":{"user_groups":[{"id":"` + group + `"}]},"rules":[
		 {"name":"r","resource_type":"` + typ + `","resource_selector":{"_type":"` + typ + `","selectors":[` + selector + `]},
		  "privileges":[{"privilege_type":"reveal_password","privilege_value":{"_type":"reveal_password","reveal_password":true}},
		   {"privilege_type":"` + priv + `","privilege_value":{"_type":"` + priv + `","` + priv + `":true}}]}]}`
	}
	ud := `{"selector_type":"okta_universal_directory_project","selector":{"_type":"okta_universal_directory_project","project":{"id":"` + project + `"}}}`
	ad := `{"selector_type":"active_directory","selector":{"_type":"active_directory","shared_accounts":{"by_domain":["corp.example.com"]}}}`
	for _, sent := range []string{"update_password", "rotate_password"} {
		var created struct {
			ID string `json:"id"`
		}
		e.must(200, "security", "POST", "/security_policy", body("okta_app_based_resource", ud, sent)).json(t, &created)
		var got struct {
			Rules []struct {
				Privileges []struct {
					PrivilegeType  string         `json:"privilege_type"`
					PrivilegeValue map[string]any `json:"privilege_value"`
				} `json:"privileges"`
			} `json:"rules"`
		}
		e.must(200, "security", "GET", "/security_policy/"+created.ID, nil).json(t, &got)
		p := got.Rules[0].Privileges[1]
		if p.PrivilegeType != "update_password" || p.PrivilegeValue["_type"] != "update_password" || p.PrivilegeValue["update_password"] != true {
			t.Fatalf("sent %s, read back %+v", sent, p)
		}
	}
	e.must(400, "security", "POST", "/security_policy", body("active_directory_based_resource", ad, "update_password"))
	// The SDK's service-account privileges are reveal_password and update_password only: a UD
	// access method for a checkout privilege would decode as Unknown.
	e.must(400, "security", "POST", "/security_policy", body("okta_app_based_resource", ud, "password_checkout_rdp"))
	e.must(200, "security", "POST", "/security_policy", body("active_directory_based_resource", ad, "rotate_password"))
}
