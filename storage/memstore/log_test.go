package memstore

import (
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/storage"
)

func event(id, team, resource string) *storage.AuditEvent {
	return &storage.AuditEvent{ID: id, TeamID: team, ResourceID: resource, Action: "reveal_password"}
}

func eventIDs(evs []*storage.AuditEvent) []string {
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

// TestAppendOnlyTable drives an append-only table through the Storage interface: insertion order,
// index lookups, read-your-writes, rollback, conflicts and the refusal of updates and deletes.
func TestAppendOnlyTable(t *testing.T) {
	s := New()
	// Ids out of order, so insertion order and id order differ.
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		for _, ev := range []*storage.AuditEvent{event("e3", "t1", "r1"), event("e1", "t1", "r2"), event("e2", "t2", "r1")} {
			if err := storage.AuditEvents.Insert(tx, ev); err != nil {
				return err
			}
		}
		// The transaction reads its own inserts.
		got, err := storage.AuditEvents.List(tx, storage.AuditEventsByResource, "r1")
		if diff := cmp.Diff([]string{"e3", "e2"}, eventIDs(got)); diff != "" || err != nil {
			t.Errorf("in-transaction list (-want +got):\n%s %v", diff, err)
		}
		if _, err := storage.AuditEvents.Get(tx, "e1"); err != nil {
			t.Errorf("in-transaction get: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.AuditEvents.Insert(tx, event("e4", "t1", "r1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled-back update = %v", err)
	}
	err = s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.AuditEvents.Insert(tx, event("e1", "t1", "r1")); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("insert of a committed id = %v, want ErrConflict", err)
		}
		if err := storage.AuditEvents.Insert(tx, event("e5", "t1", "r1")); err != nil {
			return err
		}
		if err := storage.AuditEvents.Insert(tx, event("e5", "t1", "r1")); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("insert of an id inserted earlier in the transaction = %v, want ErrConflict", err)
		}
		if err := storage.AuditEvents.Update(tx, event("e1", "t1", "changed")); err == nil || !errors.HasAssertionFailure(err) {
			t.Errorf("update of an append-only table = %v, want an assertion failure", err)
		}
		if err := storage.AuditEvents.Delete(tx, "e1"); err == nil || !errors.HasAssertionFailure(err) {
			t.Errorf("delete of an append-only table = %v, want an assertion failure", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		for _, c := range []struct {
			index storage.IndexName[storage.AuditEvent]
			arg   string
			want  []string
		}{
			{"id", "", []string{"e3", "e1", "e2", "e5"}},
			{"id", "e2", []string{"e2"}},
			{"id", "e4", nil},
			{storage.AuditEventsByTeam, "t1", []string{"e3", "e1", "e5"}},
			{storage.AuditEventsByResource, "r1", []string{"e3", "e2", "e5"}},
			{storage.AuditEventsByResource, "nope", nil},
		} {
			var got []*storage.AuditEvent
			var err error
			if c.index == "id" && c.arg == "" {
				got, err = storage.AuditEvents.All(tx)
			} else {
				got, err = storage.AuditEvents.List(tx, c.index, c.arg)
			}
			if diff := cmp.Diff(c.want, eventIDs(got)); diff != "" || err != nil {
				t.Errorf("List(%s, %q) (-want +got):\n%s %v", c.index, c.arg, diff, err)
			}
		}
		if _, err := storage.AuditEvents.Get(tx, "e4"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("get of a rolled-back event = %v, want ErrNotFound", err)
		}
		got, err := storage.AuditEvents.Get(tx, "e2")
		if err != nil {
			return err
		}
		got.ResourceID = "scribbled" // a copy: the stored event stays
		again, err := storage.AuditEvents.Get(tx, "e2")
		if err == nil && again.ResourceID != "r1" {
			t.Errorf("changing a returned event changed the stored one: %+v", again)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAppendOnlyPublish: a committed but unpublished append is invisible to readers, and a reader
// keeps its snapshot while later appends are published.
func TestAppendOnlyPublish(t *testing.T) {
	c, err := NewCore()
	if err != nil {
		t.Fatal(err)
	}
	w := c.Begin()
	if err := storage.AuditEvents.Insert(w, event("a", "t", "r")); err != nil {
		t.Fatal(err)
	}
	c.Publish(w.Commit())
	old := c.Read()
	w = c.Begin()
	if err := storage.AuditEvents.Insert(w, event("b", "t", "r")); err != nil {
		t.Fatal(err)
	}
	snap := w.Commit()
	for _, rt := range []storage.ReadTx{old, c.Read()} {
		if got, err := storage.AuditEvents.List(rt, storage.AuditEventsByTeam, "t"); err != nil || len(got) != 1 {
			t.Fatalf("before publishing: %v %v", eventIDs(got), err)
		}
		if _, err := storage.AuditEvents.Get(rt, "b"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unpublished event is visible: %v", err)
		}
	}
	c.Publish(snap)
	if got, _ := storage.AuditEvents.List(c.Read(), "team", "t"); len(got) != 2 {
		t.Errorf("after publishing: %v", eventIDs(got))
	}
	if got, _ := storage.AuditEvents.All(old); len(got) != 1 {
		t.Errorf("an older reader sees later appends: %v", eventIDs(got))
	}
	var each []string
	if err := c.Each(func(table string, rec any) error {
		if table == storage.AuditEvents.Name() {
			each = append(each, storage.RecordID(rec))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, each); diff != "" {
		t.Errorf("Each (-want +got):\n%s", diff)
	}
}

// TestAppendOnlyConcurrentReaders runs readers against a writer that keeps appending (meant for
// -race): every reader sees a prefix of the insertion sequence, never a gap or a torn record.
func TestAppendOnlyConcurrentReaders(t *testing.T) {
	s := New()
	const n = 2000
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				err := s.View(ctx, func(tx storage.ReadTx) error {
					all, err := storage.AuditEvents.All(tx)
					if err != nil {
						return err
					}
					byTeam, err := storage.AuditEvents.List(tx, storage.AuditEventsByTeam, "t")
					if err != nil {
						return err
					}
					if len(byTeam) != len(all) {
						return fmt.Errorf("team index has %d events, the log %d", len(byTeam), len(all))
					}
					for j, ev := range all {
						if ev.ID != fmt.Sprintf("e%05d", j) || byTeam[j].ID != ev.ID {
							return fmt.Errorf("event %d is %q", j, ev.ID)
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if err := s.Update(ctx, func(tx storage.WriteTx) error {
			return storage.AuditEvents.Insert(tx, event(fmt.Sprintf("e%05d", i), "t", "r"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// TestDeepCopyShapes covers the shapes the copy plan handles, records or not: nested slices,
// maps of slices, pointers, arrays of slices, nil and empty values.
func TestDeepCopyShapes(t *testing.T) {
	type inner struct {
		Tags []string
		N    int
	}
	type shape struct {
		ID     string
		Nested [][]string
		Maps   map[string][]string
		Ptr    *inner
		Arr    [2][]int
		Items  []inner
		Nil    []string
		Empty  []string
		NilMap map[string]string
		NilPtr *inner
	}
	src := &shape{ID: "x", Nested: [][]string{{"a"}, nil}, Maps: map[string][]string{"k": {"v"}},
		Ptr: &inner{Tags: []string{"p"}, N: 1}, Arr: [2][]int{{1}, {2}}, Items: []inner{{Tags: []string{"i"}}},
		Empty: []string{}}
	got := deepCopy(src).(*shape)
	if diff := cmp.Diff(src, got); diff != "" {
		t.Fatalf("copy differs (-src +copy):\n%s", diff)
	}
	got.Nested[0][0], got.Maps["k"][0], got.Ptr.Tags[0], got.Arr[0][0], got.Items[0].Tags[0] = "z", "z", "z", 9, "z"
	got.Ptr.N = 7
	want := &shape{ID: "x", Nested: [][]string{{"a"}, nil}, Maps: map[string][]string{"k": {"v"}},
		Ptr: &inner{Tags: []string{"p"}, N: 1}, Arr: [2][]int{{1}, {2}}, Items: []inner{{Tags: []string{"i"}}},
		Empty: []string{}}
	if diff := cmp.Diff(want, src); diff != "" {
		t.Errorf("changing the copy changed the source (-want +got):\n%s", diff)
	}
	if got.Nil != nil || got.NilMap != nil || got.NilPtr != nil || got.Empty == nil {
		t.Errorf("nil and empty values not kept: %+v", got)
	}
}

// TestBorrow: Borrow and BorrowList hand out the stored records (equal to Get's copies, the same
// pointer each time) and see the transaction's own writes.
func TestBorrow(t *testing.T) {
	s := New()
	u := &storage.User{ID: "u1", TeamID: "t", Username: "alice", GroupIDs: []string{"g1"}}
	if err := insertUser(s, u); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.AuditEvents.Insert(tx, event("e1", "t", "u1")); err != nil {
			return err
		}
		b1, err := storage.Users.Borrow(tx, "u1")
		if err != nil {
			return err
		}
		b2, _ := storage.Users.Borrow(tx, "u1")
		got, _ := storage.Users.Get(tx, "u1")
		if b1 != b2 || b1 == got {
			t.Errorf("Borrow copies: %p %p (Get %p)", b1, b2, got)
		}
		if diff := cmp.Diff(got, b1); diff != "" {
			t.Errorf("borrowed user (-get +borrow):\n%s", diff)
		}
		list, err := storage.Users.BorrowList(tx, storage.UsersByGroup, "g1")
		if err != nil || len(list) != 1 || list[0] != b1 {
			t.Errorf("BorrowList = %v, %v", list, err)
		}
		evs, err := storage.AuditEvents.BorrowList(tx, storage.AuditEventsByTeam, "t")
		if err != nil || len(evs) != 1 || evs[0].ID != "e1" {
			t.Errorf("BorrowList of the log in its own transaction = %v, %v", evs, err)
		}
		if _, err := storage.Users.Borrow(tx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Borrow of a missing record = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A write stores a new copy, so what was borrowed before it does not change.
	var before *storage.User
	_ = s.View(ctx, func(tx storage.ReadTx) error { before, _ = storage.Users.Borrow(tx, "u1"); return nil })
	if err := s.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Users.Update(tx, &storage.User{ID: "u1", TeamID: "t", Username: "bob"})
	}); err != nil {
		t.Fatal(err)
	}
	if before.Username != "alice" || len(before.GroupIDs) != 1 {
		t.Errorf("a borrowed record changed under a later write: %+v", before)
	}
}

// TestAppendOnlyLargeTransaction: duplicate ids are refused however many events a transaction
// inserts (a replayed snapshot batch inserts thousands).
func TestAppendOnlyLargeTransaction(t *testing.T) {
	s := New()
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		for i := range 50 {
			if err := storage.AuditEvents.Insert(tx, event(fmt.Sprint("e", i), "t", "r")); err != nil {
				return err
			}
		}
		for _, id := range []string{"e0", "e7", "e49"} {
			if err := storage.AuditEvents.Insert(tx, event(id, "t", "r")); !errors.Is(err, storage.ErrConflict) {
				t.Errorf("duplicate %s in a large transaction = %v, want ErrConflict", id, err)
			}
			if _, err := storage.AuditEvents.Get(tx, id); err != nil {
				t.Errorf("Get(%s) inside the transaction: %v", id, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx storage.ReadTx) error {
		if evs, _ := storage.AuditEvents.List(tx, storage.AuditEventsByResource, "r"); len(evs) != 50 {
			t.Errorf("%d events, want 50", len(evs))
		}
		return nil
	})
}

// TestConcurrentWritersMixed runs writers that append only to a log alongside writers that also
// change go-memdb (meant for -race): every commit is kept.
func TestConcurrentWritersMixed(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				err := s.Update(ctx, func(tx storage.WriteTx) error {
					if g%2 == 0 {
						if err := storage.Teams.Insert(tx, &storage.Team{ID: fmt.Sprint("t", g, "-", i), Name: fmt.Sprint("n", g, "-", i)}); err != nil {
							return err
						}
					}
					return storage.AuditEvents.Insert(tx, event(fmt.Sprint("e", g, "-", i), "t", "r"))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = s.View(ctx, func(tx storage.ReadTx) error {
		evs, _ := storage.AuditEvents.All(tx)
		teams, _ := storage.Teams.All(tx)
		if len(evs) != 400 || len(teams) != 200 {
			t.Errorf("%d events and %d teams, want 400 and 200", len(evs), len(teams))
		}
		return nil
	})
}
