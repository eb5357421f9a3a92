package httpapi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestServerCheckoutSettings drives what the provider's oktapam_server_checkout_settings sends:
// defaults before any PUT, a PUT (204) read back as sent, the both-lists refusal with the message
// its test expects, and the delete (a PUT of the defaults). An empty list is omitted, as the SDK's
// model omits it: the provider's test compares a read list with nil.
func TestServerCheckoutSettings(t *testing.T) {
	e := newEnv(t)
	path := "/resource_groups/" + e.rgID() + "/projects/" + e.projectID() + "/server_checkout_settings"
	get := func() any { return jsonOf(t, e.must(200, "end_user", "GET", path, nil).body) }
	if d := cmp.Diff(jsonOf(t, []byte(`{"checkout_required":false,"checkout_duration_in_seconds":1800}`)), get()); d != "" {
		t.Fatalf("defaults (-want +got):\n%s", d)
	}
	set := `{"checkout_required":true,"checkout_duration_in_seconds":3600,"include_list":["vaulted_account_2","vaulted_account_1"],"exclude_list":[]}`
	if r := e.do("security", "PUT", path, set); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if d := cmp.Diff(jsonOf(t, []byte(`{"checkout_required":true,"checkout_duration_in_seconds":3600,"include_list":["vaulted_account_2","vaulted_account_1"]}`)), get()); d != "" {
		t.Fatalf("read back (-want +got):\n%s", d)
	}
	both := `{"checkout_required":true,"checkout_duration_in_seconds":3600,"include_list":["a"],"exclude_list":["b"]}`
	var apiErr struct {
		Message string `json:"message"`
	}
	e.must(400, "security", "PUT", path, both).json(t, &apiErr)
	if apiErr.Message != "Only one of 'IncludeList' or 'ExcludeList' can be specified" {
		t.Fatalf("message %q", apiErr.Message)
	}
	reset := `{"checkout_required":false,"checkout_duration_in_seconds":900,"include_list":[],"exclude_list":[]}`
	e.must(204, "security", "PUT", path, reset)
	resetRead := `{"checkout_required":false,"checkout_duration_in_seconds":900}`
	if d := cmp.Diff(jsonOf(t, []byte(resetRead)), get()); d != "" {
		t.Fatalf("after the reset (-want +got):\n%s", d)
	}
	tests := []struct {
		name, role, method, path, body string
		want                           int
	}{
		{"no token", "", "GET", path, "", 401},
		{"end user writes (missing role)", "end_user", "PUT", path, set, 401},
		{"other resource group's delegate", "delegated", "PUT", "/resource_groups/nope/projects/" + e.projectID() + "/server_checkout_settings", set, 404},
		{"unknown project", "security", "GET", "/resource_groups/" + e.rgID() + "/projects/nope/server_checkout_settings", "", 404},
		{"no body", "security", "PUT", path, "", 400},
		{"malformed", "security", "PUT", path, `{"checkout_required":`, 400},
		{"wrong type", "security", "PUT", path, `{"checkout_required":true,"checkout_duration_in_seconds":900,"include_list":[1]}`, 400},
		{"too short", "security", "PUT", path, `{"checkout_required":true,"checkout_duration_in_seconds":60,"include_list":[],"exclude_list":[]}`, 400},
		{"too long", "security", "PUT", path, `{"checkout_required":true,"checkout_duration_in_seconds":86401}`, 400},
		{"empty name", "security", "PUT", path, `{"checkout_required":true,"checkout_duration_in_seconds":900,"include_list":[""]}`, 400},
		{"repeated name", "security", "PUT", path, `{"checkout_required":true,"checkout_duration_in_seconds":900,"include_list":["a","a"]}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			if r := e.do(tc.role, tc.method, tc.path, body); r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	if d := cmp.Diff(jsonOf(t, []byte(resetRead)), get()); d != "" {
		t.Fatalf("the refusals changed the settings (-want +got):\n%s", d)
	}
}

// TestServerPasswordSettings drives the provider's oktapam_password_settings: its PUTs answer 200
// with the stored settings, a PUT without a duration reads back 0, every character option is
// present, and there is no modified_at.
func TestServerPasswordSettings(t *testing.T) {
	e := newEnv(t)
	path := "/resource_groups/" + e.rgID() + "/projects/" + e.projectID() + "/server_password_settings"
	get := func() any { return jsonOf(t, e.must(200, "end_user", "GET", path, nil).body) }
	if m := get().(map[string]any); len(m["managed_privileged_accounts_config"].([]any)) != 0 || m["modified_at"] != nil {
		t.Fatalf("defaults: %v", m)
	}
	first := `{"enable_periodic_rotation":true,"periodic_rotation_duration_in_seconds":3600,"min_length_in_bytes":12,"max_length_in_bytes":16,
	  "character_options":{"upper_case":true,"lower_case":true,"digits":true,"punctuation":true},"managed_privileged_accounts_config":["root","pamadmin"]}`
	want := `{"enable_periodic_rotation":true,"periodic_rotation_duration_in_seconds":3600,"min_length_in_bytes":12,"max_length_in_bytes":16,
	  "character_options":{"upper_case":true,"lower_case":true,"digits":true,"punctuation":true,"exclude_certain_symbols":[]},"managed_privileged_accounts_config":["root","pamadmin"]}`
	put := e.must(200, "security", "PUT", path, first)
	if d := cmp.Diff(jsonOf(t, []byte(want)), jsonOf(t, put.body)); d != "" {
		t.Fatalf("PUT answer (-want +got):\n%s", d)
	}
	if d := cmp.Diff(jsonOf(t, []byte(want)), get()); d != "" {
		t.Fatalf("read back (-want +got):\n%s", d)
	}
	second := `{"enable_periodic_rotation":false,"min_length_in_bytes":8,"max_length_in_bytes":12,
	  "character_options":{"upper_case":true,"lower_case":true,"digits":false,"punctuation":false},"managed_privileged_accounts_config":["root"]}`
	e.must(200, "security", "PUT", path, second)
	got := get().(map[string]any)
	if got["periodic_rotation_duration_in_seconds"] != float64(0) || got["character_options"].(map[string]any)["digits"] != false ||
		len(got["managed_privileged_accounts_config"].([]any)) != 1 {
		t.Fatalf("after the second PUT: %v", got)
	}
	tests := []struct {
		name, role, body string
		want             int
	}{
		{"no token", "", first, 401},
		{"resource admin (missing role)", "resource", first, 401},
		{"no body", "security", "", 400},
		{"rotation without a duration", "security", `{"enable_periodic_rotation":true,"min_length_in_bytes":12,"max_length_in_bytes":16,"character_options":{"upper_case":true},"managed_privileged_accounts_config":[]}`, 400},
		{"min above max", "security", `{"enable_periodic_rotation":false,"min_length_in_bytes":20,"max_length_in_bytes":16,"character_options":{"upper_case":true},"managed_privileged_accounts_config":[]}`, 400},
		{"no character class", "security", `{"enable_periodic_rotation":false,"min_length_in_bytes":12,"max_length_in_bytes":16,"character_options":{},"managed_privileged_accounts_config":[]}`, 400},
		{"negative duration", "security", `{"enable_periodic_rotation":false,"periodic_rotation_duration_in_seconds":-1,"min_length_in_bytes":12,"max_length_in_bytes":16,"character_options":{"upper_case":true},"managed_privileged_accounts_config":[]}`, 400},
		{"empty account", "security", `{"enable_periodic_rotation":false,"min_length_in_bytes":12,"max_length_in_bytes":16,"character_options":{"upper_case":true},"managed_privileged_accounts_config":[""]}`, 400},
		{"wrong type", "security", `{"managed_privileged_accounts_config":"root"}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			if r := e.do(tc.role, "PUT", path, body); r.status != tc.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	if after := get().(map[string]any); len(after["managed_privileged_accounts_config"].([]any)) != 1 || after["min_length_in_bytes"] != float64(8) {
		t.Fatalf("the refusals changed the settings: %v", after)
	}
	e.must(404, "security", "PUT", "/resource_groups/"+e.rgID()+"/projects/nope/server_password_settings", first)
}

func FuzzServerCheckoutSettings(f *testing.F) { fuzzRoute(f, "ServerCheckoutSettings") }
func FuzzServerPasswordSettings(f *testing.F) { fuzzRoute(f, "ServerPasswordSettings") }
