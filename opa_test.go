package opa_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/storage/memstore"
)

// TestDroppedEnginesAreCollected creates and drops 1,000 engines, each of which serves a vault
// JWKS request and rotates a Universal Directory account's password, and checks that the heap is
// back near where it started once they are garbage: nothing outside an engine (a lock table, a
// key cache) keeps an engine or its store alive. It is a leak check, not a timing check: the bound
// is generous, and one leaked engine with its store and key would exceed it a thousandfold.
func TestDroppedEnginesAreCollected(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 engines")
	}
	ctx := context.Background()
	useEngine := func() {
		e, err := opa.New(memstore.New())
		must(t, err)
		if _, err := e.VaultJWKS(context.Background()); err != nil {
			t.Fatal(err)
		}
		team, err := e.CreateTeam(ctx, "acme")
		must(t, err)
		sys := opa.SystemPrincipal(team)
		rg, err := e.CreateResourceGroup(ctx, sys, "rg", "")
		must(t, err)
		pr, err := e.CreateProject(ctx, sys, rg.ID, "proj")
		must(t, err)
		ud, err := e.CreateUDAccount(ctx, sys, rg.ID, pr.ID, opa.UDAccountInput{Name: "svc", Username: "svc"})
		must(t, err)
		must(t, e.AdminRotateResource(ctx, sys, rg.ID, pr.ID, opa.CheckinRequest{ResourceID: ud.ID, ResourceType: opa.ResourceTypeUDAccount}))
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	useEngine() // warm up: package-level caches (reflection, regexps) are not a leak
	before := heap()
	for range 1000 {
		useEngine()
	}
	after := heap()
	const bound = 8 << 20
	if after > before+bound {
		t.Fatalf("heap grew from %d to %d bytes (more than %d) over 1,000 dropped engines: something keeps them alive", before, after, bound)
	}
	t.Logf("heap %d -> %d bytes over 1,000 dropped engines", before, after)
}
