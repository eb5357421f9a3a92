package replicas_test

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
	"github.com/opakit/opa/internal/pgtest"
	"github.com/opakit/opa/internal/replicas"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
	"github.com/opakit/opa/storage/memstore"
	"github.com/opakit/opa/storage/pgstore"
)

// cluster is the PostgreSQL server of the pgstore cases (package pgtest); nil when they skip.
var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(pgtest.Main(m, &cluster))
}

var ctx = context.Background()

// engines is how many engines share the store in each scenario.
const engines = 3

// storeKind opens n handles on one new store of a kind.
type storeKind struct {
	name string
	open func(t *testing.T, n int) []storage.Storage
}

var kinds = []storeKind{
	{"memstore", func(t *testing.T, n int) []storage.Storage {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return repeat(s, n)
	}},
	{"filestore", func(t *testing.T, n int) []storage.Storage {
		s, err := filestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return repeat(s, n)
	}},
	{"pgstore", func(t *testing.T, n int) []storage.Storage {
		c := pgtest.Require(t, cluster)
		ns := c.Namespace(t)
		var out []storage.Storage
		for range n { // a pool per engine, as replicas have
			s, err := pgstore.Open(ctx, c.DSN, pgstore.WithNamespace(ns))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			out = append(out, s)
		}
		return out
	}},
}

func repeat(s storage.Storage, n int) []storage.Storage {
	out := make([]storage.Storage, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func newCluster(t *testing.T, k storeKind, clock opa.Clock, opts ...opa.Option) *replicas.Cluster {
	t.Helper()
	c, err := replicas.New(ctx, k.open(t, engines), clock, nil, true, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func demoClock() *opa.ManualClock {
	return opa.NewManualClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
}

// clientDuration bounds the holders scenario.
func clientDuration() time.Duration {
	if testing.Short() {
		return time.Second
	}
	return 4 * time.Second
}

// TestReplicasNeverGiveAnAccountToTwoHolders: 32 clients spread over 3 engines on one store
// check out (by revealing), reveal again and check in the same SHARED and INDIVIDUAL accounts
// for a bounded time. The two INDIVIDUAL accounts' users have two clients each, on different
// engines; every other client is a user of its own. Checked: no two users hold an account at
// once (live, among the clients that are their user's only client, and afterwards in the audit
// trail, where checkouts and check-ins of each account alternate); each check-in is followed by
// exactly one rotation before the next checkout; the clients' successful check-ins are the
// trail's; and a sole client always reveals the password the directory has.
func TestReplicasNeverGiveAnAccountToTwoHolders(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			c := newCluster(t, k, demoClock())
			accounts, err := c.Accounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var shared, individual int
			for _, a := range accounts {
				if a.Type == opa.AccountTypeShared {
					shared++
				} else {
					individual++
				}
			}
			if shared < 2 || individual < 2 {
				t.Fatalf("want at least 2 SHARED and 2 INDIVIDUAL accounts, got %+v", accounts)
			}
			key, err := revealjwe.GenerateKey(revealjwe.KindP256)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := key.PublicJWK()
			if err != nil {
				t.Fatal(err)
			}
			users := replicas.EndUsers()
			const clients = 32
			clientUser := make([]string, clients)
			for i := range clients {
				// jane.doe: clients 0 and 1, john.smith: 2 and 3 (engines 0 and 1, 2 and 0); then one user each.
				switch {
				case i < 4:
					clientUser[i] = users[i/2]
				default:
					clientUser[i] = users[i-2]
				}
			}
			var (
				mu       sync.Mutex
				holders  = map[string]string{} // account id → user, among sole clients
				checkins atomic.Int64
				reveals  atomic.Int64
				busy     atomic.Int64
			)
			deadline := time.Now().Add(clientDuration())
			var wg sync.WaitGroup
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := c.Engines[i%len(c.Engines)]
					user := clientUser[i]
					sole := i >= 4
					p, err := c.Principal(ctx, user)
					if err != nil {
						t.Error(err)
						return
					}
					var mine []replicas.Account
					for _, a := range accounts {
						if a.Type == opa.AccountTypeShared || a.Owner == user {
							mine = append(mine, a)
						}
					}
					rng := rand.New(rand.NewPCG(uint64(i), 1))
					for time.Now().Before(deadline) {
						a := mine[rng.IntN(len(mine))]
						ms, err := e.ADAccountUAMs(ctx, p, c.ConnID, a.ID, opa.PrivilegeRevealPassword)
						if err != nil || len(ms) == 0 {
							t.Errorf("%s's access methods for %s: %v %v", user, a.Name, ms, err)
							return
						}
						resp, err := e.RevealADAccountPassword(ctx, p, c.ConnID, a.ID, opa.RevealRequest{PublicKey: pub, UserAccessMethod: ms[0]})
						if errors.Is(err, opa.ErrConflict) {
							busy.Add(1) // held by someone else, or being rotated: back off a little
							time.Sleep(time.Duration(1+rng.IntN(5)) * time.Millisecond)
							continue
						}
						if err != nil {
							t.Errorf("%s reveals %s: %v", user, a.Name, err)
							return
						}
						reveals.Add(1)
						if sole {
							mu.Lock()
							if h, ok := holders[a.ID]; ok {
								mu.Unlock()
								t.Errorf("%s checked out %s while %s holds it", user, a.Name, h)
								return
							}
							holders[a.ID] = user
							mu.Unlock()
							pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
							if err != nil {
								t.Error(err)
								return
							}
							if cur, _ := c.Directory.Password(a.DN); string(pt) != cur {
								t.Errorf("%s revealed a password of %s that is not the directory's", user, a.Name)
							}
							mu.Lock()
							delete(holders, a.ID)
							mu.Unlock()
						}
						err = e.CheckInResource(ctx, p, opa.CheckinRequest{ResourceID: a.ID, ResourceType: opa.ResourceTypeADAccount})
						switch {
						case err == nil:
							checkins.Add(1)
						case !sole && errors.Is(err, opa.ErrNotFound):
							// the user's other client checked it in first
						default:
							t.Errorf("%s checks in %s: %v", user, a.Name, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			hist, err := c.History(ctx)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, a := range accounts {
				n, err := replicas.CheckHistory(hist[a.ID])
				if err != nil {
					t.Errorf("%s: %v", a.Name, err)
				}
				total += n
			}
			if int64(total) != checkins.Load() {
				t.Errorf("the audit trail has %d check-ins, the clients made %d", total, checkins.Load())
			}
			if checkins.Load() == 0 {
				t.Error("no client ever checked an account in")
			}
			t.Logf("%d reveals, %d check-ins (each with one rotation), %d refusals while held or rotating",
				reveals.Load(), checkins.Load(), busy.Load())
		})
	}
}

// TestReplicasRunEachDueJobOnce: three engines on one store tick one clock at once; every due
// sync job runs exactly once per due time. A job whose connection is busy in another engine is
// skipped and stays due, so after the concurrent Ticks each engine ticks again until nothing is
// due; then each job has one run per due time so far, never two.
func TestReplicasRunEachDueJobOnce(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			clock := demoClock()
			c := newCluster(t, k, clock)
			admin, err := c.Admin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []string
			for i, ou := range []string{"OU=ServiceAccounts", "OU=Admins", "OU=Users"} {
				j, err := c.Engines[i%engines].CreateUserSyncJob(ctx, admin, c.ConnID, opa.UserSyncJobInput{
					Name: "job " + ou, Frequency: 1, IsActive: true, BaseDN: ou + ",DC=corp,DC=example,DC=com"})
				if err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j.ID)
			}
			const rounds = 4
			for round := 1; round <= rounds; round++ {
				var wg sync.WaitGroup
				for _, e := range c.Engines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := e.Tick(ctx); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				for drain := 0; dueJobs(t, c, clock.Now()) > 0; drain++ {
					if drain == 20 {
						t.Fatalf("round %d: jobs still due after %d more Ticks", round, drain)
					}
					for _, e := range c.Engines {
						if err := e.Tick(ctx); err != nil {
							t.Error(err)
						}
					}
				}
				runs, err := c.SyncRuns(ctx, jobs...)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range jobs {
					if runs[j] != round {
						t.Fatalf("round %d: job %s ran %d times, want %d", round, j, runs[j], round)
					}
				}
				clock.Advance(time.Hour)
			}
		})
	}
}

// dueJobs counts the user sync jobs due at now.
func dueJobs(t *testing.T, c *replicas.Cluster, now time.Time) int {
	t.Helper()
	n := 0
	err := c.Store.View(ctx, func(tx storage.ReadTx) error {
		js, err := storage.UserSyncJobs.All(tx)
		for _, j := range js {
			if j.IsActive && !j.NextRunAt.After(now) {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplicasAgreeOnTheVaultKey: engines on one store serve one vault JWKS, made by whichever
// asked first.
func TestReplicasAgreeOnTheVaultKey(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			c := newCluster(t, k, demoClock())
			got := make([]string, len(c.Engines))
			var wg sync.WaitGroup
			for i, e := range c.Engines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b, err := e.VaultJWKS(ctx)
					if err != nil {
						t.Error(err)
					}
					got[i] = string(b)
				}()
			}
			wg.Wait()
			for i := range got {
				if got[i] != got[0] {
					t.Fatalf("engine %d serves another vault key: %s vs %s", i, got[i], got[0])
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReplicasSettleEachExpiredCheckoutOnce: every account is checked out, the clock moves past
// the checkouts' expiry, and then the three engines tick at once while other users reveal the
// SHARED accounts through them (a write settles an expired checkout before its own work). Each
// expired checkout is checked in once and rotated once, whoever got there first.
func TestReplicasSettleEachExpiredCheckoutOnce(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			clock := demoClock()
			c := newCluster(t, k, clock)
			accounts, err := c.Accounts(ctx)
			must(t, err)
			key, err := revealjwe.GenerateKey(revealjwe.KindP256)
			must(t, err)
			pub, err := key.PublicJWK()
			must(t, err)
			reveal := func(e *opa.Engine, user string, a replicas.Account) error {
				p, err := c.Principal(ctx, user)
				if err != nil {
					return err
				}
				ms, err := e.ADAccountUAMs(ctx, p, c.ConnID, a.ID, opa.PrivilegeRevealPassword)
				if err != nil || len(ms) == 0 {
					return errors.Newf("access methods %v: %v", ms, err)
				}
				_, err = e.RevealADAccountPassword(ctx, p, c.ConnID, a.ID, opa.RevealRequest{PublicKey: pub, UserAccessMethod: ms[0]})
				return err
			}
			for i, a := range accounts {
				user := a.Owner
				if user == "" {
					user = replicas.EndUsers()[3+i]
				}
				must(t, reveal(c.Engines[i%engines], user, a))
			}
			clock.Advance(2 * time.Hour) // past every checkout (at most an hour)
			var wg sync.WaitGroup
			for i, e := range c.Engines {
				wg.Add(2)
				go func() {
					defer wg.Done()
					if err := e.Tick(ctx); err != nil {
						t.Error(err)
					}
				}()
				go func() {
					defer wg.Done()
					for j, a := range accounts {
						if a.Type != opa.AccountTypeShared {
							continue
						}
						err := reveal(e, replicas.EndUsers()[10+i*len(accounts)+j], a)
						if err != nil && !errors.Is(err, opa.ErrConflict) {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			hist, err := c.History(ctx)
			must(t, err)
			for _, a := range accounts {
				h := hist[a.ID]
				for len(h) > 0 && h[0] == "rotate" { // the first reveal's initial rotation
					h = h[1:]
				}
				// The first checkout, its settling, then possibly a new holder's checkout.
				if len(h) < 3 || h[0] != "out" || h[1] != "in" || h[2] != "rotate" {
					t.Errorf("%s: %v, want the checkout, one check-in and one rotation first", a.Name, h)
				}
				if _, err := replicas.CheckHistory(h); err != nil {
					t.Errorf("%s: %v", a.Name, err)
				}
			}
		})
	}
}

// TestReplicaDeadMidRotationIsRotatedAgain: an engine that died in the middle of a check-in's
// rotation leaves the account ROTATING, its rotation pending and its rotation lease live (written
// here as that engine would have left them). While the lease is live the other engines' Ticks
// leave the account alone; once it has expired by the shared clock, a Tick rotates it, once: the
// account is ROTATED again and a reveal hands out the directory's password.
func TestReplicaDeadMidRotationIsRotatedAgain(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			clock := demoClock()
			c := newCluster(t, k, clock)
			accounts, err := c.Accounts(ctx)
			must(t, err)
			var a replicas.Account
			for _, x := range accounts {
				if x.Type == opa.AccountTypeShared {
					a = x
				}
			}
			key, err := revealjwe.GenerateKey(revealjwe.KindP256)
			must(t, err)
			pub, err := key.PublicJWK()
			must(t, err)
			p, err := c.Principal(ctx, "eng-00")
			must(t, err)
			reveal := func() (string, error) {
				ms, err := c.Engines[1].ADAccountUAMs(ctx, p, c.ConnID, a.ID, opa.PrivilegeRevealPassword)
				if err != nil || len(ms) == 0 {
					return "", errors.Newf("access methods %v: %v", ms, err)
				}
				resp, err := c.Engines[1].RevealADAccountPassword(ctx, p, c.ConnID, a.ID, opa.RevealRequest{PublicKey: pub, UserAccessMethod: ms[0]})
				if err != nil {
					return "", err
				}
				pt, err := revealjwe.Decrypt(resp.PasswordJWE, key)
				return string(pt), err
			}
			if _, err := reveal(); err != nil { // the first password, and a checkout
				t.Fatal(err)
			}
			now := clock.Now().UTC()
			must(t, c.Store.Update(ctx, func(tx storage.WriteTx) error {
				acc, err := storage.Accounts.Get(tx, a.ID)
				if err != nil {
					return err
				}
				acc.Lease = storage.LeaseState{} // checked in by the engine that then died rotating
				acc.StatusDetail = "ROTATING"
				acc.Credential.RotationPending, acc.Credential.RotationPendingReason = true, "CHECKIN"
				acc.Credential.RotationPendingSinceTime = now
				if err := storage.Accounts.Update(tx, acc); err != nil {
					return err
				}
				co, err := storage.Checkouts.First(tx, storage.CheckoutsActive, a.ID)
				if err != nil {
					return err
				}
				co.ActiveResourceID, co.CheckinAt, co.CheckinType, co.Status = "", now, "self", "checkin_complete"
				if err := storage.Checkouts.Update(tx, co); err != nil {
					return err
				}
				dead := &storage.Lease{ID: "rotation/" + a.ID, Owner: "dead/1", Holder: "dead", AcquiredAt: now, ExpiresAt: now.Add(30 * time.Second)}
				if _, err := storage.Leases.Get(tx, dead.ID); err == nil { // the first reveal's rotation left the row
					return storage.Leases.Update(tx, dead)
				}
				return storage.Leases.Insert(tx, dead)
			}))
			rotations := func() int {
				h, err := c.History(ctx)
				must(t, err)
				n := 0
				for _, ev := range h[a.ID] {
					if ev == "rotate" {
						n++
					}
				}
				return n
			}
			before := rotations()
			for _, e := range c.Engines {
				must(t, e.Tick(ctx))
			}
			if got := rotations(); got != before {
				t.Fatalf("rotated while the dead engine's lease was live: %d rotations, %d before", got, before)
			}
			clock.Advance(31 * time.Second)
			var wg sync.WaitGroup
			for _, e := range c.Engines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := e.Tick(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if got := rotations(); got != before+1 {
				t.Fatalf("after the lease expired: %d rotations, want %d", got, before+1)
			}
			pw, err := reveal()
			must(t, err)
			if cur, _ := c.Directory.Password(a.DN); pw != cur {
				t.Fatal("the reveal after the recovery is not the directory's password")
			}
		})
	}
}

// TestReplicasIssueTokensWithOneKeyAtOnce: 24 clients exchange the same service key for bearer
// tokens through three engines at once, 10 times each; every exchange succeeds (none runs out of
// serialization retries on PostgreSQL) and every token authenticates on every engine.
func TestReplicasIssueTokensWithOneKeyAtOnce(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			c := newCluster(t, k, demoClock())
			var keyID, secret string
			for _, u := range c.Fixture.Teams[0].Users {
				if u.Username == "automation" {
					keyID, secret = u.ServiceKeys[0].KeyID, u.ServiceKeys[0].KeySecret
				}
			}
			var wg sync.WaitGroup
			var issued atomic.Int64
			for i := range 24 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range 10 {
						e := c.Engines[(i+j)%len(c.Engines)]
						tok, err := e.IssueToken(ctx, c.Team.Name, keyID, secret)
						if err != nil {
							t.Errorf("exchange %d of client %d: %v", j, i, err)
							return
						}
						if _, err := c.Engines[(i+j+1)%len(c.Engines)].Authenticate(ctx, c.Team.Name, tok.BearerToken); err != nil {
							t.Errorf("a token from one engine on another: %v", err)
							return
						}
						issued.Add(1)
					}
				}()
			}
			wg.Wait()
			if issued.Load() != 240 {
				t.Fatalf("%d of 240 exchanges succeeded", issued.Load())
			}
		})
	}
}
