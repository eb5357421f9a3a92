// Package replicas runs several opa engines on one store, as the replicas of a service share one
// database, for the multi-replica tests and benchmarks: every engine gets the same store, clock,
// key-encryption key and directories (the demo fixture's, loaded once through the first engine),
// and nothing else is shared, so whatever they agree on they agree on through the store's leases.
//
// The tests (replicas_test.go) run the same scenarios on memstore, filestore and, with
// OPA_POSTGRES=1 (package pgtest), on PostgreSQL: clients checking out, revealing and checking in
// the same accounts through different engines; engines ticking one clock; and, on PostgreSQL, a
// replica process killed mid-sync whose job another replica finishes.
package replicas

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/directory/memdir"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/storage"
)

// Key is the key-encryption key every engine of a Cluster (and a replica process) uses.
var Key = bytes.Repeat([]byte{0x42}, 32)

// Domain is the demo fixture's AD domain, the one the scenarios use.
const Domain = "corp.example.com"

// Engineers is how many end users Fixture adds to the demo's (eng-00, eng-01, …).
const Engineers = 30

// Fixture returns the demo fixture with the end users' own INDIVIDUAL accounts under checkout
// too, so that clients check out both kinds of account, and Engineers more end users.
func Fixture() (*fixture.File, error) { return FixtureWith(0) }

// FixtureWith is Fixture with shared more SHARED accounts (svc-bench-000, …) in the demo
// directory's OU=ServiceAccounts, for benchmarks that give each client an account of its own.
func FixtureWith(shared int) (*fixture.File, error) {
	fx, err := fixture.Parse(opa.DemoFixture)
	if err != nil {
		return nil, err
	}
	for i := range Engineers {
		fx.Teams[0].Users = append(fx.Teams[0].Users, fixture.User{Username: fmt.Sprintf("eng-%02d", i), Groups: []string{"engineers"}})
	}
	conn := &fx.Teams[0].Connections[0]
	for i := range shared {
		name := fmt.Sprintf("svc-bench-%03d", i)
		conn.Directory.Entries = append(conn.Directory.Entries, memdir.EntrySpec{
			DN: "CN=" + name + ",OU=ServiceAccounts,DC=corp,DC=example,DC=com",
			Attributes: map[string][]string{"objectClass": {"top", "person", "organizationalPerson", "user"},
				"sAMAccountName": {name}, "userPrincipalName": {name + "@" + Domain}},
			Password: "Initial-Bench-Pw1!"})
	}
	for pi := range fx.Teams[0].Policies {
		for ri, r := range fx.Teams[0].Policies[pi].Rules {
			if r.Resources.ADOwnIndividual {
				c := &fx.Teams[0].Policies[pi].Rules[ri].Conditions
				c.CheckoutRequired, c.CheckoutMaxSeconds = true, 3600
			}
		}
	}
	return fx, nil
}

// Cluster is n engines on one store.
type Cluster struct {
	Engines []*opa.Engine
	// Store is the first engine's store (every engine's store sees the same records).
	Store   storage.Storage
	Clock   opa.Clock
	Fixture *fixture.File
	// Directory is the demo domain's in-memory directory, shared by the engines.
	Directory *memdir.Dir
	// Team is the demo team; ConnID its connection to Domain.
	Team   opa.Team
	ConnID string
	dirs   *fixture.Resolver
}

// New makes one engine on each of stores (handles on one store: the same memstore or filestore
// again, or a pgstore.Store per engine on one database, as replicas have a pool each) with clock,
// each also given opts, and loads the fixture through the first unless load is false (the store
// already holds it: a replica joining). The engines' ids are random, so they never collide.
//
// fx is the fixture (nil: Fixture()); wrap, when not nil, wraps the directory resolver the engines use (a test's blocking directory).
func New(ctx context.Context, stores []storage.Storage, clock opa.Clock, fx *fixture.File, load bool, wrap func(directory.Resolver) directory.Resolver, opts ...opa.Option) (*Cluster, error) {
	store := stores[0]
	var err error
	if fx == nil {
		if fx, err = Fixture(); err != nil {
			return nil, err
		}
	}
	mem := memdir.NewResolver()
	dirs, err := fixture.NewResolver(fx, mem)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Store: store, Clock: clock, Fixture: fx, dirs: dirs}
	var res directory.Resolver = dirs
	if wrap != nil {
		res = wrap(dirs)
	}
	for _, st := range stores {
		e, err := opa.New(st, append([]opa.Option{opa.WithClock(clock), opa.WithKey(Key), opa.WithDirectoryResolver(res)}, opts...)...)
		if err != nil {
			return nil, err
		}
		c.Engines = append(c.Engines, e)
	}
	var byDomain map[string]*memdir.Dir
	if load {
		l, err := fixture.Load(ctx, c.Engines[0], mem, fx)
		if err != nil {
			return nil, errors.Wrap(err, "loading the fixture")
		}
		byDomain = l.Directories
	} else if byDomain, err = fixture.LoadDirectories(fx, clock, mem); err != nil {
		return nil, err
	}
	c.Directory = byDomain[Domain]
	if c.Team, err = c.Engines[0].Team(ctx, fx.Teams[0].Name); err != nil {
		return nil, err
	}
	err = store.View(ctx, func(tx storage.ReadTx) error {
		conn, err := storage.Connections.First(tx, storage.ConnectionsByDomain, c.Team.ID, Domain)
		if err != nil {
			return err
		}
		c.ConnID = conn.ID
		return nil
	})
	return c, err
}

// Close closes the directories (the caller closes the store).
func (c *Cluster) Close() error { return c.dirs.Close() }

// EndUsers are the fixture's end users (group engineers), who reveal the SHARED accounts with a
// checkout: jane.doe and john.smith, who also have an INDIVIDUAL account each, then enduser-bot
// and the added engineers.
func EndUsers() []string {
	us := []string{"jane.doe", "john.smith", "enduser-bot"}
	for i := range Engineers {
		us = append(us, fmt.Sprintf("eng-%02d", i))
	}
	return us
}

// Account is an account the scenarios check out.
type Account struct {
	ID, Name, DN, Type string
	// Owner is the username of an INDIVIDUAL account's user ("" for SHARED).
	Owner string
}

// Accounts returns the managed SHARED and INDIVIDUAL accounts of the demo connection, by name.
func (c *Cluster) Accounts(ctx context.Context) ([]Account, error) {
	var out []Account
	err := c.Store.View(ctx, func(tx storage.ReadTx) error {
		as, err := storage.Accounts.List(tx, storage.AccountsByConnection, c.ConnID)
		if err != nil {
			return err
		}
		for _, a := range as {
			if a.ProjectID == "" || a.AccountType != opa.AccountTypeShared && a.AccountType != opa.AccountTypeIndividual {
				continue
			}
			acc := Account{ID: a.ID, Name: a.SAMAccountName, DN: a.DistinguishedName, Type: a.AccountType}
			if a.MatchedUserID != "" {
				u, err := storage.Users.Get(tx, a.MatchedUserID)
				if err != nil {
					return err
				}
				acc.Owner = u.Username
			}
			out = append(out, acc)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Account) int { return compare(a.Name, b.Name) })
	if err == nil && len(out) == 0 {
		err = errors.New("the fixture's connection has no managed accounts")
	}
	return out, err
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Principal returns the principal of a demo user.
func (c *Cluster) Principal(ctx context.Context, username string) (opa.Principal, error) {
	return c.Engines[0].PrincipalForUser(ctx, c.Team.Name, username)
}

// Admin returns the demo's administrator (every admin role).
func (c *Cluster) Admin(ctx context.Context) (opa.Principal, error) {
	return c.Principal(ctx, "automation")
}

// History is, per account, the audit trail's checkouts, check-ins and successful rotations, in
// the order the store recorded them: "out", "in", "rotate".
func (c *Cluster) History(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := c.Store.View(ctx, func(tx storage.ReadTx) error {
		evs, err := storage.AuditEvents.List(tx, storage.AuditEventsByTeam, c.Team.ID)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			switch {
			case ev.Action == opa.AuditCheckout:
				out[ev.ResourceID] = append(out[ev.ResourceID], "out")
			case ev.Action == opa.AuditCheckin:
				out[ev.ResourceID] = append(out[ev.ResourceID], "in")
			case ev.Action == opa.AuditRotate && ev.Outcome == "success":
				out[ev.ResourceID] = append(out[ev.ResourceID], "rotate")
			}
		}
		return nil
	})
	return out, err
}

// CheckHistory checks one account's history: checkouts and check-ins alternate (never two
// holders), and each check-in is followed by exactly one rotation before the next checkout. The
// rotations before the first checkout (an initial rotation) are allowed. It returns the number
// of check-ins.
func CheckHistory(h []string) (int, error) {
	i := 0
	for i < len(h) && h[i] == "rotate" {
		i++
	}
	checkins := 0
	state := "free" // free → out → in → (rotate) → free
	for ; i < len(h); i++ {
		switch ev := h[i]; {
		case state == "free" && ev == "out":
			state = "out"
		case state == "out" && ev == "in":
			state, checkins = "in", checkins+1
		case state == "in" && ev == "rotate":
			state = "free"
		default:
			return checkins, fmt.Errorf("event %d %q while %s: %v", i, ev, state, h)
		}
	}
	if state == "in" {
		return checkins, fmt.Errorf("the last check-in has no rotation: %v", h)
	}
	return checkins, nil
}

// SyncRuns returns the number of recorded runs (not test requests) of each sync job.
func (c *Cluster) SyncRuns(ctx context.Context, jobIDs ...string) (map[string]int, error) {
	out := map[string]int{}
	err := c.Store.View(ctx, func(tx storage.ReadTx) error {
		for _, id := range jobIDs {
			rs, err := storage.SyncResults.List(tx, storage.SyncResultsByJob, id)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.TestRequestID == "" {
					out[id]++
				}
			}
		}
		return nil
	})
	return out, err
}
