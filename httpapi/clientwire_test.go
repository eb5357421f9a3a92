package httpapi_test

// Tests that send exactly what Okta's own Go clients send (the Terraform provider's hand-written
// client, oktapam/client, and the generated pam-sdk-go v1.3.35 it vendors) and decode the answers
// the way they do. The structs below mirror the clients' models by field name and JSON tag; the
// clients themselves are not imported.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
)

// sdkAPIError is pam-sdk-go's APIError (client.go): every status >= 400 is decoded into it and
// the error's text is Message alone.
type sdkAPIError struct {
	Message string `json:"message"`
	Errors  []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"errors,omitempty"`
}

// sdkTypedError is the shape of the SDK's typed error models (UnauthorizedAccessResponse,
// ForbiddenUAMResponse, NotFoundResponse …): the key of the type is spelled "nottype" there.
type sdkTypedError struct {
	Nottype *string `json:"nottype,omitempty"`
	Code    *int32  `json:"code,omitempty"`
	Message *string `json:"message,omitempty"`
}

// oktaSDKError is okta-sdk-golang's Error (the Okta management API error body).
type oktaSDKError struct {
	ErrorCode    string           `json:"errorCode"`
	ErrorSummary string           `json:"errorSummary"`
	ErrorLink    string           `json:"errorLink"`
	ErrorID      string           `json:"errorId"`
	ErrorCauses  []map[string]any `json:"errorCauses"`
}

// TestClientWireMissingRole (issue 17 A5): an operation the caller's roles do not allow answers
// 401 authorization_error "Missing capability: role", which the SDK decodes into its
// UnauthorizedAccessResponse (code and message) and its APIError (message); a refusal that is
// not about a role (a stale access method, an unmet condition) stays 403.
func TestClientWireMissingRole(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/connections/active_directory"},                                       // ListActiveDirectoryConnections
		{"GET", "/integrations/ad_connections"},                                        // provider: ListADConnections
		{"PUT", "/resource_assignment/active_directory/" + e.connID() + "/force_sync"}, // StartActiveDirectoryAccountForceSync
		{"GET", "/all_active_directory_accounts"},                                      // ListAllActiveDirectoryAccountsForSecurityAdmin
	} {
		r := e.do("end_user", tc.method, tc.path, nil)
		if r.status != 401 {
			t.Fatalf("%s %s as end user: %d %s", tc.method, tc.path, r.status, r.body)
		}
		var typed sdkTypedError
		var apiErr sdkAPIError
		var raw map[string]any
		r.json(t, &typed)
		r.json(t, &apiErr)
		r.json(t, &raw)
		if typed.Code == nil || *typed.Code != 401 || typed.Message == nil || *typed.Message != "Missing capability: role" ||
			apiErr.Message != "Missing capability: role" || raw["type"] != "authorization_error" {
			t.Fatalf("%s %s: body %s", tc.method, tc.path, r.body)
		}
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	// Missing credentials stay authentication_error.
	r := e.do("", "GET", "/connections/active_directory", nil)
	var raw map[string]any
	r.json(t, &raw)
	if r.status != 401 || raw["type"] != "authentication_error" {
		t.Fatalf("no credentials: %d %s", r.status, r.body)
	}
}

// TestClientWireOktaErrors (issue 17 A8): Okta error bodies as okta-sdk-golang decodes them: the
// summary's prefix appears once, an invalid token is E0000011, a missing header E0000004, and
// injected 502/504 faults carry the agent error codes.
func TestClientWireOktaErrors(t *testing.T) {
	e := newEnv(t)
	path := "/api/v1/directories/0oa1corpexample0ad01/groups/modify"
	okta := func(auth string, app string, body string) (int, oktaSDKError) {
		t.Helper()
		r := e.doHeader("POST", "/api/v1/directories/"+app+"/groups/modify", body, map[string]string{"Authorization": auth})
		var oe oktaSDKError
		r.json(t, &oe)
		return r.status, oe
	}
	tok := "SSWS 00demo-okta-api-token-change-me"
	good := `{"id":"CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com","parameters":{"action":"ADD","attribute":"member","values":["CN=nobody,DC=corp,DC=example,DC=com"]}}`
	for _, tc := range []struct {
		name, auth, app, body string
		status                int
		code, summary         string
	}{
		{"no header", "", "0oa1corpexample0ad01", good, 401, "E0000004", "Authentication failed"},
		{"invalid SSWS token", "SSWS 00nope", "0oa1corpexample0ad01", good, 401, "E0000011", "Invalid token provided"},
		{"validation", tok, "0oa1corpexample0ad01", `{"id":"x"}`, 400, "E0000001", "Api validation failed: parameters.action is required"},
		{"unknown app", tok, "0oanope", good, 404, "E0000007", "Not found: Resource not found: 0oanope (AppInstance)"},
		{"unknown member", tok, "0oa1corpexample0ad01", good, 404, "E0000007", "Not found: Resource not found: CN=nobody,DC=corp,DC=example,DC=com (User)"},
	} {
		status, oe := okta(tc.auth, tc.app, tc.body)
		if status != tc.status || oe.ErrorCode != tc.code || oe.ErrorSummary != tc.summary || oe.ErrorLink != tc.code || !strings.HasPrefix(oe.ErrorID, "oae") {
			t.Errorf("%s: %d %+v", tc.name, status, oe)
		}
	}
	for status, code := range map[int]string{502: "E0000150", 504: "E0000151", 429: "E0000047"} {
		e.must(201, "", "POST", "/_fake/faults", map[string]any{"path": path, "status": status, "times": 1})
		got, oe := okta(tok, "0oa1corpexample0ad01", good)
		if got != status || oe.ErrorCode != code {
			t.Errorf("injected %d: %d %+v", status, got, oe)
		}
	}
}

// doHeader sends body (as is, "" for none) with the given headers (an empty value is not set)
// and no other credentials. path is as for env.do.
func (e *env) doHeader(method, path, body string, headers map[string]string) response {
	e.t.Helper()
	url := e.srv.URL + path
	if !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/_fake/") {
		url = e.srv.TeamURL(path)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// sdkServiceAccountSettingNameObject is pam-sdk-go's ServiceAccountSettingNameObject.
type sdkServiceAccountSettingNameObject struct {
	ID                     string  `json:"id"`
	ServiceAccountUserName *string `json:"service_account_user_name,omitempty"`
	SaasAppInstanceName    *string `json:"saas_app_instance_name,omitempty"`
	Missing                *bool   `json:"missing,omitempty"`
}

// sdkAPIServiceAccountCheckoutSettings is pam-sdk-go's APIServiceAccountCheckoutSettings (UD and
// SaaS app checkout settings).
type sdkAPIServiceAccountCheckoutSettings struct {
	CheckoutRequired          bool                                 `json:"checkout_required"`
	CheckoutDurationInSeconds int32                                `json:"checkout_duration_in_seconds"`
	IncludeList               []sdkServiceAccountSettingNameObject `json:"include_list,omitempty"`
	ExcludeList               []sdkServiceAccountSettingNameObject `json:"exclude_list,omitempty"`
}

// sdkActiveDirectorySettingNameObject is pam-sdk-go's ActiveDirectorySettingNameObject.
type sdkActiveDirectorySettingNameObject struct {
	Domain      string  `json:"domain"`
	AccountSid  string  `json:"account_sid"`
	AccountName *string `json:"account_name,omitempty"`
	Missing     *bool   `json:"missing,omitempty"`
}

// sdkActiveDirectoryCheckoutSettings is pam-sdk-go's ActiveDirectoryCheckoutSettings.
type sdkActiveDirectoryCheckoutSettings struct {
	CheckoutRequired          bool                                  `json:"checkout_required"`
	CheckoutDurationInSeconds int32                                 `json:"checkout_duration_in_seconds"`
	IncludeList               []sdkActiveDirectorySettingNameObject `json:"include_list,omitempty"`
	ExcludeList               []sdkActiveDirectorySettingNameObject `json:"exclude_list,omitempty"`
}

// sdkPasswordPolicyCharacterOptions is pam-sdk-go's PasswordPolicyCharacterOptions.
type sdkPasswordPolicyCharacterOptions struct {
	UpperCase             *bool    `json:"upper_case,omitempty"`
	LowerCase             *bool    `json:"lower_case,omitempty"`
	Digits                *bool    `json:"digits,omitempty"`
	Punctuation           *bool    `json:"punctuation,omitempty"`
	ExcludeCertainSymbols []string `json:"exclude_certain_symbols,omitempty"`
}

// sdkPasswordPolicyWithExclude is pam-sdk-go's PasswordPolicyWithExclude (UD and SaaS password
// settings); sdkActiveDirectoryPasswordPolicy its ActiveDirectoryPasswordPolicy.
type sdkPasswordPolicyWithExclude struct {
	EnablePeriodicRotation              bool                                 `json:"enable_periodic_rotation"`
	PeriodicRotationAccountSelectorMode *string                              `json:"periodic_rotation_account_selector_mode,omitempty"`
	PeriodicRotationAccountIncludeList  []sdkServiceAccountSettingNameObject `json:"periodic_rotation_account_include_list,omitempty"`
	PeriodicRotationAccountExcludeList  []sdkServiceAccountSettingNameObject `json:"periodic_rotation_account_exclude_list,omitempty"`
	PeriodicRotationDurationInSeconds   *int32                               `json:"periodic_rotation_duration_in_seconds,omitempty"`
	CharacterOptions                    sdkPasswordPolicyCharacterOptions    `json:"character_options"`
	MinLengthInBytes                    int32                                `json:"min_length_in_bytes"`
	MaxLengthInBytes                    int32                                `json:"max_length_in_bytes"`
	ModifiedAt                          *time.Time                           `json:"modified_at,omitempty"`
}

type sdkActiveDirectoryPasswordPolicy struct {
	EnablePeriodicRotation              bool                                  `json:"enable_periodic_rotation"`
	PeriodicRotationAccountSelectorMode *string                               `json:"periodic_rotation_account_selector_mode,omitempty"`
	PeriodicRotationAccountIncludeList  []sdkActiveDirectorySettingNameObject `json:"periodic_rotation_account_include_list,omitempty"`
	PeriodicRotationAccountExcludeList  []sdkActiveDirectorySettingNameObject `json:"periodic_rotation_account_exclude_list,omitempty"`
	PeriodicRotationDurationInSeconds   *int32                                `json:"periodic_rotation_duration_in_seconds,omitempty"`
	CharacterOptions                    sdkPasswordPolicyCharacterOptions     `json:"character_options"`
	MinLengthInBytes                    int32                                 `json:"min_length_in_bytes"`
	MaxLengthInBytes                    int32                                 `json:"max_length_in_bytes"`
	ModifiedAt                          *time.Time                            `json:"modified_at,omitempty"`
}

// sendJSON marshals v the way the SDK does (encoding/json of its model) and sends it as role.
func (e *env) sendJSON(role, method, path string, v any) response {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(role, method, path, string(b))
}

// udAccountIDs returns the ids of the UD accounts of the demo project infra/service-accounts, by
// username, from the admin list.
func (e *env) udAccountIDs() map[string]string {
	e.t.Helper()
	prj := e.srv.Loaded().Team("demo").Projects["infra/service-accounts"]
	var l struct {
		List []struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", "/resource_groups/"+e.rgID()+"/projects/"+prj+"/okta_universal_directory_accounts", nil).json(e.t, &l)
	out := map[string]string{}
	for _, a := range l.List {
		out[a.Username] = a.ID
	}
	if len(out) < 2 {
		e.t.Fatalf("the demo project has %d UD accounts", len(out))
	}
	return out
}

// TestClientWireUDSettingsLists (issue 17 A1): the provider's oktapam_okta_universal_directory_
// checkout_settings PUTs {"id": "<UD account id>"} entries (204) and reads .id back in order; the
// UD password settings lists take the same entries. An id that names no account of the project
// reads back with missing true; both lists at once is refused with the message the provider's
// tests look for.
func TestClientWireUDSettingsLists(t *testing.T) {
	e := newEnv(t)
	ids := e.udAccountIDs()
	prj := "/resource_groups/" + e.rgID() + "/projects/" + e.srv.Loaded().Team("demo").Projects["infra/service-accounts"]
	ghost := "00000000-0000-4000-8000-00000000dead"
	order := []string{ids["gh-release-bot"], ghost, ids["OpsCaliforniaShared"]}
	put := sdkAPIServiceAccountCheckoutSettings{CheckoutRequired: true, CheckoutDurationInSeconds: 900,
		ExcludeList: []sdkServiceAccountSettingNameObject{}}
	for _, id := range order {
		put.IncludeList = append(put.IncludeList, sdkServiceAccountSettingNameObject{ID: id})
	}
	r := e.sendJSON("all", "PUT", prj+"/okta_universal_directory_checkout_settings", put)
	if r.status != 204 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	var got sdkAPIServiceAccountCheckoutSettings
	e.must(200, "all", "GET", prj+"/okta_universal_directory_checkout_settings", nil).json(t, &got)
	if len(got.IncludeList) != 3 || len(got.ExcludeList) != 0 || !got.CheckoutRequired || got.CheckoutDurationInSeconds != 900 {
		t.Fatalf("GET: %+v", got)
	}
	for i, ref := range got.IncludeList {
		missing := ref.Missing != nil && *ref.Missing
		if ref.ID != order[i] || missing != (order[i] == ghost) {
			t.Errorf("entry %d: %+v, want id %s", i, ref, order[i])
		}
	}
	if u := got.IncludeList[0].ServiceAccountUserName; u == nil || *u != "gh-release-bot" {
		t.Errorf("service_account_user_name: %v", u)
	}
	both := put
	both.ExcludeList = []sdkServiceAccountSettingNameObject{{ID: ids["gh-release-bot"]}}
	r = e.sendJSON("all", "PUT", prj+"/okta_universal_directory_checkout_settings", both)
	var apiErr sdkAPIError
	r.json(t, &apiErr)
	if r.status != 400 || !strings.Contains(apiErr.Message, "Only one of 'IncludeList' or 'ExcludeList' can be specified") {
		t.Fatalf("both lists: %d %s", r.status, r.body)
	}
	r = e.do("all", "PUT", prj+"/okta_universal_directory_checkout_settings", `{"checkout_required":true,"checkout_duration_in_seconds":900,"include_list":[{}]}`)
	if r.status != 400 {
		t.Fatalf("entry without id: %d %s", r.status, r.body)
	}
	// The provider's delete.
	e.must(204, "all", "PUT", prj+"/okta_universal_directory_checkout_settings",
		`{"checkout_required":false,"checkout_duration_in_seconds":900,"include_list":[],"exclude_list":[]}`)

	// UD password settings: same entries; the PUT answers 200 with the stored policy (A7).
	yes := true
	mode := "INCLUDE"
	dur := int32(86400)
	pol := sdkPasswordPolicyWithExclude{EnablePeriodicRotation: true, PeriodicRotationAccountSelectorMode: &mode,
		PeriodicRotationAccountIncludeList: []sdkServiceAccountSettingNameObject{{ID: ids["OpsCaliforniaShared"]}},
		PeriodicRotationDurationInSeconds:  &dur,
		CharacterOptions:                   sdkPasswordPolicyCharacterOptions{UpperCase: &yes, LowerCase: &yes, Digits: &yes},
		MinLengthInBytes:                   16, MaxLengthInBytes: 24}
	r = e.sendJSON("all", "PUT", prj+"/okta_universal_directory_password_settings", pol)
	if r.status != 200 {
		t.Fatalf("PUT password settings: %d %s", r.status, r.body)
	}
	var stored sdkPasswordPolicyWithExclude
	r.json(t, &stored)
	if !stored.EnablePeriodicRotation || len(stored.PeriodicRotationAccountIncludeList) != 1 ||
		stored.PeriodicRotationAccountIncludeList[0].ID != ids["OpsCaliforniaShared"] ||
		stored.PeriodicRotationAccountIncludeList[0].Missing == nil || *stored.PeriodicRotationAccountIncludeList[0].Missing ||
		stored.PeriodicRotationDurationInSeconds == nil || *stored.PeriodicRotationDurationInSeconds != 86400 ||
		stored.MinLengthInBytes != 16 || stored.MaxLengthInBytes != 24 || stored.ModifiedAt == nil {
		t.Fatalf("PUT answer: %s", r.body)
	}
	var again sdkPasswordPolicyWithExclude
	e.must(200, "all", "GET", prj+"/okta_universal_directory_password_settings", nil).json(t, &again)
	if diff := cmp.Diff(stored, again); diff != "" {
		t.Fatalf("the PUT's answer is not what GET reads (-put +get):\n%s", diff)
	}
}

// TestClientWireADSettings (issue 17 A7, A10): the AD password settings PUT answers 200 with the
// stored ActiveDirectoryPasswordPolicy, and an AD include_list entry given by domain and SID reads
// back with its account_name.
func TestClientWireADSettings(t *testing.T) {
	e := newEnv(t)
	prj := "/resource_groups/" + e.rgID() + "/projects/" + e.srv.Loaded().Team("demo").Projects["infra/service-accounts"]
	var accts struct {
		List []struct {
			ID          string `json:"id"`
			AccountName string `json:"account_name"`
			Domain      struct {
				Name string `json:"name"`
			} `json:"domain"`
			SID string `json:"sid"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", prj+"/active_directory_accounts", nil).json(t, &accts)
	if len(accts.List) == 0 {
		t.Fatal("no AD accounts in the project")
	}
	a := accts.List[0]
	domain := a.Domain.Name
	if a.SID == "" || domain == "" {
		t.Fatalf("account view without sid or domain: %+v", a)
	}
	r := e.sendJSON("all", "PUT", prj+"/active_directory_checkout_settings", sdkActiveDirectoryCheckoutSettings{
		CheckoutRequired: true, CheckoutDurationInSeconds: 1800,
		IncludeList: []sdkActiveDirectorySettingNameObject{{Domain: domain, AccountSid: a.SID}}})
	if r.status != 204 {
		t.Fatalf("PUT checkout: %d %s", r.status, r.body)
	}
	var cs sdkActiveDirectoryCheckoutSettings
	e.must(200, "all", "GET", prj+"/active_directory_checkout_settings", nil).json(t, &cs)
	if len(cs.IncludeList) != 1 || cs.IncludeList[0].AccountName == nil || *cs.IncludeList[0].AccountName != a.AccountName ||
		cs.IncludeList[0].AccountSid != a.SID || cs.IncludeList[0].Missing == nil || *cs.IncludeList[0].Missing {
		t.Fatalf("GET checkout: %+v", cs)
	}
	yes, no := true, false
	mode := "EXCLUDE"
	pol := sdkActiveDirectoryPasswordPolicy{PeriodicRotationAccountSelectorMode: &mode,
		PeriodicRotationAccountExcludeList: []sdkActiveDirectorySettingNameObject{{Domain: domain, AccountSid: a.SID}},
		CharacterOptions:                   sdkPasswordPolicyCharacterOptions{UpperCase: &yes, LowerCase: &yes, Digits: &yes, Punctuation: &no},
		MinLengthInBytes:                   20, MaxLengthInBytes: 24}
	r = e.sendJSON("all", "PUT", prj+"/active_directory_password_settings", pol)
	if r.status != 200 {
		t.Fatalf("PUT password: %d %s", r.status, r.body)
	}
	var stored, again sdkActiveDirectoryPasswordPolicy
	r.json(t, &stored)
	e.must(200, "all", "GET", prj+"/active_directory_password_settings", nil).json(t, &again)
	if diff := cmp.Diff(stored, again); diff != "" {
		t.Fatalf("the PUT's answer is not what GET reads (-put +get):\n%s", diff)
	}
	if len(stored.PeriodicRotationAccountExcludeList) != 1 || stored.PeriodicRotationAccountExcludeList[0].AccountName == nil ||
		*stored.PeriodicRotationAccountExcludeList[0].AccountName != a.AccountName || stored.MinLengthInBytes != 20 {
		t.Fatalf("PUT answer: %s", r.body)
	}
}

// sdkUAMDetailsModel mirrors how pam-sdk-go's UserAccessMethodDetails.UnmarshalJSON picks a model:
// by "_type", both the model names and the short discriminators; anything else is Unknown.
func sdkUAMDetailsModel(details json.RawMessage) string {
	var d map[string]any
	if json.Unmarshal(details, &d) != nil {
		return "error"
	}
	switch d["_type"] {
	case "UserAccessMethodActiveDirectoryAccountDetails", "active_directory_account":
		return "UserAccessMethodActiveDirectoryAccountDetails"
	case "UserAccessMethodServiceAccountDetails", "service_account":
		return "UserAccessMethodServiceAccountDetails"
	case "UserAccessMethodSecretDetails", "secret":
		return "UserAccessMethodSecretDetails"
	case "UserAccessMethodServerDetails", "ad_password", "ad_passwordless", "brokered_rdp", "encrypted_ad_rdp_password",
		"encrypted_ad_rdp_password_with_admin", "encrypted_ad_rdp_password_with_remote_access", "encrypted_ad_ssh_password",
		"encrypted_rdp_password", "encrypted_ssh_password", "principal_account_rdp", "principal_account_rdp_with_admin",
		"principal_account_ssh", "principal_account_ssh_with_admin", "principal_account_ssh_with_sudo", "unknown", "unmanaged_rdp":
		return "UserAccessMethodServerDetails"
	}
	return "Unknown"
}

// sdkServiceAccountDetails is UserAccessMethodServiceAccountDetails; its privileges are
// ServiceAccountPrivilegeContainer, whose privilege_value is picked by its own "_type"
// (reveal_password: SecurityPolicyRevealPasswordPrivilege, update_password: …UpdatePassword…).
type sdkServiceAccountDetails struct {
	Type       *string `json:"_type,omitempty"`
	AccountID  string  `json:"account_id"`
	Privileges []struct {
		PrivilegeType  *string        `json:"privilege_type,omitempty"`
		PrivilegeValue map[string]any `json:"privilege_value,omitempty"`
	} `json:"privileges"`
}

// sdkEncrypt is what pam-sdk-go's APIClient.Encrypt does: fetch the team's vault JWKS, pick the
// key whose alg ranks first (ECDH-ES+A256KW, +A192KW, +A128KW, ECDH-ES, RSA-OAEP-256), encrypt
// with go-jose to A256GCM, and send the JSON serialization (FullSerialize). alg, when not empty,
// overrides the key's alg (to try the key-wrapped modes the SDK prefers).
func (e *env) sdkEncrypt(role, plaintext, alg string, compact bool) string {
	e.t.Helper()
	var jwks jose.JSONWebKeySet
	e.must(200, role, "GET", "/vault/jwks.json", nil).json(e.t, &jwks)
	rank := map[string]int{"ECDH-ES+A256KW": 1, "ECDH-ES+A192KW": 2, "ECDH-ES+A128KW": 3, "ECDH-ES": 4, "RSA-OAEP-256": 5}
	var key *jose.JSONWebKey
	for i, k := range jwks.Keys {
		if r, ok := rank[k.Algorithm]; ok && (key == nil || r < rank[key.Algorithm]) {
			key = &jwks.Keys[i]
		}
	}
	if key == nil {
		e.t.Fatalf("no key the SDK would pick in %+v", jwks)
	}
	if alg == "" {
		alg = key.Algorithm
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.KeyAlgorithm(alg), Key: key}, &jose.EncrypterOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	obj, err := enc.Encrypt([]byte(plaintext))
	if err != nil {
		e.t.Fatal(err)
	}
	if compact {
		s, err := obj.CompactSerialize()
		if err != nil {
			e.t.Fatal(err)
		}
		return s
	}
	return obj.FullSerialize()
}

// TestClientWireUDAccessMethodsAndRotate (issue 17 A6, A2): a UD account's user access methods
// decode, the SDK's way, into UserAccessMethodServiceAccountDetails (not Unknown) with typed
// privilege values; a rotate_password whose password_jwe is what APIClient.Encrypt produces (the
// JSON serialization, ECDH-ES, A256GCM) sets that password, as do the key-wrapped mode and the
// compact form; a JWE to another key is 400 and changes nothing.
func TestClientWireUDAccessMethodsAndRotate(t *testing.T) {
	e := newEnv(t)
	var l struct {
		List []struct {
			Account struct {
				ID       string `json:"id"`
				Username string `json:"username"`
			} `json:"account"`
		} `json:"list"`
	}
	e.must(200, "end_user", "GET", "/okta_universal_directory_accounts", nil).json(t, &l)
	if len(l.List) == 0 {
		t.Fatal("the end user sees no UD account")
	}
	acct := l.List[0].Account.ID
	path := "/okta_universal_directory_accounts/" + acct
	var uams struct {
		List []json.RawMessage `json:"list"`
	}
	e.must(200, "end_user", "GET", path+"/user_access_methods", nil).json(t, &uams)
	var rotate, reveal json.RawMessage
	for _, raw := range uams.List {
		var m struct {
			UserAccessType string          `json:"user_access_type"`
			Details        json.RawMessage `json:"details"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if model := sdkUAMDetailsModel(m.Details); model != "UserAccessMethodServiceAccountDetails" {
			t.Fatalf("details %s decode as %s", m.Details, model)
		}
		dec := json.NewDecoder(strings.NewReader(string(m.Details)))
		dec.DisallowUnknownFields()
		var d sdkServiceAccountDetails
		if err := dec.Decode(&d); err != nil || d.AccountID != acct || len(d.Privileges) != 1 {
			t.Fatalf("details %s: %v", m.Details, err)
		}
		p := d.Privileges[0]
		if p.PrivilegeType == nil || p.PrivilegeValue["_type"] != *p.PrivilegeType || p.PrivilegeValue[*p.PrivilegeType] != true {
			t.Fatalf("privilege %s", m.Details)
		}
		// ServiceAccountPrivilegeContainerPrivilegeValue knows only these two discriminators; any
		// other _type decodes as Unknown.
		if *p.PrivilegeType != "reveal_password" && *p.PrivilegeType != "update_password" {
			t.Fatalf("privilege %s is not one the SDK knows for service accounts", m.Details)
		}
		switch m.UserAccessType {
		case "update_password":
			rotate = raw
		case "reveal_password":
			reveal = raw
		}
	}
	if rotate == nil || reveal == nil {
		t.Fatalf("no rotate or reveal method in %d methods", len(uams.List))
	}
	revealed := func() string {
		t.Helper()
		priv, err := revealjwe.GenerateKey(revealjwe.KindP256)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := priv.PublicJWK()
		var rv struct {
			PasswordJWE string `json:"password_jwe"`
		}
		e.must(200, "end_user", "POST", path+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": reveal}).json(t, &rv)
		pw, err := revealjwe.Decrypt(rv.PasswordJWE, priv)
		if err != nil {
			t.Fatal(err)
		}
		return string(pw)
	}
	for _, tc := range []struct {
		name, alg string
		compact   bool
	}{
		{"SDK JSON serialization", "", false},
		{"JSON, ECDH-ES+A256KW", "ECDH-ES+A256KW", false},
		{"compact", "", true},
	} {
		pw := "New-" + strings.ReplaceAll(tc.name, " ", "_") + "-Pw1!"
		jwe := e.sdkEncrypt("end_user", pw, tc.alg, tc.compact)
		r := e.do("end_user", "POST", path+"/rotate_password", map[string]any{"password_jwe": jwe, "user_access_method": rotate})
		if r.status != 204 {
			t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
		}
		if got := revealed(); got != pw {
			t.Fatalf("%s: the revealed password is not the one sent", tc.name)
		}
	}
	before := revealed()
	other, _ := revealjwe.GenerateKey(revealjwe.KindP256)
	pub, _ := other.PublicJWK()
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(pub); err != nil {
		t.Fatal(err)
	}
	enc, _ := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES, Key: &k}, nil)
	obj, _ := enc.Encrypt([]byte("Wrong-Key-Pw1!"))
	r := e.do("end_user", "POST", path+"/rotate_password", map[string]any{"password_jwe": obj.FullSerialize(), "user_access_method": rotate})
	var apiErr sdkAPIError
	r.json(t, &apiErr)
	if r.status != 400 || !strings.Contains(apiErr.Message, "does not decrypt") {
		t.Fatalf("wrong key: %d %s", r.status, r.body)
	}
	if revealed() != before {
		t.Fatal("a refused rotation changed the password")
	}
}

// handWrittenList is the provider's hand-written list loop (oktapam/client, e.g.
// ListADConnections): GET the path with its query parameters, append the page's list, stop when
// the response has no Link header at all, otherwise follow the rel="next" URL (or the bare base
// URL when there is none, the loop's bug) re-applying the same query parameters.
func (e *env) handWrittenList(role, path string, params map[string]string) (items []map[string]any, pages []int) {
	e.t.Helper()
	u := e.srv.TeamURL(path)
	for n := 0; ; n++ {
		if n > 50 {
			e.t.Fatalf("more than 50 pages of %s", path)
		}
		pu, err := url.Parse(u)
		if err != nil {
			e.t.Fatal(err)
		}
		q := pu.Query()
		for k, v := range params {
			q.Add(k, v) // resty adds them to what the link's URL already has
		}
		pu.RawQuery = q.Encode()
		r := e.do(role, "GET", pu.String(), nil)
		if r.status != 200 {
			e.t.Fatalf("GET %s: %d %s (after %d pages)", pu, r.status, r.body, n)
		}
		var body struct {
			List []map[string]any `json:"list"`
		}
		r.json(e.t, &body)
		items = append(items, body.List...)
		pages = append(pages, len(body.List))
		link := r.header.Get("Link")
		if link == "" {
			return items, pages
		}
		u = e.srv.URL // what the loop requests when the Link has no rel="next"
		if next := links(link)["next"]; next != "" {
			u = next
		}
	}
}

// TestClientWireListLoops (issue 17 A3, A4, A10): the provider's list loop over the ASA
// connections filtered by gateway_id gets every matching connection once, on full pages but the
// last, and ends on a response without Link; certificate_id filters too (no connection has a
// certificate); a create without gateway_id is refused. The user sync jobs and the OPA connections
// walk the same way.
func TestClientWireListLoops(t *testing.T) {
	e := newEnv(t)
	gwA, gwB := "5a3af768-063f-4a12-a056-8ef24e555555", "6b4b0879-174a-4b23-b167-9f035f666666"
	wantA := 1 // the demo connection is on gateway A
	for i := 0; i < 125; i++ {
		body := newConnBody(fmt.Sprintf("loop%03d.example.com", i))
		if i%6 == 5 {
			body["gateway_id"] = gwB
		} else {
			wantA++
		}
		e.must(201, "all", "POST", "/integrations/ad_connections", body)
	}
	items, pages := e.handWrittenList("all", "/integrations/ad_connections", map[string]string{"gateway_id": gwA})
	seen := map[string]bool{}
	for _, c := range items {
		if c["gateway_id"] != gwA || seen[c["id"].(string)] {
			t.Fatalf("connection %v: wrong gateway or seen twice", c)
		}
		seen[c["id"].(string)] = true
	}
	if len(items) != wantA || len(pages) != 2 || pages[0] != 100 {
		t.Fatalf("%d connections on pages %v, want %d on a full page and the rest", len(items), pages, wantA)
	}
	if items, _ := e.handWrittenList("all", "/integrations/ad_connections", map[string]string{"certificate_id": "7c5c198a-285b-4c34-8278-a01460777777"}); len(items) != 0 {
		t.Fatalf("certificate_id matched %d connections", len(items))
	}
	if items, pages := e.handWrittenList("all", "/integrations/ad_connections", nil); len(items) != 126 || len(pages) != 2 {
		t.Fatalf("all connections: %d on pages %v", len(items), pages)
	}
	if items, _ := e.handWrittenList("all", "/connections/active_directory", nil); len(items) != 126 {
		t.Fatalf("OPA connections: %d", len(items))
	}
	for i := 0; i < 3; i++ {
		e.must(201, "all", "POST", "/integrations/ad_connections/"+e.connID()+"/user_sync_task_settings", map[string]any{
			"name": fmt.Sprintf("loop job %d", i), "base_dn": "OU=Users,DC=corp,DC=example,DC=com", "frequency": 24, "is_active": false})
	}
	if items, pages := e.handWrittenList("all", "/integrations/ad_connections/"+e.connID()+"/user_sync_task_settings", map[string]string{"status": "INACTIVE"}); len(items) != 3 || len(pages) != 1 {
		t.Fatalf("user sync jobs: %d on pages %v", len(items), pages)
	}

	noGateway := newConnBody("nogw.example.com")
	delete(noGateway, "gateway_id")
	r := e.do("all", "POST", "/integrations/ad_connections", noGateway)
	var apiErr sdkAPIError
	r.json(t, &apiErr)
	if r.status != 400 || !strings.Contains(apiErr.Message, "gateway_id") {
		t.Fatalf("create without gateway_id: %d %s", r.status, r.body)
	}
}

// TestClientWireForceSyncUnreachable (issue 17 A10): StartActiveDirectoryAccountForceSync on a
// connection whose directory has no agent answers 204 (the operation's documented statuses are
// 204/401/404/409), and GetActiveDirectoryAccountSyncStatus, a bare JSON string, then reads
// SYNC_FAILED; once the agent is back a force sync completes.
func TestClientWireForceSyncUnreachable(t *testing.T) {
	e := newEnv(t)
	ra := "/resource_assignment/active_directory/" + e.connID()
	status := func() string {
		t.Helper()
		var s string
		e.must(200, "all", "GET", ra+"/sync_status", nil).json(t, &s)
		return s
	}
	dir := e.srv.Directory("corp.example.com")
	for _, fail := range []func(bool){dir.SetNoAgent, dir.SetAgentTimeout} {
		fail(true)
		r := e.do("all", "PUT", ra+"/force_sync", nil)
		if r.status != 204 || len(r.body) != 0 {
			t.Fatalf("force sync, directory unreachable: %d %s", r.status, r.body)
		}
		if s := status(); s != "SYNC_FAILED" {
			t.Fatalf("sync status %q, want SYNC_FAILED", s)
		}
		fail(false)
	}
	e.must(204, "all", "PUT", ra+"/force_sync", nil)
	if s := status(); s != "SYNC_COMPLETED" {
		t.Fatalf("sync status %q after a good run", s)
	}
}

// TestClientWireIncludeUserAccessMethods (issue 17 A10): ListActiveDirectoryAccounts with
// include_user_access_methods=true decodes into ActiveDirectoryAccountWithUAMs with a
// user_access_methods list on every account (the caller's own methods; the demo admins have none),
// and without it the key is absent.
func TestClientWireIncludeUserAccessMethods(t *testing.T) {
	e := newEnv(t)
	ra := "/resource_assignment/active_directory/" + e.connID() + "/accounts"
	var with struct {
		List []struct {
			ID                *string           `json:"id,omitempty"`
			AccountName       *string           `json:"account_name,omitempty"`
			UserAccessMethods []json.RawMessage `json:"user_access_methods,omitempty"`
		} `json:"list"`
	}
	r := e.must(200, "all", "GET", ra+"?include_user_access_methods=true", nil)
	r.json(t, &with)
	var raw struct {
		List []map[string]any `json:"list"`
	}
	r.json(t, &raw)
	if len(with.List) == 0 {
		t.Fatal("no accounts")
	}
	for i, a := range raw.List {
		if _, ok := a["user_access_methods"].([]any); !ok || with.List[i].ID == nil {
			t.Fatalf("account %v has no user_access_methods list", a)
		}
	}
	var plain struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "all", "GET", ra, nil).json(t, &plain)
	for _, a := range plain.List {
		if _, ok := a["user_access_methods"]; ok {
			t.Fatalf("user_access_methods without include_user_access_methods: %v", a)
		}
	}
	e.must(400, "all", "GET", ra+"?include_user_access_methods=maybe", nil)
}

// oktaAgentAction is okta-sdk-golang's AgentAction (api_directories_integration.go models): what
// its UpdateGroupMembership sends as the body of groups/modify.
type oktaAgentAction struct {
	Id         *string `json:"id,omitempty"`
	Parameters *struct {
		Action    *string  `json:"action,omitempty"`
		Attribute *string  `json:"attribute,omitempty"`
		Values    []string `json:"values,omitempty"`
	} `json:"parameters,omitempty"`
}

// TestClientWireGroupsModifyOktaIDs (issue 17 A9): groups/modify names the group and the users
// by their Okta ids, as the reference's sample does (00g1xucgTZFrziXg10g4, which the demo
// fixture assigns to Helpdesk); a derived id (the engine's DirectoryOktaID) works the same, a
// user's 00u id is not a group, and an unknown id is Okta's 404.
func TestClientWireGroupsModifyOktaIDs(t *testing.T) {
	e := newEnv(t)
	const app = "0oa1corpexample0ad01"
	tok := "SSWS 00demo-okta-api-token-change-me"
	send := func(group string, values ...string) (int, oktaSDKError) {
		t.Helper()
		a := oktaAgentAction{Id: &group}
		a.Parameters = &struct {
			Action    *string  `json:"action,omitempty"`
			Attribute *string  `json:"attribute,omitempty"`
			Values    []string `json:"values,omitempty"`
		}{Action: ptr("ADD"), Attribute: ptr("member"), Values: values}
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		r := e.doHeader("POST", "/api/v1/directories/"+app+"/groups/modify", string(raw), map[string]string{"Authorization": tok})
		var oe oktaSDKError
		if r.status != 200 {
			r.json(t, &oe)
		} else if len(r.body) != 0 {
			t.Fatalf("200 with a body %q", r.body)
		}
		return r.status, oe
	}
	dir := e.srv.Directory("corp.example.com")
	members := func() []string {
		en, err := dir.Entry("CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com")
		if err != nil {
			t.Fatal(err)
		}
		return en.GetAll("member")
	}
	has := func(dn string) bool {
		for _, m := range members() {
			if strings.EqualFold(m, dn) {
				return true
			}
		}
		return false
	}
	john := "CN=adm.john.smith,OU=Admins,DC=corp,DC=example,DC=com"
	if st, oe := send("00g1xucgTZFrziXg10g4", "00u1admjohnsmith0001"); st != 200 || !has(john) {
		t.Fatalf("fixture-assigned ids: %d %+v, members %v", st, oe, members())
	}
	loaded := e.srv.Loaded().Team("demo")
	sys := opa.SystemPrincipal(opa.Team{ID: loaded.ID, Name: loaded.Name})
	jane := "CN=Jane Doe,OU=Users,DC=corp,DC=example,DC=com"
	janeID, err := e.srv.Engine().DirectoryOktaID(t.Context(), sys, loaded.Connections["corp.example.com"], jane)
	if err != nil || !strings.HasPrefix(janeID, "00u") {
		t.Fatalf("derived id %q: %v", janeID, err)
	}
	if st, oe := send("00g1xucgTZFrziXg10g4", janeID); st != 200 || !has(jane) {
		t.Fatalf("derived user id: %d %+v, members %v", st, oe, members())
	}
	before := members()
	for _, tc := range []struct {
		name, group, value, summary string
	}{
		{"user id as group", "00u1admjohnsmith0001", janeID, "Not found: Resource not found: 00u1admjohnsmith0001 (Group)"},
		{"unknown group", "00gUnknownGroup00001", janeID, "Not found: Resource not found: 00gUnknownGroup00001 (Group)"},
		{"unknown user", "00g1xucgTZFrziXg10g4", "00uUnknownUser000001", "Not found: Resource not found: 00uUnknownUser000001 (User)"},
	} {
		st, oe := send(tc.group, tc.value)
		if st != 404 || oe.ErrorCode != "E0000007" || oe.ErrorSummary != tc.summary {
			t.Errorf("%s: %d %+v", tc.name, st, oe)
		}
	}
	if got := members(); !cmp.Equal(got, before) {
		t.Fatalf("refused requests changed the members: %v, was %v", got, before)
	}
}
