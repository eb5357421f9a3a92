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
