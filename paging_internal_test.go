package opa

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

func ident(s string) string { return s }

// walk follows Next links from the first page (or Prev links from the last, when backward) and
// returns every item seen in order.
func walk(t *rapid.T, items []string, count int, desc, backward bool) []string {
	req := PageRequest{Count: count, Descending: desc, Prev: backward}
	var seen []string
	for pages := 0; ; pages++ {
		if pages > len(items)+2 {
			t.Fatalf("paging does not terminate")
		}
		p, err := paginate(items, ident, req)
		if err != nil {
			t.Fatal(err)
		}
		if backward {
			seen = append(slices.Clone(p.Items), seen...)
			if p.Prev == "" {
				return seen
			}
			req.Offset = p.Prev
		} else {
			seen = append(seen, p.Items...)
			if p.Next == "" {
				return seen
			}
			req.Offset = p.Next
		}
	}
}

func TestPaginateWalksEveryItemOnce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		items := rapid.SliceOfDistinct(rapid.StringMatching(`[a-f0-9]{1,4}`), ident).Draw(t, "items")
		count := rapid.IntRange(1, 7).Draw(t, "count")
		desc := rapid.Bool().Draw(t, "desc")
		backward := rapid.Bool().Draw(t, "backward")
		want := slices.Clone(items)
		slices.Sort(want)
		if desc {
			slices.Reverse(want)
		}
		got := walk(t, items, count, desc, backward)
		if !slices.Equal(got, want) {
			t.Fatalf("walk gave %v, want %v", got, want)
		}
	})
}

func TestPaginateDeletedOffset(t *testing.T) {
	items := []string{"a", "b", "d", "e"} // "c" was on the previous page and has been deleted
	p, err := paginate(items, ident, PageRequest{Count: 2, Offset: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Items, []string{"d", "e"}) || p.Next != "" || p.Prev != "d" {
		t.Fatalf("page after deleted offset = %+v", p)
	}
	p, err = paginate(items, ident, PageRequest{Count: 2, Offset: "c", Prev: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Items, []string{"a", "b"}) || p.Next != "b" || p.Prev != "" {
		t.Fatalf("page before deleted offset = %+v", p)
	}
}

func TestPaginateBadRequest(t *testing.T) {
	for _, req := range []PageRequest{{Count: -1}, {Count: MaxPageCount + 1}, {Offset: fmt.Sprintf("%0300d", 0)}} {
		if _, err := paginate([]string{"a"}, ident, req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: got %v, want invalid", req, err)
		}
	}
	p, err := paginate(nil, ident, PageRequest{})
	if err != nil || p.Items == nil || len(p.Items) != 0 || p.Next != "" || p.Prev != "" {
		t.Fatalf("empty list page = %+v, %v", p, err)
	}
}

// TestRangePageMatchesPaginate walks random pages of random lists (the accounts of a team, a
// connection or a project, with or without a filter no index serves) through rangePage, following the Next and Prev links it
// gives or jumping to random cursors (ids that exist, that were deleted, that never did), and
// compares every page with paginate over the whole filtered list, sorted (the reference).
func TestRangePageMatchesPaginate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		st := memstore.New()
		ids := rapid.SliceOfDistinct(rapid.StringMatching(`[a-f0-9]{1,3}`), ident).Draw(t, "ids")
		recs := make(map[string]*storage.Account, len(ids))
		err := st.Update(ctx, func(tx storage.WriteTx) error {
			for i, id := range ids {
				a := &storage.Account{ID: id, TeamID: fmt.Sprint("t", i%3/2), ConnectionID: fmt.Sprint("c", i%2), ProjectID: fmt.Sprint("p", i%3), SID: id,
					SAMAccountName: rapid.StringMatching(`[xyz]{0,3}`).Draw(t, "sam")}
				recs[id] = a
				if err := storage.Accounts.Insert(tx, a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for step := range rapid.IntRange(1, 12).Draw(t, "steps") {
			// The list: the accounts of a team, a connection or a project (some with none).
			lists := []struct {
				index storage.IndexName[storage.Account]
				key   string
				of    func(*storage.Account) string
			}{
				{storage.AccountsByTeam, "t0", func(a *storage.Account) string { return a.TeamID }},
				{storage.AccountsByTeam, "t1", func(a *storage.Account) string { return a.TeamID }},
				{storage.AccountsByConnection, "c0", func(a *storage.Account) string { return a.ConnectionID }},
				{storage.AccountsByConnection, "c2", func(a *storage.Account) string { return a.ConnectionID }},
				{storage.AccountsByProject, "p1", func(a *storage.Account) string { return a.ProjectID }},
			}
			list := lists[rapid.IntRange(0, len(lists)-1).Draw(t, "list")]
			conn := list.key
			sub := rapid.SampledFrom([]string{"", "x", "zz"}).Draw(t, "filter")
			keep := func(a *storage.Account) bool { return strings.Contains(a.SAMAccountName, sub) }
			var ref []string
			for _, a := range recs {
				if list.of(a) == conn && keep(a) {
					ref = append(ref, a.ID)
				}
			}
			src := pageSource[storage.Account]{table: storage.Accounts, index: list.index, args: []string{conn},
				in: func(a *storage.Account) bool { return list.of(a) == conn }, borrow: rapid.Bool().Draw(t, "borrow")}
			if sub != "" {
				src.keep = keep
			}
			req := PageRequest{Count: rapid.IntRange(0, 5).Draw(t, "count"), Descending: rapid.Bool().Draw(t, "desc"), Prev: rapid.Bool().Draw(t, "prev")}
			switch rapid.IntRange(0, 2).Draw(t, "cursor") {
			case 1:
				req.Offset = rapid.StringMatching(`[a-f0-9]{1,3}`).Draw(t, "offset")
			case 2:
				if len(ids) > 0 {
					req.Offset = rapid.SampledFrom(ids).Draw(t, "offset")
				}
			}
			for hop := 0; hop < 4; hop++ {
				want, err := paginate(ref, ident, req)
				if err != nil {
					t.Fatal(err)
				}
				var got Page[string]
				err = st.View(ctx, func(tx storage.ReadTx) error {
					got, err = rangePage(tx, src, req, func(a *storage.Account) string { return a.ID }, func(a *storage.Account) string { return a.ID })
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("step %d hop %d, %s filter %q, %+v (-paginate +rangePage):\n%s", step, hop, conn, sub, req, diff)
				}
				if got.Next != "" && (got.Prev == "" || rapid.Bool().Draw(t, "forward")) {
					req.Offset, req.Prev = got.Next, false
				} else if got.Prev != "" {
					req.Offset, req.Prev = got.Prev, true
				} else {
					break
				}
			}
			if len(ids) > 0 && rapid.Bool().Draw(t, "delete") { // a cursor may name a deleted record
				id := rapid.SampledFrom(ids).Draw(t, "deleted")
				if _, ok := recs[id]; ok {
					delete(recs, id)
					if err := st.Update(ctx, func(tx storage.WriteTx) error { return storage.Accounts.Delete(tx, id) }); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}
