package opatest_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/opatest"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// acme is a small fixture built from Go values: a service user with a key, a person, and a
// connection whose in-memory directory has one shared account that a rule brings into a project.
func acme() fixture.File {
	return fixture.File{Seed: 7, Teams: []fixture.Team{{
		Name:           "acme",
		ResourceGroups: []fixture.ResourceGroup{{Name: "ops", Projects: []fixture.Project{{Name: "shared"}}}},
		Groups:         []fixture.Group{{Name: "admins", Roles: []fixture.Role{{Role: opa.RolePAMAdmin}, {Role: opa.RoleResourceAdmin}}}},
		Users: []fixture.User{
			{Username: "robot", ServiceUser: true, Groups: []string{"admins"},
				ServiceKeys: []fixture.ServiceKey{{KeyID: "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b", KeySecret: "robot-secret"}}},
			{Username: "ada", FirstName: "Ada", LastName: "Lovelace", Email: "ada@acme.example"},
		},
		Connections: []fixture.Connection{{
			Name: "acme", Domain: "acme.example",
			Directory: &fixture.Dir{Entries: []memdir.EntrySpec{
				{DN: "DC=acme,DC=example", Attributes: map[string][]string{"objectClass": {"domain"}}},
				{DN: "OU=Svc,DC=acme,DC=example", Attributes: map[string][]string{"objectClass": {"organizationalUnit"}}},
				{DN: "CN=svc-build,OU=Svc,DC=acme,DC=example", Attributes: map[string][]string{
					"objectClass": {"user"}, "sAMAccountName": {"svc-build"}, "userPrincipalName": {"svc-build@acme.example"}},
					Password: "Initial-Pw-1"},
			}},
			Rules: []fixture.AccountRule{{Name: "svc", RuleType: opa.AccountShared, OrganizationalUnits: []string{"OU=Svc,DC=acme,DC=example"},
				ResourceGroup: "ops", Project: "shared"}},
			Sync: true,
		}},
	}}}
}

// TestWithFixtureFromGoValues: a fixture of Go values is loaded (its service key signs in, its
// directory is synced), and a bad one is refused by Start with the JSON path of the bad field.
func TestWithFixtureFromGoValues(t *testing.T) {
	srv := opatest.NewServer(t, opatest.WithFixture(acme()))
	if srv.Team != "acme" || srv.KeyID != "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b" {
		t.Fatalf("team %q key %q", srv.Team, srv.KeyID)
	}
	var conns struct {
		List []struct {
			Domain string `json:"domain"`
		} `json:"list"`
	}
	call(t, srv.Client("robot"), 200, "GET", srv.TeamURL("/connections/active_directory"), nil, &conns)
	if len(conns.List) != 1 || conns.List[0].Domain != "acme.example" {
		t.Fatalf("connections %+v", conns.List)
	}
	if srv.Directory("ACME.example") == nil || srv.Directory("acme.example").Len() != 3 {
		t.Fatal("the fixture's directory is not there")
	}

	bad := acme()
	bad.Teams[0].Users[1].Groups = []string{"nobody"}
	_, err := opatest.Start(opatest.WithFixture(bad))
	if !errors.Is(err, opa.ErrInvalid) || !strings.Contains(err.Error(), `teams[0].users[1].groups[0]: no group named "nobody"`) {
		t.Fatalf("Start: %v, want the path of the bad group", err)
	}
}

// TestWithFixtureFile: a fixture file is loaded; a missing one and a bad one fail Start.
func TestWithFixtureFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "demo.json")
	if err := os.WriteFile(good, opa.DemoFixture, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := opatest.NewServer(t, opatest.WithFixtureFile(good))
	if srv.Team != "demo" || srv.Token() == "" {
		t.Fatalf("team %q token %q", srv.Team, srv.Token())
	}
	if _, err := opatest.Start(opatest.WithFixtureFile(filepath.Join(dir, "missing.json"))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"teams":[{"name":"t","userz":[]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := opatest.Start(opatest.WithFixtureFile(bad)); !errors.Is(err, opa.ErrInvalid) || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("bad file: %v", err)
	}
}

// TestWithSeed: the same seed gives the same ids, whatever the fixture's seed; seed 0 gives random
// ids.
func TestWithSeed(t *testing.T) {
	id := func(opts ...opatest.Option) string {
		return connID(opatest.NewServer(t, opts...))
	}
	if a, b := id(opatest.WithSeed(99)), id(opatest.WithSeed(99)); a != b {
		t.Fatalf("seed 99 gave %s and %s", a, b)
	}
	if a, b := id(opatest.WithSeed(99)), id(); a == b {
		t.Fatalf("WithSeed(99) did not override the demo's seed: both %s", a)
	}
	if a, b := id(opatest.WithSeed(0)), id(opatest.WithSeed(0)); a == b {
		t.Fatalf("seed 0 gave the same id twice: %s", a)
	}
}

// TestWithClockAndNow: the server runs on the given clock, from its time or WithNow's, and Reset
// puts it back there.
func TestWithClockAndNow(t *testing.T) {
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := opa.NewManualClock(start)
	srv := opatest.NewServer(t, opatest.WithClock(clock))
	if srv.Clock != clock || srv.Engine().Clock() != clock || !clock.Now().Equal(start) {
		t.Fatalf("the server does not run on the given clock (now %v)", clock.Now())
	}
	if err := srv.Advance(90 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now(); !got.Equal(start.Add(90 * time.Minute)) {
		t.Fatalf("after Advance: %v", got)
	}
	if err := srv.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now(); !got.Equal(start) {
		t.Fatalf("after Reset: %v, want %v", got, start)
	}
	later := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	srv2 := opatest.NewServer(t, opatest.WithClock(opa.NewManualClock(start)), opatest.WithNow(later))
	if !srv2.Clock.Now().Equal(later) {
		t.Fatalf("WithNow: %v", srv2.Clock.Now())
	}
	if err := srv.Advance(-time.Second); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("Advance(-1s): %v", err)
	}
	if err := srv.SetNow(later); err != nil || !clock.Now().Equal(later) {
		t.Fatalf("SetNow: %v, now %v", err, clock.Now())
	}
}

// TestWithStore: the fixture is loaded into the given store, which Close leaves open; reset and
// restore are refused, in Go and over HTTP, and change nothing.
func TestWithStore(t *testing.T) {
	store := memstore.New()
	srv, err := opatest.Start(opatest.WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	var teams []*storage.Team
	if err := store.View(context.Background(), func(tx storage.ReadTx) error {
		var err error
		teams, err = storage.Teams.List(tx, "id")
		return err
	}); err != nil || len(teams) != 1 || teams[0].Name != "demo" {
		t.Fatalf("store holds %v (%v)", teams, err)
	}
	if err := srv.Reset(); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("Reset: %v", err)
	}
	snap, err := srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Restore(snap); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("Restore: %v", err)
	}
	resp, err := http.Post(srv.URL+"/_fake/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/_fake/reset: %d", resp.StatusCode)
	}
	srv.Close()
	if err := store.View(context.Background(), func(storage.ReadTx) error { return nil }); err != nil {
		t.Fatalf("Close closed the caller's store: %v", err)
	}
}

// TestResetRefreshesEveryAccessor: after Reset, and after POST /_fake/reset, Engine, Loaded,
// Directory and Token are the new state's, and Do and Client work without a new login.
func TestResetRefreshesEveryAccessor(t *testing.T) {
	for _, how := range []string{"Go", "HTTP"} {
		t.Run(how, func(t *testing.T) {
			srv := opatest.NewServer(t)
			e, l, d, tok := srv.Engine(), srv.Loaded(), srv.Directory("corp.example.com"), srv.Token()
			ada := srv.Client("jane.doe")
			call(t, ada, 200, "GET", srv.TeamURL("/current_user"), nil, nil)
			if err := d.Modify(svcBackupDN, "description", "changed before the reset"); err != nil {
				t.Fatal(err)
			}
			if how == "Go" {
				if err := srv.Reset(); err != nil {
					t.Fatal(err)
				}
			} else {
				call(t, http.DefaultClient, 204, "POST", srv.URL+"/_fake/reset", nil, nil)
			}
			if srv.Engine() == e || srv.Loaded() == l || srv.Directory("corp.example.com") == d {
				t.Fatal("an accessor still returns the discarded state")
			}
			if srv.Handler.Engine() != srv.Engine() {
				t.Fatal("the handler serves another engine than Engine returns")
			}
			if en, _ := srv.Directory("corp.example.com").Entry(svcBackupDN); en.Get("description") != "" {
				t.Fatal("the new directory kept a change to the old one")
			}
			if srv.Token() == tok || srv.Token() == "" {
				t.Fatal("Token did not renew the token the reset dropped")
			}
			if _, err := srv.Engine().Authenticate(context.Background(), "demo", srv.Token()); err != nil {
				t.Fatalf("the new token does not authenticate: %v", err)
			}
			resp, err := srv.Do("GET", srv.TeamURL("/connections/active_directory"), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("Do after reset: %d", resp.StatusCode)
			}
			call(t, ada, 200, "GET", srv.TeamURL("/current_user"), nil, nil)
		})
	}
}

// TestTokensRenewOnTheFakeClock: Do, Token and Client go on working across hours of fake time,
// with a new token once the old one expired (an hour after it was issued).
func TestTokensRenewOnTheFakeClock(t *testing.T) {
	srv := opatest.NewServer(t)
	first := srv.Token()
	jane := srv.Client("jane.doe")
	bot := srv.Client("enduser-bot")
	for i := range 3 {
		if err := srv.Advance(59 * time.Minute); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Do("GET", srv.TeamURL("/connections/active_directory"), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("Do after %d×59m: %d", i+1, resp.StatusCode)
		}
		call(t, jane, 200, "GET", srv.TeamURL("/current_user"), nil, nil)
		call(t, bot, 200, "GET", srv.TeamURL("/current_user"), nil, nil)
	}
	if srv.Token() == first {
		t.Fatal("the token was not renewed after three hours")
	}
	if _, err := srv.Engine().Authenticate(context.Background(), "demo", first); !errors.Is(err, opa.ErrUnauthorized) {
		t.Fatalf("the first token still authenticates after three hours: %v", err)
	}
}

// TestClientActsAsTheUser: a client acts as the user it names, a person or a service user; an
// unknown user's client fails every request with an error naming the user.
func TestClientActsAsTheUser(t *testing.T) {
	srv := opatest.NewServer(t)
	for _, user := range []string{"jane.doe", "enduser-bot", "automation"} {
		var me struct {
			Name string `json:"name"`
		}
		call(t, srv.Client(user), 200, "GET", srv.TeamURL("/current_user"), nil, &me)
		if me.Name != user {
			t.Errorf("Client(%q) acts as %q", user, me.Name)
		}
	}
	// Roles are the user's: jane is an end user and cannot list the ASA connections (401, missing role).
	call(t, srv.Client("jane.doe"), 401, "GET", srv.TeamURL("/integrations/ad_connections"), nil, nil)
	_, err := srv.Client("nobody").Get(srv.TeamURL("/current_user"))
	if err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Fatalf("unknown user: %v", err)
	}
	// Getting tokens is not a request the log shows.
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/service_token") {
			t.Fatalf("the request log shows a token exchange: %s", r)
		}
	}
}

// TestAdvanceRunsTheWorkThatBecameDue: a checkout that expires during Advance is checked in and
// its password rotated before Advance returns.
func TestAdvanceRunsTheWorkThatBecameDue(t *testing.T) {
	srv := opatest.NewServer(t)
	_, pw := revealSvcBackup(t, srv)
	if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur != pw {
		t.Fatal("the revealed password is not the directory's")
	}
	var out struct {
		List []any `json:"list"`
	}
	call(t, srv.Client("enduser-bot"), 200, "GET", srv.TeamURL("/checked_out_resources"), nil, &out)
	if len(out.List) != 1 {
		t.Fatalf("checked out: %v", out.List)
	}
	if err := srv.Advance(61 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur == pw {
		t.Fatal("the expired checkout's password was not rotated")
	}
	call(t, srv.Client("enduser-bot"), 200, "GET", srv.TeamURL("/checked_out_resources"), nil, &out)
	if len(out.List) != 0 {
		t.Fatalf("still checked out: %v", out.List)
	}
}

// TestExpiryWithoutAdvance: moving srv.Clock directly runs nothing, yet an expired checkout is
// over for every reader at once: the holder's list is empty, another user sees the account
// available and checks it out, getting a password rotated at that moment; a later Advance
// rotates nothing more.
func TestExpiryWithoutAdvance(t *testing.T) {
	srv := opatest.NewServer(t)
	id, pw := revealSvcBackup(t, srv)
	srv.Clock.Advance(2 * time.Hour)
	var list struct {
		List []any `json:"list"`
	}
	call(t, srv.Client("enduser-bot"), 200, "GET", srv.TeamURL("/checked_out_resources"), nil, &list)
	if len(list.List) != 0 {
		t.Fatalf("an expired checkout is listed: %v", list.List)
	}
	var acct struct {
		Account struct {
			AvailabilityStatus string `json:"availability_status"`
		} `json:"account"`
	}
	call(t, srv.Client("jane.doe"), 200, "GET", srv.TeamURL("/active_directory/"+connID(srv)+"/accounts/"+id), nil, &acct)
	if acct.Account.AvailabilityStatus != "AVAILABLE" {
		t.Fatalf("jane sees %s", acct.Account.AvailabilityStatus)
	}
	if cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN); cur != pw {
		t.Fatal("a read rotated the password")
	}
	_, janePW := revealSvcBackupAs(t, srv, "jane.doe")
	cur, _ := srv.Directory("corp.example.com").Password(svcBackupDN)
	if janePW == pw || cur != janePW {
		t.Fatal("jane did not get a password rotated after the expired checkout")
	}
	if err := srv.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if now, _ := srv.Directory("corp.example.com").Password(svcBackupDN); now != cur {
		t.Fatal("Advance rotated the expired checkout's password a second time")
	}
	call(t, srv.Client("jane.doe"), 200, "GET", srv.TeamURL("/checked_out_resources"), nil, &list)
	if len(list.List) != 1 {
		t.Fatalf("jane's checkouts: %v", list.List)
	}
}

// TestStartRefusesABadFixture: Start reports a bad fixture as an ErrInvalid error instead of
// starting a server.
func TestStartRefusesABadFixture(t *testing.T) {
	srv, err := opatest.Start(opatest.WithFixtureJSON([]byte(`{"teams":[]}`)))
	if err == nil {
		srv.Close()
		t.Fatal("Start accepted a fixture without teams")
	}
	if !errors.Is(err, opa.ErrInvalid) || !strings.Contains(err.Error(), "teams: at least one team is required") {
		t.Fatalf("err = %v, want ErrInvalid naming the field", err)
	}
}

// TestCloseStopsTheServer: after Close (twice is fine) the server refuses connections.
func TestCloseStopsTheServer(t *testing.T) {
	srv, err := opatest.Start()
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	srv.Close()
	if resp, err := http.Get(srv.URL + "/v1/teams/demo/connections/active_directory"); err == nil {
		resp.Body.Close()
		t.Fatalf("a closed server answered %d", resp.StatusCode)
	}
}

// TestOktaIDForGroupsModify: the Okta ids a downstream test sends to groups/modify, read from the
// server: the demo fixture's assigned one (the reference's sample) and a stable derived one, which
// the route then accepts; an unknown domain or object is opa.ErrNotFound.
func TestOktaIDForGroupsModify(t *testing.T) {
	srv := opatest.NewServer(t)
	group, err := srv.OktaID("CORP.example.com", "CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com")
	if err != nil || group != "00g1xucgTZFrziXg10g4" {
		t.Fatalf("Helpdesk: %q, %v", group, err)
	}
	user, err := srv.OktaID("corp.example.com", "CN=Jane Doe,OU=Users,DC=corp,DC=example,DC=com")
	if err != nil || !strings.HasPrefix(user, "00u") || len(user) != 20 {
		t.Fatalf("Jane Doe: %q, %v", user, err)
	}
	if again, _ := srv.OktaID("corp.example.com", "CN=Jane Doe,OU=Users,DC=corp,DC=example,DC=com"); again != user {
		t.Fatalf("the derived id changed: %q then %q", user, again)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/directories/0oa1corpexample0ad01/groups/modify",
		strings.NewReader(`{"id":"`+group+`","parameters":{"action":"ADD","attribute":"member","values":["`+user+`"]}}`))
	req.Header.Set("Authorization", "SSWS 00demo-okta-api-token-change-me")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	en, _ := srv.Directory("corp.example.com").Entry("CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com")
	if resp.StatusCode != 200 || !strings.Contains(strings.Join(en.GetAll("member"), "|"), "CN=Jane Doe") {
		t.Fatalf("groups/modify with the ids: %d, members %v", resp.StatusCode, en.GetAll("member"))
	}
	if _, err := srv.OktaID("nowhere.example", "CN=x"); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("unknown domain: %v", err)
	}
	if _, err := srv.OktaID("corp.example.com", "CN=Nobody,DC=corp,DC=example,DC=com"); !errors.Is(err, opa.ErrNotFound) {
		t.Fatalf("unknown object: %v", err)
	}
}
