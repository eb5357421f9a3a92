package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLDAPFixtureErrors: bad ldap fields of a fixture connection stop the server with the JSON
// path, in memory and with -data (where the resolver is built before the engine).
func TestLDAPFixtureErrors(t *testing.T) {
	conn := func(ldap string) string {
		return `{"teams":[{"name":"t","connections":[{"name":"lab","domain":"lab.example.test",` +
			`"domain_controllers":["127.0.0.1"],"service_account_username":"svc","service_account_password":"Svc-Passw0rd!",` +
			`"ldap":` + ldap + `}]}]}`
	}
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	for _, tc := range []struct {
		name, doc, want string
		data            bool
	}{
		{"port", conn(`{"port":0.5}`), "must be a JSON int", false},
		{"port range", conn(`{"port":65536}`), "teams[0].connections[0].ldap.port: must be 1-65535", false},
		{"ca file", conn(fmt.Sprintf(`{"ca_file":%q}`, missing)), "teams[0].connections[0].ldap: ", false},
		{"ca file with -data", conn(fmt.Sprintf(`{"ca_file":%q}`, missing)), "teams[0].connections[0].ldap: ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "fx.json")
			if err := os.WriteFile(f, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"-addr", "127.0.0.1:0", "-fixtures", f}
			if tc.data {
				args = append(args, "-data", t.TempDir())
			}
			var out, errOut bytes.Buffer
			err := run(t.Context(), args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error()+errOut.String(), "Svc-Passw0rd!") {
				t.Fatal("the service account password was printed")
			}
		})
	}
}
