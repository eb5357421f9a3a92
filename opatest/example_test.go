package opatest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/opatest"
)

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

func TestNewServer(t *testing.T) {
	srv := opatest.NewServer(t)
	if srv.Token() == "" || srv.KeyID == "" || srv.Team != "demo" {
		t.Fatalf("server not ready: %+v", srv)
	}
	resp, err := srv.Do(http.MethodGet, srv.TeamURL("/integrations/ad_connections"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
