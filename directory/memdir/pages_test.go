package memdir_test

import (
	"context"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/directory"
)

// searchOnly hides a directory's SearchPages, so directory.SearchPages takes its fallback.
type searchOnly struct{ directory.Directory }

// TestSearchPages: directory.SearchPages hands over exactly Search's entries, in order, in pages
// of at most the size asked for (memdir's own pages and the fallback that cuts Search's result
// alike, through a bind too); a page callback's error stops the search and comes back as is; a
// search error is Search's.
func TestSearchPages(t *testing.T) {
	ctx := context.Background()
	d, dn := smallDomain(t)
	req := directory.SearchRequest{BaseDN: dn["root"], Scope: directory.ScopeSubtree, Filter: "(objectClass=*)"}
	want, err := d.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 5 {
		t.Fatalf("the test domain has %d entries", len(want))
	}
	// The directory has no service account, so an anonymous bind is accepted.
	dirs := map[string]directory.Directory{"memdir": d, "bound": d.BindAs("", ""), "fallback": searchOnly{d}}
	for name, dir := range dirs {
		for _, size := range []int{0, 1, 2, 3, len(want), len(want) + 5} {
			var got []*directory.Entry
			calls := 0
			err := directory.SearchPages(ctx, dir, req, size, func(p []*directory.Entry) error {
				calls++
				if len(p) == 0 || size > 0 && len(p) > size {
					t.Errorf("%s size %d: a page of %d entries", name, size, len(p))
				}
				got = append(got, p...)
				return nil
			})
			if err != nil {
				t.Fatalf("%s size %d: %v", name, size, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%s size %d: pages differ from Search (-Search +pages):\n%s", name, size, diff)
			}
			wantCalls := 1
			if size > 0 {
				wantCalls = (len(want) + size - 1) / size
			}
			if calls != wantCalls {
				t.Errorf("%s size %d: %d pages, want %d", name, size, calls, wantCalls)
			}
		}
		stop := errors.New("enough")
		calls := 0
		err := directory.SearchPages(ctx, dir, req, 2, func([]*directory.Entry) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("%s: a failing page gave %v after %d calls, want the page's error after 1", name, err, calls)
		}
		bad := req
		bad.BaseDN = "OU=Nope," + dn["root"]
		err = directory.SearchPages(ctx, dir, bad, 2, func([]*directory.Entry) error {
			t.Errorf("%s: a page for a missing base DN", name)
			return nil
		})
		if !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%s: missing base: got %v, want not found", name, err)
		}
	}
	for name, dir := range map[string]directory.Directory{"memdir": d, "bound": d.BindAs("", "")} {
		if _, ok := dir.(directory.PageSearcher); !ok {
			t.Errorf("%s does not page its searches itself", name)
		}
	}
	err = directory.SearchPages(ctx, d.BindAs("svc", "wrong"), req, 2, func([]*directory.Entry) error {
		t.Error("a page through a refused bind")
		return nil
	})
	if !errors.Is(err, directory.ErrCredentials) {
		t.Errorf("a refused bind: got %v, want a credentials error", err)
	}
}
