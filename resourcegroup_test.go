package opa_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa"
)

// rgEnv is a team with a team-wide resource admin, a security admin, an end user, and two groups
// ("ops", "db") with one member each that start with no roles.
type rgEnv struct {
	ctx                         context.Context
	e                           *opa.Engine
	sys                         opa.Principal
	ops, db                     opa.Group
	resource, security, endUser opa.Principal
	principal                   func(user string) opa.Principal
	rg                          func(id string) opa.ResourceGroup
	groupNames                  func(rg opa.ResourceGroup) []string
	listNames                   func(p opa.Principal) []string
	projectNames                func(rgID string) []string
}

func newRGEnv(t *testing.T) *rgEnv {
	t.Helper()
	ctx := context.Background()
	e, _ := newEngine(t)
	team, err := e.CreateTeam(ctx, "acme")
	must(t, err)
	env := &rgEnv{ctx: ctx, e: e, sys: opa.SystemPrincipal(team)}
	group := func(name string, roles ...opa.RoleGrant) opa.Group {
		g, err := e.CreateGroup(ctx, env.sys, opa.GroupInput{Name: name, Roles: roles})
		must(t, err)
		return g
	}
	user := func(name string, g opa.Group) {
		_, err := e.CreateUser(ctx, env.sys, opa.UserInput{Username: name, ServiceUser: true, GroupIDs: []string{g.ID}})
		must(t, err)
	}
	env.principal = func(name string) opa.Principal {
		p, err := e.PrincipalForUser(ctx, "acme", name)
		must(t, err)
		return p
	}
	user("res", group("resource-admins", opa.RoleGrant{Role: opa.RoleResourceAdmin}))
	user("sec", group("security-admins", opa.RoleGrant{Role: opa.RoleSecurityAdmin}))
	user("eu", group("users", opa.RoleGrant{Role: opa.RoleEndUser}))
	env.ops, env.db = group("ops"), group("db")
	user("ops-1", env.ops)
	user("db-1", env.db)
	env.resource, env.security, env.endUser = env.principal("res"), env.principal("sec"), env.principal("eu")
	env.rg = func(id string) opa.ResourceGroup {
		rg, err := e.ResourceGroup(ctx, env.resource, id)
		must(t, err)
		return rg
	}
	env.groupNames = func(rg opa.ResourceGroup) []string {
		out := []string{}
		for _, g := range rg.DelegatedAdminGroups {
			out = append(out, g.Name)
		}
		return out
	}
	env.listNames = func(p opa.Principal) []string {
		page, err := e.ListResourceGroups(ctx, p, opa.ResourceGroupFilter{}, opa.PageRequest{})
		must(t, err)
		out := []string{}
		for _, rg := range page.Items {
			out = append(out, rg.Name)
		}
		return out
	}
	env.projectNames = func(rgID string) []string {
		page, err := e.ListProjects(ctx, env.resource, rgID, opa.PageRequest{})
		must(t, err)
		out := []string{}
		for _, pr := range page.Items {
			out = append(out, pr.Name)
		}
		return out
	}
	return env
}

// delegationTrail returns the resource group's delegation audit events as "outcome: detail", in
// any order (events of one transaction share a time).
func delegationTrail(t *testing.T, env *rgEnv, rgID string) map[string]bool {
	t.Helper()
	evs, err := env.e.AuditEvents(env.ctx, env.security, opa.AuditFilter{ResourceID: rgID, Action: opa.AuditDelegation})
	must(t, err)
	out := map[string]bool{}
	for _, ev := range evs {
		if ev.ResourceType != "resource_group" {
			t.Errorf("event %+v", ev)
		}
		out[ev.Outcome+": "+ev.Detail] = true
	}
	if len(out) != len(evs) {
		t.Errorf("repeated events: %+v", evs)
	}
	return out
}

func sameNames(t *testing.T, what string, want, got []string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// TestResourceGroupDelegatedAdmins: the delegated admin list of a resource group is the groups
// holding delegated_resource_admin for it; setting it grants and revokes the role, and a member of
// a listed group administers that resource group only.
func TestResourceGroupDelegatedAdmins(t *testing.T) {
	env := newRGEnv(t)
	ctx, e := env.ctx, env.e
	blue, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{
		Name: "blue", Description: "the blue team", DelegatedAdminGroupIDs: []string{env.ops.ID, env.ops.ID}})
	must(t, err)
	sameNames(t, "create answer", []string{"ops"}, env.groupNames(blue))
	green, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "green"})
	must(t, err)
	if got := env.rg(blue.ID); got.Description != "the blue team" || got.Name != "blue" {
		t.Fatalf("read %+v", got)
	}
	sameNames(t, "blue admins", []string{"ops"}, env.groupNames(env.rg(blue.ID)))
	sameNames(t, "green admins", []string{}, env.groupNames(env.rg(green.ID)))

	// The ops member administers blue: reads it, lists only it, creates a project in it; green
	// and resource-group changes stay out of reach.
	ops := env.principal("ops-1")
	if _, err := e.ResourceGroup(ctx, ops, blue.ID); err != nil {
		t.Fatalf("delegated read: %v", err)
	}
	sameNames(t, "delegated list", []string{"blue"}, env.listNames(ops))
	sameNames(t, "team-wide list", []string{"blue", "green"}, sortedBy(env.listNames(env.resource), "blue", "green"))
	sameNames(t, "security admin list", []string{"blue", "green"}, sortedBy(env.listNames(env.security), "blue", "green"))
	for _, c := range []struct {
		p        opa.Principal
		contains string
		want     []string
	}{{env.resource, "LU", []string{"blue"}}, {env.resource, "e", []string{"blue", "green"}}, {ops, "GREEN", []string{}}, {ops, "b", []string{"blue"}}} {
		page, err := e.ListResourceGroups(ctx, c.p, opa.ResourceGroupFilter{Contains: c.contains}, opa.PageRequest{})
		must(t, err)
		got := []string{}
		for _, rg := range page.Items {
			got = append(got, rg.Name)
		}
		sameNames(t, "contains "+c.contains, c.want, sortedBy(got, c.want...))
	}
	_, err = e.ResourceGroup(ctx, ops, green.ID)
	wantErr(t, "delegated read of another group", err, opa.ErrForbidden)
	if _, err := e.CreateProject(ctx, ops, blue.ID, "p1"); err != nil {
		t.Fatalf("delegated project create: %v", err)
	}
	_, err = e.CreateProject(ctx, ops, green.ID, "p1")
	wantErr(t, "project in another group", err, opa.ErrForbidden)
	err = e.UpdateResourceGroup(ctx, ops, blue.ID, opa.ResourceGroupInput{Name: "blue"})
	wantErr(t, "delegated admin updating the group", err, opa.ErrForbidden)
	_, err = e.ListResourceGroups(ctx, env.principal("db-1"), opa.ResourceGroupFilter{}, opa.PageRequest{})
	wantErr(t, "list by a group without roles", err, opa.ErrForbidden)
	_, err = e.ListResourceGroups(ctx, env.endUser, opa.ResourceGroupFilter{}, opa.PageRequest{})
	wantErr(t, "list by an end user", err, opa.ErrForbidden)

	// Update replaces the list: db gains blue, ops loses it (its token-time roles are re-read).
	must(t, e.UpdateResourceGroup(ctx, env.resource, blue.ID, opa.ResourceGroupInput{
		Name: "blue-2", DelegatedAdminGroupIDs: []string{env.db.ID}}))
	got := env.rg(blue.ID)
	if got.Name != "blue-2" || got.Description != "" {
		t.Errorf("full replacement: %+v", got)
	}
	sameNames(t, "replaced admins", []string{"db"}, env.groupNames(got))
	_, err = e.ResourceGroup(ctx, env.principal("ops-1"), blue.ID)
	wantErr(t, "revoked admin reads", err, opa.ErrForbidden)
	if _, err := e.ResourceGroup(ctx, env.principal("db-1"), blue.ID); err != nil {
		t.Fatalf("new admin reads: %v", err)
	}
	g, err := e.GroupByName(ctx, env.resource, "ops")
	must(t, err)
	if len(g.Roles) != 0 {
		t.Errorf("ops keeps grants %+v", g.Roles)
	}

	if diff := cmp.Diff(map[string]bool{"granted: delegated_resource_admin to group ops": true,
		"granted: delegated_resource_admin to group db": true, "revoked: delegated_resource_admin to group ops": true},
		delegationTrail(t, env, blue.ID)); diff != "" {
		t.Errorf("audit trail (-want +got):\n%s", diff)
	}
	if got := delegationTrail(t, env, green.ID); len(got) != 0 {
		t.Errorf("a resource group without delegation has events %v", got)
	}

	// A group's team-wide role change keeps its delegated grant.
	must(t, e.SetGroupRoles(ctx, env.sys, "db", []opa.Role{opa.RoleEndUser}))
	sameNames(t, "after SetGroupRoles", []string{"db"}, env.groupNames(env.rg(blue.ID)))
	// A deleted group is no admin.
	must(t, e.DeleteGroup(ctx, env.sys, "db"))
	sameNames(t, "after the group's delete", []string{}, env.groupNames(env.rg(blue.ID)))
}

// TestResourceGroupRefusals: bad input is refused with its class and changes nothing.
func TestResourceGroupRefusals(t *testing.T) {
	env := newRGEnv(t)
	ctx, e := env.ctx, env.e
	blue, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "blue", DelegatedAdminGroupIDs: []string{env.ops.ID}})
	must(t, err)
	other, err := e.CreateTeam(ctx, "other")
	must(t, err)
	foreign, err := e.CreateGroup(ctx, opa.SystemPrincipal(other), opa.GroupInput{Name: "foreign"})
	must(t, err)
	long := string(make([]byte, 256))
	for _, c := range []struct {
		name  string
		p     opa.Principal
		in    opa.ResourceGroupInput
		class error
	}{
		{"empty name", env.resource, opa.ResourceGroupInput{Name: " "}, opa.ErrInvalid},
		{"long name", env.resource, opa.ResourceGroupInput{Name: long}, opa.ErrInvalid},
		{"unknown group", env.resource, opa.ResourceGroupInput{Name: "x", DelegatedAdminGroupIDs: []string{"00000000-0000-4000-8000-000000000000"}}, opa.ErrInvalid},
		{"other team's group", env.resource, opa.ResourceGroupInput{Name: "x", DelegatedAdminGroupIDs: []string{foreign.ID}}, opa.ErrInvalid},
		{"duplicate name", env.resource, opa.ResourceGroupInput{Name: "BLUE"}, opa.ErrConflict},
		{"security admin", env.security, opa.ResourceGroupInput{Name: "x"}, opa.ErrForbidden},
		{"end user", env.endUser, opa.ResourceGroupInput{Name: "x"}, opa.ErrForbidden},
		{"unauthenticated", opa.Principal{}, opa.ResourceGroupInput{Name: "x"}, opa.ErrUnauthorized},
	} {
		_, err := e.CreateResourceGroupWith(ctx, c.p, c.in)
		wantErr(t, "create: "+c.name, err, c.class)
	}
	sameNames(t, "after refused creates", []string{"blue"}, env.listNames(env.resource))
	green, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "green"})
	must(t, err)
	for _, c := range []struct {
		name  string
		p     opa.Principal
		id    string
		in    opa.ResourceGroupInput
		class error
	}{
		{"rename to a taken name", env.resource, blue.ID, opa.ResourceGroupInput{Name: "Green"}, opa.ErrConflict},
		{"unknown group", env.resource, blue.ID, opa.ResourceGroupInput{Name: "blue", DelegatedAdminGroupIDs: []string{env.db.ID, "nope"}}, opa.ErrInvalid},
		{"unknown resource group", env.resource, "nope", opa.ResourceGroupInput{Name: "x"}, opa.ErrNotFound},
		{"security admin", env.security, blue.ID, opa.ResourceGroupInput{Name: "blue"}, opa.ErrForbidden},
	} {
		err := e.UpdateResourceGroup(ctx, c.p, c.id, c.in)
		wantErr(t, "update: "+c.name, err, c.class)
	}
	got := env.rg(blue.ID)
	if got.Name != "blue" {
		t.Errorf("renamed by a refused update: %+v", got)
	}
	sameNames(t, "admins after refused updates", []string{"ops"}, env.groupNames(got))
	_, err = e.ResourceGroup(ctx, env.endUser, green.ID)
	wantErr(t, "end user read", err, opa.ErrForbidden)
	_, err = e.ResourceGroup(ctx, opa.SystemPrincipal(other), green.ID)
	wantErr(t, "other team's read", err, opa.ErrNotFound)
	_, err = e.ListResourceGroups(ctx, env.resource, opa.ResourceGroupFilter{}, opa.PageRequest{Count: -1})
	wantErr(t, "bad page", err, opa.ErrInvalid)
}

// TestResourceGroupDelete: a delete cascades to the projects (soft-deleted) and the delegated
// grants, frees the name, and is refused while a project is in use.
func TestResourceGroupDelete(t *testing.T) {
	env := newRGEnv(t)
	ctx, e := env.ctx, env.e
	blue, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "blue", DelegatedAdminGroupIDs: []string{env.ops.ID}})
	must(t, err)
	p1, err := e.CreateProject(ctx, env.resource, blue.ID, "p1")
	must(t, err)
	busy, err := e.CreateProject(ctx, env.resource, blue.ID, "busy")
	must(t, err)
	_, err = e.CreateUDAccount(ctx, env.resource, blue.ID, busy.ID, opa.UDAccountInput{Name: "svc", Username: "svc@example.com"})
	must(t, err)

	wantErr(t, "delete by a delegated admin", e.DeleteResourceGroup(ctx, env.principal("ops-1"), blue.ID), opa.ErrForbidden)
	wantErr(t, "delete with an account in a project", e.DeleteResourceGroup(ctx, env.resource, blue.ID), opa.ErrConflict)
	sameNames(t, "projects after refused delete", []string{"p1", "busy"}, sortedBy(env.projectNames(blue.ID), p1.Name, busy.Name))
	sameNames(t, "admins after refused delete", []string{"ops"}, env.groupNames(env.rg(blue.ID)))
	wantErr(t, "delete project in use", e.DeleteProject(ctx, env.resource, blue.ID, busy.ID), opa.ErrConflict)

	// Without the account the delete goes through.
	green, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "green"})
	must(t, err)
	g1, err := e.CreateProject(ctx, env.resource, green.ID, "g1")
	must(t, err)
	must(t, e.DeleteResourceGroup(ctx, env.resource, green.ID))
	_, err = e.ResourceGroup(ctx, env.resource, green.ID)
	wantErr(t, "read after delete", err, opa.ErrNotFound)
	wantErr(t, "second delete", e.DeleteResourceGroup(ctx, env.resource, green.ID), opa.ErrNotFound)
	_, err = e.ResourceGroupProject(ctx, env.resource, green.ID, g1.ID)
	wantErr(t, "project of a deleted group", err, opa.ErrNotFound)
	sameNames(t, "list after delete", []string{"blue"}, env.listNames(env.resource))
	if _, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "green"}); err != nil {
		t.Fatalf("name reuse after delete: %v", err)
	}

	// The delegated grants go with the resource group.
	red, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "red", DelegatedAdminGroupIDs: []string{env.db.ID}})
	must(t, err)
	secGrant := opa.RoleGrant{Role: opa.RoleDelegatedSecurityAdmin, ResourceGroupID: red.ID}
	_, err = e.CreateGroup(ctx, env.sys, opa.GroupInput{Name: "red-security", Roles: []opa.RoleGrant{secGrant}})
	must(t, err)
	direct, err := e.CreateUser(ctx, env.sys, opa.UserInput{Username: "red-direct", ServiceUser: true, Roles: []opa.RoleGrant{secGrant}})
	must(t, err)
	if !env.principal("red-direct").HasRoleIn(opa.RoleSecurityAdmin, red.ID) {
		t.Fatal("the direct grant does not work")
	}
	must(t, e.DeleteResourceGroup(ctx, env.resource, red.ID))
	for _, name := range []string{"db", "red-security"} {
		g, err := e.GroupByName(ctx, env.resource, name)
		must(t, err)
		if len(g.Roles) != 0 {
			t.Errorf("%s keeps the grants of a deleted resource group: %+v", name, g.Roles)
		}
	}
	if p := env.principal(direct.Username); len(p.Roles) != 0 {
		t.Errorf("a user keeps a direct grant of a deleted resource group: %+v", p.Roles)
	}
	if diff := cmp.Diff(map[string]bool{"granted: delegated_resource_admin to group db": true,
		"revoked: delegated_resource_admin to group db": true, "revoked: delegated_security_admin to group red-security": true,
		"revoked: delegated_security_admin to user red-direct": true}, delegationTrail(t, env, red.ID)); diff != "" {
		t.Errorf("audit trail of the delete (-want +got):\n%s", diff)
	}
	sameNames(t, "db member's list", []string{}, listOrEmpty(e, ctx, env.principal("db-1")))
}

// sortedBy returns names in the order of want when they hold the same names (the list is in id
// order, which the test does not control), else names unchanged.
func sortedBy(names []string, want ...string) []string {
	if len(names) != len(want) {
		return names
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, w := range want {
		if !seen[w] {
			return names
		}
	}
	return want
}

func listOrEmpty(e *opa.Engine, ctx context.Context, p opa.Principal) []string {
	page, err := e.ListResourceGroups(ctx, p, opa.ResourceGroupFilter{}, opa.PageRequest{})
	if err != nil {
		return []string{}
	}
	out := []string{}
	for _, rg := range page.Items {
		out = append(out, rg.Name)
	}
	return out
}

// TestResourceGroupProjects: create with settings and defaults, merge updates, soft delete, name
// reuse, paging, and the refusals.
func TestResourceGroupProjects(t *testing.T) {
	env := newRGEnv(t)
	ctx, e := env.ctx, env.e
	blue, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "blue", DelegatedAdminGroupIDs: []string{env.ops.ID}})
	must(t, err)
	green, err := e.CreateResourceGroupWith(ctx, env.resource, opa.ResourceGroupInput{Name: "green"})
	must(t, err)

	plain, err := e.CreateProjectWith(ctx, env.resource, blue.ID, opa.ProjectInput{Name: "plain"})
	must(t, err)
	if plain.SSHCertificateType != opa.DefaultSSHCertificateType || plain.GatewaySelector != "" || plain.ServerAccountManagement || !plain.DeletedAt.IsZero() {
		t.Errorf("defaults: %+v", plain)
	}
	set, err := e.CreateProjectWith(ctx, env.principal("ops-1"), blue.ID, opa.ProjectInput{Name: "set",
		GatewaySelector: ptr("env=test,region=eu"), SSHCertificateType: ptr("CERT_TYPE_RSA_01"), ServerAccountManagement: ptr(true)})
	must(t, err)
	read, err := e.ResourceGroupProject(ctx, env.security, blue.ID, set.ID)
	must(t, err)
	if read.GatewaySelector != "env=test,region=eu" || read.SSHCertificateType != "CERT_TYPE_RSA_01" || !read.ServerAccountManagement || read.ResourceGroupID != blue.ID {
		t.Errorf("read back: %+v", read)
	}

	for _, c := range []struct {
		name  string
		p     opa.Principal
		rg    string
		in    opa.ProjectInput
		class error
	}{
		{"empty name", env.resource, blue.ID, opa.ProjectInput{Name: ""}, opa.ErrInvalid},
		{"bad cert type", env.resource, blue.ID, opa.ProjectInput{Name: "x", SSHCertificateType: ptr("CERT_TYPE_DSA")}, opa.ErrInvalid},
		{"bad selector", env.resource, blue.ID, opa.ProjectInput{Name: "x", GatewaySelector: ptr("env")}, opa.ErrInvalid},
		{"duplicate", env.resource, blue.ID, opa.ProjectInput{Name: "PLAIN"}, opa.ErrConflict},
		{"unknown resource group", env.resource, "nope", opa.ProjectInput{Name: "x"}, opa.ErrNotFound},
		{"security admin", env.security, blue.ID, opa.ProjectInput{Name: "x"}, opa.ErrForbidden},
		{"delegated admin elsewhere", env.principal("ops-1"), green.ID, opa.ProjectInput{Name: "x"}, opa.ErrForbidden},
	} {
		_, err := e.CreateProjectWith(ctx, c.p, c.rg, c.in)
		wantErr(t, "create: "+c.name, err, c.class)
	}
	sameNames(t, "projects after refused creates", []string{"plain", "set"}, sortedBy(env.projectNames(blue.ID), "plain", "set"))
	sameNames(t, "green projects", []string{}, env.projectNames(green.ID))

	// Update merges: only the settings given change.
	must(t, e.UpdateProject(ctx, env.resource, blue.ID, set.ID, opa.ProjectInput{GatewaySelector: ptr("")}))
	read, err = e.ResourceGroupProject(ctx, env.resource, blue.ID, set.ID)
	must(t, err)
	if read.GatewaySelector != "" || read.SSHCertificateType != "CERT_TYPE_RSA_01" || !read.ServerAccountManagement {
		t.Errorf("after a merge update: %+v", read)
	}
	for _, c := range []struct {
		name   string
		p      opa.Principal
		rg, id string
		in     opa.ProjectInput
		class  error
	}{
		{"rename", env.resource, blue.ID, set.ID, opa.ProjectInput{Name: "other"}, opa.ErrInvalid},
		{"bad cert type", env.resource, blue.ID, set.ID, opa.ProjectInput{ServerAccountManagement: ptr(false), SSHCertificateType: ptr("x")}, opa.ErrInvalid},
		{"wrong resource group", env.resource, green.ID, set.ID, opa.ProjectInput{}, opa.ErrNotFound},
		{"unknown project", env.resource, blue.ID, "nope", opa.ProjectInput{}, opa.ErrNotFound},
		{"security admin", env.security, blue.ID, set.ID, opa.ProjectInput{ServerAccountManagement: ptr(false)}, opa.ErrForbidden},
	} {
		wantErr(t, "update: "+c.name, e.UpdateProject(ctx, c.p, c.rg, c.id, c.in), c.class)
	}
	read, err = e.ResourceGroupProject(ctx, env.resource, blue.ID, set.ID)
	must(t, err)
	if !read.ServerAccountManagement || read.SSHCertificateType != "CERT_TYPE_RSA_01" {
		t.Errorf("changed by a refused update: %+v", read)
	}
	_, err = e.ResourceGroupProject(ctx, env.endUser, blue.ID, set.ID)
	wantErr(t, "end user read", err, opa.ErrForbidden)

	// Soft delete: readable with DeletedAt, out of the list, gone for updates, name reusable.
	wantErr(t, "delete by a security admin", e.DeleteProject(ctx, env.security, blue.ID, plain.ID), opa.ErrForbidden)
	must(t, e.DeleteProject(ctx, env.principal("ops-1"), blue.ID, plain.ID))
	read, err = e.ResourceGroupProject(ctx, env.resource, blue.ID, plain.ID)
	must(t, err)
	if read.DeletedAt.IsZero() {
		t.Errorf("deleted project without DeletedAt: %+v", read)
	}
	sameNames(t, "list after delete", []string{"set"}, env.projectNames(blue.ID))
	ps, err := e.Projects(ctx, env.resource, blue.ID)
	must(t, err)
	if len(ps) != 1 || ps[0].Name != "set" {
		t.Errorf("Projects after delete: %+v", ps)
	}
	wantErr(t, "second delete", e.DeleteProject(ctx, env.resource, blue.ID, plain.ID), opa.ErrNotFound)
	wantErr(t, "update deleted", e.UpdateProject(ctx, env.resource, blue.ID, plain.ID, opa.ProjectInput{}), opa.ErrNotFound)
	again, err := e.CreateProjectWith(ctx, env.resource, blue.ID, opa.ProjectInput{Name: "plain"})
	must(t, err)
	if again.ID == plain.ID {
		t.Errorf("the new project reuses the deleted one's id")
	}

	// Paging: three more projects, pages of two, in id order, each page once.
	for _, n := range []string{"a", "b", "c"} {
		_, err := e.CreateProject(ctx, env.resource, blue.ID, n)
		must(t, err)
	}
	var seen []string
	req := opa.PageRequest{Count: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.ListProjects(ctx, env.resource, blue.ID, req)
		must(t, err)
		if len(page.Items) > 2 {
			t.Fatalf("page of %d", len(page.Items))
		}
		for _, pr := range page.Items {
			seen = append(seen, pr.ID)
		}
		if page.Next == "" {
			break
		}
		req.Offset = page.Next
	}
	if len(seen) != 5 {
		t.Errorf("paged %d projects, want 5", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1] >= seen[i] {
			t.Errorf("not in id order: %v", seen)
		}
	}
}

// TestPolicyRefusesDeletedProject: a security policy cannot select a deleted project (it would
// select nothing, and the project's name may already belong to a new one).
func TestPolicyRefusesDeletedProject(t *testing.T) {
	env := newRGEnv(t)
	ctx, e := env.ctx, env.e
	rg, err := e.CreateResourceGroup(ctx, env.resource, "blue", "")
	must(t, err)
	live, err := e.CreateProject(ctx, env.resource, rg.ID, "live")
	must(t, err)
	gone, err := e.CreateProject(ctx, env.resource, rg.ID, "gone")
	must(t, err)
	must(t, e.DeleteProject(ctx, env.resource, rg.ID, gone.ID))
	policy := func(name string, res opa.PolicyResources) opa.PolicyInput {
		return opa.PolicyInput{Name: name, PrincipalUserIDs: []string{env.endUser.UserID}, Rules: []opa.PolicyRule{{
			Name: "r", Privileges: []string{opa.PrivilegeRevealPassword}, Resources: res}}}
	}
	_, err = e.CreatePolicy(ctx, env.security, policy("ad", opa.PolicyResources{ADProjectIDs: []string{live.ID, gone.ID}}))
	wantErr(t, "AD selector of a deleted project", err, opa.ErrInvalid)
	_, err = e.CreatePolicy(ctx, env.security, policy("ud", opa.PolicyResources{UDProjectIDs: []string{gone.ID}}))
	wantErr(t, "UD selector of a deleted project", err, opa.ErrInvalid)
	if _, err := e.CreatePolicy(ctx, env.security, policy("ok", opa.PolicyResources{ADProjectIDs: []string{live.ID}})); err != nil {
		t.Fatalf("a live project: %v", err)
	}
}
