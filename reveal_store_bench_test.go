package opa_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
	"github.com/opakit/opa/storage/memstore"
)

// BenchmarkConcurrentReveal compares 32 concurrent reveals on the file store with the same on
// memstore, through the public API only. Every reveal commits its audit event; on the file store
// that is a durable commit, and the audit appends of concurrent reveals share fsyncs (group
// commit). Each iteration runs a burst of 320 reveals (32 goroutines × 10) on memstore, then the
// same on the file store, timing each, so the shared machine's drift hits both alike; it reports
// both rates and file/mem (the target: at least 0.5).
//
//	go test -run '^$' -bench ConcurrentReveal -benchtime 20x -count 3 .
func BenchmarkConcurrentReveal(b *testing.B) {
	const goroutines, each = 32, 10
	for _, kind := range []string{revealjwe.KindRSA2048, revealjwe.KindP256} {
		b.Run(kind, func(b *testing.B) {
			key, err := revealjwe.GenerateKey(kind)
			must(b, err)
			jwk, err := key.PublicJWK()
			must(b, err)
			fs, err := filestore.Open(b.TempDir(), filestore.WithSnapshotBytes(0))
			must(b, err)
			defer fs.Close()
			mem := newRevealBench(b, memstore.New(), jwk)
			file := newRevealBench(b, fs, jwk)
			var inMem, inFile time.Duration
			for b.Loop() {
				inMem += mem.burst(b, goroutines, each)
				inFile += file.burst(b, goroutines, each)
			}
			n := float64(b.N * goroutines * each)
			memRate, fileRate := n/inMem.Seconds(), n/inFile.Seconds()
			b.ReportMetric(memRate, "mem-reveals/s")
			b.ReportMetric(fileRate, "file-reveals/s")
			b.ReportMetric(fileRate/memRate, "file/mem")
			if st := fs.Stats(); st.Syncs > 0 {
				b.ReportMetric(float64(st.Commits)/float64(st.Syncs), "commits/fsync")
				b.ReportMetric(float64(st.Conflicts)/float64(st.Commits), "file-reruns/commit")
				// The disk's share of the file store's bursts: its log writes and fdatasyncs.
				b.ReportMetric(100*float64(st.SyncTime)/float64(inFile), "file-disk-%")
			}
		})
	}
}

// revealBench is an engine with one shared account that alice may reveal.
type revealBench struct {
	e      *opa.Engine
	alice  opa.Principal
	connID string
	acctID string
	req    opa.RevealRequest
}

func newRevealBench(b *testing.B, store storage.Storage, jwk []byte) *revealBench {
	const domain = "bench.example.com"
	ctx := context.Background()
	dir := memdir.New()
	res := memdir.NewResolver()
	res.Set("bench", domain, dir)
	e, err := opa.New(store, opa.WithSeed(11), opa.WithDirectoryResolver(res),
		opa.WithClock(opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))))
	must(b, err)
	team, err := e.CreateTeam(ctx, "bench")
	must(b, err)
	sys := opa.SystemPrincipal(team)
	principal := func(name string, roles ...opa.RoleGrant) opa.Principal {
		_, err := e.CreateUser(ctx, sys, opa.UserInput{Username: name, Roles: roles})
		must(b, err)
		p, err := e.PrincipalForUser(ctx, "bench", name)
		must(b, err)
		return p
	}
	sec := principal("sec", opa.RoleGrant{Role: opa.RoleSecurityAdmin})
	r := &revealBench{e: e, alice: principal("alice")}
	rg, err := e.CreateResourceGroup(ctx, sys, "rg", "")
	must(b, err)
	proj, err := e.CreateProject(ctx, sys, rg.ID, "proj")
	must(b, err)
	root, err := dir.AddDomain(domain)
	must(b, err)
	ou, err := dir.AddOU(root, "Users")
	must(b, err)
	dn, err := dir.AddUser(ou, memdir.User{SAMAccountName: "svc", UserPrincipalName: "svc@" + domain, Password: "Initial-1"})
	must(b, err)
	conn := storage.Connection{ID: "00000000-0000-4000-8000-0000000bc001", TeamID: team.ID, Name: "corp",
		Domain: domain, AppInstanceID: "app1", Status: "connected", SyncStatus: "SYNC_COMPLETED"}
	acct := storage.Account{ID: "00000000-0000-4000-8000-0000000ba001", TeamID: team.ID, ConnectionID: conn.ID,
		Domain: domain, SID: "S-1-5-21-1-1", UPN: "svc@" + domain, SAMAccountName: "svc", DistinguishedName: dn,
		AccountType: opa.AccountTypeShared, ProjectID: proj.ID, ResourceGroupID: rg.ID, StatusDetail: "MISSING_PASSWORD"}
	must(b, store.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Connections.Insert(tx, &conn); err != nil {
			return err
		}
		return storage.Accounts.Insert(tx, &acct)
	}))
	_, err = e.CreatePolicy(ctx, sec, opa.PolicyInput{Name: "reveal", Active: true, PrincipalUserIDs: []string{r.alice.UserID},
		Rules: []opa.PolicyRule{{Name: "r", Privileges: []string{opa.PrivilegeRevealPassword},
			Resources: opa.PolicyResources{ADAccountIDs: []string{acct.ID}}}}})
	must(b, err)
	ms, err := e.ADAccountUAMs(ctx, r.alice, conn.ID, acct.ID, opa.PrivilegeRevealPassword)
	must(b, err)
	if len(ms) == 0 {
		b.Fatal("alice has no access method to reveal")
	}
	r.connID, r.acctID = conn.ID, acct.ID
	r.req = opa.RevealRequest{PublicKey: jwk, UserAccessMethod: ms[0]}
	_, err = e.RevealADAccountPassword(ctx, r.alice, conn.ID, acct.ID, r.req) // sets the first password
	must(b, err)
	return r
}

// burst runs goroutines × each reveals and returns how long they took.
func (r *revealBench) burst(b *testing.B, goroutines, each int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := r.e.RevealADAccountPassword(ctx, r.alice, r.connID, r.acctID, r.req); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
