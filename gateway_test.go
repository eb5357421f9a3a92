package opa_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opakit/opa"
)

// gatewayEnv is a team "acme" with a resource group "rg" and one principal per role set: resource,
// security and delegated (resource admin of rg) admins, a pam_admin and an end user.
type gatewayEnv struct {
	e     *opa.Engine
	sys   opa.Principal
	users map[string]opa.Principal
}

func newGatewayEnv(t *testing.T) gatewayEnv {
	t.Helper()
	ctx := context.Background()
	e, _ := newEngine(t)
	team, err := e.CreateTeam(ctx, "acme")
	must(t, err)
	sys := opa.SystemPrincipal(team)
	rg, err := e.CreateResourceGroup(ctx, sys, "rg", "")
	must(t, err)
	env := gatewayEnv{e: e, sys: sys, users: map[string]opa.Principal{}}
	for name, roles := range map[string][]opa.RoleGrant{
		"resource":  {{Role: opa.RoleResourceAdmin}},
		"security":  {{Role: opa.RoleSecurityAdmin}},
		"delegated": {{Role: opa.RoleDelegatedResourceAdmin, ResourceGroupID: rg.ID}},
		"pam":       {{Role: opa.RolePAMAdmin}},
		"end_user":  {{Role: opa.RoleEndUser}},
	} {
		g, err := e.CreateGroup(ctx, sys, opa.GroupInput{Name: name + "-group", Roles: roles})
		must(t, err)
		_, err = e.CreateUser(ctx, sys, opa.UserInput{Username: name, GroupIDs: []string{g.ID}})
		must(t, err)
		p, err := e.PrincipalForUser(ctx, "acme", name)
		must(t, err)
		env.users[name] = p
	}
	return env
}

func TestGatewayAddGetList(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	e := env.e
	in := opa.GatewayInput{ID: "5A3AF768-063F-4A12-A056-8EF24E555555", Name: "Gateway1", AccessAddress: "gw1.example.com",
		DefaultAddress: "10.0.0.5", Description: "first", CloudProvider: "aws", RefuseConnections: true,
		Labels: map[string]string{"env": "test"}}
	g, err := e.AddGateway(ctx, env.sys, in)
	must(t, err)
	want := opa.Gateway{ID: "5a3af768-063f-4a12-a056-8ef24e555555", Name: "Gateway1", AccessAddress: "gw1.example.com",
		DefaultAddress: "10.0.0.5", Description: "first", CloudProvider: "aws", RefuseConnections: true,
		Labels: map[string]string{"env": "test"}}
	ignore := cmpopts.IgnoreFields(opa.Gateway{}, "CreatedAt")
	if diff := cmp.Diff(want, g, ignore); diff != "" {
		t.Fatalf("AddGateway (-want +got):\n%s", diff)
	}
	for _, role := range []string{"resource", "security", "delegated"} {
		got, err := e.Gateway(ctx, env.users[role], g.ID)
		must(t, err)
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Fatalf("Gateway as %s (-want +got):\n%s", role, diff)
		}
	}
	for _, role := range []string{"pam", "end_user"} {
		_, err := e.Gateway(ctx, env.users[role], g.ID)
		wantErr(t, "Gateway as "+role, err, opa.ErrForbidden)
		_, err = e.ListGateways(ctx, env.users[role], opa.GatewayFilter{}, opa.PageRequest{})
		wantErr(t, "ListGateways as "+role, err, opa.ErrForbidden)
	}
	_, err = e.Gateway(ctx, opa.Principal{}, g.ID)
	wantErr(t, "Gateway unauthenticated", err, opa.ErrUnauthorized)

	// A gateway without labels reads back with an empty map, never nil.
	plain, err := e.AddGateway(ctx, env.users["resource"], opa.GatewayInput{Name: "plain"})
	must(t, err)
	if plain.Labels == nil || len(plain.Labels) != 0 {
		t.Fatalf("labels of a gateway without labels: %#v, want an empty map", plain.Labels)
	}

	// Another team does not see the gateway.
	other, err := e.CreateTeam(ctx, "other")
	must(t, err)
	osys := opa.SystemPrincipal(other)
	_, err = e.Gateway(ctx, osys, g.ID)
	wantErr(t, "Gateway of another team", err, opa.ErrNotFound)
	page, err := e.ListGateways(ctx, osys, opa.GatewayFilter{}, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("another team lists %d gateways, want 0", len(page.Items))
	}
	// The same name in another team is fine.
	_, err = e.AddGateway(ctx, osys, opa.GatewayInput{Name: "gateway1"})
	must(t, err)

	page, err = e.ListGateways(ctx, env.users["security"], opa.GatewayFilter{Contains: "TEWAY"}, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != g.ID || page.Next != "" {
		t.Fatalf("contains=TEWAY: %+v, want only %s and no next page", page, g.ID)
	}
}

func TestGatewayAddBadInput(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	e := env.e
	_, err := e.AddGateway(ctx, env.sys, opa.GatewayInput{ID: "5a3af768-063f-4a12-a056-8ef24e555555", Name: "gw"})
	must(t, err)
	long := strings.Repeat("x", 256)
	for _, c := range []struct {
		name  string
		in    opa.GatewayInput
		class error
	}{
		{"no name", opa.GatewayInput{}, opa.ErrInvalid},
		{"long name", opa.GatewayInput{Name: long}, opa.ErrInvalid},
		{"control in name", opa.GatewayInput{Name: "a\nb"}, opa.ErrInvalid},
		{"bad id", opa.GatewayInput{ID: "gw-1", Name: "a"}, opa.ErrInvalid},
		{"bad cloud", opa.GatewayInput{Name: "a", CloudProvider: "ibm"}, opa.ErrInvalid},
		{"long address", opa.GatewayInput{Name: "a", AccessAddress: long}, opa.ErrInvalid},
		{"long description", opa.GatewayInput{Name: "a", Description: strings.Repeat("x", 1025)}, opa.ErrInvalid},
		{"empty label key", opa.GatewayInput{Name: "a", Labels: map[string]string{"": "v"}}, opa.ErrInvalid},
		{"label key with =", opa.GatewayInput{Name: "a", Labels: map[string]string{"a=b": "v"}}, opa.ErrInvalid},
		{"label value with ,", opa.GatewayInput{Name: "a", Labels: map[string]string{"k": "a,b"}}, opa.ErrInvalid},
		{"long label value", opa.GatewayInput{Name: "a", Labels: map[string]string{"k": long}}, opa.ErrInvalid},
		{"taken name", opa.GatewayInput{Name: "GW"}, opa.ErrConflict},
		{"taken id", opa.GatewayInput{ID: "5a3af768-063f-4a12-a056-8ef24e555555", Name: "b"}, opa.ErrConflict},
	} {
		_, err := e.AddGateway(ctx, env.sys, c.in)
		wantErr(t, c.name, err, c.class)
	}
	many := map[string]string{}
	for i := range opa.MaxLabels + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	_, err = e.AddGateway(ctx, env.sys, opa.GatewayInput{Name: "many", Labels: many})
	wantErr(t, "too many labels", err, opa.ErrInvalid)
	for _, role := range []string{"security", "pam", "end_user"} {
		_, err := e.AddGateway(ctx, env.users[role], opa.GatewayInput{Name: "by-" + role})
		wantErr(t, "AddGateway as "+role, err, opa.ErrForbidden)
	}
	page, err := e.ListGateways(ctx, env.sys, opa.GatewayFilter{}, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 1 {
		t.Fatalf("after the refused adds: %d gateways, want 1", len(page.Items))
	}
}

// TestGatewayListPages walks the list with every page size and direction and compares it with
// Paginate over the filtered list (the reference for every paged list).
func TestGatewayListPages(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	e := env.e
	var all []opa.Gateway
	for i := range 12 {
		name := fmt.Sprintf("edge-%02d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("core-%02d", i)
		}
		g, err := e.AddGateway(ctx, env.sys, opa.GatewayInput{Name: name})
		must(t, err)
		all = append(all, g)
	}
	for _, contains := range []string{"", "EDGE", "core-0", "none"} {
		var kept []opa.Gateway
		for _, g := range all {
			if strings.Contains(g.Name, strings.ToLower(contains)) {
				kept = append(kept, g)
			}
		}
		for _, count := range []int{1, 2, 5, 100} {
			for _, desc := range []bool{false, true} {
				req := opa.PageRequest{Count: count, Descending: desc}
				for step := 0; ; step++ {
					got, err := e.ListGateways(ctx, env.users["resource"], opa.GatewayFilter{Contains: contains}, req)
					must(t, err)
					want, err := opa.Paginate(kept, func(g opa.Gateway) string { return g.ID }, req)
					must(t, err)
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Fatalf("contains=%q count=%d desc=%v page %d (-want +got):\n%s", contains, count, desc, step, diff)
					}
					if got.Next == "" {
						break
					}
					req.Offset = got.Next
				}
			}
		}
	}
	_, err := e.ListGateways(ctx, env.sys, opa.GatewayFilter{}, opa.PageRequest{Count: opa.MaxPageCount + 1})
	wantErr(t, "count too large", err, opa.ErrInvalid)
}

// TestGatewayLabelsStatusDelete: labels are replaced (an empty map clears them), the status report
// is what the gateway was added with, and a gateway an AD connection uses cannot be deleted.
func TestGatewayLabelsStatusDelete(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	e := env.e
	report := opa.GatewayStatusReport{Status: "ACTIVE", ActiveConnections: 3, TotalStorageBytes: 1000, UsedStorageBytes: 10}
	g, err := e.AddGateway(ctx, env.sys, opa.GatewayInput{Name: "gw", Labels: map[string]string{"a": "1"}, Status: report})
	must(t, err)
	got, err := e.GatewayStatus(ctx, env.users["security"], g.ID)
	must(t, err)
	report.GatewayID = g.ID
	if diff := cmp.Diff(report, got); diff != "" {
		t.Fatalf("GatewayStatus (-want +got):\n%s", diff)
	}
	for _, bad := range []opa.GatewayStatusReport{{UsedStorageBytes: 1}, {ActiveConnections: -1}, {Status: strings.Repeat("s", 65)}} {
		_, err := e.AddGateway(ctx, env.sys, opa.GatewayInput{Name: "bad", Status: bad})
		wantErr(t, fmt.Sprintf("status %+v", bad), err, opa.ErrInvalid)
	}

	must(t, e.SetGatewayLabels(ctx, env.users["delegated"], g.ID, map[string]string{"env": "prod"}))
	read, err := e.Gateway(ctx, env.sys, g.ID)
	must(t, err)
	if diff := cmp.Diff(map[string]string{"env": "prod"}, read.Labels); diff != "" {
		t.Fatalf("labels after set (-want +got):\n%s", diff)
	}
	wantErr(t, "bad labels", e.SetGatewayLabels(ctx, env.sys, g.ID, map[string]string{"a,b": "c"}), opa.ErrInvalid)
	wantErr(t, "labels as security admin", e.SetGatewayLabels(ctx, env.users["security"], g.ID, nil), opa.ErrForbidden)
	wantErr(t, "labels of an unknown gateway", e.SetGatewayLabels(ctx, env.sys, "00000000-0000-4000-8000-000000000000", nil), opa.ErrNotFound)
	must(t, e.SetGatewayLabels(ctx, env.sys, g.ID, map[string]string{}))
	read, err = e.Gateway(ctx, env.sys, g.ID)
	must(t, err)
	if len(read.Labels) != 0 {
		t.Fatalf("labels after clearing: %v", read.Labels)
	}

	_, err = e.CreateADConnection(ctx, env.sys, opa.ADConnectionInput{Name: "corp", Domain: "corp.example.com", GatewayID: strings.ToUpper(g.ID)})
	must(t, err)
	wantErr(t, "delete a gateway in use", e.DeleteGateway(ctx, env.users["resource"], g.ID), opa.ErrConflict)
	spare, err := e.AddGateway(ctx, env.sys, opa.GatewayInput{Name: "spare"})
	must(t, err)
	wantErr(t, "delete as security admin", e.DeleteGateway(ctx, env.users["security"], spare.ID), opa.ErrForbidden)
	other, err := e.CreateTeam(ctx, "other")
	must(t, err)
	wantErr(t, "delete from another team", e.DeleteGateway(ctx, opa.SystemPrincipal(other), spare.ID), opa.ErrNotFound)
	must(t, e.DeleteGateway(ctx, env.users["delegated"], spare.ID))
	_, err = e.Gateway(ctx, env.sys, spare.ID)
	wantErr(t, "get after delete", err, opa.ErrNotFound)
	wantErr(t, "delete twice", e.DeleteGateway(ctx, env.sys, spare.ID), opa.ErrNotFound)
	// The name is free again.
	_, err = e.AddGateway(ctx, env.sys, opa.GatewayInput{Name: "spare"})
	must(t, err)
}
