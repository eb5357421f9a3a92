package opa_test

import (
	"context"
	stderrors "errors"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/storage/filestore"
)

// TestErrorClassesWithStandardErrors drives the engine into every error class and matches each
// error with the standard library's errors.Is (as an embedder who never heard of
// cockroachdb/errors would) and with cockroachdb's.
func TestErrorClassesWithStandardErrors(t *testing.T) {
	ctx := context.Background()
	fx, err := fixture.Parse(opa.DemoFixture)
	if err != nil {
		t.Fatal(err)
	}
	e, l, err := fixture.Build(ctx, fx, fixture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := e.PrincipalForUser(ctx, "demo", "automation")
	if err != nil {
		t.Fatal(err)
	}
	endUser, err := e.PrincipalForUser(ctx, "demo", "enduser-bot")
	if err != nil {
		t.Fatal(err)
	}
	connID := l.Team("demo").Connections["corp.example.com"]
	dir := l.Directories["corp.example.com"]

	// Corrupt: a store sealed with one key, opened by an engine with another.
	dataDir := t.TempDir()
	st, err := filestore.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	_, sealed, err := fixture.Build(ctx, fx, fixture.Options{Store: st, EngineOptions: []opa.Option{opa.WithKey(make([]byte, 32))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		class error
		err   func() error
	}{
		{"not found", opa.ErrNotFound, func() error { _, err := e.Team(ctx, "no-such-team"); return err }},
		{"conflict", opa.ErrConflict, func() error { _, err := e.CreateTeam(ctx, "demo"); return err }},
		{"invalid", opa.ErrInvalid, func() error { _, err := e.CreateTeam(ctx, "bad name!"); return err }},
		{"unauthorized", opa.ErrUnauthorized, func() error { _, err := e.Authenticate(ctx, "demo", "not-a-token"); return err }},
		{"forbidden", opa.ErrForbidden, func() error { _, err := e.CreateResourceGroup(ctx, endUser, "mine", ""); return err }},
		{"unavailable", opa.ErrUnavailable, func() error {
			dir.SetNoAgent(true)
			defer dir.SetNoAgent(false)
			return e.ForceSync(ctx, admin, connID)
		}},
		{"timeout", opa.ErrTimeout, func() error {
			dir.SetAgentTimeout(true)
			defer dir.SetAgentTimeout(false)
			return e.ForceSync(ctx, admin, connID)
		}},
		{"corrupt", opa.ErrCorrupt, func() error {
			st, err := filestore.Open(dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			other, err := opa.New(st, opa.WithKey([]byte("another key of thirty-two bytes!")), opa.WithDirectoryResolver(l.Resolver))
			if err != nil {
				return err
			}
			p, err := other.PrincipalForUser(ctx, "demo", "automation")
			if err != nil {
				return err
			}
			return other.ForceSync(ctx, p, sealed.Team("demo").Connections["corp.example.com"])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			if err == nil {
				t.Fatal("no error")
			}
			if !stderrors.Is(err, c.class) {
				t.Errorf("standard errors.Is(%v, %v) = false", err, c.class)
			}
			if !errors.Is(err, c.class) {
				t.Errorf("cockroachdb errors.Is(%v, %v) = false", err, c.class)
			}
			if got := opa.ErrorClass(err); got != c.class {
				t.Errorf("ErrorClass = %v", got)
			}
		})
	}
}
