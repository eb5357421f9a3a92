package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tfProject is TF's client.Project: every field a pointer with omitempty, so a key the server
// leaves out reads back as nil.
type tfProject struct {
	Name                   *string `json:"name"`
	ID                     *string `json:"id,omitempty"`
	Team                   *string `json:"team,omitempty"`
	DeletedAt              *string `json:"deleted_at,omitempty"`
	NextUnixGID            *int    `json:"next_unix_gid,omitempty"`
	NextUnixUID            *int    `json:"next_unix_uid,omitempty"`
	CreateServerUsers      *bool   `json:"create_server_users,omitempty"`
	ForwardTraffic         *bool   `json:"forward_traffic,omitempty"`
	RDPSessionRecording    *bool   `json:"rdp_session_recording,omitempty"`
	RequirePreAuthForCreds *bool   `json:"require_preauth_for_creds,omitempty"`
	SSHSessionRecording    *bool   `json:"ssh_session_recording,omitempty"`
	GatewaySelector        *string `json:"gateway_selector,omitempty"`
	SSHCertificateType     *string `json:"ssh_certificate_type,omitempty"`
	UserOnDemandPeriod     *int    `json:"user_on_demand_period,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// wantProject compares the answer with want as TestAccProject does (the id copied over).
func wantProject(want tfProject) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var got tfProject
		r.json(t, &got)
		if got.ID == nil || *got.ID == "" {
			t.Fatalf("no id: %s", r.body)
		}
		want.ID = got.ID
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("project (-want +got):\n%s", diff)
		}
	}
}

func TestASAProjectsRoutes(t *testing.T) {
	e := newEnv(t)
	// What TF sends for the AD tests' project: false bools and zero ints left out.
	create := `{"name":"ad-proj","next_unix_gid":63020,"next_unix_uid":60120,"create_server_users":true,"forward_traffic":true,"gateway_selector":"env=test","ssh_certificate_type":"CERT_TYPE_ED25519_01"}`
	created := tfProject{Name: ptr("ad-proj"), Team: ptr("demo"), NextUnixGID: ptr(63020), NextUnixUID: ptr(60120),
		CreateServerUsers: ptr(true), ForwardTraffic: ptr(true), RDPSessionRecording: ptr(false), RequirePreAuthForCreds: ptr(false),
		SSHSessionRecording: ptr(false), GatewaySelector: ptr("env=test"), SSHCertificateType: ptr("CERT_TYPE_ED25519_01"), UserOnDemandPeriod: ptr(0)}
	updated := created
	updated.NextUnixUID, updated.RDPSessionRecording, updated.SSHCertificateType, updated.UserOnDemandPeriod = ptr(61200), ptr(true), ptr("CERT_TYPE_RSA_01"), ptr(10)
	updated.GatewaySelector = nil
	minimal := tfProject{Name: ptr("bare"), Team: ptr("demo"), NextUnixGID: ptr(63001), NextUnixUID: ptr(60001),
		CreateServerUsers: ptr(false), ForwardTraffic: ptr(false), RDPSessionRecording: ptr(false), RequirePreAuthForCreds: ptr(false),
		SSHSessionRecording: ptr(false), SSHCertificateType: ptr("CERT_TYPE_ED25519_01"), UserOnDemandPeriod: ptr(0)}
	runSteps(t, e, []step{
		{"create", "all", "POST", "/projects", create, 201, nil},
		{"get", "security", "GET", "/projects/ad-proj", nil, 200, wantProject(created)},
		{"create minimal", "resource", "POST", "/projects", map[string]any{"name": "bare"}, 201, wantProject(minimal)},
		{"create duplicate", "all", "POST", "/projects", map[string]any{"name": "AD-PROJ"}, 409, nil},
		{"create bad name", "all", "POST", "/projects", map[string]any{"name": "a b"}, 400, nil},
		{"create bad cert type", "all", "POST", "/projects", map[string]any{"name": "c", "ssh_certificate_type": "DSA"}, 400, nil},
		{"create bad uid", "all", "POST", "/projects", map[string]any{"name": "c", "next_unix_uid": -1}, 400, nil},
		{"create bad selector", "all", "POST", "/projects", map[string]any{"name": "c", "gateway_selector": "novalue"}, 400, nil},
		{"create wrong type", "all", "POST", "/projects", map[string]any{"name": "c", "forward_traffic": "yes"}, 400, nil},
		{"create no body", "all", "POST", "/projects", nil, 400, nil},
		{"create as security admin", "security", "POST", "/projects", map[string]any{"name": "c"}, 401, nil},
		{"create as delegated", "delegated", "POST", "/projects", map[string]any{"name": "c"}, 401, nil},
		{"get unknown", "all", "GET", "/projects/nope", nil, 404, nil},
		{"get as end user", "end_user", "GET", "/projects/ad-proj", nil, 401, nil},
		{"update changed keys", "all", "PUT", "/projects/ad-proj", map[string]any{"next_unix_uid": 61200, "rdp_session_recording": true,
			"ssh_certificate_type": "CERT_TYPE_RSA_01", "user_on_demand_period": 10, "gateway_selector": ""}, 204, nil},
		{"merged", "all", "GET", "/projects/ad-proj", nil, 200, wantProject(updated)},
		{"update bad value", "all", "PUT", "/projects/ad-proj", map[string]any{"next_unix_gid": 0}, 400, nil},
		{"update rename", "all", "PUT", "/projects/ad-proj", map[string]any{"name": "other"}, 400, nil},
		{"update unknown", "all", "PUT", "/projects/nope", map[string]any{"forward_traffic": true}, 404, nil},
		{"update as security admin", "security", "PUT", "/projects/ad-proj", map[string]any{}, 401, nil},
		{"list", "all", "GET", "/projects", nil, 200, wantNameSet("ad-proj", "bare", "asa-servers")}, // asa-servers: the demo fixture's
		{"list contains", "all", "GET", "/projects?contains=AD-", nil, 200, wantNames("ad-proj")},
		{"list self", "all", "GET", "/projects?self=true", nil, 200, wantNames()},
		{"list bad self", "all", "GET", "/projects?self=1x", nil, 400, nil},
		{"list as end user", "end_user", "GET", "/projects", nil, 401, nil},
		{"delete as security admin", "security", "DELETE", "/projects/bare", nil, 401, nil},
		{"delete", "all", "DELETE", "/projects/bare", nil, 204, nil},
		{"deleted is readable", "all", "GET", "/projects/bare", nil, 200, func(t *testing.T, r response) {
			var got tfProject
			r.json(t, &got)
			if got.DeletedAt == nil || *got.DeletedAt == "" {
				t.Errorf("no deleted_at: %s", r.body)
			}
		}},
		{"list hides deleted", "all", "GET", "/projects", nil, 200, wantNameSet("ad-proj", "asa-servers")},
		{"delete again", "all", "DELETE", "/projects/bare", nil, 404, nil},
		{"update deleted", "all", "PUT", "/projects/bare", map[string]any{"forward_traffic": true}, 404, nil},
		{"name reused", "all", "POST", "/projects", map[string]any{"name": "bare"}, 201, wantProject(minimal)},
	})
}

// TestASAProjectInServerSyncJob: a server sync job assigns servers to an ASA project by id, and
// the project cannot be deleted while it does.
func TestASAProjectInServerSyncJob(t *testing.T) {
	e := newEnv(t)
	var pr struct{ ID string }
	e.must(201, "all", "POST", "/projects", map[string]any{"name": "servers"}).json(t, &pr)
	var job map[string]any
	if err := json.Unmarshal([]byte(seedSamples["001 server job request"]), &job); err != nil {
		t.Fatal(err)
	}
	job["rule_assignments"] = []any{map[string]any{"base_dn": "OU=Servers,DC=corp,DC=example,DC=com",
		"ldap_query_filter": "(objectClass=computer)", "priority": 1, "project_id": pr.ID}}
	var created struct{ ID string }
	e.must(201, "all", "POST", "/integrations/ad_connections/"+e.connID()+"/task_settings", job).json(t, &created)
	r := e.must(409, "all", "DELETE", "/projects/servers", nil)
	if !strings.Contains(string(r.body), "server sync job") {
		t.Errorf("conflict %s", r.body)
	}
	e.must(204, "all", "DELETE", "/integrations/ad_connections/"+e.connID()+"/task_settings/"+created.ID, nil)
	e.must(204, "all", "DELETE", "/projects/servers", nil)
	e.must(400, "all", "POST", "/integrations/ad_connections/"+e.connID()+"/task_settings", job)
}

// tfProjectGroup is TF's client.ProjectGroup.
type tfProjectGroup struct {
	ID                *string `json:"id"`
	Project           *string `json:"_"`
	Group             *string `json:"group"`
	DeletedAt         *string `json:"deleted_at,omitempty"`
	RemovedAt         *string `json:"removed_at,omitempty"`
	CreateServerGroup bool    `json:"create_server_group"`
	ServerAccess      bool    `json:"server_access"`
	ServerAdmin       bool    `json:"server_admin"`
	ServersSelector   *string `json:"servers_selector,omitempty"`
}

func wantProjectGroup(want tfProjectGroup) func(t *testing.T, r response) {
	return func(t *testing.T, r response) {
		var got tfProjectGroup
		r.json(t, &got)
		if got.ID == nil || *got.ID == "" {
			t.Fatalf("no id: %s", r.body)
		}
		want.ID = got.ID
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("project group (-want +got):\n%s", diff)
		}
	}
}

func TestProjectGroupsRoutes(t *testing.T) {
	e := newEnv(t)
	e.must(201, "all", "POST", "/projects", map[string]any{"name": "pg-proj"})
	// Exactly what TF marshals: id null, the project under "_", an empty selector.
	assign := `{"id":null,"_":"pg-proj","group":"engineers","create_server_group":false,"server_access":true,"server_admin":true,"servers_selector":""}`
	initial := tfProjectGroup{Project: ptr("pg-proj"), Group: ptr("engineers"), ServerAccess: true, ServerAdmin: true}
	updated := tfProjectGroup{Project: ptr("pg-proj"), Group: ptr("engineers"), ServerAccess: true, CreateServerGroup: true, ServersSelector: ptr("env=prod")}
	const pg = "/projects/pg-proj/groups"
	runSteps(t, e, []step{
		{"assign", "all", "POST", pg, assign, 204, nil},
		{"get", "security", "GET", pg + "/engineers", nil, 200, wantProjectGroup(initial)},
		{"assign again", "all", "POST", pg, assign, 409, nil},
		{"assign no access", "all", "POST", pg, map[string]any{"group": "pam-admins"}, 400, nil},
		{"assign unknown group", "all", "POST", pg, map[string]any{"group": "nope", "server_access": true}, 400, nil},
		{"assign no group", "all", "POST", pg, map[string]any{"server_access": true}, 400, nil},
		{"assign bad selector", "all", "POST", pg, map[string]any{"group": "pam-admins", "server_access": true, "servers_selector": "x"}, 400, nil},
		{"assign to unknown project", "all", "POST", "/projects/nope/groups", assign, 404, nil},
		{"assign as security admin", "security", "POST", pg, map[string]any{"group": "pam-admins", "server_access": true}, 401, nil},
		{"get unknown group", "all", "GET", pg + "/nope", nil, 404, nil},
		{"get unassigned group", "all", "GET", pg + "/pam-admins", nil, 404, nil},
		{"get as end user", "end_user", "GET", pg + "/engineers", nil, 401, nil},
		{"update", "all", "PUT", pg + "/engineers", `{"id":null,"_":"pg-proj","group":"engineers","create_server_group":true,"server_access":true,"server_admin":false,"servers_selector":"env=prod"}`, 204, nil},
		{"read updated", "all", "GET", pg + "/engineers", nil, 200, wantProjectGroup(updated)},
		{"update no access", "all", "PUT", pg + "/engineers", map[string]any{"server_access": false}, 400, nil},
		{"update unassigned", "all", "PUT", pg + "/pam-admins", map[string]any{"server_access": true}, 404, nil},
		{"update as delegated", "delegated", "PUT", pg + "/engineers", map[string]any{"server_access": true}, 401, nil},
		{"list", "resource", "GET", pg, nil, 200, func(t *testing.T, r response) {
			var l struct{ List []tfProjectGroup }
			r.json(t, &l)
			if len(l.List) != 1 || *l.List[0].Group != "engineers" {
				t.Errorf("list %s", r.body)
			}
		}},
		{"list has_no_selectors", "all", "GET", pg + "?has_no_selectors=true", nil, 200, func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"list":[]`) {
				t.Errorf("list %s", r.body)
			}
		}},
		{"list unknown project", "all", "GET", "/projects/nope/groups", nil, 404, nil},
		{"list bad bool", "all", "GET", pg + "?include_removed=x", nil, 400, nil},
		{"remove as security admin", "security", "DELETE", pg + "/engineers", nil, 401, nil},
		{"remove", "all", "DELETE", pg + "/engineers", nil, 204, nil},
		{"removed reads as removed", "all", "GET", pg + "/engineers", nil, 200, func(t *testing.T, r response) {
			var got tfProjectGroup
			r.json(t, &got)
			if got.RemovedAt == nil || *got.RemovedAt == "" {
				t.Errorf("no removed_at: %s", r.body)
			}
		}},
		{"remove again", "all", "DELETE", pg + "/engineers", nil, 404, nil},
		{"list hides removed", "all", "GET", pg, nil, 200, func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"list":[]`) {
				t.Errorf("list %s", r.body)
			}
		}},
		{"list include_removed", "all", "GET", pg + "?include_removed=true", nil, 200, func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), `"engineers"`) {
				t.Errorf("list %s", r.body)
			}
		}},
		{"assign again after removal", "all", "POST", pg, assign, 204, nil},
		{"revived", "all", "GET", pg + "/engineers", nil, 200, wantProjectGroup(initial)},
	})
}
