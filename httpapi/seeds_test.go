package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
)

// Known, documented differences between the seed samples and the wire (docs/wire.md#seed-samples):
// the emulator emits what the real clients parse.
var (
	// sampleTypeExceptions: the sample's JSON type differs from what is emitted (key path, with
	// [] for array elements).
	sampleTypeExceptions = map[string]string{
		"start_hour_utc":                        "integer hour, not a date-time",
		"alt_names_attributes":                  "array, not a string",
		"additional_attribute_mapping":          "array of mappings, not one object",
		"rule_assignments":                      "array of assignments, not one object",
		"list[].start_hour_utc":                 "integer hour, not a date-time",
		"list[].alt_names_attributes":           "array, not a string",
		"list[].additional_attribute_mapping":   "array of mappings, not one object",
		"list[].rule_assignments":               "array of assignments, not one object",
		"details.privileges":                    "AD access methods list privileges as an array",
		"list[].details.privileges":             "AD access methods list privileges as an array",
		"user_access_method.details.privileges": "AD access methods list privileges as an array",
	}
	// sampleAbsentOK: fields of a sample that the emulator leaves out, and why.
	sampleAbsentOK = map[string]string{
		"004 account details:last_password_change_error_metadata":         "a UD rotation has no directory to fail against",
		"004 account details:last_password_change_error_report_timestamp": "a UD rotation has no directory to fail against",
		"004 account details:last_password_change_error_system_timestamp": "a UD rotation has no directory to fail against",
		"004 account details:last_password_change_error_type":             "a UD rotation has no directory to fail against",
		"is_guid":                                         "a rendering artifact: is_guid belongs to additional_attribute_mapping items",
		"list[].is_guid":                                  "a rendering artifact: is_guid belongs to additional_attribute_mapping items",
		"details.path":                                    "secret access methods only; AD details are {_type, account_id, privileges}",
		"details.secret_id":                               "secret access methods only",
		"details.secret_name":                             "secret access methods only",
		"server_id":                                       "server access methods only",
		"short_text":                                      "optional text the emulator does not produce",
		"availability_details_text":                       "optional text the emulator does not produce",
		"sudo_command_bundles":                            "server access methods only",
		"conditionals[].access_request_type_id":           "access requests are not emulated",
		"conditionals[].access_request_type_name":         "access requests are not emulated",
		"conditionals[].acr_values":                       "access requests are not emulated",
		"conditionals[].expires_after_seconds":            "access requests are not emulated",
		"recent_task_result.ad_test_request_id":           "set on test-request results only; a scheduled run has none",
		"ad_test_request_id":                              "set on test-request results only; a scheduled run has none",
		"recent_task_result.ad_user_sync_test_request_id": "set on test-request results only; a scheduled run has none",
		"ad_user_sync_test_request_id":                    "set on test-request results only; a scheduled run has none",
		"matched_user":                                    "only INDIVIDUAL accounts matched to a user have one",
	}
)

// shapeDiff lists the fields of sample missing from got or of another JSON type. Object keys
// compare case-insensitively (the seed's LDAP_query_filter / SID_Field / UPN_Field are emitted in
// lower case); array samples compare their first element with every element of got.
// Exceptions may be keyed by "sample name:path".
func shapeDiffIn(sampleName, path string, sample, got any) []string {
	norm := func(p string) string {
		p = strings.TrimPrefix(p, ".")
		for _, pre := range []string{"list[].", "user_access_method."} {
			if q, ok := strings.CutPrefix(p, pre); ok {
				if _, ok := sampleAbsentOK[q]; ok {
					return q
				}
				if _, ok := sampleTypeExceptions[q]; ok {
					return q
				}
			}
		}
		return p
	}
	if sample == nil {
		return nil
	}
	if _, ok := sampleTypeExceptions[norm(path)]; ok {
		return nil
	}
	kind := func(v any) string {
		switch v.(type) {
		case nil:
			return "null"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "boolean"
		case []any:
			return "array"
		case map[string]any:
			return "object"
		}
		return fmt.Sprintf("%T", v)
	}
	if kind(sample) != kind(got) {
		return []string{fmt.Sprintf("%s: %s in the sample, %s in the response", strings.TrimPrefix(path, "."), kind(sample), kind(got))}
	}
	var out []string
	switch s := sample.(type) {
	case map[string]any:
		g := got.(map[string]any)
		lower := map[string]any{}
		for k, v := range g {
			lower[strings.ToLower(k)] = v
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := path + "." + k
			gv, ok := lower[strings.ToLower(k)]
			if !ok {
				_, ok1 := sampleAbsentOK[norm(p)]
				_, ok2 := sampleAbsentOK[sampleName+":"+norm(p)]
				if !ok1 && !ok2 {
					out = append(out, strings.TrimPrefix(p, ".")+": missing")
				}
				continue
			}
			out = append(out, shapeDiffIn(sampleName, p, s[k], gv)...)
		}
	case []any:
		g := got.([]any)
		if len(s) == 0 {
			return nil
		}
		for _, gv := range g {
			out = append(out, shapeDiffIn(sampleName, path+"[]", s[0], gv)...)
		}
	}
	return out
}

func checkShape(t *testing.T, name string, body []byte) {
	t.Helper()
	sample, ok := seedSamples[name]
	if !ok {
		t.Fatalf("no sample %q", name)
	}
	var s, g any
	if err := json.Unmarshal([]byte(sample), &s); err != nil {
		t.Fatalf("sample %q: %v", name, err)
	}
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("%s: response is not JSON: %s", name, body)
	}
	if gm, ok := g.(map[string]any); ok {
		l := gm["list"]
		if arr, ok := l.([]any); ok && len(arr) == 0 {
			t.Fatalf("%s: empty list, nothing to compare", name)
		}
	}
	if d := shapeDiffIn(name, "", s, g); len(d) > 0 {
		t.Errorf("%s: response differs from the seed sample:\n  %s\nresponse: %s", name, strings.Join(d, "\n  "), body)
	}
}

// listOf wraps a single-object sample as a list sample.
func listSample(name string) string {
	seedSamples[name+" (list)"] = `{"list":[` + seedSamples[name] + `]}`
	return name + " (list)"
}

func sampleRequest(t *testing.T, name string, edit func(map[string]any)) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(seedSamples[name]), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func rsaJWK(t *testing.T) map[string]any {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "RSA", "kid": "seed-test", "alg": "RSA-OAEP-256", "use": "enc",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

// TestSeedSamples performs every operation that has a JSON response sample in the seeds and checks
// the response has every field the sample shows with the sample's JSON type (apart from the
// documented exceptions above), and sends every request sample (ids that must name existing
// objects replaced by real ones).
func TestSeedSamples(t *testing.T) {
	e := newEnv(t)
	conn := e.connID()
	prj := e.projectID()

	// 000: OPA connections.
	checkShape(t, "000 get connection", e.must(200, "all", "GET", "/connections/active_directory/"+conn, nil).body)
	checkShape(t, "000 list connections", e.must(200, "all", "GET", "/connections/active_directory", nil).body)
	e.must(204, "all", "PUT", "/connections/active_directory/"+conn+"/status", seedSamples["000 update status request"])
	checkShape(t, "000 error", e.must(401, "", "PUT", "/connections/active_directory/"+conn+"/status", seedSamples["000 update status request"]).body)
	e.must(204, "all", "PUT", "/resource_assignment/active_directory/"+conn+"/force_sync", nil)

	// 001: ASA connections.
	r := e.must(201, "all", "POST", "/integrations/ad_connections", seedSamples["001 create connection request"])
	checkShape(t, "001 create connection", r.body)
	var created struct {
		ID string `json:"id"`
	}
	r.json(t, &created)
	checkShape(t, "001 list connections", e.must(200, "all", "GET", "/integrations/ad_connections", nil).body)
	e.must(204, "all", "PUT", "/integrations/ad_connections/"+created.ID, seedSamples["001 create connection request"])

	// Server sync jobs: the seed request with a real project and base DN.
	jobReq := sampleRequest(t, "001 server job request", func(m map[string]any) {
		m["rule_assignments"] = map[string]any{"base_dn": "OU=Servers,DC=corp,DC=example,DC=com",
			"ldap_query_filter": "(objectClass=computer)", "priority": "1", "project_id": prj}
	})
	r = e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/task_settings", jobReq)
	var job struct {
		ID string `json:"id"`
	}
	r.json(t, &job)
	ts := "/integrations/ad_connections/" + conn + "/task_settings/" + job.ID
	// Let the active job run once so that recent_task_result exists.
	e.advance("25h")
	checkShape(t, "001 get connection", e.must(200, "all", "GET", "/integrations/ad_connections/"+conn, nil).body)
	checkShape(t, "001 server job", e.must(200, "all", "GET", ts, nil).body)
	checkShape(t, listSample("001 server job"), e.must(200, "all", "GET", "/integrations/ad_connections/"+conn+"/task_settings", nil).body)
	e.must(204, "all", "PUT", ts, jobReq)
	e.must(204, "all", "POST", ts+"/schedule", seedSamples["001 schedule request"])
	r = e.must(201, "all", "POST", ts+"/test_requests", nil)
	checkShape(t, "001 server result", r.body)
	r = e.must(200, "all", "GET", ts+"/results", nil)
	checkShape(t, listSample("001 server result"), r.body)
	var results struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	r.json(t, &results)
	checkShape(t, "001 server result", e.must(200, "all", "GET", ts+"/results/"+results.List[0].ID, nil).body)
	e.must(204, "all", "POST", ts+"/deactivate", nil)

	// User sync jobs.
	r = e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/user_sync_task_settings", seedSamples["001 user job request"])
	r.json(t, &job)
	us := "/integrations/ad_connections/" + conn + "/user_sync_task_settings/" + job.ID
	e.advance("25h")
	checkShape(t, "001 user job", e.must(200, "all", "GET", us, nil).body)
	checkShape(t, listSample("001 user job"), e.must(200, "all", "GET", "/integrations/ad_connections/"+conn+"/user_sync_task_settings?status=ACTIVE", nil).body)
	e.must(204, "all", "PUT", us, seedSamples["001 user job request"])
	e.must(204, "all", "POST", us+"/schedule", seedSamples["001 user job request"])
	e.must(204, "all", "POST", us+"/state", seedSamples["001 user state request"])
	checkShape(t, "001 user result", e.must(201, "all", "POST", us+"/test_requests", nil).body)
	r = e.must(200, "all", "GET", us+"/results", nil)
	checkShape(t, listSample("001 user result"), r.body)
	r.json(t, &results)
	checkShape(t, "001 user result", e.must(200, "all", "GET", us+"/results/"+results.List[0].ID, nil).body)

	// 002: end-user views, reveal (which checks the shared account out), admin views.
	checkShape(t, "002 domain", e.must(200, "end_user", "GET", "/active_directory/"+conn, nil).body)
	checkShape(t, listSample("002 domain"), e.must(200, "end_user", "GET", "/active_directory", nil).body)
	r = e.must(200, "end_user", "GET", "/active_directory/"+conn+"/accounts?account_name=svc-sql", nil)
	var euAccounts struct {
		List []struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		} `json:"list"`
	}
	r.json(t, &euAccounts)
	if len(euAccounts.List) != 1 {
		t.Fatalf("end-user accounts named svc-sql: %s", r.body)
	}
	acct := euAccounts.List[0].Account.ID
	eu := "/active_directory/" + conn + "/accounts/" + acct
	r = e.must(200, "end_user", "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil)
	var uams struct {
		List []map[string]any `json:"list"`
	}
	r.json(t, &uams)
	// A failed admin rotation first (the agent times out), so that the error fields are set; the
	// reveal then rotates the never-set password successfully and checks the account out.
	rgID := e.rgID()
	svcPrj := e.srv.Loaded().Team("demo").Projects["infra/service-accounts"]
	adpw := "/resource_groups/" + rgID + "/projects/" + svcPrj + "/active_directory_password_settings"
	var adPolicy map[string]any
	e.must(200, "all", "GET", adpw, nil).json(t, &adPolicy)
	adPolicy["enable_periodic_rotation"] = true
	adPolicy["periodic_rotation_duration_in_seconds"] = 86400
	e.must(200, "all", "PUT", adpw, adPolicy)
	dir := e.srv.Directory("corp.example.com")
	dir.SetAgentTimeout(true)
	e.must(504, "all", "POST", "/resource_groups/"+rgID+"/projects/"+svcPrj+"/rotate_resource",
		map[string]string{"resource_id": acct, "resource_type": "active_directory_account_password_login"})
	dir.SetAgentTimeout(false)
	r = e.must(200, "end_user", "POST", eu+"/reveal_credentials", map[string]any{"public_key": rsaJWK(t), "user_access_method": uams.List[0]})
	checkShape(t, "002 reveal response", r.body)
	// The seed's own reveal request decodes (its shape is accepted) but its key is the schema's
	// placeholder ("string" values): 400 invalid_request, never a 5xx.
	r = e.must(400, "end_user", "POST", eu+"/reveal_credentials", seedSamples["002 reveal request"])
	if !strings.Contains(string(r.body), `"type":"invalid_request"`) {
		t.Fatalf("seed reveal request: %s", r.body)
	}
	checkShape(t, listSample("002 uam"), e.must(200, "end_user", "GET", eu+"/user_access_methods", nil).body)
	checkShape(t, "002 end-user account", e.must(200, "end_user", "GET", eu, nil).body)
	checkShape(t, listSample("002 end-user account"), e.must(200, "end_user", "GET", "/active_directory/"+conn+"/accounts?account_name=svc-sql", nil).body)

	ra := "/resource_assignment/active_directory/" + conn
	checkShape(t, "002 account details", e.must(200, "all", "GET", ra+"/accounts/"+acct, nil).body)
	checkShape(t, "002 account details", e.must(200, "all", "GET", "/resource_groups/"+rgID+"/projects/"+svcPrj+"/active_directory_accounts/"+acct, nil).body)

	// Accounts with names and a matched user: the INDIVIDUAL admin accounts, rotated once.
	r = e.must(200, "all", "GET", "/resource_groups/"+rgID+"/projects/"+prj+"/active_directory_accounts", nil)
	var admins struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	r.json(t, &admins)
	for _, a := range admins.List {
		e.must(204, "all", "POST", "/resource_groups/"+rgID+"/projects/"+prj+"/rotate_resource",
			map[string]string{"resource_id": a.ID, "resource_type": "active_directory_account_password_login"})
	}
	checkShape(t, listSample("002 account"), e.must(200, "all", "GET", ra+"/accounts?contains_account_name_or_assigned_opa_user=adm.", nil).body)
	checkShape(t, listSample("002 account"), e.must(200, "all", "GET", "/all_active_directory_accounts?contains=adm.", nil).body)
	checkShape(t, listSample("002 account"), e.must(200, "all", "GET", "/resource_groups/"+rgID+"/all_active_directory_accounts?contains=adm.", nil).body)
	checkShape(t, listSample("002 account"), e.must(200, "all", "GET", "/resource_groups/"+rgID+"/projects/"+prj+"/active_directory_accounts", nil).body)

	r = e.must(200, "all", "GET", ra+"/accounts?contains_account_name_or_assigned_opa_user=adm.jane", nil)
	var adm struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	r.json(t, &adm)
	jane := adm.List[0].ID
	janeUser := e.srv.Loaded().Team("demo").UserIDs["jane.doe"]
	johnUser := e.srv.Loaded().Team("demo").UserIDs["john.smith"]
	e.must(200, "all", "PUT", ra+"/accounts/"+jane+"/match", map[string]any{"match_override_user_id": johnUser})
	checkShape(t, "002 match", e.must(200, "all", "GET", ra+"/accounts/"+jane+"/match", nil).body)
	// The seed's request sets both fields, which the SDK documents as invalid: 400.
	e.must(400, "all", "PUT", ra+"/accounts/"+jane+"/match", sampleRequest(t, "002 match request", func(m map[string]any) { m["match_override_user_id"] = janeUser }))
	e.must(200, "all", "PUT", ra+"/accounts/"+jane+"/match", map[string]any{"force_no_match": true})

	e.must(204, "all", "POST", ra+"/rule_settings", seedSamples["002 rule settings request"])
	checkShape(t, "002 rule settings", e.must(200, "all", "GET", ra+"/rule_settings", nil).body)

	ruleReq := sampleRequest(t, "002 rule request", func(m map[string]any) {
		m["organizational_units"] = []string{"OU=Users,DC=corp,DC=example,DC=com"}
		m["project"] = map[string]any{"id": prj, "missing": false}
		m["resource_group"] = map[string]any{"id": rgID, "missing": false}
	})
	r = e.must(201, "all", "POST", ra+"/rules", ruleReq)
	checkShape(t, "002 rule", r.body)
	var rule struct {
		ID string `json:"id"`
	}
	r.json(t, &rule)
	checkShape(t, "002 rule", e.must(200, "all", "GET", ra+"/rules/"+rule.ID, nil).body)
	checkShape(t, listSample("002 rule"), e.must(200, "all", "GET", ra+"/rules", nil).body)
	e.must(204, "all", "PUT", ra+"/rules/"+rule.ID, ruleReq)
	r = e.must(200, "all", "GET", ra+"/rules", nil)
	var rules struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	r.json(t, &rules)
	var order []map[string]any
	for i := range rules.List {
		order = append(order, map[string]any{"rule_id": rules.List[len(rules.List)-1-i].ID, "priority": i + 1})
	}
	checkShape(t, listSample("002 rule"), e.must(200, "all", "POST", ra+"/rules/reorder", order).body)
	e.must(204, "all", "DELETE", ra+"/rules/"+rule.ID, nil)
	checkShape(t, "002 sync status", e.must(200, "all", "GET", ra+"/sync_status", nil).body)

	// 004: Universal Directory accounts. Periodic rotation on (project password settings) gives
	// next_scheduled_password_rotation_*; a reveal checks the account out.
	pw := "/resource_groups/" + rgID + "/projects/" + svcPrj + "/okta_universal_directory_password_settings"
	var policy map[string]any
	e.must(200, "all", "GET", pw, nil).json(t, &policy)
	policy["enable_periodic_rotation"] = true
	policy["periodic_rotation_duration_in_seconds"] = 86400
	e.must(200, "all", "PUT", pw, policy)
	e.must(204, "all", "PUT", "/resource_groups/"+rgID+"/projects/"+svcPrj+"/okta_universal_directory_checkout_settings",
		map[string]any{"checkout_required": true, "checkout_duration_in_seconds": 1800, "include_list": nil, "exclude_list": nil})
	r = e.must(200, "end_user", "GET", "/okta_universal_directory_accounts?contains=AWS", nil)
	var uds struct {
		List []map[string]any `json:"list"`
	}
	r.json(t, &uds)
	if len(uds.List) != 1 {
		t.Fatalf("UD accounts: %s", r.body)
	}
	udAcct, _ := uds.List[0]["account"].(map[string]any)["id"].(string)
	udPath := "/okta_universal_directory_accounts/" + udAcct
	e.must(204, "all", "POST", "/resource_groups/"+rgID+"/projects/"+svcPrj+"/rotate_resource",
		map[string]string{"resource_id": udAcct, "resource_type": "okta_universal_directory_account_password_login"})
	e.must(200, "end_user", "GET", udPath, nil)
	r = e.must(200, "end_user", "GET", udPath+"/user_access_methods", nil)
	r.json(t, &uams)
	var reveal map[string]any
	for _, m := range uams.List {
		if m["user_access_type"] == "reveal_password" {
			reveal = m
		}
	}
	if reveal == nil {
		t.Fatalf("no reveal access method: %s", r.body)
	}
	checkShape(t, "004 reveal response", e.must(200, "end_user", "POST", udPath+"/reveal_credentials", map[string]any{"public_key": rsaJWK(t), "user_access_method": reveal}).body)
	checkShape(t, "004 account details", e.must(200, "all", "GET", "/resource_groups/"+rgID+"/projects/"+svcPrj+"/okta_universal_directory_accounts/"+udAcct, nil).body)
	e.must(200, "all", "GET", "/all_okta_universal_directory_accounts", nil)
	e.must(200, "all", "GET", "/resource_groups/"+rgID+"/all_okta_universal_directory_accounts", nil)
	e.must(200, "all", "GET", "/resource_groups/"+rgID+"/projects/"+svcPrj+"/okta_universal_directory_accounts", nil)
	e.must(200, "all", "GET", "/vault/jwks.json", nil)

	// 003: the request sample, with a real group and member.
	modify := sampleRequest(t, "003 modify request", func(m map[string]any) {
		m["id"] = "CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com"
		m["parameters"].(map[string]any)["values"] = []string{"CN=adm.john.smith,OU=Admins,DC=corp,DC=example,DC=com"}
	})
	e.must(200, "all", "POST", "/api/v1/directories/0oa1corpexample0ad01/groups/modify", modify)
	checkShape(t, "003 error", e.must(400, "all", "POST", "/api/v1/directories/0oa1corpexample0ad01/groups/modify", seedSamples["003 modify request"]).body)
}
