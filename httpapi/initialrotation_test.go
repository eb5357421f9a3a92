package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opakit/opa/revealjwe"
)

// ruleBody is an account rule request for the demo's service accounts.
func (e *env) ruleBody(initialRotation bool) map[string]any {
	return map[string]any{"name": "service accounts", "rule_type": "SHARED",
		"organizational_units":             []string{"OU=ServiceAccounts,DC=corp,DC=example,DC=com"},
		"resource_group":                   map[string]string{"id": e.rgID()},
		"project":                          map[string]string{"id": e.srv.Loaded().Team("demo").Projects["infra/service-accounts"]},
		"enable_initial_password_rotation": initialRotation}
}

// serviceAccounts returns the ids of the demo's two service accounts by sAMAccountName.
func (e *env) serviceAccounts() map[string]string {
	var list struct {
		List []struct {
			ID             string `json:"id"`
			SAMAccountName string `json:"sam_account_name"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", "/resource_assignment/active_directory/"+e.connID()+"/accounts", nil).json(e.t, &list)
	out := map[string]string{}
	for _, a := range list.List {
		if strings.HasPrefix(a.SAMAccountName, "svc-") {
			out[a.SAMAccountName] = a.ID
		}
	}
	return out
}

type rotationView struct {
	Status    string `json:"account_status_detail"`
	Successes int    `json:"password_change_success_count"`
	ErrorType string `json:"last_password_change_error_type"`
}

// initialRotationEnv is the demo with helpers to replace its "service accounts" rule and read the
// two service accounts' directory passwords and rotation details.
type initialRotationEnv struct {
	*env
	ra      string
	accts   map[string]string // sAMAccountName -> account id
	dn      map[string]string
	initial map[string]string // the fixture's directory passwords
}

func newInitialRotationEnv(t *testing.T) *initialRotationEnv {
	e := newEnv(t)
	return &initialRotationEnv{env: e, ra: "/resource_assignment/active_directory/" + e.connID(), accts: e.serviceAccounts(),
		dn: map[string]string{
			"svc-backup": "CN=svc-backup,OU=ServiceAccounts,DC=corp,DC=example,DC=com",
			"svc-sql":    "CN=svc-sql,OU=ServiceAccounts,DC=corp,DC=example,DC=com",
		},
		initial: map[string]string{"svc-backup": "Initial-Backup-Pw1!", "svc-sql": "Initial-Sql-Pw1!"}}
}

func (e *initialRotationEnv) password(name string) string {
	pw, _ := e.srv.Loaded().Directories["corp.example.com"].Password(e.dn[name])
	return pw
}

func (e *initialRotationEnv) view(name string) rotationView {
	var v rotationView
	e.must(200, "all", "GET", e.ra+"/accounts/"+e.accts[name], nil).json(e.t, &v)
	return v
}

// replaceRule deletes the demo's "service accounts" rule (its accounts become unmanaged) and
// creates it again with the flag.
func (e *initialRotationEnv) replaceRule(initialRotation bool) {
	e.t.Helper()
	var rules struct {
		List []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", e.ra+"/rules", nil).json(e.t, &rules)
	for _, r := range rules.List {
		if r.Name == "service accounts" {
			e.must(204, "all", "DELETE", e.ra+"/rules/"+r.ID, nil)
		}
	}
	var created struct {
		Flag bool `json:"enable_initial_password_rotation"`
	}
	e.must(201, "all", "POST", e.ra+"/rules", e.ruleBody(initialRotation)).json(e.t, &created)
	if created.Flag != initialRotation {
		e.t.Fatalf("the rule reads back enable_initial_password_rotation %v", created.Flag)
	}
}

// reveal reveals svc-sql as the demo's end user and returns the password.
func (e *initialRotationEnv) reveal() string {
	e.t.Helper()
	eu := "/active_directory/" + e.connID() + "/accounts/" + e.endUserAccountID("svc-sql")
	var uams struct {
		List []map[string]any `json:"list"`
	}
	e.must(200, "end_user", "GET", eu+"/user_access_methods?privilege_type=reveal_password", nil).json(e.t, &uams)
	priv, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		e.t.Fatal(err)
	}
	pub, _ := priv.PublicJWK()
	var rv struct {
		PasswordJWE string `json:"password_jwe"`
	}
	e.must(200, "end_user", "POST", eu+"/reveal_credentials", map[string]any{"public_key": json.RawMessage(pub), "user_access_method": uams.List[0]}).json(e.t, &rv)
	pw, err := revealjwe.Decrypt(rv.PasswordJWE, priv)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(pw)
}

// TestInitialPasswordRotation: an account rule with enable_initial_password_rotation rotates, in
// the directory, the password of each account it brings under management, before the request that
// brought it answers, and the reveal hands out exactly that password. A rotation that fails (the
// agent times out) is recorded, leaves the accounts available, and the next tick retries it.
// Without the flag the accounts keep their directory passwords (MISSING_PASSWORD) until the
// first reveal, which rotates.
func TestInitialPasswordRotation(t *testing.T) {
	t.Run("without the flag", func(t *testing.T) {
		e := newInitialRotationEnv(t)
		e.replaceRule(false)
		for name := range e.dn {
			if e.password(name) != e.initial[name] || e.view(name).Status != "MISSING_PASSWORD" {
				t.Fatalf("%s: password changed or %+v", name, e.view(name))
			}
		}
		pw := e.reveal()
		if pw == e.initial["svc-sql"] || pw != e.password("svc-sql") || e.view("svc-sql").Status != "ROTATED" {
			t.Fatalf("the first reveal did not hand out a new password set in the directory (%+v)", e.view("svc-sql"))
		}
	})
	t.Run("with the flag", func(t *testing.T) {
		e := newInitialRotationEnv(t)
		e.replaceRule(true)
		for name := range e.dn {
			if pw := e.password(name); pw == e.initial[name] || pw == "" {
				t.Fatalf("%s was not rotated when the rule brought it under management", name)
			}
			if v := e.view(name); v.Status != "ROTATED" || v.Successes != 1 {
				t.Fatalf("%s: %+v", name, v)
			}
		}
		rotated := e.password("svc-sql")
		if pw := e.reveal(); pw != rotated || e.password("svc-sql") != rotated {
			t.Fatal("the reveal did not hand out the initial rotation's password, or rotated again")
		}
	})
	t.Run("a failed initial rotation is retried", func(t *testing.T) {
		e := newInitialRotationEnv(t)
		dir := e.srv.Loaded().Directories["corp.example.com"]
		dir.SetAgentTimeout(true)
		e.replaceRule(true)
		dir.SetAgentTimeout(false)
		for name := range e.dn {
			if v := e.view(name); e.password(name) != e.initial[name] || v.Status != "ROTATION_FAILED" || v.ErrorType != "AGENT_TIMEOUT" {
				t.Fatalf("%s after a timed-out initial rotation: %+v", name, v)
			}
		}
		r := e.must(200, "end_user", "GET", "/active_directory/"+e.connID()+"/accounts?account_name=svc-", nil)
		if strings.Contains(string(r.body), "UNAVAILABLE") {
			t.Fatalf("a pending initial rotation made the accounts unavailable: %s", r.body)
		}
		e.advance("1m")
		for name := range e.dn {
			if v := e.view(name); e.password(name) == e.initial[name] || v.Status != "ROTATED" || v.Successes != 1 {
				t.Fatalf("%s after the tick: %+v", name, v)
			}
		}
	})
}

// TestImportOktaUsersRefused: no source says what enable_import_okta_users does, so true is 400
// on create and update and changes nothing; false is accepted.
func TestImportOktaUsersRefused(t *testing.T) {
	e := newEnv(t)
	ra := "/resource_assignment/active_directory/" + e.connID()
	before := string(e.must(200, "all", "GET", ra+"/rules", nil).body)
	body := e.ruleBody(false)
	body["name"], body["enable_import_okta_users"] = "imports", true
	r := e.must(400, "all", "POST", ra+"/rules", body)
	if !strings.Contains(string(r.body), "enable_import_okta_users") || !strings.Contains(string(r.body), `"invalid_request"`) {
		t.Fatalf("refusal %s", r.body)
	}
	var rules struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	e.must(200, "all", "GET", ra+"/rules", nil).json(t, &rules)
	e.must(400, "all", "PUT", ra+"/rules/"+rules.List[0].ID, body)
	if after := string(e.must(200, "all", "GET", ra+"/rules", nil).body); after != before {
		t.Fatalf("a refused rule changed the rules:\n%s\n%s", before, after)
	}
	body["enable_import_okta_users"] = false
	e.must(201, "all", "POST", ra+"/rules", body)
}
