package pgstore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

// Commit benchmarks: the store against bare pgx doing the same statements, in one run, on one
// cluster. Run them alone (the cluster shares the machine's two cores with the benchmark):
//
//	OPA_POSTGRES=1 go test -run '^$' -bench Commit -benchtime 3s -count 3 ./storage/pgstore/
//
// OPA_PG_TMP=/var/tmp puts the cluster on disk (its default is tmpfs, where fsync costs nothing).
// Each commit inserts one user of about 300 bytes of JSON with two groups: one SERIALIZABLE
// transaction, one statement (the row, its index columns and its two group rows). "pgx" is what
// a hand-written client does with the same pool size: BEGIN ISOLATION LEVEL SERIALIZABLE, the
// same INSERT with the same arguments (the record's JSON, its lowercased columns), COMMIT, and a
// retry at once on a serialization failure. "store" is Store.Update with Users.Insert. Each round
// runs max(32, 4×writers) commits through one, then as many through the other, so the shared
// machine's drift hits both alike; the benchmark reports both rates, their ratio store/pgx, and
// retries per commit.

func benchUser(id string) *storage.User {
	return &storage.User{ID: id, TeamID: "team-0001", Username: "user-" + id, FirstName: "Firstname",
		LastName: "Lastname", DisplayName: "Firstname Lastname " + id, Email: "user-" + id + "@corp.example.com",
		Status: "ACTIVE", GroupIDs: []string{"group-0001", "group-0002"},
		Roles: []storage.RoleGrant{{Role: "end_user"}}, CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
}

// bareInsert is the statement Store writes for a user, spelled out.
const bareInsert = `WITH w AS (INSERT INTO %[1]s.users (id, rec, team_id, lower_team_id, lower_username, lower_email)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id),
	m0 AS (INSERT INTO %[1]s.users__group (value, id) SELECT v, w.id FROM w, unnest($7::text[]) v ON CONFLICT DO NOTHING)
	SELECT count(*) FROM w`

func BenchmarkCommit(b *testing.B) {
	c := pgtestRequire(b)
	dsn := withParam(b, c.DSN, "pool_max_conns", "64")
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			// Two namespaces, two pools of the same size: nothing is shared but the server.
			s, err := pgstore.Open(ctx, dsn, pgstore.WithNamespace(c.Namespace(b)))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ns := c.Namespace(b)
			open(b, ns).Close() // lays out the bare client's namespace
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			sql := fmt.Sprintf(bareInsert, pgx.Identifier{ns}.Sanitize())
			var bareRetries atomic.Int64
			bare := func(id string) error {
				u := benchUser(id)
				for {
					err := bareCommit(pool, sql, u)
					if err == nil || !strings.Contains(err.Error(), "SQLSTATE 40001") {
						return err
					}
					bareRetries.Add(1)
				}
			}
			store := func(id string) error {
				u := benchUser(id)
				return s.Update(ctx, func(tx storage.WriteTx) error { return storage.Users.Insert(tx, u) })
			}
			// Each round runs a batch of commits through bare pgx, then one through the store, so
			// the shared machine's drift hits both alike.
			perRound := max(32, 4*writers)
			var inBare, inStore time.Duration
			var bareIDs, storeIDs atomic.Int64
			rounds := 0
			for b.Loop() {
				inBare += runWriters(b, writers, perRound, &bareIDs, bare)
				inStore += runWriters(b, writers, perRound, &storeIDs, store)
				rounds++
			}
			commits := float64(rounds * perRound)
			bareRate, storeRate := commits/inBare.Seconds(), commits/inStore.Seconds()
			b.ReportMetric(bareRate, "pgx-commits/s")
			b.ReportMetric(storeRate, "store-commits/s")
			b.ReportMetric(storeRate/bareRate, "store/pgx")
			b.ReportMetric(float64(bareRetries.Load())/commits, "pgx-retries/commit")
			b.ReportMetric(float64(s.Stats().Retries)/commits, "store-retries/commit")
		})
	}
}

// bareCommit is one hand-written transaction.
func bareCommit(pool *pgxpool.Pool, sql string, u *storage.User) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	enc, err := json.Marshal(u)
	if err != nil {
		return err
	}
	var n int64
	team := strings.ToLower(u.TeamID)
	err = tx.QueryRow(ctx, sql, u.ID, enc, u.TeamID, team, strings.ToLower(u.Username), strings.ToLower(u.Email), u.GroupIDs).Scan(&n)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("user %s not inserted", u.ID)
	}
	return tx.Commit(ctx)
}

// runWriters runs n commits spread over writers goroutines, ids drawn from next, and returns the
// time they took.
func runWriters(b *testing.B, writers, n int, next *atomic.Int64, commit func(id string) error) time.Duration {
	end := next.Load() + int64(n)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > end {
					return
				}
				if err := commit(fmt.Sprintf("u%09d", i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}

// BenchmarkRangePage is the page cost at 1k and 100k accounts of one team: a page of 100 by the
// accounts' "team" index, first and deep (after the account at 80 %), through Store.View and
// Accounts.Range, against bare pgx running the statement Range runs (SELECT rec, id … WHERE
// team_id = $1 AND id > $2 ORDER BY id LIMIT 100 in a REPEATABLE READ READ ONLY transaction,
// decoding each record's JSON), and against listing the whole team and cutting the page. The
// accounts are loaded once per size, 2,000 per transaction. Run it alone:
//
//	OPA_POSTGRES=1 go test -run '^$' -bench RangePage -benchtime 200x ./storage/pgstore/
func BenchmarkRangePage(b *testing.B) {
	c := pgtestRequire(b)
	for _, n := range []int{1_000, 100_000} {
		ns := c.Namespace(b)
		s := open(b, ns)
		for base := 0; base < n; base += 2000 {
			err := s.Update(ctx, func(tx storage.WriteTx) error {
				for i := base; i < min(base+2000, n); i++ {
					if err := storage.Accounts.Insert(tx, benchAccount(i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		pool, err := pgxpool.New(ctx, c.DSN)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		sql := fmt.Sprintf("SELECT rec, id FROM %s.accounts WHERE team_id = $1 AND id > $2 ORDER BY id LIMIT 100", pgx.Identifier{ns}.Sanitize())
		for _, depth := range []struct{ name, after string }{{"first", ""}, {"deep", fmt.Sprintf("a%09d", n*8/10)}} {
			b.Run(fmt.Sprintf("%d/%s/store", n, depth.name), func(b *testing.B) {
				for b.Loop() {
					err := s.View(ctx, func(tx storage.ReadTx) error {
						page, err := storage.Accounts.Range(tx, storage.AccountsByTeam, storage.Range{Args: []string{"team-0001"}, After: depth.after, Limit: 100}, nil)
						if err == nil && len(page) != 100 {
							b.Fatalf("page of %d", len(page))
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%d/%s/pgx", n, depth.name), func(b *testing.B) {
				for b.Loop() {
					if got := barePage(b, pool, sql, depth.after); got != 100 {
						b.Fatalf("page of %d", got)
					}
				}
			})
			if depth.name == "first" {
				b.Run(fmt.Sprintf("%d/list-and-cut", n), func(b *testing.B) {
					for b.Loop() {
						err := s.View(ctx, func(tx storage.ReadTx) error {
							all, err := storage.Accounts.List(tx, storage.AccountsByTeam, "team-0001")
							if err == nil && len(all[:100]) != 100 {
								b.Fatal("short page")
							}
							return err
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// barePage is one page by hand: the transaction, the statement, the JSON.
func barePage(b *testing.B, pool *pgxpool.Pool, sql, after string) int {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, sql, "team-0001", after)
	if err != nil {
		b.Fatal(err)
	}
	var page []*storage.Account
	for rows.Next() {
		var rec []byte
		var id string
		if err := rows.Scan(&rec, &id); err != nil {
			b.Fatal(err)
		}
		a := new(storage.Account)
		if err := json.Unmarshal(rec, a); err != nil {
			b.Fatal(err)
		}
		page = append(page, a)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return len(page)
}

// benchAccount is AD account i of team-0001, about 600 bytes of JSON.
func benchAccount(i int) *storage.Account {
	id := fmt.Sprintf("a%09d", i)
	now := time.Unix(1_700_000_000, 0).UTC()
	return &storage.Account{ID: id, TeamID: "team-0001", ConnectionID: "conn-0001", Domain: "corp.example.com",
		SID: fmt.Sprintf("S-1-5-21-1-%d", i), UPN: "user" + id + "@corp.example.com", SAMAccountName: "user" + id,
		DistinguishedName: "CN=user" + id + ",OU=Users,DC=corp,DC=example,DC=com", AccountType: "SHARED",
		ProjectID: "proj-0001", ResourceGroupID: "rg-0001", StatusDetail: "ROTATED", CreatedAt: now, UpdatedAt: now}
}
