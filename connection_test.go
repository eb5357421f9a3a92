package opa_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage/memstore"
)

// syncEnv is an engine with a team, principals of each role, two projects and a small AD domain
// corp.example.com served by an in-memory directory.
type syncEnv struct {
	e        *opa.Engine
	clock    *opa.ManualClock
	dir      *memdir.Dir
	resolver *memdir.Resolver
	sys      opa.Principal
	admin    opa.Principal // resource_admin
	security opa.Principal // security_admin
	enduser  opa.Principal
	other    opa.Principal // resource_admin of another team
	rg       opa.ResourceGroup
	web, db  opa.Project
	dn       map[string]string
}

func newSyncEnv(t testing.TB) *syncEnv {
	t.Helper()
	ctx := context.Background()
	clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC))
	resolver := memdir.NewResolver()
	e, err := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(1), opa.WithDirectoryResolver(resolver))
	if err != nil {
		t.Fatal(err)
	}
	s := &syncEnv{e: e, clock: clock, resolver: resolver, dn: map[string]string{}}
	team, err := e.CreateTeam(ctx, "acme")
	must(t, err)
	s.sys = opa.SystemPrincipal(team)
	s.admin = s.user(t, team.Name, "ra", opa.RoleResourceAdmin)
	s.security = s.user(t, team.Name, "sa", opa.RoleSecurityAdmin)
	s.enduser = s.user(t, team.Name, "eu", opa.RoleEndUser)
	other, err := e.CreateTeam(ctx, "globex")
	must(t, err)
	s.other = s.user(t, other.Name, "ra2", opa.RoleResourceAdmin)
	_ = opa.SystemPrincipal(other)
	s.rg, err = e.CreateResourceGroup(ctx, s.sys, "infra", "")
	must(t, err)
	s.web, err = e.CreateProject(ctx, s.sys, s.rg.ID, "web")
	must(t, err)
	s.db, err = e.CreateProject(ctx, s.sys, s.rg.ID, "db")
	must(t, err)

	d := memdir.New(memdir.WithClock(clock.Now), memdir.WithServiceAccount("svc_opa", "p@$$w0rD-secret"))
	dn := s.dn
	add := func(key string, v string, err error) {
		t.Helper()
		must(t, err)
		dn[key] = v
	}
	root, err := d.AddDomain("corp.example.com")
	add("root", root, err)
	v, err := d.AddOU(root, "Users")
	add("users", v, err)
	v, err = d.AddOU(root, "Servers")
	add("servers", v, err)
	v, err = d.AddOU(dn["servers"], "Linux")
	add("linux", v, err)
	v, err = d.AddOU(root, "Groups")
	add("groups", v, err)
	v, err = d.AddGroup(dn["groups"], "Ops")
	add("ops", v, err)
	v, err = d.AddGroup(dn["groups"], "DBAs")
	add("dbas", v, err)
	v, err = d.AddUser(dn["users"], memdir.User{SAMAccountName: "jdoe", UserPrincipalName: "jdoe@corp.example.com", GivenName: "Jane", SN: "Doe", DisplayName: "Jane Doe", Mail: "jane@example.com", MemberOf: []string{dn["ops"]}})
	add("jdoe", v, err)
	v, err = d.AddUser(dn["users"], memdir.User{SAMAccountName: "adm.jdoe", UserPrincipalName: "adm.jdoe@corp.example.com", GivenName: "Jane", SN: "Doe", DisplayName: "Admin Jane Doe", MemberOf: []string{dn["ops"], dn["dbas"]}})
	add("admjdoe", v, err)
	v, err = d.AddUser(dn["users"], memdir.User{SAMAccountName: "svc_backup", UserPrincipalName: "svc_backup@corp.example.com", DisplayName: "Backup Service"})
	add("svc", v, err)
	v, err = d.AddComputer(dn["servers"], memdir.Computer{Name: "WEB1", DNSHostName: "web1.corp.example.com", OperatingSystem: "Windows Server 2022", Attributes: map[string][]string{"location": {"eu-west"}}})
	add("web1", v, err)
	v, err = d.AddComputer(dn["servers"], memdir.Computer{Name: "WEB2", DNSHostName: "web2.corp.example.com", OperatingSystem: "Windows Server 2019"})
	add("web2", v, err)
	v, err = d.AddComputer(dn["linux"], memdir.Computer{Name: "DB1", DNSHostName: "db1.corp.example.com", OperatingSystem: "Ubuntu 24.04", Attributes: map[string][]string{"location": {"us-east"}}})
	add("db1", v, err)
	s.dir = d
	resolver.Set("acme", "corp.example.com", d)
	return s
}

func (s *syncEnv) user(t testing.TB, team, name string, role opa.Role) opa.Principal {
	t.Helper()
	ctx := context.Background()
	tm, err := s.e.Team(ctx, team)
	must(t, err)
	_, err = s.e.CreateUser(ctx, opa.SystemPrincipal(tm), opa.UserInput{Username: name, Roles: []opa.RoleGrant{{Role: role}}})
	must(t, err)
	p, err := s.e.PrincipalForUser(ctx, team, name)
	must(t, err)
	return p
}

func (s *syncEnv) conn(t testing.TB) opa.ADConnection {
	t.Helper()
	c, err := s.e.CreateADConnection(context.Background(), s.admin, opa.ADConnectionInput{
		Name: "corp", GatewayID: "5a3af768-063f-4a12-a056-8ef24e555555", GatewayName: "gw1", Domain: "corp.example.com",
		DomainControllers: []string{"10.0.0.1", "dc1.corp.example.com"}, ServiceAccountUsername: "svc_opa", ServiceAccountPassword: "p@$$w0rD-secret",
	})
	must(t, err)
	return c
}

func TestADConnectionLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newSyncEnv(t)
	c := s.conn(t)
	b, _ := json.Marshal(c)
	if strings.Contains(string(b), "p@$$w0rD") || strings.Contains(string(b), `password"`) {
		t.Fatalf("the password leaks: %s", b)
	}
	got, err := s.e.ADConnection(ctx, s.security, c.ID)
	must(t, err)
	if got.GatewayName != "gw1" || len(got.DomainControllers) != 2 || got.ServiceAccountUsername != "svc_opa" {
		t.Fatalf("got %+v", got)
	}
	o, err := s.e.OPAConnection(ctx, s.admin, c.ID)
	must(t, err)
	if o.Status != opa.ConnectionConnected || !strings.HasPrefix(o.AppInstanceID, "0oa") || len(o.AppInstanceID) != 20 {
		t.Fatalf("got %+v", o)
	}
	st, err := s.e.SyncStatus(ctx, s.admin, c.ID)
	must(t, err)
	if st != opa.SyncNotSynced {
		t.Fatalf("sync status %q", st)
	}

	_, err = s.e.CreateADConnection(ctx, s.admin, opa.ADConnectionInput{GatewayID: testGateway, Name: "dup", Domain: "CORP.example.com"})
	wantErr(t, "second connection for the domain", err, opa.ErrConflict)
	_, err = s.e.CreateADConnection(ctx, s.other, opa.ADConnectionInput{GatewayID: testGateway, Name: "theirs", Domain: "corp.example.com"})
	must(t, err) // another team may use the same domain
	for _, in := range []opa.ADConnectionInput{
		{Name: "", Domain: "a.com"},
		{Name: "x", Domain: "not a domain"},
		{Name: "x", Domain: "b.com", GatewayID: "nope"},
		{Name: "x", Domain: "c.com", DomainControllers: []string{"bad host!"}},
		{Name: "x", Domain: "d.com", Status: "broken"},
		{Name: "x", Domain: "f.com"}, // no gateway_id
	} {
		_, err := s.e.CreateADConnection(ctx, s.admin, in)
		wantErr(t, "bad input "+in.Domain, err, opa.ErrInvalid)
	}
	_, err = s.e.CreateADConnection(ctx, s.security, opa.ADConnectionInput{GatewayID: testGateway, Name: "x", Domain: "e.com"})
	wantErr(t, "security admin creates", err, opa.ErrForbidden)
	_, err = s.e.ADConnection(ctx, s.enduser, c.ID)
	wantErr(t, "end user reads", err, opa.ErrForbidden)
	_, err = s.e.ADConnection(ctx, s.other, c.ID)
	wantErr(t, "other team reads", err, opa.ErrNotFound)
	_, err = s.e.ADConnection(ctx, opa.Principal{}, c.ID)
	wantErr(t, "no principal", err, opa.ErrUnauthorized)

	must(t, s.e.UpdateConnectionStatus(ctx, s.admin, c.ID, opa.ConnectionDisconnected))
	wantErr(t, "status inactive", s.e.UpdateConnectionStatus(ctx, s.admin, c.ID, opa.ConnectionInactive), opa.ErrInvalid)
	wantErr(t, "status unknown id", s.e.UpdateConnectionStatus(ctx, s.admin, "nope", opa.ConnectionConnected), opa.ErrNotFound)
	o, _ = s.e.OPAConnection(ctx, s.admin, c.ID)
	if o.Status != opa.ConnectionDisconnected {
		t.Fatalf("status %q", o.Status)
	}

	must(t, s.e.UpdateADConnection(ctx, s.admin, c.ID, opa.ADConnectionInput{Name: "renamed", Domain: "corp.example.com", ServiceAccountUsername: "svc_opa"}))
	got, _ = s.e.ADConnection(ctx, s.admin, c.ID)
	if got.Name != "renamed" || got.GatewayID != "" {
		t.Fatalf("after update %+v", got)
	}
	page, err := s.e.ADConnections(ctx, s.admin, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 1 {
		t.Fatalf("list: %+v", page)
	}
	opage, err := s.e.OPAConnections(ctx, s.security, opa.PageRequest{})
	must(t, err)
	if len(opage.Items) != 1 || opage.Items[0].Name != "renamed" {
		t.Fatalf("list: %+v", opage)
	}

	fix, err := s.e.CreateADConnection(ctx, s.sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "fixture", Domain: "lab.example.com", AppInstanceID: "0oa1fixture", Status: opa.ConnectionDisconnected})
	must(t, err)
	fo, _ := s.e.OPAConnection(ctx, s.sys, fix.ID)
	if fo.AppInstanceID != "0oa1fixture" || fo.Status != opa.ConnectionDisconnected {
		t.Fatalf("fixture connection %+v", fo)
	}
	_, err = s.e.CreateADConnection(ctx, s.sys, opa.ADConnectionInput{GatewayID: testGateway, Name: "dup app", Domain: "lab2.example.com", AppInstanceID: "0oa1fixture"})
	wantErr(t, "duplicate app instance", err, opa.ErrConflict)

	must(t, s.e.DeleteADConnection(ctx, s.admin, c.ID))
	_, err = s.e.ADConnection(ctx, s.admin, c.ID)
	wantErr(t, "deleted", err, opa.ErrNotFound)
	wantErr(t, "delete twice", s.e.DeleteADConnection(ctx, s.admin, c.ID), opa.ErrNotFound)
}
