package storagetest

import (
	"fmt"
	"slices"

	"github.com/cockroachdb/errors"
	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
)

// rangeCase is one generated ReadTx.Range call: a table, an index with its values, a cursor, a
// limit, a direction and an optional filter (keep the records whose id is in keepIDs).
type rangeCase struct {
	table   *tableSpec
	ix      *indexSpec
	r       storage.Range
	filter  bool
	keepIDs map[string]bool
}

// cursors are the After values drawn: none, every id, and ids between and around them, which name
// no record (an ordinary table compares them; an append-only one must refuse them).
var cursors = []string{"", "a", "b", "c", "d", "e", "0", "bb", "z"}

func drawRange(t *rapid.T) rangeCase {
	ts := drawTable(t)
	ix := ts.indexes[rapid.IntRange(0, len(ts.indexes)-1).Draw(t, "range index")]
	c := rangeCase{table: ts, ix: ix}
	c.r.Index = ix.name
	if ix.name != "id" || rapid.Bool().Draw(t, "one id") {
		c.r.Args = ix.args(t)
	}
	c.r.After = rapid.SampledFrom(cursors).Draw(t, "after")
	c.r.Limit = rapid.IntRange(0, 4).Draw(t, "limit")
	c.r.Descending = rapid.Bool().Draw(t, "descending")
	if c.filter = rapid.Bool().Draw(t, "filter"); c.filter {
		c.keepIDs = map[string]bool{}
		for _, id := range ids {
			c.keepIDs[id] = rapid.Bool().Draw(t, "keep "+id)
		}
	}
	return c
}

// expect returns the page the model gives for c and the ids of the records the scan must offer to
// the filter, in order: every record from the cursor on until the page is full. It returns an
// ErrNotFound error when an append-only table has no record named c.r.After.
func (mod *model) expect(c rangeCase) (page []any, offered []string, err error) {
	all := mod.list(c.table, c.ix, c.r.Args)
	if c.r.Descending {
		all = slices.Clone(all)
		slices.Reverse(all)
	}
	beyond := func(rec any) bool { // rec comes after the cursor
		id := storage.RecordID(rec)
		switch {
		case c.r.After == "":
			return true
		case c.table.log:
			return false // decided by position below
		case c.r.Descending:
			return id < c.r.After
		default:
			return id > c.r.After
		}
	}
	if c.table.log && c.r.After != "" {
		order := mod.order[c.table.name]
		cur := slices.Index(order, c.r.After)
		if cur < 0 {
			return nil, nil, storage.ErrNotFound
		}
		pos := map[string]int{}
		for i, id := range order {
			pos[id] = i
		}
		beyond = func(rec any) bool {
			p := pos[storage.RecordID(rec)]
			return (c.r.Descending && p < cur) || (!c.r.Descending && p > cur)
		}
	}
	for _, rec := range all {
		if c.r.Limit > 0 && len(page) == c.r.Limit {
			break
		}
		if !beyond(rec) {
			continue
		}
		id := storage.RecordID(rec)
		offered = append(offered, id)
		if !c.filter || c.keepIDs[id] {
			page = append(page, rec)
		}
	}
	return page, offered, nil
}

// keep returns c's filter (nil without one) and the ids it was offered.
func (c rangeCase) keep(t *rapid.T) (func(any) bool, *[]string) {
	var offered []string
	if !c.filter {
		return nil, &offered
	}
	return func(rec any) bool {
		if rec == nil {
			t.Fatalf("Range %s offered a nil record to the filter", c)
		}
		offered = append(offered, storage.RecordID(rec))
		return c.keepIDs[storage.RecordID(rec)]
	}, &offered
}

func (c rangeCase) String() string {
	return fmt.Sprintf("%s.%s args=%q after=%q limit=%d descending=%v filter=%v", c.table.name, c.ix.name,
		c.r.Args, c.r.After, c.r.Limit, c.r.Descending, c.keepIDs)
}

// checkRange runs c in tx (typed as storage.ReadTx) and compares page and filter calls with mod.
func (m *machine) checkRange(t *rapid.T, tx storage.ReadTx, mod *model, c rangeCase) []any {
	want, wantOffered, wantErr := mod.expect(c)
	keep, offered := c.keep(t)
	got, err := tx.Range(c.table.name, c.r, keep)
	if wantErr != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Range %s = %v, %v; want an ErrNotFound error", c, got, err)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("Range %s: %v", c, err)
	}
	if d := diff(want, got); d != "" {
		t.Fatalf("Range %s (-want +got):\n%s", c, d)
	}
	if c.filter {
		if d := diff(wantOffered, *offered); d != "" {
			t.Fatalf("Range %s offered the filter other records (-want +got):\n%s", c, d)
		}
	}
	if l, ok := tx.(storage.Lender); ok {
		keep, _ := c.keep(t)
		lent, err := l.LendRange(c.table.name, c.r, keep)
		if err != nil {
			t.Fatalf("LendRange %s: %v", c, err)
		}
		if d := diff(want, lent); d != "" {
			t.Fatalf("LendRange %s (-want +got):\n%s", c, d)
		}
	}
	for _, rec := range got {
		scribble(rec) // a returned copy is the caller's own
	}
	return want
}

// rangeRead checks one random Range in a read transaction.
func (m *machine) rangeRead(t *rapid.T) {
	c := drawRange(t)
	err := m.s.View(ctx, func(tx storage.ReadTx) error {
		m.checkRange(t, tx, m.model, c)
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// walk pages through one random range from its start, each page after the last record of the one
// before, until a page comes back short; between pages it sometimes deletes the record the next
// page starts after (paging must go on past a deleted cursor) or writes something else.
func (m *machine) walk(t *rapid.T) {
	c := drawRange(t)
	c.r.After = ""
	c.r.Limit = rapid.IntRange(1, 3).Draw(t, "page size")
	for pages := 0; pages <= len(ids)+2; pages++ {
		var page []any
		err := m.s.View(ctx, func(tx storage.ReadTx) error {
			page = m.checkRange(t, tx, m.model, c)
			return nil
		})
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		if len(page) < c.r.Limit {
			return
		}
		c.r.After = storage.RecordID(page[len(page)-1])
		switch rapid.IntRange(0, 3).Draw(t, "between pages") {
		case 0:
			if !c.table.log {
				m.commit(t, []write{{kind: "delete", table: c.table, id: c.r.After}})
			}
		case 1:
			m.commit(t, []write{drawWrite(t, "")})
		}
	}
	t.Fatalf("walk of %s did not end after %d pages", c, len(ids)+3)
}
