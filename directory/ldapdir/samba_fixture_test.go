package ldapdir_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
)

// TestSambaFixtureLDAPConnection loads a fixture whose connection has an "ldap" object pointing at
// Samba (as opaserver -fixtures does): the load-time force sync reaches Samba through ldapdir and
// the SHARED rule puts OU=Engineering's users in the project.
func TestSambaFixtureLDAPConnection(t *testing.T) {
	s := needSamba(t)
	c := ctx(t)
	conn := map[string]any{
		"name": "samba", "domain": s.domain, "domain_controllers": []string{s.host},
		"service_account_username": s.admin, "service_account_password": s.adminPassword,
		"ldap": map[string]any{"ca_file": s.caFile, "port": 636},
		"rules": []map[string]any{{"name": "eng", "rule_type": "SHARED", "organizational_units": []string{s.dn(engineerOU)},
			"resource_group": "rg", "project": "eng"}},
		"sync": true,
	}
	doc, err := json.Marshal(map[string]any{"teams": []map[string]any{{"name": "lab",
		"resource_groups": []map[string]any{{"name": "rg", "projects": []map[string]any{{"name": "eng"}}}},
		"connections":     []any{conn}}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := fixture.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	e, l, err := fixture.Build(c, f, fixture.Options{})
	if err != nil {
		t.Fatalf("loading the fixture against Samba: %v", err)
	}
	defer l.Directory.Close()
	team := l.Team("lab")
	tm, err := e.Team(c, "lab")
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.DiscoveredADAccounts(c, opa.SystemPrincipal(tm), team.Connections[strings.ToLower(s.domain)], opa.DiscoveredQuery{ManagedOnly: true, Page: opa.PageRequest{Count: 100}})
	if err != nil {
		t.Fatal(err)
	}
	inProject := map[string]bool{}
	for _, a := range page.Items {
		if a.Project != nil && a.Project.ID == team.Projects["rg/eng"] && a.AccountType == opa.AccountTypeShared {
			inProject[a.SAMAccountName] = true
		}
	}
	if !inProject["alice"] || !inProject["bob"] {
		t.Errorf("SHARED accounts in rg/eng after the fixture's sync: %v (of %d accounts)", inProject, len(page.Items))
	}
}
