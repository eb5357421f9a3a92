package opa_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// countingStore wraps a Storage and records, per committed write transaction, how many account
// records it wrote; afterCommit (when set) runs once after a commit that wrote accounts.
type countingStore struct {
	storage.Storage
	mu          sync.Mutex
	writes      []int
	afterCommit func()
}

type countingTx struct {
	storage.WriteTx
	n *int
}

func (t countingTx) count(table string) {
	if table == storage.Accounts.Name() {
		*t.n++
	}
}

func (t countingTx) Insert(table string, rec any) error {
	t.count(table)
	return t.WriteTx.Insert(table, rec)
}
func (t countingTx) Update(table string, rec any) error {
	t.count(table)
	return t.WriteTx.Update(table, rec)
}
func (t countingTx) Delete(table, id string) error {
	t.count(table)
	return t.WriteTx.Delete(table, id)
}

func (s *countingStore) Update(ctx context.Context, fn func(storage.WriteTx) error) error {
	n := 0
	err := s.Storage.Update(ctx, func(tx storage.WriteTx) error { return fn(countingTx{tx, &n}) })
	if err != nil || n == 0 {
		return err
	}
	s.mu.Lock()
	s.writes = append(s.writes, n)
	hook := s.afterCommit
	s.afterCommit = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

// take returns the write counts recorded since the last call.
func (s *countingStore) take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writes
	s.writes = nil
	return w
}

// TestEvaluationIsChunked: an import, a rule change and a settings change that each re-evaluate
// 2,600 accounts write at most writeChunk (1,000) accounts per transaction, and end with every
// account evaluated; a rule change made while a chunked evaluation runs wins over it.
func TestEvaluationIsChunked(t *testing.T) {
	ctx := context.Background()
	const n = 2600
	clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	resolver := memdir.NewResolver()
	st := &countingStore{Storage: memstore.New()}
	e, err := opa.New(st, opa.WithClock(clock), opa.WithSeed(1), opa.WithDirectoryResolver(resolver))
	must(t, err)
	team, err := e.CreateTeam(ctx, "acme")
	must(t, err)
	sys := opa.SystemPrincipal(team)
	rg, err := e.CreateResourceGroup(ctx, sys, "infra", "")
	must(t, err)
	p1, err := e.CreateProject(ctx, sys, rg.ID, "one")
	must(t, err)
	p2, err := e.CreateProject(ctx, sys, rg.ID, "two")
	must(t, err)
	for i := 0; i < 50; i++ { // users matched by the accounts adm.user0000 .. adm.user0049
		_, err := e.CreateUser(ctx, sys, opa.UserInput{Username: fmt.Sprintf("user%04d", i)})
		must(t, err)
	}
	d := memdir.New(memdir.WithClock(clock.Now), memdir.WithServiceAccount("svc_opa", "p@$$w0rD-secret"))
	root, err := d.AddDomain("corp.example.com")
	must(t, err)
	bulk, err := d.AddOU(root, "Bulk")
	must(t, err)
	for i := 0; i < n; i++ {
		_, err := d.AddUser(bulk, memdir.User{SAMAccountName: fmt.Sprintf("adm.user%04d", i)})
		must(t, err)
	}
	resolver.Set("acme", "corp.example.com", d)
	conn, err := e.CreateADConnection(ctx, sys, opa.ADConnectionInput{Name: "corp", GatewayID: "5a3af768-063f-4a12-a056-8ef24e555555",
		GatewayName: "gw1", Domain: "corp.example.com", DomainControllers: []string{"dc1.corp.example.com"},
		ServiceAccountUsername: "svc_opa", ServiceAccountPassword: "p@$$w0rD-secret"})
	must(t, err)
	st.take()

	checkChunks := func(what string, minTx int) {
		t.Helper()
		w := st.take()
		for _, c := range w {
			if c > 1000 {
				t.Errorf("%s: a transaction wrote %d accounts (all: %v)", what, c, w)
			}
		}
		if len(w) < minTx {
			t.Errorf("%s: %d write transactions %v, want at least %d", what, len(w), w, minTx)
		}
	}
	accounts := func() []*storage.Account {
		var as []*storage.Account
		must(t, st.View(ctx, func(tx storage.ReadTx) error {
			var err error
			as, err = storage.Accounts.List(tx, storage.AccountsByConnection, conn.ID)
			return err
		}))
		return as
	}

	// The first sync imports 2,600 accounts and marks each unmanaged: 3 import chunks, then the
	// evaluation of 2,600 in chunks.
	must(t, e.ForceSync(ctx, sys, conn.ID))
	checkChunks("first sync", 6)
	as := accounts()
	if len(as) != n {
		t.Fatalf("%d accounts, want %d", len(as), n)
	}
	for _, a := range as {
		if a.StatusDetail != opa.StatusUnmanaged {
			t.Fatalf("after the first sync %s is %q", a.SAMAccountName, a.StatusDetail)
		}
	}
	if st, err := e.SyncStatus(ctx, sys, conn.ID); err != nil || st != opa.SyncCompleted {
		t.Fatalf("sync status %q, %v", st, err)
	}

	// Matching settings, then a rule over every account: the rule change evaluates in chunks.
	must(t, e.ConfigureAccountRuleSettings(ctx, sys, conn.ID, opa.RuleSettings{MatchingCriteria: opa.MatchingCriteria{Username: true},
		AllowPartialMatches: true, PartialMatchingCriteria: []opa.PartialMatchCriterion{{Operator: opa.PartialStartsWith, MatchValue: "adm"}}}))
	st.take()
	rule, err := e.CreateAccountRule(ctx, sys, conn.ID, opa.AccountRuleInput{Name: "bulk", RuleType: opa.AccountIndividual,
		OrganizationalUnits: []string{bulk}, ResourceGroup: opa.NamedObject{ID: rg.ID}, Project: opa.NamedObject{ID: p1.ID}})
	must(t, err)
	checkChunks("rule creation", 3)
	matched := 0
	for _, a := range accounts() {
		if a.RuleID != rule.ID || a.ProjectID != p1.ID || a.AccountType != opa.AccountIndividual {
			t.Fatalf("%s after the rule: rule %q project %q type %q", a.SAMAccountName, a.RuleID, a.ProjectID, a.AccountType)
		}
		if a.MatchedUserID != "" {
			matched++
		}
	}
	if matched != 50 {
		t.Errorf("%d matched accounts, want 50", matched)
	}

	// A rule change lands while the chunked evaluation of another is under way: moving the rule to
	// project two, then (after two of its chunks) to project one again with a new name. The
	// evaluation that started first must not leave any account on its stale project.
	in := opa.AccountRuleInput{Name: "bulk", RuleType: opa.AccountIndividual, OrganizationalUnits: []string{bulk},
		ResourceGroup: opa.NamedObject{ID: rg.ID}, Project: opa.NamedObject{ID: p2.ID}}
	st.mu.Lock()
	st.afterCommit = func() {
		st.mu.Lock()
		st.afterCommit = func() { // after the second chunk of the evaluation
			in2 := in
			in2.Name, in2.Project = "bulk-again", opa.NamedObject{ID: p1.ID}
			if _, err := e.UpdateAccountRule(ctx, sys, conn.ID, rule.ID, in2); err != nil {
				t.Error(err)
			}
		}
		st.mu.Unlock()
	}
	st.mu.Unlock()
	_, err = e.UpdateAccountRule(ctx, sys, conn.ID, rule.ID, in)
	must(t, err)
	for _, a := range accounts() {
		if a.ProjectID != p1.ID {
			t.Fatalf("%s ended on project %q, want the latest rule's %q", a.SAMAccountName, a.ProjectID, p1.ID)
		}
	}
	checkChunks("concurrent rule changes", 4)
}
