package opa_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage/memstore"
)

// propFilter is an LDAP filter with the predicate it should mean, so the property's model does
// not reuse the directory's evaluator.
type propFilter struct {
	ldap string
	pred func(c propComputer) bool
}

type propComputer struct {
	name, os, location string
	ou                 int // index into the OUs
}

var propFilters = []propFilter{
	{"(objectClass=*)", func(propComputer) bool { return true }},
	{"(operatingSystem=Windows*)", func(c propComputer) bool { return strings.HasPrefix(c.os, "Windows") }},
	{"(location=EU)", func(c propComputer) bool { return c.location == "eu" }},
	{"(!(location=eu))", func(c propComputer) bool { return c.location != "eu" }},
	{"(|(cn=a*)(operatingSystem=*buntu*))", func(c propComputer) bool { return strings.HasPrefix(c.name, "a") || strings.Contains(c.os, "buntu") }},
	{"(&(location=*)(!(operatingSystem=Debian)))", func(c propComputer) bool { return c.location != "" && c.os != "Debian" }},
}

// The OU tree: 0 is the domain root, 1 and 2 are under it, 3 is under 1.
var propOUParent = []int{-1, 0, 0, 1}

func ouUnder(ou, base int) bool {
	for ; ou >= 0; ou = propOUParent[ou] {
		if ou == base {
			return true
		}
	}
	return false
}

// TestServerSyncAssignmentProperty: for any rule assignments with distinct priorities and any
// directory, each computer lands in the project of the highest-priority rule that matches it (none
// when no rule matches), and a test request never changes the servers.
func TestServerSyncAssignmentProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		check := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		resolver := memdir.NewResolver()
		e, err := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(7), opa.WithDirectoryResolver(resolver))
		check(err)
		team, err := e.CreateTeam(ctx, "prop")
		check(err)
		sys := opa.SystemPrincipal(team)
		rg, err := e.CreateResourceGroup(ctx, sys, "rg", "")
		check(err)
		var projects []opa.Project
		for i := 0; i < 3; i++ {
			pr, err := e.CreateProject(ctx, sys, rg.ID, fmt.Sprintf("p%d", i))
			check(err)
			projects = append(projects, pr)
		}

		dir := memdir.New()
		root, err := dir.AddDomain("prop.example.com")
		check(err)
		ous := []string{root}
		for i := 1; i < len(propOUParent); i++ {
			dn, err := dir.AddOU(ous[propOUParent[i]], fmt.Sprintf("ou%d", i))
			check(err)
			ous = append(ous, dn)
		}
		computers := map[string]propComputer{} // by DN
		n := rapid.IntRange(0, 12).Draw(t, "computers")
		for i := 0; i < n; i++ {
			c := propComputer{
				name:     rapid.SampledFrom([]string{"app", "bat", "cat"}).Draw(t, "name") + fmt.Sprint(i),
				os:       rapid.SampledFrom([]string{"Windows Server 2022", "Ubuntu", "Debian"}).Draw(t, "os"),
				location: rapid.SampledFrom([]string{"", "eu", "us"}).Draw(t, "location"),
				ou:       rapid.IntRange(0, len(ous)-1).Draw(t, "ou"),
			}
			attrs := map[string][]string{}
			if c.location != "" {
				attrs["location"] = []string{c.location}
			}
			dn, err := dir.AddComputer(ous[c.ou], memdir.Computer{Name: c.name, DNSHostName: c.name + ".prop.example.com", OperatingSystem: c.os, Attributes: attrs})
			check(err)
			computers[strings.ToLower(dn)] = c
		}
		if rapid.Bool().Draw(t, "with users") { // users must never become servers
			_, err := dir.AddUser(ous[1], memdir.User{SAMAccountName: "u1"})
			check(err)
		}
		resolver.Set("prop", "prop.example.com", dir)

		type rule struct{ ou, filter, project, priority int }
		k := rapid.IntRange(1, 4).Draw(t, "rules")
		prios := rapid.Permutation([]int{1, 2, 3, 4, 5, 6}).Draw(t, "priorities")[:k]
		var rules []rule
		in := opa.ServerSyncJobInput{Name: "prop", Frequency: 1}
		for i := 0; i < k; i++ {
			r := rule{
				ou:       rapid.IntRange(0, len(ous)-1).Draw(t, "rule ou"),
				filter:   rapid.IntRange(0, len(propFilters)-1).Draw(t, "rule filter"),
				project:  rapid.IntRange(0, len(projects)-1).Draw(t, "rule project"),
				priority: prios[i],
			}
			rules = append(rules, r)
			in.RuleAssignments = append(in.RuleAssignments, opa.RuleAssignment{
				BaseDN: ous[r.ou], LDAPQueryFilter: propFilters[r.filter].ldap, ProjectID: projects[r.project].ID, Priority: r.priority,
			})
		}
		conn, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "prop", Domain: "prop.example.com"})
		check(err)
		job, err := e.CreateServerSyncJob(ctx, sys, conn.ID, in)
		check(err)

		servers := func() []opa.Server {
			ss, err := e.Servers(ctx, sys, conn.ID)
			check(err)
			return ss
		}
		before := servers()
		_, err = e.RunServerSyncTest(ctx, sys, conn.ID, job.ID)
		check(err)
		if d := cmp.Diff(before, servers()); d != "" {
			t.Fatalf("a test request changed servers:\n%s", d)
		}
		_, err = e.RunServerSyncJob(ctx, sys, conn.ID, job.ID)
		check(err)

		sorted := slices.Clone(rules)
		slices.SortFunc(sorted, func(a, b rule) int { return a.priority - b.priority })
		want := map[string]string{} // DN -> project id
		for dn, c := range computers {
			for _, r := range sorted {
				if ouUnder(c.ou, r.ou) && propFilters[r.filter].pred(c) {
					want[dn] = projects[r.project].ID
					break
				}
			}
		}
		got := map[string]string{}
		after := servers()
		for _, s := range after {
			got[strings.ToLower(s.DistinguishedName)] = s.ProjectID
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("server projects (-want +got):\n%s", d)
		}

		// After the directory changes, a test request still changes nothing.
		for dn := range computers {
			if rapid.Bool().Draw(t, "remove") {
				check(dir.Remove(dn))
			}
		}
		_, err = e.RunServerSyncTest(ctx, sys, conn.ID, job.ID)
		check(err)
		if d := cmp.Diff(after, servers()); d != "" {
			t.Fatalf("a test request after directory changes changed servers:\n%s", d)
		}
	})
}
