package opatest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/opatest"
)

// The functions in this file are the code of docs/opatest.md (TestGuideQuotesTheExamples checks
// that every block of Go there is one of them, verbatim).

// TestYourClient is how a test of your own client starts: NewServer gives a running fake, closed
// when the test ends, and Client an HTTP client already signed in as a fixture user. README.md
// quotes it.
func TestYourClient(t *testing.T) {
	// A running fake with the demo fixture, closed by t.Cleanup. Point your client at srv.URL;
	// srv.Client(user) is an *http.Client signed in as any fixture user.
	srv := opatest.NewServer(t)
	resp, err := srv.Client("automation").Get(srv.TeamURL("/connections/active_directory"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	srv.AssertRequested(t, "GET", "/v1/teams/{team}/connections/active_directory")
	// The clock is yours: checkouts expire (at once, for every reader, even when you move
	// srv.Clock directly) and Advance rotates them, tokens expire (and srv's clients renew them).
	if err := srv.Advance(61 * time.Minute); err != nil {
		t.Fatal(err)
	}
}

// ExampleStart lists the demo team's AD connections through the fake API. In a test, use
// NewServer(t) instead: it fails the test on a set-up error and closes the server when the test
// ends.
func ExampleStart() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	resp, err := srv.Do(http.MethodGet, srv.TeamURL("/connections/active_directory"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var body struct {
		List []struct {
			Domain string `json:"domain"`
			Status string `json:"status"`
		} `json:"list"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	fmt.Println(resp.StatusCode, body.List[0].Domain, body.List[0].Status)
	// Output: 200 corp.example.com connected
}

// ExampleWithFixture starts a server from a fixture built in Go: a team with a service user
// holding a key, and a person.
func ExampleWithFixture() {
	srv, err := opatest.Start(opatest.WithFixture(fixture.File{Teams: []fixture.Team{{
		Name:   "acme",
		Groups: []fixture.Group{{Name: "admins", Roles: []fixture.Role{{Role: opa.RolePAMAdmin}}}},
		Users: []fixture.User{
			{Username: "robot", ServiceUser: true, Groups: []string{"admins"},
				ServiceKeys: []fixture.ServiceKey{{KeyID: "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b", KeySecret: "robot-secret"}}},
			{Username: "ada", Email: "ada@acme.example"},
		},
	}}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	fmt.Println(srv.Team, srv.KeyID)

	// A bad fixture is refused with the path of the bad field, as its JSON form would be.
	_, err = opatest.Start(opatest.WithFixture(fixture.File{Teams: []fixture.Team{{
		Name: "acme", Users: []fixture.User{{Username: "ada", Email: "not an address"}},
	}}}))
	fmt.Println(errors.Is(err, opa.ErrInvalid), strings.Contains(err.Error(), "teams[0].users[0].email: not an email address"))
	// Output:
	// acme 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b
	// true true
}

// ExampleServer_Client calls the API as a person of the fixture, who has no service key, and as
// a service user.
func ExampleServer_Client() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	for _, user := range []string{"jane.doe", "enduser-bot"} {
		resp, err := srv.Client(user).Get(srv.TeamURL("/current_user"))
		if err != nil {
			fmt.Println(err)
			return
		}
		var me struct {
			Name string `json:"name"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, me.Name)
	}
	// Output:
	// 200 jane.doe
	// 200 enduser-bot
}

// ExampleServer_Advance moves the fake clock past a token's hour: Do (and Client, and Token)
// renew it by themselves, and Advance ran whatever became due before it returned.
func ExampleServer_Advance() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	first := srv.Token()
	if err := srv.Advance(61 * time.Minute); err != nil {
		fmt.Println(err)
		return
	}
	resp, err := srv.Do(http.MethodGet, srv.TeamURL("/connections/active_directory"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(srv.Clock.Now().Format(time.RFC3339), resp.StatusCode, srv.Token() != first)
	// Output: 2026-01-01T01:01:00Z 200 true
}

// ExampleServer_SetNow sets the fake clock to a date of the test's choosing (and runs what is due
// then).
func ExampleServer_SetNow() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if err := srv.SetNow(time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(srv.Clock.Now().Format(time.RFC3339))
	// Output: 2030-06-01T09:00:00Z
}

// ExampleServer_Fault makes the next request to a route fail with a 429, then lets it through;
// the function Fault returns removes a fault that has not gone away by itself.
func ExampleServer_Fault() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	list := srv.TeamURL("/connections/active_directory")
	remove := srv.Fault(opatest.Fault{Method: "GET", Path: "/v1/teams/demo/connections/active_directory",
		Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second, Times: 1})
	defer remove()
	for range 2 {
		resp, err := srv.Do(http.MethodGet, list, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("X-RateLimit-Retry-At"))
	}
	// Output:
	// 429 1767225630
	// 200
}

// ExampleServer_Requests reads the request log: what the server was asked, with secrets
// redacted.
func ExampleServer_Requests() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if _, err := srv.ExchangeToken(srv.KeyID, srv.KeySecret); err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range srv.Requests() {
		fmt.Println(r)
		fmt.Println(string(r.Body))
	}
	// Output:
	// POST /v1/teams/demo/service_token -> 200
	// {"key_id":"6f2c1c0e-5b7a-4d8e-9a51-0c3f7f1b2a10","key_secret":"REDACTED"}
}

// TestAssertRequested checks that the code under test made a request, by method and a
// net/http.ServeMux pattern; the recorded request comes back for further checks.
func TestAssertRequested(t *testing.T) {
	srv := opatest.NewServer(t)
	resp, err := srv.Client("jane.doe").Get(srv.TeamURL("/active_directory?count=10"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	r := srv.AssertRequested(t, "GET", "/v1/teams/{team}/active_directory")
	if r.Query != "count=10" || r.Status != http.StatusOK {
		t.Fatalf("recorded %s", r)
	}
}

// ExampleServer_Reset puts the server back to the fixture: what a test created is gone, and the
// accessors and clients go on with the new state.
func ExampleServer_Reset() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	admin := srv.Client("automation")
	resp, err := admin.Post(srv.TeamURL("/integrations/ad_connections"), "application/json",
		strings.NewReader(`{"name":"lab","domain":"lab.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("created:", resp.StatusCode)
	if err := srv.Reset(); err != nil {
		fmt.Println(err)
		return
	}
	resp, err = admin.Get(srv.TeamURL("/integrations/ad_connections"))
	if err != nil {
		fmt.Println(err)
		return
	}
	var body struct {
		List []struct {
			Domain string `json:"domain"`
		} `json:"list"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	fmt.Println("after Reset:", resp.StatusCode, len(body.List), body.List[0].Domain)
	// Output:
	// created: 201
	// after Reset: 200 1 corp.example.com
}

// ExampleServer_Snapshot saves the fake's state once, then restores it, for example before each
// case of a table test that must start from an expensive set-up.
func ExampleServer_Snapshot() {
	srv, err := opatest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	admin := srv.Client("automation")
	create := func(domain string) int {
		resp, err := admin.Post(srv.TeamURL("/integrations/ad_connections"), "application/json",
			strings.NewReader(`{"name":"`+domain+`","domain":"`+domain+`","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555"}`))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	create("set-up.example.com")
	snap, err := srv.Snapshot()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, domain := range []string{"case-1.example.com", "case-2.example.com"} {
		if err := srv.Restore(snap); err != nil {
			fmt.Println(err)
			return
		}
		// Each case starts from the set-up: a conflict here would mean the previous case leaked.
		fmt.Println(domain, create(domain), create("set-up.example.com"))
	}
	// Output:
	// case-1.example.com 201 409
	// case-2.example.com 201 409
}
