package opatest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/opakit/opa/opatest"
)

// ExampleNewServer lists the demo team's AD connections through the fake API.
func ExampleNewServer() {
	t := &testing.T{} // in a test, use the test's own *testing.T
	srv := opatest.NewServer(t)
	defer srv.HTTP.Close()

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

func TestNewServer(t *testing.T) {
	srv := opatest.NewServer(t)
	if srv.Token == "" || srv.KeyID == "" || srv.Team != "demo" {
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
