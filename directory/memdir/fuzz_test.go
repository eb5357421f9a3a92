package memdir_test

import (
	"context"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/directory/memdir"
)

// FuzzSearchFilter sends arbitrary RFC 4515 filter strings and base DNs to Search: it never panics,
// and every error is of the invalid or not-found class (never an internal error).
func FuzzSearchFilter(f *testing.F) {
	d := memdir.New()
	for _, s := range []memdir.EntrySpec{
		{DN: "DC=corp,DC=example,DC=com", Attributes: map[string][]string{"objectClass": {"domain"}}},
		{DN: "OU=Users,DC=corp,DC=example,DC=com", Attributes: map[string][]string{"objectClass": {"organizationalUnit"}}},
		{DN: "CN=Jane,OU=Users,DC=corp,DC=example,DC=com", Attributes: map[string][]string{
			"objectClass": {"user"}, "sAMAccountName": {"jane"}, "userPrincipalName": {"jane@corp.example.com"}}},
		{DN: "CN=Admins,OU=Users,DC=corp,DC=example,DC=com", Attributes: map[string][]string{
			"objectClass": {"group"}, "member": {"CN=Jane,OU=Users,DC=corp,DC=example,DC=com"}}},
	} {
		if err := d.Add(s); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range []string{
		"", "(objectClass=*)", "(&(objectClass=user)(sAMAccountName=ja*))", "(|(cn=a)(!(cn=b)))",
		"(sAMAccountName=*\\2a*)", "(memberOf:1.2.840.113556.1.4.1941:=CN=Admins,OU=Users,DC=corp,DC=example,DC=com)",
		"(objectSid=S-1-5-21-1-2-3-500)", "(cn>=a)", "(cn~=jane)", "((", ")", "(cn=\\zz)", "(&)", "(|)",
		"(userAccountControl:1.2.840.113556.1.4.803:=2)", "(cn=" + string(make([]byte, 300)) + ")",
	} {
		f.Add(s, "DC=corp,DC=example,DC=com")
	}
	f.Add("(cn=*)", "OU=Nope,DC=corp,DC=example,DC=com")
	f.Add("(cn=*)", "not a dn,,=")
	f.Fuzz(func(t *testing.T, filter, base string) {
		for _, scope := range []directory.Scope{directory.ScopeBaseObject, directory.ScopeOneLevel, directory.ScopeSubtree} {
			_, err := d.Search(context.Background(), directory.SearchRequest{BaseDN: base, Scope: scope, Filter: filter})
			if err != nil && !errors.Is(err, directory.ErrInvalid) && !errors.Is(err, directory.ErrNotFound) {
				t.Fatalf("Search(%q, %q): error of no expected class: %v", filter, base, err)
			}
		}
	})
}
