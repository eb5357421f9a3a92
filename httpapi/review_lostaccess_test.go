package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/opatest"
	"github.com/opakit/opa/revealjwe"
)

// checkOutSvcSQL reveals svc-sql as the demo end user through the demo policy's access method
// that requires a checkout, and returns the account's id.
func checkOutSvcSQL(t *testing.T, e *env) string {
	t.Helper()
	return checkOutAs(t, e, "end_user", "svc-sql")
}

// checkOutAs reveals the account named name as role through an access method that requires a
// checkout, and returns the account's id.
func checkOutAs(t *testing.T, e *env, role, name string) string {
	t.Helper()
	var found struct {
		List []struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		} `json:"list"`
	}
	e.must(200, role, "GET", "/active_directory/"+e.connID()+"/accounts?account_name="+name, nil).json(t, &found)
	if len(found.List) != 1 {
		t.Fatalf("%s sees %d accounts named %s", role, len(found.List), name)
	}
	acct := found.List[0].Account.ID
	eu := "/active_directory/" + e.connID() + "/accounts/" + acct
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicJWK()
	var uams struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, role, "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil).json(t, &uams)
	for _, m := range uams.List {
		if m["checkout_requirements"].(map[string]any)["required"] == true {
			e.must(200, role, "POST", eu+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": m})
			return acct
		}
	}
	t.Fatalf("no access method requiring checkout: %v", uams.List)
	return ""
}

// wantLostAccessCheckin checks that the end user holds no checkout of acct any more and that it
// was checked in by the system because its holder lost access.
func wantLostAccessCheckin(t *testing.T, e *env, acct string) {
	t.Helper()
	wantLostAccessCheckinAs(t, e, "end_user", acct)
}

// wantLostAccessCheckinAs is wantLostAccessCheckin for the holder role.
func wantLostAccessCheckinAs(t *testing.T, e *env, role, acct string) {
	t.Helper()
	var co struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, role, "GET", "/checked_out_resources", nil).json(t, &co)
	if len(co.List) != 0 {
		t.Fatalf("still checked out after losing access: %v", co.List)
	}
	e.must(200, role, "GET", "/checked_out_resources?include_pending_checkin=true", nil).json(t, &co)
	if len(co.List) != 1 || co.List[0]["resource_id"] != acct || co.List[0]["checkin_type"] != "system_user_lost_access" {
		t.Fatalf("checked-in list: %v", co.List)
	}
}

// TestAccountRuleChangeChecksInLostAccess: the demo end user holds svc-sql through the policy's
// rule for SHARED accounts; the administrator changes the account rule that made svc-sql shared
// into an INDIVIDUAL one (PUT …/rules/{id}), so svc-sql stays managed but no rule of the policy
// selects it for the holder. The holder lost access through that change, which must check the
// checkout in at once (system_user_lost_access), as a policy or group change does, not at some
// later Tick.
func TestAccountRuleChangeChecksInLostAccess(t *testing.T) {
	e := newEnv(t)
	acct := checkOutSvcSQL(t, e)
	ra := "/resource_assignment/active_directory/" + e.connID()
	var rules struct {
		List []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", ra+"/rules", nil).json(t, &rules)
	var rule string
	for _, r := range rules.List {
		if r.Name == "service accounts" {
			rule = r.ID
		}
	}
	if rule == "" {
		t.Fatalf("no rule 'service accounts': %+v", rules.List)
	}
	lt := e.srv.Loaded().Team("demo")
	e.must(204, "all", "PUT", ra+"/rules/"+rule, map[string]any{"name": "service accounts", "rule_type": "INDIVIDUAL",
		"organizational_units": []string{"OU=ServiceAccounts,DC=corp,DC=example,DC=com"},
		"resource_group":       map[string]string{"id": lt.ResourceGroups["infra"]}, "project": map[string]string{"id": lt.Projects["infra/service-accounts"]}})
	var a struct {
		AccountType string `json:"account_type"`
		Status      string `json:"status"`
	}
	e.must(200, "all", "GET", ra+"/accounts/"+acct, nil).json(t, &a)
	t.Logf("svc-sql after the rule change: %+v", a)
	wantLostAccessCheckin(t, e, acct)
}

// TestMatchChangeChecksInLostAccess: with the demo policy's rule for the holder's own individual
// accounts requiring a checkout, jane.doe checks out adm.jane.doe; the administrator then matches
// that account to john.smith (PUT …/accounts/{id}/match). jane.doe lost access through that
// change: her checkout is checked in at once (system_user_lost_access).
func TestMatchChangeChecksInLostAccess(t *testing.T) {
	fx := demoWith(t, func(doc map[string]any) {
		team := doc["teams"].([]any)[0].(map[string]any)
		for _, pol := range team["policies"].([]any) {
			for _, r := range pol.(map[string]any)["rules"].([]any) {
				if rule := r.(map[string]any); rule["name"] == "own admin accounts" {
					rule["conditions"] = map[string]any{"checkout_required": true, "checkout_max_seconds": 3600}
				}
			}
		}
	})
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(fx))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	var tok struct {
		BearerToken string `json:"bearer_token"`
	}
	e.must(201, "", "POST", "/_fake/tokens", map[string]string{"team": "demo", "user": "jane.doe"}).json(t, &tok)
	e.tokens["jane"] = tok.BearerToken
	acct := checkOutAs(t, e, "jane", "adm.jane.doe")
	ra := "/resource_assignment/active_directory/" + e.connID()
	john := srv.Loaded().Team("demo").UserIDs["john.smith"]
	if john == "" {
		t.Fatal("no john.smith in the demo fixture")
	}
	e.must(200, "all", "PUT", ra+"/accounts/"+acct+"/match", map[string]any{"match_override_user_id": john})
	wantLostAccessCheckinAs(t, e, "jane", acct)
}

// TestAccountSyncChecksInLostAccess: the demo end user holds svc-sql (SHARED, through the policy's
// rule for shared accounts); in the directory svc-sql moves to OU=Admins, where the account rules
// make it INDIVIDUAL; the next account sync (force sync) reads the move, and the holder, who
// lost access through it, is checked in by that sync, not at some later Tick.
func TestAccountSyncChecksInLostAccess(t *testing.T) {
	e := newEnv(t)
	acct := checkOutSvcSQL(t, e)
	dir := e.srv.Directory("corp.example.com")
	const from = "CN=svc-sql,OU=ServiceAccounts,DC=corp,DC=example,DC=com"
	const to = "CN=svc-sql,OU=Admins,DC=corp,DC=example,DC=com"
	en, err := dir.Entry(from)
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]string{}
	for k, v := range en.Attributes {
		if !strings.EqualFold(k, "distinguishedName") {
			attrs[k] = v
		}
	}
	if err := dir.Remove(from); err != nil {
		t.Fatal(err)
	}
	if err := dir.Add(memdir.EntrySpec{DN: to, Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	ra := "/resource_assignment/active_directory/" + e.connID()
	e.must(204, "all", "PUT", ra+"/force_sync", nil)
	var a struct {
		AccountType       string `json:"account_type"`
		DistinguishedName string `json:"distinguished_name"`
	}
	e.must(200, "all", "GET", ra+"/accounts/"+acct, nil).json(t, &a)
	if a.AccountType != "INDIVIDUAL" || !strings.EqualFold(a.DistinguishedName, to) {
		t.Fatalf("svc-sql after the sync: %+v", a)
	}
	wantLostAccessCheckin(t, e, acct)
}
