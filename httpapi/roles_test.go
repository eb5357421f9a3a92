package httpapi_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestRoleMatrix calls each admin route as each role: the allowed roles succeed (2xx), the others
// get 401 with authorization_error "Missing capability: role" (the reference's samples). Roles (testdata/fixtures/demo.json): all = pam_admin +
// resource_admin + security_admin; resource; security; delegated = delegated resource and security
// admin of resource group "infra"; end_user.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	conn := e.connID()
	rg, prj := e.rgID(), e.projectID()
	accounts := map[string]string{}
	r := e.must(200, "all", "GET", "/resource_assignment/active_directory/"+conn+"/accounts", nil)
	var as struct {
		List []struct {
			ID          string `json:"id"`
			AccountName string `json:"account_name"`
		} `json:"list"`
	}
	r.json(t, &as)
	for _, a := range as.List {
		accounts[a.AccountName] = a.ID
	}
	individual := accounts["adm.jane.doe"]
	var rules struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", "/resource_assignment/active_directory/"+conn+"/rules", nil).json(t, &rules)
	rule := rules.List[0].ID
	userJob := struct {
		ID string `json:"id"`
	}{}
	e.must(201, "all", "POST", "/integrations/ad_connections/"+conn+"/user_sync_task_settings",
		map[string]any{"name": "roles", "base_dn": "OU=Users,DC=corp,DC=example,DC=com", "frequency": 24}).json(t, &userJob)

	const (
		all = "all"
		res = "resource"
		sec = "security"
		del = "delegated"
		eu  = "end_user"
	)
	roles := []string{all, res, sec, del, eu}
	ra := "/resource_assignment/active_directory/" + conn
	for _, tc := range []struct {
		name, method, path string
		body               any
		allowed            []string
	}{
		{"list OPA connections", "GET", "/connections/active_directory", nil, []string{all, res, sec}},
		{"get OPA connection", "GET", "/connections/active_directory/" + conn, nil, []string{all, res, sec}},
		{"update connection status", "PUT", "/connections/active_directory/" + conn + "/status", map[string]string{"status": "connected"}, []string{all, res}},
		{"list ASA connections", "GET", "/integrations/ad_connections", nil, []string{all, res, sec}},
		{"get ASA connection", "GET", "/integrations/ad_connections/" + conn, nil, []string{all, res, sec}},
		{"update ASA connection", "PUT", "/integrations/ad_connections/" + conn, map[string]any{"name": "corp", "domain": "corp.example.com", "gateway_id": "5a3af768-063f-4a12-a056-8ef24e555555",
			"domain_controllers": []string{"dc1.corp.example.com"}, "service_account_username": "svc-opa"}, []string{all, res}},
		{"force sync", "PUT", ra + "/force_sync", nil, []string{all, res}},
		{"sync status", "GET", ra + "/sync_status", nil, []string{all, res, sec}},
		{"discovered accounts", "GET", ra + "/accounts", nil, []string{all, res, sec}},
		{"get account match", "GET", ra + "/accounts/" + individual + "/match", nil, []string{all, res, del}},
		{"rule settings", "GET", ra + "/rule_settings", nil, []string{all, res, sec, del}},
		{"list rules", "GET", ra + "/rules", nil, []string{all, res, sec, del}},
		{"get rule", "GET", ra + "/rules/" + rule, nil, []string{all, res, sec, del}},
		{"all accounts", "GET", "/all_active_directory_accounts", nil, []string{all, sec}},
		{"resource group accounts", "GET", "/resource_groups/" + rg + "/all_active_directory_accounts", nil, []string{all, sec, del}},
		{"project accounts", "GET", "/resource_groups/" + rg + "/projects/" + prj + "/active_directory_accounts", nil, []string{all, res, sec, del}},
		{"project checked out", "GET", "/resource_groups/" + rg + "/projects/" + prj + "/checked_out_resources", nil, []string{all, sec, del}},
		{"list user sync jobs", "GET", "/integrations/ad_connections/" + conn + "/user_sync_task_settings", nil, []string{all, res, sec}},
		{"get user sync job", "GET", "/integrations/ad_connections/" + conn + "/user_sync_task_settings/" + userJob.ID, nil, []string{all, res, sec}},
		{"schedule user sync job", "POST", "/integrations/ad_connections/" + conn + "/user_sync_task_settings/" + userJob.ID + "/schedule", map[string]any{"frequency": 12}, []string{all, res}},
		{"configure rule settings", "POST", ra + "/rule_settings", map[string]any{"matching_criteria": map[string]bool{"username": true}}, []string{all, res}},
		{"all UD accounts", "GET", "/all_okta_universal_directory_accounts", nil, []string{all, sec}},
		{"resource group UD accounts", "GET", "/resource_groups/" + rg + "/all_okta_universal_directory_accounts", nil, []string{all, sec, del}},
		{"project UD accounts", "GET", "/resource_groups/" + rg + "/projects/" + prj + "/okta_universal_directory_accounts", nil, []string{all, res, sec, del}},
		{"put project checkout settings", "PUT", "/resource_groups/" + rg + "/projects/" + prj + "/active_directory_checkout_settings", map[string]any{"checkout_required": false, "checkout_duration_in_seconds": 1800}, []string{all, sec, del}},
		{"put project password settings", "PUT", "/resource_groups/" + rg + "/projects/" + prj + "/active_directory_password_settings", map[string]any{"enable_periodic_rotation": false, "character_options": map[string]bool{"upper_case": true, "lower_case": true, "digits": true}, "min_length_in_bytes": 20, "max_length_in_bytes": 24}, []string{all, sec, del}},
		{"list server sync jobs", "GET", "/integrations/ad_connections/" + conn + "/task_settings", nil, []string{all, res, sec, del}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, role := range roles {
				r := e.do(role, tc.method, tc.path, tc.body)
				ok := r.status >= 200 && r.status < 300
				want := slices.Contains(tc.allowed, role)
				if ok != want {
					t.Errorf("%s: status %d (allowed %v): %s", role, r.status, tc.allowed, r.body)
					continue
				}
				if !ok && !missingRole(r) {
					t.Errorf("%s: status %d, want 401 authorization_error: %s", role, r.status, r.body)
				}
			}
		})
	}
}

// missingRole reports whether r is the /v1 answer to a missing role: 401, type
// authorization_error, message "Missing capability: role".
func missingRole(r response) bool {
	var b struct {
		Type    string `json:"type"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	return r.status == 401 && json.Unmarshal(r.body, &b) == nil && b.Type == "authorization_error" && b.Code == 401 &&
		b.Message == "Missing capability: role"
}
