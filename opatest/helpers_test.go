package opatest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/opakit/opa/opatest"
	"github.com/opakit/opa/revealjwe"
)

// call sends a request with c (body encoded as JSON when not nil), fails the test unless the
// status is want, and decodes a JSON answer into out when out is not nil.
func call(t testing.TB, c *http.Client, want int, method, url string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, url, b, err)
		}
	}
}

// connID returns the id of the demo connection corp.example.com in srv's current state.
func connID(srv *opatest.Server) string {
	return srv.Loaded().Team("demo").Connections["corp.example.com"]
}

// revealSvcBackup reveals the demo's shared account svc-backup as enduser-bot (which checks it
// out for an hour) and returns the account id and the password.
func revealSvcBackup(t testing.TB, srv *opatest.Server) (accountID, password string) {
	t.Helper()
	return revealSvcBackupAs(t, srv, "enduser-bot")
}

// revealSvcBackupAs is revealSvcBackup as the fixture user (an engineer).
func revealSvcBackupAs(t testing.TB, srv *opatest.Server, user string) (accountID, password string) {
	t.Helper()
	c := srv.Client(user)
	base := srv.TeamURL("/active_directory/" + connID(srv) + "/accounts")
	var accts struct {
		List []struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		} `json:"list"`
	}
	call(t, c, 200, "GET", base+"?account_name=svc-backup", nil, &accts)
	if len(accts.List) != 1 {
		t.Fatalf("svc-backup: %d accounts", len(accts.List))
	}
	accountID = accts.List[0].Account.ID
	var uams struct {
		List []json.RawMessage `json:"list"`
	}
	call(t, c, 200, "GET", base+"/"+accountID+"/user_access_methods?privilege_type=reveal_password", nil, &uams)
	if len(uams.List) == 0 {
		t.Fatal("no reveal access method for svc-backup")
	}
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	var rv struct {
		PasswordJWE string `json:"password_jwe"`
	}
	call(t, c, 200, "POST", base+"/"+accountID+"/reveal_credentials",
		map[string]any{"public_key": json.RawMessage(pub), "user_access_method": uams.List[0]}, &rv)
	pw, err := revealjwe.Decrypt(rv.PasswordJWE, key)
	if err != nil {
		t.Fatal(err)
	}
	return accountID, string(pw)
}

const svcBackupDN = "CN=svc-backup,OU=ServiceAccounts,DC=corp,DC=example,DC=com"
