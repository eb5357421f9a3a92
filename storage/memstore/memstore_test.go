package memstore

import (
	"context"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/storage"
)

var ctx = context.Background()

func insertUser(s *Store, u *storage.User) error {
	return s.Update(ctx, func(tx storage.WriteTx) error { return storage.Users.Insert(tx, u) })
}

func TestCopiesAreIndependent(t *testing.T) {
	s := New()
	u := &storage.User{ID: "u1", TeamID: "t", Username: "alice", GroupIDs: []string{"g1"},
		Roles: []storage.RoleGrant{{Role: "pam_admin"}}}
	if err := insertUser(s, u); err != nil {
		t.Fatal(err)
	}
	// Changing the caller's record after the insert does not change the stored one.
	u.GroupIDs[0], u.Roles[0].Role, u.Username = "changed", "changed", "changed"
	want := &storage.User{ID: "u1", TeamID: "t", Username: "alice", GroupIDs: []string{"g1"},
		Roles: []storage.RoleGrant{{Role: "pam_admin"}}}
	err := s.View(ctx, func(tx storage.ReadTx) error {
		got, err := storage.Users.Get(tx, "u1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored user (-want +got):\n%s", diff)
		}
		// Changing a returned record does not change the stored one either.
		got.GroupIDs[0] = "scribbled"
		list, err := storage.Users.List(tx, storage.UsersByGroup, "g1")
		if err != nil {
			return err
		}
		list[0].Roles[0].Role = "scribbled"
		again, err := storage.Users.Get(tx, "u1")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, again); diff != "" {
			t.Errorf("user after changing returned copies (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUniqueConflicts(t *testing.T) {
	s := New()
	if err := insertUser(s, &storage.User{ID: "u1", TeamID: "t", Username: "Alice"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(tx storage.WriteTx) error
	}{
		{"same id", func(tx storage.WriteTx) error {
			return storage.Users.Insert(tx, &storage.User{ID: "u1", TeamID: "t", Username: "bob"})
		}},
		{"same username other case", func(tx storage.WriteTx) error {
			return storage.Users.Insert(tx, &storage.User{ID: "u2", TeamID: "t", Username: "ALICE"})
		}},
		{"update onto a taken username", func(tx storage.WriteTx) error {
			if err := storage.Users.Insert(tx, &storage.User{ID: "u3", TeamID: "t", Username: "carol"}); err != nil {
				return err
			}
			return storage.Users.Update(tx, &storage.User{ID: "u3", TeamID: "t", Username: "alice"})
		}},
		{"second active checkout", func(tx storage.WriteTx) error {
			if err := storage.Checkouts.Insert(tx, &storage.Checkout{ID: "c1", ResourceID: "r", ActiveResourceID: "r"}); err != nil {
				return err
			}
			return storage.Checkouts.Insert(tx, &storage.Checkout{ID: "c2", ResourceID: "r", ActiveResourceID: "r"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, tc.fn)
			if !errors.Is(err, storage.ErrConflict) {
				t.Fatalf("Update = %v, want ErrConflict", err)
			}
		})
	}
	// The same username in another team, and inactive checkouts of one resource, are fine.
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Users.Insert(tx, &storage.User{ID: "u4", TeamID: "other", Username: "alice"}); err != nil {
			return err
		}
		if err := storage.Checkouts.Insert(tx, &storage.Checkout{ID: "c3", ResourceID: "r"}); err != nil {
			return err
		}
		return storage.Checkouts.Insert(tx, &storage.Checkout{ID: "c4", ResourceID: "r"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNotFound(t *testing.T) {
	s := New()
	err := s.View(ctx, func(tx storage.ReadTx) error {
		if _, err := storage.Teams.Get(tx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get = %v, want ErrNotFound", err)
		}
		if _, err := storage.Users.First(tx, storage.UsersByUsername, "t", "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("First = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func(tx storage.WriteTx) error{
		"update": func(tx storage.WriteTx) error { return storage.Teams.Update(tx, &storage.Team{ID: "nope"}) },
		"delete": func(tx storage.WriteTx) error { return storage.Teams.Delete(tx, "nope") },
	} {
		if err := s.Update(ctx, fn); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", name, err)
		}
	}
}

func TestFailedTransactionLeavesNoTrace(t *testing.T) {
	s := New()
	if err := s.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Teams.Insert(tx, &storage.Team{ID: "keep", Name: "keep"})
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Teams.Insert(tx, &storage.Team{ID: "new", Name: "new"}); err != nil {
			return err
		}
		if err := storage.Teams.Delete(tx, "keep"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	err = s.View(ctx, func(tx storage.ReadTx) error {
		all, err := storage.Teams.All(tx)
		if err != nil {
			return err
		}
		if len(all) != 1 || all[0].ID != "keep" {
			t.Errorf("teams = %+v, want only keep", all)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClosedStore(t *testing.T) {
	s := New()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.View(ctx, func(storage.ReadTx) error { return nil }); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("View = %v, want ErrUnavailable", err)
	}
	if err := s.Update(ctx, func(storage.WriteTx) error { return nil }); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Update = %v, want ErrUnavailable", err)
	}
}

func TestCorePublish(t *testing.T) {
	c, err := NewCore()
	if err != nil {
		t.Fatal(err)
	}
	w := c.Begin()
	if err := storage.Teams.Insert(w, &storage.Team{ID: "a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := w.Ops(); len(got) != 1 || got[0].Kind != OpInsert || got[0].ID != "a" {
		t.Fatalf("Ops = %+v", got)
	}
	snap := w.Commit()
	if _, err := storage.Teams.Get(c.Read(), "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("committed but unpublished record is visible: %v", err)
	}
	c.Publish(snap)
	if _, err := storage.Teams.Get(c.Read(), "a"); err != nil {
		t.Fatalf("published record: %v", err)
	}
	n := 0
	if err := c.Each(func(string, any) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("Each saw %d records, %v", n, err)
	}
}
