package opa_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage"
)

func TestGatewaySetupTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	e := env.e
	labels := map[string]string{"env": "test", "site": "corp"}
	created, err := e.CreateGatewaySetupToken(ctx, env.users["delegated"], opa.GatewaySetupTokenInput{
		Name: "tok", Description: "for the corp gateways", Labels: labels})
	must(t, err)
	if created.Token == "" || created.RegistrationType != opa.RegistrationGatewayAgent {
		t.Fatalf("created %+v: want a value and registration type gateway-agent", created)
	}
	// The value is a base64 object naming the team and the token.
	raw, err := base64.StdEncoding.DecodeString(created.Token)
	must(t, err)
	var claims map[string]string
	must(t, json.Unmarshal(raw, &claims))
	if claims["team_name"] != "acme" || claims["setup_token_id"] != created.ID || len(claims["secret"]) < 40 {
		t.Fatalf("token claims %v", claims)
	}

	got, err := e.GatewaySetupToken(ctx, env.users["resource"], created.ID)
	must(t, err)
	want := created
	want.Token = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("GatewaySetupToken (-want +got):\n%s", diff)
	}
	withValue, err := e.GatewaySetupTokenValue(ctx, env.users["resource"], created.ID)
	must(t, err)
	if diff := cmp.Diff(created, withValue); diff != "" {
		t.Fatalf("GatewaySetupTokenValue (-want +got):\n%s", diff)
	}
	page, err := e.ListGatewaySetupTokens(ctx, env.users["resource"], opa.PageRequest{})
	must(t, err)
	if diff := cmp.Diff([]opa.GatewaySetupToken{want}, page.Items); diff != "" {
		t.Fatalf("ListGatewaySetupTokens (-want +got):\n%s", diff)
	}

	// At rest the value is sealed: the record holds neither it nor its secret.
	must(t, e.Store().View(ctx, func(tx storage.ReadTx) error {
		rec, err := storage.GatewaySetupTokens.Get(tx, created.ID)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(rec)
		if strings.Contains(string(b), created.Token) || strings.Contains(string(b), claims["secret"]) || len(rec.Token) == 0 {
			t.Errorf("the stored record holds the token in the clear: %s", b)
		}
		return nil
	}))

	// Roles: security admins, PAM admins and end users may not see or make tokens.
	for _, role := range []string{"security", "pam", "end_user"} {
		p := env.users[role]
		_, err := e.CreateGatewaySetupToken(ctx, p, opa.GatewaySetupTokenInput{Description: "x"})
		wantErr(t, "create as "+role, err, opa.ErrForbidden)
		_, err = e.GatewaySetupToken(ctx, p, created.ID)
		wantErr(t, "get as "+role, err, opa.ErrForbidden)
		_, err = e.GatewaySetupTokenValue(ctx, p, created.ID)
		wantErr(t, "value as "+role, err, opa.ErrForbidden)
		_, err = e.ListGatewaySetupTokens(ctx, p, opa.PageRequest{})
		wantErr(t, "list as "+role, err, opa.ErrForbidden)
		wantErr(t, "delete as "+role, e.DeleteGatewaySetupToken(ctx, p, created.ID), opa.ErrForbidden)
	}
	// Another team sees nothing of it.
	other, err := e.CreateTeam(ctx, "other")
	must(t, err)
	osys := opa.SystemPrincipal(other)
	_, err = e.GatewaySetupTokenValue(ctx, osys, created.ID)
	wantErr(t, "value from another team", err, opa.ErrNotFound)
	wantErr(t, "delete from another team", e.DeleteGatewaySetupToken(ctx, osys, created.ID), opa.ErrNotFound)

	must(t, e.DeleteGatewaySetupToken(ctx, env.users["resource"], created.ID))
	_, err = e.GatewaySetupToken(ctx, env.users["resource"], created.ID)
	wantErr(t, "get after delete", err, opa.ErrNotFound)
	wantErr(t, "delete twice", e.DeleteGatewaySetupToken(ctx, env.users["resource"], created.ID), opa.ErrNotFound)
	page, err = e.ListGatewaySetupTokens(ctx, env.users["resource"], opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("list after delete: %+v", page.Items)
	}

	// Creating and deleting are in the audit trail, never with the value.
	events, err := e.AuditEvents(ctx, env.sys, opa.AuditFilter{})
	must(t, err)
	var actions []string
	for _, ev := range events {
		if ev.Action == opa.AuditGatewaySetupToken {
			actions = append(actions, ev.Detail)
		}
		if b, _ := json.Marshal(ev); strings.Contains(string(b), created.Token) {
			t.Errorf("audit event holds the token: %s", b)
		}
	}
	if diff := cmp.Diff([]string{"created", "deleted"}, actions); diff != "" {
		t.Errorf("audited setup token changes (-want +got):\n%s", diff)
	}
}

func TestGatewaySetupTokenBadInput(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	for _, c := range []struct {
		name string
		in   opa.GatewaySetupTokenInput
	}{
		{"registration type", opa.GatewaySetupTokenInput{RegistrationType: "infrastructure-orchestrator"}},
		{"long name", opa.GatewaySetupTokenInput{Name: strings.Repeat("n", 256)}},
		{"control in name", opa.GatewaySetupTokenInput{Name: "a\x00b"}},
		{"long description", opa.GatewaySetupTokenInput{Description: strings.Repeat("d", 1025)}},
		{"label key with ,", opa.GatewaySetupTokenInput{Labels: map[string]string{"a,b": "v"}}},
		{"empty label key", opa.GatewaySetupTokenInput{Labels: map[string]string{"": "v"}}},
	} {
		_, err := env.e.CreateGatewaySetupToken(ctx, env.sys, c.in)
		wantErr(t, c.name, err, opa.ErrInvalid)
	}
	page, err := env.e.ListGatewaySetupTokens(ctx, env.sys, opa.PageRequest{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("refused creates left %d tokens", len(page.Items))
	}
}

// TestRegisterGateway: a gateway agent registers with a setup token's value and gets the token's
// labels over its own; every bad token is the same unauthorized error and registers nothing.
func TestRegisterGateway(t *testing.T) {
	ctx := context.Background()
	env := newGatewayEnv(t)
	e := env.e
	tok, err := e.CreateGatewaySetupToken(ctx, env.sys, opa.GatewaySetupTokenInput{Description: "d",
		Labels: map[string]string{"env": "prod", "region": "eu"}})
	must(t, err)
	g, err := e.RegisterGateway(ctx, tok.Token+"\n", opa.GatewayInput{ID: "ignored", Name: "agent-1", AccessAddress: "gw.example.com",
		Labels: map[string]string{"env": "dev", "host": "a1"}})
	must(t, err)
	want := opa.Gateway{ID: g.ID, Name: "agent-1", AccessAddress: "gw.example.com", SetupTokenID: tok.ID,
		Labels: map[string]string{"env": "prod", "region": "eu", "host": "a1"}}
	if diff := cmp.Diff(want, g, cmpopts.IgnoreFields(opa.Gateway{}, "CreatedAt")); diff != "" {
		t.Fatalf("registered gateway (-want +got):\n%s", diff)
	}
	listed, err := e.ListGateways(ctx, env.users["resource"], opa.GatewayFilter{}, opa.PageRequest{})
	must(t, err)
	if len(listed.Items) != 1 || listed.Items[0].ID != g.ID {
		t.Fatalf("list after registration: %+v", listed.Items)
	}
	_, err = e.RegisterGateway(ctx, tok.Token, opa.GatewayInput{Name: "AGENT-1"})
	wantErr(t, "register a taken name", err, opa.ErrConflict)
	_, err = e.RegisterGateway(ctx, tok.Token, opa.GatewayInput{Name: ""})
	wantErr(t, "register without a name", err, opa.ErrInvalid)

	other, err := e.CreateTeam(ctx, "other")
	must(t, err)
	otherTok, err := e.CreateGatewaySetupToken(ctx, opa.SystemPrincipal(other), opa.GatewaySetupTokenInput{Description: "o"})
	must(t, err)
	var claims map[string]string
	raw, _ := base64.StdEncoding.DecodeString(tok.Token)
	must(t, json.Unmarshal(raw, &claims))
	forge := func(m map[string]string) string {
		b, _ := json.Marshal(m)
		return base64.StdEncoding.EncodeToString(b)
	}
	wrongSecret := forge(map[string]string{"team_name": "acme", "setup_token_id": tok.ID, "secret": claims["secret"] + "x"})
	otherID := forge(map[string]string{"team_name": "acme", "setup_token_id": otherTok.ID, "secret": claims["secret"]})
	deleted, err := e.CreateGatewaySetupToken(ctx, env.sys, opa.GatewaySetupTokenInput{Description: "gone"})
	must(t, err)
	must(t, e.DeleteGatewaySetupToken(ctx, env.sys, deleted.ID))
	for name, bad := range map[string]string{
		"empty": "", "not base64": "%%%", "not json": base64.StdEncoding.EncodeToString([]byte("x")),
		"wrong secret": wrongSecret, "another team's token id": otherID, "deleted token": deleted.Token,
		"huge": strings.Repeat("A", 10000),
	} {
		_, err := e.RegisterGateway(ctx, bad, opa.GatewayInput{Name: "bad-" + strings.ReplaceAll(name, " ", "-")})
		wantErr(t, "register with "+name, err, opa.ErrUnauthorized)
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("%s: the error repeats the token: %v", name, err)
		}
	}
	// The other team's token registers into the other team only.
	og, err := e.RegisterGateway(ctx, otherTok.Token, opa.GatewayInput{Name: "agent-1"})
	must(t, err)
	_, err = e.Gateway(ctx, env.sys, og.ID)
	wantErr(t, "another team's gateway", err, opa.ErrNotFound)
	listed, err = e.ListGateways(ctx, env.sys, opa.GatewayFilter{}, opa.PageRequest{})
	must(t, err)
	if len(listed.Items) != 1 {
		t.Fatalf("refused registrations added gateways: %+v", listed.Items)
	}
}
