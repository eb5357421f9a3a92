package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/storage"
)

// RunRange checks ReadTx.Range on a store open returns (empty each time) with fixed cases that the
// state machine's small tables do not reach: pages through tables of a few hundred records by
// every kind of index, ties within an index value, case folding, a multi-value index, an
// append-only table in insertion order, a filter that must stop with the page, a range inside a
// write transaction, and the errors.
func RunRange(t *testing.T, open func(t *testing.T) storage.Storage) {
	t.Run("pages", func(t *testing.T) { rangePages(t, open(t)) })
	t.Run("filter stops with the page", func(t *testing.T) { rangeFilter(t, open(t)) })
	t.Run("append-only", func(t *testing.T) { rangeLog(t, open(t)) })
	t.Run("inside a write transaction", func(t *testing.T) { rangeInWrite(t, open(t)) })
	t.Run("errors", func(t *testing.T) { rangeErrors(t, open(t)) })
}

// rangeUsers inserts n users: ids u000…, teams t0–t2 round robin, emails in mixed case shared by
// runs of 5, each in group g<i%4> and g-all.
func rangeUsers(t *testing.T, s storage.Storage, n int) []*storage.User {
	t.Helper()
	var all []*storage.User
	for start := 0; start < n; start += 100 {
		err := s.Update(ctx, func(tx storage.WriteTx) error {
			for i := start; i < min(start+100, n); i++ {
				// Ids are inserted out of order so that id order is not insertion order.
				j := (i * 37) % n
				u := &storage.User{ID: fmt.Sprintf("u%03d", j), TeamID: fmt.Sprintf("t%d", j%3),
					Username: fmt.Sprintf("user%d", j), Email: fmt.Sprintf("Mail%d@X.example", j/5),
					GroupIDs: []string{fmt.Sprintf("g%d", j%4), "g-all"}, Status: "ACTIVE",
					CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
				if err := storage.Users.Insert(tx, u); err != nil {
					return err
				}
				all = append(all, u)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(all, func(a, b *storage.User) int { return strings.Compare(a.ID, b.ID) })
	return all
}

func userIDsOf(us []*storage.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// walkPages reads r page by page (limit size) and returns every id in order.
func walkPages(t *testing.T, s storage.Storage, r storage.Range, size int) []string {
	t.Helper()
	r.Limit = size
	var out []string
	for range 1000 {
		var page []*storage.User
		err := s.View(ctx, func(tx storage.ReadTx) error {
			var err error
			page, err = storage.Users.Range(tx, storage.IndexName[storage.User](r.Index), r, nil)
			return err
		})
		if err != nil {
			t.Fatalf("Range %+v: %v", r, err)
		}
		out = append(out, userIDsOf(page)...)
		if len(page) < size {
			return out
		}
		r.After = page[len(page)-1].ID
	}
	t.Fatalf("Range %+v: no end after 1000 pages", r)
	return nil
}

func rangePages(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	all := rangeUsers(t, s, 300)
	where := func(f func(u *storage.User) bool) []string {
		var out []string
		for _, u := range all {
			if f(u) {
				out = append(out, u.ID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		r    storage.Range
		want []string
	}{
		{"whole table", storage.Range{Index: "id"}, where(func(*storage.User) bool { return true })},
		{"one id", storage.Range{Index: "id", Args: []string{"u042"}}, []string{"u042"}},
		{"team", storage.Range{Index: "team", Args: []string{"t1"}}, where(func(u *storage.User) bool { return u.TeamID == "t1" })},
		{"lowercase compound", storage.Range{Index: "email", Args: []string{"T2", "MAIL7@x.EXAMPLE"}},
			where(func(u *storage.User) bool { return u.TeamID == "t2" && u.Email == "Mail7@X.example" })},
		{"unique", storage.Range{Index: "username", Args: []string{"t0", "USER42"}}, []string{"u042"}},
		{"multi-value", storage.Range{Index: "group", Args: []string{"g1"}}, where(func(u *storage.User) bool { return u.GroupIDs[0] == "g1" })},
		{"multi-value, every record", storage.Range{Index: "group", Args: []string{"g-all"}}, where(func(*storage.User) bool { return true })},
		{"no such value", storage.Range{Index: "team", Args: []string{"t9"}}, nil},
		{"empty value", storage.Range{Index: "team", Args: []string{""}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{1, 7, 100, 1000} {
				got := walkPages(t, s, tc.r, size)
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Fatalf("ascending pages of %d (-want +got):\n%s", size, d)
				}
				r := tc.r
				r.Descending = true
				want := slices.Clone(tc.want)
				slices.Reverse(want)
				if d := cmp.Diff(want, walkPages(t, s, r, size)); d != "" {
					t.Fatalf("descending pages of %d (-want +got):\n%s", size, d)
				}
			}
			// A cursor that names no record pages on from where it would sit.
			if len(tc.want) > 2 {
				r := tc.r
				r.After = tc.want[1] + "~"
				if d := cmp.Diff(tc.want[2:], walkPages(t, s, r, 10)); d != "" {
					t.Fatalf("after a missing id (-want +got):\n%s", d)
				}
			}
		})
	}
}

func rangeFilter(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	all := rangeUsers(t, s, 200)
	var offered []string
	keep := func(u *storage.User) bool {
		offered = append(offered, u.ID)
		return u.ID[len(u.ID)-1] == '7' // one record in ten
	}
	var page []*storage.User
	err := s.View(ctx, func(tx storage.ReadTx) error {
		var err error
		page, err = storage.Users.Range(tx, storage.UsersByGroup, storage.Range{Args: []string{"g-all"}, After: "u020", Limit: 3}, keep)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"u027", "u037", "u047"}, userIDsOf(page)); d != "" {
		t.Fatalf("page (-want +got):\n%s", d)
	}
	var want []string
	for _, u := range all {
		if u.ID > "u020" && u.ID <= "u047" {
			want = append(want, u.ID)
		}
	}
	if d := cmp.Diff(want, offered); d != "" {
		t.Fatalf("records offered to the filter: only those from the cursor to the page's last (-want +got):\n%s", d)
	}
}

func rangeLog(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	// Inserted in an order unrelated to their ids, over several transactions.
	var order []string
	for batch := range 4 {
		err := s.Update(ctx, func(tx storage.WriteTx) error {
			for i := range 25 {
				n := batch*25 + i
				id := fmt.Sprintf("e%03d", (n*61)%100)
				ev := &storage.AuditEvent{ID: id, TeamID: fmt.Sprintf("t%d", n%2), ResourceID: "r",
					Action: "reveal", At: time.Unix(int64(1_700_000_000+n), 0).UTC()}
				if err := storage.AuditEvents.Insert(tx, ev); err != nil {
					return err
				}
				if n%2 == 1 {
					order = append(order, id)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	page := func(r storage.Range) ([]string, error) {
		var out []string
		err := s.View(ctx, func(tx storage.ReadTx) error {
			evs, err := storage.AuditEvents.Range(tx, storage.AuditEventsByTeam, r, nil)
			for _, ev := range evs {
				out = append(out, ev.ID)
			}
			return err
		})
		return out, err
	}
	var got []string
	r := storage.Range{Args: []string{"t1"}, Limit: 6}
	for {
		p, err := page(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p...)
		if len(p) < r.Limit {
			break
		}
		r.After = p[len(p)-1]
	}
	if d := cmp.Diff(order, got); d != "" {
		t.Fatalf("pages in insertion order (-want +got):\n%s", d)
	}
	// Descending from a cursor: the records inserted before it, newest first.
	back, err := page(storage.Range{Args: []string{"t1"}, After: order[10], Limit: 4, Descending: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{order[9], order[8], order[7], order[6]}
	if d := cmp.Diff(want, back); d != "" {
		t.Fatalf("descending (-want +got):\n%s", d)
	}
	// The cursor may be a record outside the index value: its position counts.
	if _, err := page(storage.Range{Args: []string{"t1"}, After: "e000"}); err != nil {
		t.Fatalf("cursor of the other team: %v", err)
	}
	if _, err := page(storage.Range{Args: []string{"t1"}, After: "no-such-event"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("cursor naming no event = %v, want an ErrNotFound error", err)
	}
}

func rangeInWrite(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	rangeUsers(t, s, 20)
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Users.Delete(tx, "u001"); err != nil {
			return err
		}
		if err := storage.Users.Insert(tx, &storage.User{ID: "u0015", TeamID: "t1", Username: "new"}); err != nil {
			return err
		}
		if err := storage.AuditEvents.Insert(tx, &storage.AuditEvent{ID: "ev", TeamID: "t1"}); err != nil {
			return err
		}
		us, err := storage.Users.Range(tx, storage.UsersByTeam, storage.Range{Args: []string{"t1"}, Limit: 3}, nil)
		if err != nil {
			return err
		}
		if d := cmp.Diff([]string{"u0015", "u004", "u007"}, userIDsOf(us)); d != "" {
			t.Errorf("range sees the transaction's writes (-want +got):\n%s", d)
		}
		evs, err := storage.AuditEvents.Range(tx, storage.AuditEventsByTeam, storage.Range{Args: []string{"t1"}, Descending: true}, nil)
		if err != nil {
			return err
		}
		if len(evs) != 1 || evs[0].ID != "ev" {
			t.Errorf("range of the log in its transaction = %v, want the pending event", evs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rangeErrors(t *testing.T, s storage.Storage) {
	defer func() { _ = s.Close() }()
	for _, tc := range []struct {
		name  string
		table string
		r     storage.Range
	}{
		{"unknown table", "no_such_table", storage.Range{Index: "id"}},
		{"unknown index", storage.Users.Name(), storage.Range{Index: "no_such_index"}},
		{"too few values", storage.Users.Name(), storage.Range{Index: "username", Args: []string{"t0"}}},
		{"too many values", storage.Users.Name(), storage.Range{Index: "team", Args: []string{"t0", "x"}}},
		{"no values for a secondary index", storage.Users.Name(), storage.Range{Index: "team"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.View(ctx, func(tx storage.ReadTx) error {
				_, err := tx.Range(tc.table, tc.r, nil)
				return err
			})
			if !errors.HasAssertionFailure(err) {
				t.Fatalf("Range = %v, want an assertion failure", err)
			}
		})
	}
}
