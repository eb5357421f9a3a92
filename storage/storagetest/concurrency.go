package storagetest

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// RunConcurrency checks that concurrent Update calls are serializable, whatever the store does to
// run them at once (the contract allows fn to run more than once): concurrent read-modify-writes
// lose no update, a predicate read (List or Range) sees a concurrent insert that would change it
// (no phantom), two transactions that each read what the other writes cannot both commit (no
// write skew), inserts of one id into an append-only table conflict, and the last run's writes
// are the only ones that remain.
func RunConcurrency(t *testing.T, open func(t *testing.T) storage.Storage) {
	t.Run("no lost update", func(t *testing.T) { concurrentCounter(t, open(t)) })
	t.Run("no phantom", func(t *testing.T) { concurrentQuota(t, open(t), false) })
	t.Run("no phantom through Range", func(t *testing.T) { concurrentQuota(t, open(t), true) })
	t.Run("no write skew", func(t *testing.T) { concurrentSkew(t, open(t)) })
	t.Run("append-only id conflicts", func(t *testing.T) { concurrentLogIDs(t, open(t)) })
}

// meet returns a function that n goroutines call, the first time each runs its transaction, to
// wait until all n have read what they read: so their transactions overlap, whatever the
// scheduler does. A store that runs Updates one at a time would never let them all arrive, so the
// wait gives up after a short while.
func meet(n int) func(first *bool) {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func(first *bool) {
		if !*first {
			return
		}
		*first = false
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// parallel runs f(i) for i in [0, n) on n goroutines and waits.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

func concurrentCounter(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	if err := s.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Teams.Insert(tx, &storage.Team{ID: "counter", Name: "0"})
	}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	var runs atomic.Int64
	wait := meet(writers)
	parallel(writers, func(int) {
		first := true
		for range each {
			err := s.Update(ctx, func(tx storage.WriteTx) error {
				runs.Add(1)
				tm, err := storage.Teams.Get(tx, "counter")
				if err != nil {
					return err
				}
				wait(&first)
				n, _ := strconv.Atoi(tm.Name)
				tm.Name = strconv.Itoa(n + 1)
				return storage.Teams.Update(tx, tm)
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	var got string
	_ = s.View(ctx, func(tx storage.ReadTx) error {
		tm, err := storage.Teams.Get(tx, "counter")
		if err == nil {
			got = tm.Name
		}
		return err
	})
	if want := strconv.Itoa(writers * each); got != want {
		t.Fatalf("counter = %s after %d increments (%d runs of fn): updates were lost", got, writers*each, runs.Load())
	}
	t.Logf("%d increments took %d runs of fn", writers*each, runs.Load())
}

// concurrentQuota: every transaction counts the team's users and inserts one only below the
// quota, so however they interleave the team ends with exactly the quota.
func concurrentQuota(t *testing.T, s storage.Storage, byRange bool) {
	defer func() { _ = s.Close() }()
	const quota, writers = 5, 12
	wait := meet(writers)
	parallel(writers, func(i int) {
		first := true
		err := s.Update(ctx, func(tx storage.WriteTx) error {
			var n int
			if byRange {
				us, err := storage.Users.Range(tx, storage.UsersByTeam, storage.Range{Args: []string{"t"}, Limit: quota}, nil)
				if err != nil {
					return err
				}
				n = len(us)
			} else {
				us, err := storage.Users.List(tx, "team", "t")
				if err != nil {
					return err
				}
				n = len(us)
			}
			wait(&first)
			if n >= quota {
				return nil
			}
			return storage.Users.Insert(tx, &storage.User{ID: fmt.Sprintf("u%02d", i), TeamID: "t", Username: fmt.Sprint("user", i)})
		})
		if err != nil {
			t.Error(err)
		}
	})
	var n int
	_ = s.View(ctx, func(tx storage.ReadTx) error {
		us, err := storage.Users.List(tx, "team", "t")
		n = len(us)
		return err
	})
	if n != quota {
		t.Fatalf("team has %d users, want exactly the quota %d: a transaction missed a concurrent insert", n, quota)
	}
}

// concurrentSkew: records a and b start "on"; each transaction turns its own off only if both are
// on. Run serially, one of them must stay on.
func concurrentSkew(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	for round := range 20 {
		ids := []string{fmt.Sprint("a", round), fmt.Sprint("b", round)}
		if err := s.Update(ctx, func(tx storage.WriteTx) error {
			for _, id := range ids {
				if err := storage.Teams.Insert(tx, &storage.Team{ID: id, Name: "on-" + id}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wait := meet(2)
		parallel(2, func(i int) {
			first := true
			err := s.Update(ctx, func(tx storage.WriteTx) error {
				on := 0
				for _, id := range ids {
					tm, err := storage.Teams.Get(tx, id)
					if err != nil {
						return err
					}
					if tm.Name == "on-"+id {
						on++
					}
				}
				wait(&first)
				if on < 2 {
					return nil
				}
				return storage.Teams.Update(tx, &storage.Team{ID: ids[i], Name: "off-" + ids[i]})
			})
			if err != nil {
				t.Error(err)
			}
		})
		on := 0
		_ = s.View(ctx, func(tx storage.ReadTx) error {
			for _, id := range ids {
				if tm, err := storage.Teams.Get(tx, id); err == nil && tm.Name == "on-"+id {
					on++
				}
			}
			return nil
		})
		if on != 1 {
			t.Fatalf("round %d: %d of a and b are on, want 1: both transactions committed on a stale read", round, on)
		}
	}
}

func concurrentLogIDs(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	const writers = 8
	var ok, conflict atomic.Int64
	wait := meet(writers)
	parallel(writers, func(i int) {
		first := true
		err := s.Update(ctx, func(tx storage.WriteTx) error {
			if err := storage.AuditEvents.Insert(tx, &storage.AuditEvent{ID: "same", TeamID: "t", ActorID: fmt.Sprint(i)}); err != nil {
				return err
			}
			wait(&first)
			return nil
		})
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, storage.ErrConflict):
			conflict.Add(1)
		default:
			t.Error(err)
		}
	})
	if ok.Load() != 1 || conflict.Load() != writers-1 {
		t.Fatalf("%d inserts of one event id succeeded and %d conflicted, want 1 and %d", ok.Load(), conflict.Load(), writers-1)
	}
	var evs []*storage.AuditEvent
	_ = s.View(ctx, func(tx storage.ReadTx) error {
		var err error
		evs, err = storage.AuditEvents.List(tx, "team", "t")
		return err
	})
	if len(evs) != 1 {
		t.Fatalf("the log holds %d events with the id, want 1", len(evs))
	}
}
