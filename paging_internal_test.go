package opa

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"
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
