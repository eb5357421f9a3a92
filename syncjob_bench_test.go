package opa_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage/memstore"
)

const benchEntries = 10_000

// benchDir returns a directory with benchEntries computers under OU=Servers and benchEntries
// users under OU=Users, spread over 10 sub-OUs each.
func benchDir(b *testing.B) (*memdir.Dir, string) {
	b.Helper()
	d := memdir.New()
	root, err := d.AddDomain("bench.example.com")
	must(b, err)
	servers, _ := d.AddOU(root, "Servers")
	users, _ := d.AddOU(root, "Users")
	for ou := 0; ou < 10; ou++ {
		so, err := d.AddOU(servers, fmt.Sprint("s", ou))
		must(b, err)
		uo, err := d.AddOU(users, fmt.Sprint("u", ou))
		must(b, err)
		for i := ou; i < benchEntries; i += 10 {
			_, err := d.AddComputer(so, memdir.Computer{Name: fmt.Sprint("host", i), DNSHostName: fmt.Sprintf("host%d.bench.example.com", i),
				OperatingSystem: []string{"Windows Server 2022", "Ubuntu"}[i%2], Attributes: map[string][]string{"location": {"eu"}}})
			must(b, err)
			_, err = d.AddUser(uo, memdir.User{SAMAccountName: fmt.Sprint("user", i), UserPrincipalName: fmt.Sprintf("user%d@bench.example.com", i),
				GivenName: "U", SN: fmt.Sprint(i), DisplayName: fmt.Sprint("User ", i), Mail: fmt.Sprintf("user%d@example.com", i)})
			must(b, err)
		}
	}
	return d, root
}

type benchEngine struct {
	e      *opa.Engine
	sys    opa.Principal
	connID string
	server string
	user   string
}

func newBenchEngine(b *testing.B, d *memdir.Dir, root string) benchEngine {
	b.Helper()
	ctx := context.Background()
	r := memdir.NewResolver()
	r.Set("bench", "bench.example.com", d)
	e, err := opa.New(memstore.New(), opa.WithClock(opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))), opa.WithDirectoryResolver(r))
	must(b, err)
	team, err := e.CreateTeam(ctx, "bench")
	must(b, err)
	sys := opa.SystemPrincipal(team)
	rg, _ := e.CreateResourceGroup(ctx, sys, "rg", "")
	win, _ := e.CreateProject(ctx, sys, rg.ID, "win")
	lin, _ := e.CreateProject(ctx, sys, rg.ID, "linux")
	c, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "bench", Domain: "bench.example.com"})
	must(b, err)
	sj, err := e.CreateServerSyncJob(ctx, sys, c.ID, opa.ServerSyncJobInput{Name: "s", Frequency: 1,
		AdditionalAttributeMapping: []opa.AttributeMapping{{Label: "location", Value: "location"}},
		RuleAssignments: []opa.RuleAssignment{
			{BaseDN: "OU=Servers," + root, LDAPQueryFilter: "(operatingSystem=Ubuntu*)", ProjectID: lin.ID, Priority: 1},
			{BaseDN: "OU=Servers," + root, LDAPQueryFilter: "(objectClass=*)", ProjectID: win.ID, Priority: 2},
		}})
	must(b, err)
	uj, err := e.CreateUserSyncJob(ctx, sys, c.ID, opa.UserSyncJobInput{Name: "u", BaseDN: "OU=Users," + root})
	must(b, err)
	return benchEngine{e, sys, c.ID, sj.ID, uj.ID}
}

// BenchmarkSync measures server and user sync runs over 10,000 directory entries: the first run
// (every record inserted, in chunked transactions) and a re-run with nothing changed.
func BenchmarkSync(b *testing.B) {
	ctx := context.Background()
	d, root := benchDir(b)
	run := func(be benchEngine, server bool) {
		var summary string
		if server {
			r, err := be.e.RunServerSyncJob(ctx, be.sys, be.connID, be.server)
			must(b, err)
			summary = r.Status.Summary
		} else {
			r, err := be.e.RunUserSyncJob(ctx, be.sys, be.connID, be.user)
			must(b, err)
			summary = r.Status.Summary
		}
		if want := fmt.Sprint(benchEntries, " "); summary[:len(want)] != want {
			b.Fatalf("summary %q", summary)
		}
	}
	for _, kind := range []struct {
		name   string
		server bool
	}{{"server", true}, {"user", false}} {
		b.Run(kind.name+"/first-run", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				be := newBenchEngine(b, d, root)
				b.StartTimer()
				run(be, kind.server)
			}
			b.ReportMetric(float64(benchEntries), "entries/op")
		})
		b.Run(kind.name+"/rerun-unchanged", func(b *testing.B) {
			be := newBenchEngine(b, d, root)
			run(be, kind.server)
			for b.Loop() {
				run(be, kind.server)
			}
			b.ReportMetric(float64(benchEntries), "entries/op")
		})
	}
}
