package memstore

import (
	"slices"
	"strings"

	"github.com/opakit/opa/storage"
)

// overlay is a write transaction's own writes to the go-memdb tables: per table, per id, the
// record as the transaction left it, or nil where it deleted it. Reads merge it over the snapshot
// the transaction began on, so the transaction reads its own writes, and no go-memdb tree is
// written until the transaction commits.
type overlay map[string]map[string]any

// lookup returns the transaction's version of the record (nil if it deleted it) and whether the
// transaction wrote it at all.
func (o overlay) lookup(table, id string) (rec any, written bool) {
	rec, written = o[table][id]
	return rec, written
}

func (o overlay) set(table, id string, rec any) {
	t := o[table]
	if t == nil {
		t = map[string]any{}
		o[table] = t
	}
	t[id] = rec
}

// candidates returns the records of table the transaction wrote (and did not delete) that im
// holds under the normalized args (every one for "id" without args), past the cursor, in the
// range's order.
func (o overlay) candidates(table string, im *indexMeta, args []string, p *pager) []any {
	var out []any
	for id, rec := range o[table] {
		if rec == nil || !p.beyondAfter(id) {
			continue
		}
		switch {
		case im.Name == "id" && len(args) == 0:
		case im.Name == "id":
			if id != args[0] {
				continue
			}
		case !im.holds(rec, args):
			continue
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b any) int {
		c := strings.Compare(storage.RecordID(a), storage.RecordID(b))
		if p.q.Descending {
			c = -c
		}
		return c
	})
	return out
}
