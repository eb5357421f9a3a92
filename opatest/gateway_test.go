package opatest_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/opatest"
)

// TestSetupTokenSnapshotRestore: a gateway setup token made over the API is in a snapshot sealed
// (its value never shows), reads back with the same value after Restore, and still registers a
// gateway agent on the restored engine; a token made after the snapshot is gone.
func TestSetupTokenSnapshotRestore(t *testing.T) {
	srv := opatest.NewServer(t)
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	body := map[string]any{"description": "kept", "registration_type": "gateway-agent", "details": map[string]any{"labels": map[string]string{"env": "x"}}}
	call(t, srv.Client("automation"), 201, "POST", srv.TeamURL("/gateway_setup_tokens"), body, &tok)
	snap, err := srv.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, []byte(tok.Token)) {
		t.Fatal("the snapshot shows the setup token's value")
	}
	var later struct {
		ID string `json:"id"`
	}
	call(t, srv.Client("automation"), 201, "POST", srv.TeamURL("/gateway_setup_tokens"), body, &later)
	if err := srv.Restore(snap); err != nil {
		t.Fatal(err)
	}
	var again struct {
		Token string `json:"token"`
	}
	call(t, srv.Client("automation"), 200, "GET", srv.TeamURL("/gateway_setup_tokens/"+tok.ID+"/token"), nil, &again)
	if again.Token != tok.Token {
		t.Fatalf("restored value %q, want %q", again.Token, tok.Token)
	}
	call(t, srv.Client("automation"), 404, "GET", srv.TeamURL("/gateway_setup_tokens/"+later.ID), nil, nil)
	g, err := srv.Engine().RegisterGateway(context.Background(), tok.Token, opa.GatewayInput{Name: "restored-agent"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Labels["env"] != "x" {
		t.Fatalf("registered gateway %+v, want the token's label env=x", g)
	}
}
