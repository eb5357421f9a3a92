package pgstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

func insertTeam(s storage.Storage, id, name string) error {
	return s.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Teams.Insert(tx, &storage.Team{ID: id, Name: name})
	})
}

func teamName(t *testing.T, s storage.Storage, id string) string {
	t.Helper()
	var name string
	err := s.View(ctx, func(tx storage.ReadTx) error {
		team, err := storage.Teams.Get(tx, id)
		if err == nil {
			name = team.Name
		}
		return err
	})
	if err != nil {
		t.Fatalf("Get team %s: %v", id, err)
	}
	return name
}

// TestTwoStoresShareCommits: two stores (two pools, as two replicas would have) on one namespace
// see each other's commits, share unique indexes, and a View keeps its snapshot while the other
// store commits.
func TestTwoStoresShareCommits(t *testing.T) {
	ns := pgtestRequire(t).Namespace(t)
	a, b := open(t, ns), open(t, ns)
	if err := insertTeam(a, "t1", "Alpha"); err != nil {
		t.Fatal(err)
	}
	if got := teamName(t, b, "t1"); got != "Alpha" {
		t.Fatalf("b reads team t1 as %q, want Alpha", got)
	}
	// The unique name index is one index for both.
	if err := insertTeam(b, "t2", "ALPHA"); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("b inserting a second ALPHA: %v, want a conflict", err)
	}
	err := b.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Teams.Update(tx, &storage.Team{ID: "t1", Name: "Beta"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := teamName(t, a, "t1"); got != "Beta" {
		t.Fatalf("a reads team t1 as %q after b's update, want Beta", got)
	}

	// A View sees one snapshot: b's commit in the middle of it is not visible to it.
	err = a.View(ctx, func(tx storage.ReadTx) error {
		before, err := storage.Teams.Get(tx, "t1")
		if err != nil {
			return err
		}
		if err := b.Update(ctx, func(tx storage.WriteTx) error {
			return storage.Teams.Update(tx, &storage.Team{ID: "t1", Name: "Gamma"})
		}); err != nil {
			return err
		}
		after, err := storage.Teams.List(tx, storage.TeamsByName, "gamma")
		if err != nil {
			return err
		}
		if before.Name != "Beta" || len(after) != 0 {
			t.Errorf("inside one View: read %q, then %d teams named gamma; want Beta and none", before.Name, len(after))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := teamName(t, a, "t1"); got != "Gamma" {
		t.Fatalf("a reads team t1 as %q after its View, want Gamma", got)
	}
}

// TestConcurrentIncrementsAcrossStores: writers on two stores increment one counter; every
// acknowledged increment is counted exactly once (SERIALIZABLE plus retries: no lost update).
func TestConcurrentIncrementsAcrossStores(t *testing.T) {
	ns := pgtestRequire(t).Namespace(t)
	opt := pgstore.WithRetries(100, time.Millisecond, 20*time.Millisecond)
	stores := []*pgstore.Store{open(t, ns, opt), open(t, ns, opt)}
	if err := insertTeam(stores[0], "counter", "0"); err != nil {
		t.Fatal(err)
	}
	const perWriter = 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked, failed := 0, []error{}
	for w := range 6 {
		s := stores[w%2]
		wg.Go(func() {
			for range perWriter {
				err := s.Update(ctx, func(tx storage.WriteTx) error {
					team, err := storage.Teams.Get(tx, "counter")
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(team.Name)
					team.Name = strconv.Itoa(n + 1)
					return storage.Teams.Update(tx, team)
				})
				mu.Lock()
				if err == nil {
					acked++
				} else {
					failed = append(failed, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range failed {
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("increment failed with %v, want success or a conflict", err)
		}
	}
	if got := teamName(t, stores[1], "counter"); got != strconv.Itoa(acked) {
		t.Errorf("counter = %s after %d acknowledged increments", got, acked)
	}
	if acked < 6*perWriter/2 {
		t.Errorf("only %d of %d increments committed (%d gave up)", acked, 6*perWriter, len(failed))
	}
	var retries uint64
	for _, s := range stores {
		retries += s.Stats().Retries
	}
	t.Logf("%d increments committed, %d gave up, %d retries", acked, len(failed), retries)
}

// TestUniqueRaceAcrossStores: many writers on two stores insert the same username at once;
// exactly one wins, every other gets ErrConflict.
func TestUniqueRaceAcrossStores(t *testing.T) {
	ns := pgtestRequire(t).Namespace(t)
	stores := []*pgstore.Store{open(t, ns), open(t, ns)}
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = stores[i%2].Update(ctx, func(tx storage.WriteTx) error {
				return storage.Users.Insert(tx, &storage.User{ID: fmt.Sprint("u", i), TeamID: "t", Username: "Alice"})
			})
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("writer %d: %v, want success or a conflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers inserted username Alice, want exactly 1", won)
	}
	err := stores[0].View(ctx, func(tx storage.ReadTx) error {
		users, err := storage.Users.List(tx, storage.UsersByUsername, "T", "ALICE")
		if err == nil && len(users) != 1 {
			t.Errorf("%d users listed under (t, alice), want 1", len(users))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpdateRunsAgainAfterSerializationFailure: a concurrent commit of the row fn read and then
// writes makes PostgreSQL abort the transaction; Update runs fn again, on the new state. With
// one attempt allowed, the same race returns ErrConflict and writes nothing.
func TestUpdateRunsAgainAfterSerializationFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int
		wantRuns int
		wantErr  error
		wantName string
	}{
		{"retried", 3, 2, nil, "other+mine"},
		{"out of attempts", 1, 1, storage.ErrConflict, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := pgtestRequire(t).Namespace(t)
			s := open(t, ns, pgstore.WithRetries(tc.attempts, time.Millisecond, time.Millisecond))
			other := open(t, ns)
			if err := insertTeam(s, "t1", "start"); err != nil {
				t.Fatal(err)
			}
			runs := 0
			err := s.Update(ctx, func(tx storage.WriteTx) error {
				runs++
				team, err := storage.Teams.Get(tx, "t1")
				if err != nil {
					return err
				}
				if runs == 1 {
					// Another replica commits a change to the same row after this snapshot.
					if err := other.Update(ctx, func(tx storage.WriteTx) error {
						return storage.Teams.Update(tx, &storage.Team{ID: "t1", Name: "other"})
					}); err != nil {
						return err
					}
				}
				team.Name += "+mine"
				return storage.Teams.Update(tx, team)
			})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Update: %v, want %v", err, tc.wantErr)
			}
			if runs != tc.wantRuns {
				t.Errorf("fn ran %d times, want %d", runs, tc.wantRuns)
			}
			if got := teamName(t, other, "t1"); got != tc.wantName {
				t.Errorf("team name %q, want %q", got, tc.wantName)
			}
			if st := s.Stats(); st.Retries != uint64(tc.wantRuns-1) {
				t.Errorf("Stats %+v, want %d retries", st, tc.wantRuns-1)
			}
		})
	}
}

// TestAppendOnlyOrderAcrossStores: an append-only table lists in insertion order (not id order),
// a transaction's own events in the order it inserted them, the same on every store.
func TestAppendOnlyOrderAcrossStores(t *testing.T) {
	ns := pgtestRequire(t).Namespace(t)
	a, b := open(t, ns), open(t, ns)
	ev := func(id, resource string) *storage.AuditEvent {
		return &storage.AuditEvent{ID: id, TeamID: "t1", Action: "test", ResourceID: resource, At: time.Unix(1_700_000_000, 0).UTC()}
	}
	appendEvents := func(s storage.Storage, evs ...*storage.AuditEvent) {
		t.Helper()
		err := s.Update(ctx, func(tx storage.WriteTx) error {
			for _, e := range evs {
				if err := storage.AuditEvents.Insert(tx, e); err != nil {
					return err
				}
			}
			// A transaction reads its own appends, after everything committed before it.
			got, err := storage.AuditEvents.All(tx)
			if err != nil {
				return err
			}
			if last := got[len(got)-1]; last.ID != evs[len(evs)-1].ID {
				t.Errorf("inside the transaction the last event is %s, want %s", last.ID, evs[len(evs)-1].ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(a, ev("z", "r1"))
	appendEvents(b, ev("y", "r2"), ev("x", "r1"))
	appendEvents(a, ev("w", "r1"))
	appendEvents(b, ev("v", "r2"))
	want := map[string][]string{"": {"z", "y", "x", "w", "v"}, "r1": {"z", "x", "w"}, "r2": {"y", "v"}}
	for name, s := range map[string]storage.Storage{"a": a, "b": b} {
		err := s.View(ctx, func(tx storage.ReadTx) error {
			for resource, ids := range want {
				var evs []*storage.AuditEvent
				var err error
				if resource == "" {
					evs, err = storage.AuditEvents.All(tx)
				} else {
					evs, err = storage.AuditEvents.List(tx, storage.AuditEventsByResource, resource)
				}
				if err != nil {
					return err
				}
				var got []string
				for _, e := range evs {
					got = append(got, e.ID)
				}
				if diff := cmp.Diff(ids, got); diff != "" {
					t.Errorf("store %s, resource %q: order (-want +got):\n%s", name, resource, diff)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := a.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.AuditEvents.Insert(tx, ev("z", "r3")); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("inserting event z again: %v, want a conflict", err)
		}
		if err := storage.AuditEvents.Update(tx, ev("z", "r3")); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("updating an event: %v, want an assertion failure", err)
		}
		if err := storage.AuditEvents.Delete(tx, "z"); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("deleting an event: %v, want an assertion failure", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMultiIndexSideTable: a Multi index lists a record under each distinct element, follows
// updates that add, keep and drop elements, and forgets a deleted record.
func TestMultiIndexSideTable(t *testing.T) {
	s := fresh(t)
	put := func(write func(storage.WriteTx, *storage.User) error, groups ...string) {
		t.Helper()
		err := s.Update(ctx, func(tx storage.WriteTx) error {
			return write(tx, &storage.User{ID: "u1", TeamID: "t", Username: "alice", GroupIDs: groups})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(want map[string]int) {
		t.Helper()
		err := s.View(ctx, func(tx storage.ReadTx) error {
			for g, n := range want {
				users, err := storage.Users.List(tx, storage.UsersByGroup, g)
				if err != nil {
					return err
				}
				if len(users) != n {
					t.Errorf("group %s lists %d users, want %d", g, len(users), n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(storage.Users.Insert, "g1", "g2", "g1", "")
	check(map[string]int{"g1": 1, "g2": 1, "g3": 0, "": 0})
	put(storage.Users.Update, "g2", "g3")
	check(map[string]int{"g1": 0, "g2": 1, "g3": 1})
	if err := s.Update(ctx, func(tx storage.WriteTx) error { return storage.Users.Delete(tx, "u1") }); err != nil {
		t.Fatal(err)
	}
	check(map[string]int{"g2": 0, "g3": 0})
}

// TestClosedStoreAndCanceledContext: a closed store answers ErrUnavailable; a canceled context
// returns the context's error and writes nothing.
func TestClosedStoreAndCanceledContext(t *testing.T) {
	ns := pgtestRequire(t).Namespace(t)
	s := open(t, ns)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Update(canceled, func(tx storage.WriteTx) error {
		return storage.Teams.Insert(tx, &storage.Team{ID: "t1", Name: "a"})
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context: %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(storage.ReadTx) error { return nil }); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("View after Close: %v, want ErrUnavailable", err)
	}
	if err := insertTeam(s, "t1", "a"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Update after Close: %v, want ErrUnavailable", err)
	}
	err = open(t, ns).View(ctx, func(tx storage.ReadTx) error {
		_, err := storage.Teams.Get(tx, "t1")
		return err
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("team t1 after the canceled Update: %v, want not found", err)
	}
}
