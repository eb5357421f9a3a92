package memdir_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/directory/memdir"
)

func smallDomain(t *testing.T) (*memdir.Dir, map[string]string) {
	t.Helper()
	d := memdir.New(memdir.WithPasswordPolicy(memdir.PasswordPolicy{MinLength: 12, Complex: true}))
	dn := map[string]string{}
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	root := must(d.AddDomain("corp.example.com"))
	users := must(d.AddOU(root, "Users"))
	admins := must(d.AddOU(users, "Admins"))
	servers := must(d.AddOU(root, "Servers"))
	groups := must(d.AddOU(root, "Groups"))
	dn["ops"] = must(d.AddGroup(groups, "Ops"))
	dn["jdoe"] = must(d.AddUser(users, memdir.User{SAMAccountName: "jdoe", UserPrincipalName: "jdoe@corp.example.com", GivenName: "Jane", SN: "Doe", DisplayName: "Jane Doe", Mail: "jane@example.com", MemberOf: []string{dn["ops"]}}))
	dn["adm"] = must(d.AddUser(admins, memdir.User{SAMAccountName: "adm.jdoe", GivenName: "Jane", SN: "Doe", DisplayName: "Admin Jane"}))
	dn["web1"] = must(d.AddComputer(servers, memdir.Computer{Name: "web1", DNSHostName: "web1.corp.example.com", OperatingSystem: "Windows Server 2022", Attributes: map[string][]string{"logonCount": {"42"}}}))
	dn["db1"] = must(d.AddComputer(servers, memdir.Computer{Name: "db1", DNSHostName: "db1.corp.example.com", OperatingSystem: "Ubuntu", Attributes: map[string][]string{"logonCount": {"7"}}}))
	dn["root"], dn["users"], dn["servers"] = root, users, servers
	return d, dn
}

func TestSearchFilters(t *testing.T) {
	ctx := context.Background()
	d, dn := smallDomain(t)
	tests := []struct {
		base   string
		scope  directory.Scope
		filter string
		want   int
	}{
		{dn["root"], directory.ScopeSubtree, "(objectClass=user)", 4},
		{dn["root"], directory.ScopeSubtree, "(&(objectCategory=person)(objectClass=user))", 2},
		{dn["users"], directory.ScopeOneLevel, "(OBJECTCLASS=USER)", 1},
		{dn["users"], directory.ScopeBaseObject, "(objectClass=*)", 1},
		{dn["root"], directory.ScopeSubtree, "(sAMAccountName=adm.*)", 1},
		{dn["root"], directory.ScopeSubtree, "(dNSHostName=*.corp.*.com)", 2},
		{dn["root"], directory.ScopeSubtree, "(operatingSystem=*server*)", 1},
		{dn["root"], directory.ScopeSubtree, "(logonCount>=10)", 1},
		{dn["root"], directory.ScopeSubtree, "(logonCount<=10)", 1},
		{dn["root"], directory.ScopeSubtree, "(|(cn=web1)(cn=db1))", 2},
		{dn["root"], directory.ScopeSubtree, "(&(objectClass=computer)(!(cn=web1)))", 1},
		{dn["root"], directory.ScopeSubtree, "(mail=*)", 1},
		{dn["root"], directory.ScopeSubtree, "(memberOf=" + dn["ops"] + ")", 1},
		{"dc=CORP, dc=example,dc=com", directory.ScopeSubtree, "(objectClass=group)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := d.Search(ctx, directory.SearchRequest{BaseDN: tt.base, Scope: tt.scope, Filter: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d entries, want %d", len(got), tt.want)
			}
		})
	}
	if _, err := d.Search(ctx, directory.SearchRequest{BaseDN: "OU=Nope," + dn["root"]}); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("missing base: got %v", err)
	}
	if _, err := d.Search(ctx, directory.SearchRequest{BaseDN: dn["root"], Filter: "(cn=x"}); !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("bad filter: got %v", err)
	}
	e, err := d.Entry(dn["jdoe"])
	if err != nil {
		t.Fatal(err)
	}
	if e.Get("OBJECTSID") == "" || e.Get("objectguid") == "" || e.Get("memberOf") != dn["ops"] {
		t.Fatalf("entry %+v: want sid, guid and memberOf", e.Attributes)
	}
}

func TestPasswordsMembersFaults(t *testing.T) {
	ctx := context.Background()
	d, dn := smallDomain(t)
	err := d.SetPassword(ctx, dn["jdoe"], "short")
	if !errors.Is(err, directory.ErrConstraint) || !errors.Is(err, directory.ErrInvalid) {
		t.Fatalf("weak password: got %v", err)
	}
	if err := d.SetPassword(ctx, dn["jdoe"], "Correct-Horse-9"); err != nil {
		t.Fatal(err)
	}
	if pw, _ := d.Password(dn["jdoe"]); pw != "Correct-Horse-9" {
		t.Fatalf("password not stored")
	}
	if e, _ := d.Entry(dn["jdoe"]); e.Get("pwdLastSet") == "" {
		t.Fatalf("pwdLastSet not set")
	}
	if err := d.ModifyMembers(ctx, dn["ops"], "member", true, []string{dn["adm"]}); err != nil {
		t.Fatal(err)
	}
	if e, _ := d.Entry(dn["adm"]); e.Get("memberOf") != dn["ops"] {
		t.Fatalf("memberOf not computed: %v", e.Attributes)
	}
	if err := d.ModifyMembers(ctx, dn["ops"], "member", false, []string{dn["jdoe"], dn["adm"]}); err != nil {
		t.Fatal(err)
	}
	if e, _ := d.Entry(dn["ops"]); len(e.GetAll("member")) != 0 {
		t.Fatalf("members left: %v", e.GetAll("member"))
	}
	if err := d.ModifyMembers(ctx, "CN=Nope,"+dn["root"], "member", true, []string{dn["jdoe"]}); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	d.SetNoAgent(true)
	if _, err := d.Search(ctx, directory.SearchRequest{BaseDN: dn["root"]}); !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("no agent: %v", err)
	}
	d.SetNoAgent(false)
	d.SetAgentTimeout(true)
	if err := d.ModifyMembers(ctx, dn["ops"], "member", true, []string{dn["jdoe"]}); !errors.Is(err, directory.ErrTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	d.SetAgentTimeout(false)
	// A caller whose context ends while the agent holds the search gets ErrTimeout.
	entered, release := d.HoldSearches()
	defer release()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := d.Search(cctx, directory.SearchRequest{BaseDN: dn["root"]})
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, directory.ErrTimeout) {
		t.Fatalf("cancelled: %v", err)
	}
	// An expired deadline fails at once.
	dctx, dcancel := context.WithDeadline(ctx, time.Unix(0, 0))
	defer dcancel()
	if err := d.SetPassword(dctx, dn["jdoe"], "Correct-Horse-9"); !errors.Is(err, directory.ErrTimeout) {
		t.Fatalf("deadline: %v", err)
	}
}

func TestLoadJSON(t *testing.T) {
	const js = `[
	 {"dn":"CN=Jane,OU=Users,DC=corp,DC=example,DC=com","attributes":{"objectClass":["user"],"sAMAccountName":["jane"],"memberOf":["CN=Ops,DC=corp,DC=example,DC=com"]}},
	 {"dn":"CN=Ops,DC=corp,DC=example,DC=com","attributes":{"objectClass":["group"]}},
	 {"dn":"OU=Users,DC=corp,DC=example,DC=com","attributes":{"objectClass":["organizationalUnit"]}},
	 {"dn":"DC=corp,DC=example,DC=com","attributes":{"objectClass":["domainDNS"]}}]`
	var specs []memdir.EntrySpec
	if err := json.Unmarshal([]byte(js), &specs); err != nil {
		t.Fatal(err)
	}
	d, err := memdir.Load(specs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Search(context.Background(), directory.SearchRequest{BaseDN: "dc=corp,dc=example,dc=com", Filter: "(memberOf=cn=ops,dc=corp,dc=example,dc=com)"})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := memdir.Load([]memdir.EntrySpec{{DN: "CN=x,OU=missing,DC=a"}}); !errors.Is(err, directory.ErrNotFound) {
		t.Fatalf("missing parent: %v", err)
	}
}

func TestNormalizeDNMatchesParser(t *testing.T) {
	for _, dn := range []string{
		"CN=Jane Doe,OU=Users,DC=corp,DC=example,DC=com",
		"cn = Jane Doe , ou=Users,dc=CORP, dc=example",
		"CN=Doe\\, Jane,OU=Users,DC=corp",
		"CN=a+SN=b,DC=corp",
		"OU=  padded  ,DC=x",
		"CN=WEB1$,OU=Servers,DC=x",
	} {
		p, err := ldap.ParseDN(dn)
		if err != nil {
			t.Fatal(err)
		}
		got, err := memdir.NormalizeDN(dn)
		if err != nil || got != strings.ToLower(p.String()) {
			t.Errorf("NormalizeDN(%q) = %q, %v; want %q", dn, got, err, strings.ToLower(p.String()))
		}
	}
}
