package pgstore_test

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

// withParam returns dsn (a URL) with one more query parameter.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestDroppedConnectionLeavesNothing: the server ends the connection of a transaction in
// progress (pg_terminate_backend, from another connection), once before its last write and once
// before its commit. Update returns ErrUnavailable, none of its writes exist, and the store
// works again on its next call.
func TestDroppedConnectionLeavesNothing(t *testing.T) {
	c := pgtestRequire(t)
	ns := c.Namespace(t)
	app := "victim_" + ns
	victim, err := pgstore.Open(ctx, withParam(t, c.DSN, "application_name", app), pgstore.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	observer := open(t, ns)
	kill := func(t *testing.T) {
		t.Helper()
		// The second argument waits (up to 5 s) until the backend has exited.
		err := c.Exec(ctx, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1", app)
		if err != nil {
			t.Fatalf("pg_terminate_backend: %v", err)
		}
	}
	for _, tc := range []struct {
		name      string
		lastWrite bool // write once more after the kill, or go straight to the commit
	}{{"before a write", true}, {"before the commit", false}} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("%t-", tc.lastWrite)
			runs := 0
			err := victim.Update(ctx, func(tx storage.WriteTx) error {
				runs++
				if err := storage.Teams.Insert(tx, &storage.Team{ID: prefix + "t1", Name: prefix + "a"}); err != nil {
					return err
				}
				if err := storage.Users.Insert(tx, &storage.User{ID: prefix + "u1", TeamID: prefix + "t1", Username: "alice", GroupIDs: []string{"g"}}); err != nil {
					return err
				}
				kill(t)
				if tc.lastWrite {
					return storage.Teams.Insert(tx, &storage.Team{ID: prefix + "t2", Name: prefix + "b"})
				}
				return nil
			})
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("Update whose connection was dropped: %v, want ErrUnavailable", err)
			}
			if runs != 1 {
				t.Errorf("fn ran %d times; a dropped connection is not retried", runs)
			}
			err = observer.View(ctx, func(tx storage.ReadTx) error {
				for _, table := range []string{storage.Teams.Name(), storage.Users.Name()} {
					recs, err := tx.List(table, "id")
					if err != nil {
						return err
					}
					for _, r := range recs {
						t.Errorf("%s %s survived the dropped transaction", table, storage.RecordID(r))
					}
				}
				users, err := storage.Users.List(tx, storage.UsersByGroup, "g")
				if err == nil && len(users) > 0 {
					t.Errorf("the group index lists %d users", len(users))
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := insertTeam(victim, "after", "after"); err != nil {
		t.Fatalf("Update after the dropped connections: %v", err)
	}
}

// TestRestartUnderLoad: writers commit while the server restarts, once with a fast shutdown
// (sessions are told to end) and once immediate (the server is killed and replays its WAL).
// Writers see ErrUnavailable while it is down and succeed again once it is up, and every
// acknowledged commit is there afterwards.
func TestRestartUnderLoad(t *testing.T) {
	c := pgtestRequire(t)
	ns := c.Namespace(t)
	s := open(t, ns)
	const writers = 6
	var (
		stop        atomic.Bool
		mu          sync.Mutex
		acked       = map[string]bool{}
		unknown     = map[string]bool{} // ErrUnavailable: committed or not
		unavailable int
		other       []error
		okSince     [writers]atomic.Int64 // commits since the last restart began, per writer
	)
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }() // also when a check below fails the test
	for w := range writers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("w%d-%06d", w, i)
				err := insertTeam(s, id, id)
				mu.Lock()
				switch {
				case err == nil:
					acked[id] = true
					okSince[w].Add(1)
				case errors.Is(err, storage.ErrUnavailable):
					unknown[id] = true
					unavailable++
				default:
					other = append(other, err)
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	// waitAllCommit waits (bounded) until every writer has committed since the last reset.
	waitAllCommit := func(phase string) {
		deadline := time.Now().Add(30 * time.Second)
		for w := range writers {
			for okSince[w].Load() < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("%s: writer %d did not commit within 30 s", phase, w)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	waitAllCommit("before the restarts")
	for _, mode := range []string{"fast", "immediate"} {
		for w := range writers {
			okSince[w].Store(0)
		}
		c.Restart(t, mode)
		waitAllCommit("after the " + mode + " restart")
	}
	stop.Store(true)
	wg.Wait()

	for _, err := range other {
		t.Errorf("a write failed with %v, want success or ErrUnavailable", err)
	}
	if unavailable == 0 {
		t.Errorf("no write saw ErrUnavailable across two restarts")
	}
	stored := map[string]bool{}
	err := open(t, ns).View(ctx, func(tx storage.ReadTx) error {
		teams, err := storage.Teams.All(tx)
		for _, team := range teams {
			stored[team.ID] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id := range acked {
		if !stored[id] {
			lost++
			t.Errorf("acknowledged commit %s is gone", id)
		}
	}
	for id := range stored {
		if !acked[id] && !unknown[id] {
			t.Errorf("team %s is stored but was never written", id)
		}
	}
	t.Logf("%d acknowledged commits, all there (%d lost); %d ErrUnavailable, of which %d committed anyway",
		len(acked), lost, unavailable, len(stored)-len(acked))
}
