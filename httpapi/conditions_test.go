package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/opatest"
	"github.com/opakit/opa/revealjwe"
)

// TestConditionControl: the demo's shared-account rule requiring MFA and an access request (and no
// checkout, so that reveals can follow each other). Until
// a test approves them, the access method shows condition_is_met false and the reveal is 403
// naming the unmet condition; /_fake/conditions approves them (for the user, for one account, until
// a time), a later denial overrides an approval, an approval for another account or user does not
// count, an expired one neither, DELETE forgets them, and the Go side (Server.Conditions) is the
// same list.
func TestConditionControl(t *testing.T) {
	doc := demoWith(t, func(doc map[string]any) {
		team := doc["teams"].([]any)[0].(map[string]any)
		rule := team["policies"].([]any)[0].(map[string]any)["rules"].([]any)[0].(map[string]any)
		rule["conditions"] = map[string]any{"mfa_required": true, "access_request_required": true}
	})
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(doc))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	acct := e.endUserAccountID("svc-sql")
	eu := "/active_directory/" + e.connID() + "/accounts/" + acct
	uam := func() map[string]any {
		var uams struct {
			List []map[string]any `json:"list"`
		}
		e.must(200, "end_user", "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil).json(t, &uams)
		for _, m := range uams.List {
			if len(m["conditionals"].([]any)) > 0 {
				return m
			}
		}
		t.Fatalf("no access method with conditions: %v", uams.List)
		return nil
	}
	met := func() []bool {
		var out []bool
		for _, c := range uam()["conditionals"].([]any) {
			out = append(out, c.(map[string]any)["condition_is_met"].(bool))
		}
		return out
	}
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicJWK()
	reveal := func() response {
		return e.do("end_user", "POST", eu+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": uam()})
	}
	set := func(a map[string]any) {
		e.must(201, "", "POST", "/_fake/conditions", a)
	}
	refusedFor := func(cond string) {
		t.Helper()
		r := reveal()
		if r.status != 403 || !strings.Contains(string(r.body), "requires "+cond) || !strings.Contains(string(r.body), `"forbidden_error"`) {
			t.Fatalf("reveal: %d %s, want 403 naming %s", r.status, r.body, cond)
		}
	}

	if got := met(); len(got) != 2 || got[0] || got[1] {
		t.Fatalf("condition_is_met before any approval: %v", got)
	}
	refusedFor("mfa")
	set(map[string]any{"condition": "mfa", "team": "demo", "user": "ENDUSER-BOT", "met": true})
	refusedFor("access_request")
	set(map[string]any{"condition": "access_request", "team": "demo", "user": "enduser-bot", "resource_id": "another-account", "met": true})
	set(map[string]any{"condition": "access_request", "team": "demo", "user": "jane.doe", "met": true})
	refusedFor("access_request")
	set(map[string]any{"condition": "access_request", "team": "demo", "user": "enduser-bot", "resource_id": acct, "met": true,
		"expires_at": srv.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	if got := met(); !got[0] || !got[1] {
		t.Fatalf("condition_is_met after the approvals: %v", got)
	}
	if r := reveal(); r.status != 200 {
		t.Fatalf("reveal with both conditions met: %d %s", r.status, r.body)
	}

	// A denial set later wins; deleting it restores the approval.
	var denial httpapi.ConditionApproval
	e.must(201, "", "POST", "/_fake/conditions", map[string]any{"condition": "mfa", "team": "demo", "user": "enduser-bot", "met": false}).json(t, &denial)
	refusedFor("mfa")
	e.must(204, "", "DELETE", "/_fake/conditions/"+denial.ID, nil)
	e.must(404, "", "DELETE", "/_fake/conditions/"+denial.ID, nil)
	if got := met(); !got[0] || !got[1] {
		t.Fatalf("after deleting the denial: %v", got)
	}
	// The access request approval expires.
	e.advance("2h")
	refusedFor("access_request")

	// The Go side is the same list.
	if _, err := srv.Conditions.Set(httpapi.ConditionApproval{Condition: opa.ConditionAccessRequest, Team: "demo", User: "enduser-bot", Met: true}); err != nil {
		t.Fatal(err)
	}
	var listed struct {
		List []httpapi.ConditionApproval `json:"list"`
	}
	e.must(200, "", "GET", "/_fake/conditions", nil).json(t, &listed)
	if len(listed.List) != len(srv.Conditions.List()) || len(listed.List) != 5 {
		t.Fatalf("listed %d approvals, Go side %d", len(listed.List), len(srv.Conditions.List()))
	}
	if r := reveal(); r.status != 200 {
		t.Fatalf("reveal after the Go-side approval: %d %s", r.status, r.body)
	}
	e.must(204, "", "DELETE", "/_fake/conditions", nil)
	refusedFor("mfa")

	// Bad approvals are 400 and add nothing.
	for _, bad := range []string{`{"condition":"gateway","team":"demo","user":"x","met":true}`, `{"condition":"mfa","user":"x"}`,
		`{"condition":"mfa","team":"demo"}`, `{"condition":"mfa","team":"demo","user":"x","expires_at":"soon"}`, `[]`} {
		e.must(400, "", "POST", "/_fake/conditions", bad)
	}
	e.must(200, "", "GET", "/_fake/conditions", nil).json(t, &listed)
	if len(listed.List) != 0 {
		t.Fatalf("bad approvals were added: %+v", listed.List)
	}
	// A reset forgets the approvals.
	set(map[string]any{"condition": "mfa", "team": "demo", "user": "enduser-bot", "met": true})
	e.must(204, "", "POST", "/_fake/reset", nil)
	if n := len(srv.Conditions.List()); n != 0 {
		t.Fatalf("%d approvals survived the reset", n)
	}
}
