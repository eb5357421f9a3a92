package opa_test

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage/memstore"
)

func newEngine(t *testing.T) (*opa.Engine, *opa.ManualClock) {
	t.Helper()
	clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, err := opa.New(memstore.New(), opa.WithClock(clock), opa.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	return e, clock
}

func TestServiceTokenFlow(t *testing.T) {
	ctx := context.Background()
	e, clock := newEngine(t)
	team, err := e.CreateTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sys := opa.SystemPrincipal(team)
	admins, err := e.CreateGroup(ctx, sys, opa.GroupInput{Name: "admins", Roles: []opa.RoleGrant{{Role: "resource_admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := e.CreateUser(ctx, sys, opa.UserInput{Username: "svc", ServiceUser: true, GroupIDs: []string{admins.ID}})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := e.CreateServiceKey(ctx, sys, svc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.IssueToken(ctx, "acme", creds.KeyID, creds.KeySecret+"x"); !errors.Is(err, opa.ErrUnauthorized) {
		t.Fatalf("wrong secret: got %v, want unauthorized", err)
	}
	if _, err := e.IssueToken(ctx, "other", creds.KeyID, creds.KeySecret); !errors.Is(err, opa.ErrUnauthorized) {
		t.Fatalf("wrong team: got %v, want unauthorized", err)
	}
	tok, err := e.IssueToken(ctx, "ACME", creds.KeyID, creds.KeySecret)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(ctx, "acme", tok.BearerToken)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasRole(opa.RoleResourceAdmin) || p.HasRole(opa.RolePAMAdmin) || p.Username != "svc" {
		t.Fatalf("principal %+v: want resource_admin only, from the group", p)
	}
	if _, err := e.CreateUser(ctx, p, opa.UserInput{Username: "x"}); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("resource admin creating a user: got %v, want forbidden", err)
	}
	clock.Advance(2 * time.Hour)
	if _, err := e.Authenticate(ctx, "acme", tok.BearerToken); !errors.Is(err, opa.ErrUnauthorized) {
		t.Fatalf("expired token: got %v, want unauthorized", err)
	}
	if _, err := e.Authenticate(ctx, "acme", ""); !errors.Is(err, opa.ErrUnauthorized) {
		t.Fatalf("no token: got %v, want unauthorized", err)
	}
}

func TestIdentityBadInput(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	team, err := e.CreateTeam(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateTeam(ctx, "ACME"); !errors.Is(err, opa.ErrConflict) {
		t.Fatalf("duplicate team: got %v, want conflict", err)
	}
	if _, err := e.CreateTeam(ctx, "bad name"); !errors.Is(err, opa.ErrInvalid) {
		t.Fatalf("bad team name: got %v, want invalid", err)
	}
	sys := opa.SystemPrincipal(team)
	if _, err := e.CreateUser(ctx, sys, opa.UserInput{Username: "jane"}); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]opa.UserInput{
		"duplicate":       {Username: "JANE"},
		"space":           {Username: "ja ne"},
		"email":           {Username: "bob", Email: "not an email"},
		"role":            {Username: "bob", Roles: []opa.RoleGrant{{Role: "king"}}},
		"delegated no rg": {Username: "bob", Roles: []opa.RoleGrant{{Role: "delegated_resource_admin"}}},
		"unknown group":   {Username: "bob", GroupIDs: []string{"nope"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.CreateUser(ctx, sys, in)
			if opa.ErrorClass(err) == nil {
				t.Fatalf("got %v, want a classed error", err)
			}
		})
	}
	users, err := e.Users(ctx, sys)
	if err != nil || len(users) != 1 {
		t.Fatalf("users after bad input: %d, %v; want only jane", len(users), err)
	}
	if _, err := e.Users(ctx, opa.Principal{}); !errors.Is(err, opa.ErrUnauthorized) {
		t.Fatalf("zero principal: got %v, want unauthorized", err)
	}
}

func TestDelegatedRoles(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	team, _ := e.CreateTeam(ctx, "acme")
	sys := opa.SystemPrincipal(team)
	rg1, err := e.CreateResourceGroup(ctx, sys, "rg1", "")
	if err != nil {
		t.Fatal(err)
	}
	rg2, _ := e.CreateResourceGroup(ctx, sys, "rg2", "")
	u, err := e.CreateUser(ctx, sys, opa.UserInput{Username: "del", Roles: []opa.RoleGrant{{Role: "delegated_resource_admin", ResourceGroupID: rg1.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.PrincipalForUser(ctx, "acme", u.Username)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateProject(ctx, p, rg1.ID, "p1"); err != nil {
		t.Fatalf("delegated admin in own resource group: %v", err)
	}
	if _, err := e.CreateProject(ctx, p, rg2.ID, "p2"); !errors.Is(err, opa.ErrForbidden) {
		t.Fatalf("delegated admin in another resource group: got %v, want forbidden", err)
	}
	if _, err := e.CreateProject(ctx, p, rg1.ID, "P1"); !errors.Is(err, opa.ErrConflict) {
		t.Fatalf("duplicate project: got %v, want conflict", err)
	}
}

func TestAllRoles(t *testing.T) {
	roles := opa.AllRoles()
	if len(roles) != 7 {
		t.Fatalf("AllRoles() = %v", roles)
	}
	delegated := 0
	for _, r := range roles {
		if !r.Valid() {
			t.Errorf("%s is not Valid", r)
		}
		if r.Delegated() {
			delegated++
		}
	}
	if delegated != 2 || !opa.RoleDelegatedResourceAdmin.Delegated() || opa.RoleResourceAdmin.Delegated() {
		t.Errorf("Delegated: %d delegated roles", delegated)
	}
	if opa.Role("root").Valid() || opa.Role("").Valid() {
		t.Error("an unknown role is Valid")
	}
	roles[0] = "changed"
	if opa.AllRoles()[0] != opa.RolePAMAdmin {
		t.Error("AllRoles returned a shared slice")
	}
}
