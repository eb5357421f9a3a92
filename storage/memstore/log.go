package memstore

import (
	"sort"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// appendLog holds an append-only table (storage.TableSchema.AppendOnly) outside go-memdb: its
// records in insertion order and, per index, the positions of the records under each key.
//
// go-memdb copies the radix-tree path of every index on every insert, so an insert into a table
// of a million events costs several times one into an empty table; an append here costs a slice
// append and two map updates whatever the length. A snapshot of a log is its length: a record
// below a published length never changes, and positions only grow, so a reader that stops at
// its snapshot's length sees exactly the records committed before it, however far writers have
// gone since.
//
// mu guards the slice headers and the maps. Writers append only at Commit, holding the Core's
// writer lock as well; readers hold mu for reading just long enough to collect pointers.
type appendLog struct {
	ts   *storage.TableSchema
	mu   sync.RWMutex
	recs []any              // stored copies, in insertion order; never changed once appended
	ids  map[string]int     // id -> position
	keys []map[string][]int // per ts.Indexes entry: key -> ascending positions
}

func newAppendLog(ts *storage.TableSchema) *appendLog {
	l := &appendLog{ts: ts, ids: map[string]int{}}
	for range ts.Indexes {
		l.keys = append(l.keys, map[string][]int{})
	}
	return l
}

// length returns the number of committed records.
func (l *appendLog) length() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.recs)
}

// get returns the stored record with id among the first n, or nil.
func (l *appendLog) get(id string, n int) any {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if pos, ok := l.ids[id]; ok && pos < n {
		return l.recs[pos]
	}
	return nil
}

// list returns the stored records among the first n that hold key in index i (i < 0: all of
// them), in insertion order.
func (l *appendLog) list(i int, key string, n int) []any {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if i < 0 {
		return append([]any(nil), l.recs[:n]...)
	}
	var out []any
	for _, pos := range l.keys[i][key] {
		if pos >= n {
			break
		}
		out = append(out, l.recs[pos])
	}
	return out
}

// view returns the first n records and the positions among them that index im holds args under,
// or all=true when every position counts (im is "id"). The slices are the log's own: their
// elements never change, and the caller reads them without the lock.
func (l *appendLog) view(im *indexMeta, args []string, n int) (recs []any, positions []int, all bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	recs = l.recs[:n]
	if im.Name == "id" {
		return recs, nil, true
	}
	key := strings.Join(args, "\x00")
	if im.Lowercase {
		key = strings.ToLower(key)
	}
	for i, x := range l.ts.Indexes {
		if x.Name == im.Name {
			pos := l.keys[i][key]
			positions = pos[:sort.SearchInts(pos, n)]
		}
	}
	return recs, positions, false
}

// position returns the position of the record id among the first n.
func (l *appendLog) position(id string, n int) (int, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	pos, ok := l.ids[id]
	return pos, ok && pos < n
}

// add appends stored records. The caller holds the Core's writer lock.
func (l *appendLog) add(recs []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, rec := range recs {
		pos := len(l.recs)
		l.recs = append(l.recs, rec)
		l.ids[storage.RecordID(rec)] = pos
		for i, ix := range l.ts.Indexes {
			for _, k := range logKeys(rec, ix) {
				l.keys[i][k] = append(l.keys[i][k], pos)
			}
		}
	}
}

// logKeys returns the keys rec holds in ix: its index tuples, each joined with NUL.
func logKeys(rec any, ix storage.Index) []string {
	tuples := storage.IndexValues(rec, ix)
	out := make([]string, len(tuples))
	for i, t := range tuples {
		out[i] = strings.Join(t, "\x00")
	}
	return out
}

// logPending is a write transaction's inserts into one log, not yet committed.
type logPending struct {
	recs []any
	ids  map[string]struct{} // built once recs is longer than a few (a replayed batch)
}

func (p *logPending) has(id string) bool {
	if p.ids != nil {
		_, ok := p.ids[id]
		return ok
	}
	for _, r := range p.recs {
		if storage.RecordID(r) == id {
			return true
		}
	}
	return false
}

func (p *logPending) add(rec any, id string) {
	p.recs = append(p.recs, rec)
	switch {
	case p.ids != nil:
		p.ids[id] = struct{}{}
	case len(p.recs) > 8:
		p.ids = make(map[string]struct{}, 2*len(p.recs))
		for _, r := range p.recs {
			p.ids[storage.RecordID(r)] = struct{}{}
		}
	}
}

// logFor returns the append-only log of table, or nil if table is not append-only.
func (c *Core) logFor(table string) (int, *appendLog) {
	i, ok := c.logIndex[table]
	if !ok {
		return -1, nil
	}
	return i, c.logs[i]
}

// logGet serves Get on an append-only table.
func (r *readTx) logGet(li int, l *appendLog, table, id string, out func(any) any) (any, error) {
	rec := l.get(id, r.lens[li])
	if rec == nil && li < len(r.pend) && r.pend[li] != nil {
		if r.pend[li].has(id) {
			for _, p := range r.pend[li].recs {
				if storage.RecordID(p) == id {
					rec = p
				}
			}
		}
	}
	if rec == nil {
		return nil, errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	return out(rec), nil
}

func logMatches(rec any, ix storage.Index, args []string) bool {
	if ix.Name == "id" {
		return len(args) == 0 || storage.RecordID(rec) == args[0]
	}
	key := strings.Join(args, "\x00")
	if ix.Lowercase {
		key = strings.ToLower(key)
	}
	for _, k := range logKeys(rec, ix) {
		if k == key {
			return true
		}
	}
	return false
}

// logInsert serves Insert on an append-only table.
func (w *WriteTxn) logInsert(li int, l *appendLog, table string, rec any) error {
	id := storage.RecordID(rec)
	w.read(w.core.recordKey(table, id))
	p := w.pend[li]
	if p == nil {
		p = &logPending{}
		w.pend[li] = p
	}
	if p.has(id) || l.get(id, w.lens[li]) != nil {
		return errclass.Tag(errors.Newf("%s %q already exists", table, id), storage.ErrConflict)
	}
	c := deepCopy(rec)
	p.add(c, id)
	w.ops = append(w.ops, Op{Kind: OpInsert, Table: table, ID: id, Rec: c})
	return nil
}

func errAppendOnly(table, op string) error {
	return errors.AssertionFailedf("memstore: %s of the append-only table %s", op, table)
}
