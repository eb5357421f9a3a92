package memstore

import (
	"sort"

	"github.com/cockroachdb/errors"
	"github.com/hashicorp/go-memdb"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// Range implements storage.ReadTx.Range: an index seek, then one page.
//
// Cost: O(log N + k), k the records the scan reaches. A secondary key is (values, id), so the
// page after id x under values v starts at the key (v, x): go-memdb's LowerBound (ReverseLowerBound
// when descending) seeks there, and the scan stops at the first record outside v or when the
// page is full.
func (r *readTx) Range(table string, q storage.Range, keep func(any) bool) ([]any, error) {
	return r.rangeOf(table, q, keep, deepCopy)
}

// LendRange is Range without the copies.
func (r *readTx) LendRange(table string, q storage.Range, keep func(any) bool) ([]any, error) {
	return r.rangeOf(table, q, keep, lend)
}

func (r *readTx) rangeOf(table string, q storage.Range, keep func(any) bool, out func(any) any) ([]any, error) {
	tm, im, err := r.core.index(table, q.Index, q.Args)
	if err != nil {
		return nil, err
	}
	r.read(r.core.listKey(im, table, q.Args))
	p := pager{q: q, keep: keep, out: out}
	if tm.log >= 0 {
		return r.logRange(tm, im, &p)
	}
	if q.Index == "id" && len(q.Args) == 1 {
		obj, written := r.ov.lookup(table, q.Args[0])
		if !written {
			if obj, err = r.txn.First(table, "id", q.Args[0]); err != nil {
				return nil, errors.Wrapf(err, "memstore: range %s", table)
			}
		}
		if obj != nil && p.beyondAfter(storage.RecordID(obj)) {
			p.offer(obj)
		}
		return p.page, nil
	}
	prefix, args, ok := im.argsKey(q.Args)
	if !ok {
		return nil, nil
	}
	it, bounded, err := r.seek(table, q, prefix)
	if err != nil {
		return nil, errors.Wrapf(err, "memstore: range %s by %s", table, q.Index)
	}
	// A write transaction's own records that belong to the range are merged in, in order; the
	// snapshot's records it wrote are left out (their new version, if any, is among them).
	var mine []any
	if r.ov != nil {
		mine = r.ov.candidates(table, im, args, &p)
	}
	// last is the id of the last record the scan reached inside the range. A seek without a
	// prefix runs past the range's end, into the keys of other values: the range has ended at the
	// first record that does not hold args or, in a multi-value index (where one record sits
	// under several keys), whose id does not go on past last (its key under args was reached
	// before, so the scan is under another value).
	last := q.After
	for obj := it.Next(); obj != nil && !p.full(); obj = it.Next() {
		id := storage.RecordID(obj)
		if q.After != "" && id == q.After {
			continue // the cursor's own record, when it still exists
		}
		if !bounded {
			if !im.holds(obj, args) || (last != "" && !p.beyondOf(id, last)) {
				break
			}
			last = id
		}
		for len(mine) > 0 && !p.full() && p.beyondOf(id, storage.RecordID(mine[0])) {
			p.offer(mine[0])
			mine = mine[1:]
		}
		if _, written := r.ov.lookup(table, id); !written && !p.full() {
			p.offer(obj)
		}
	}
	for len(mine) > 0 && !p.full() {
		p.offer(mine[0])
		mine = mine[1:]
	}
	return p.page, nil
}

// seek returns an iterator at the start of q's range. bounded reports that it stops at the end of
// the range by itself (a prefix iterator); otherwise it runs on through the rest of the index.
func (r *readTx) seek(table string, q storage.Range, prefix []byte) (it memdb.ResultIterator, bounded bool, err error) {
	switch {
	case q.After == "" && !q.Descending:
		it, err = r.txn.Get(table, q.Index, seekKey(prefix))
		return it, true, err
	case q.After == "":
		it, err = r.txn.GetReverse(table, q.Index, seekKey(prefix))
		return it, true, err
	}
	from := seekKey(append(append(append([]byte(nil), prefix...), q.After...), 0))
	if q.Descending {
		it, err = r.txn.ReverseLowerBound(table, q.Index, from)
	} else {
		it, err = r.txn.LowerBound(table, q.Index, from)
	}
	// The whole table by id needs no end check: its range is the whole index.
	return it, len(prefix) == 0, err
}

// pager collects one page.
type pager struct {
	q    storage.Range
	keep func(any) bool
	out  func(any) any
	page []any
}

func (p *pager) full() bool { return p.q.Limit > 0 && len(p.page) >= p.q.Limit }

// offer adds rec to the page if keep accepts it.
func (p *pager) offer(rec any) {
	if p.keep == nil || p.keep(rec) {
		p.page = append(p.page, p.out(rec))
	}
}

// beyondAfter reports whether the record id comes after the cursor in the range's order.
func (p *pager) beyondAfter(id string) bool { return p.q.After == "" || p.beyondOf(id, p.q.After) }

// beyondOf reports whether id comes after mark in the range's order.
func (p *pager) beyondOf(id, mark string) bool {
	if p.q.Descending {
		return id < mark
	}
	return id > mark
}

// logRange serves Range on an append-only table: the positions under the index's key (every
// position for "id"), committed then this transaction's own, in insertion order.
func (r *readTx) logRange(tm *tableMeta, im *indexMeta, p *pager) ([]any, error) {
	l := r.core.logs[tm.log]
	n := r.lens[tm.log]
	var pend []any
	if tm.log < len(r.pend) && r.pend[tm.log] != nil { // pend is nil in a read transaction
		pend = r.pend[tm.log].recs
	}
	recs, positions, all := l.view(im, p.q.Args, n)
	if im.Name == "id" && len(p.q.Args) == 1 {
		all, positions = false, nil
		if pos, ok := l.position(p.q.Args[0], n); ok {
			positions = []int{pos}
		}
	}
	// The sequence is the committed positions (every one below n when all), then the pending
	// records that hold args, numbered n, n+1, …
	var pendPos []int
	for i, rec := range pend {
		if logMatches(rec, im.Index, p.q.Args) {
			pendPos = append(pendPos, n+i)
		}
	}
	count := len(positions)
	if all {
		count = n
	}
	at := func(i int) int { // the i-th position of the sequence
		if i < count {
			if all {
				return i
			}
			return positions[i]
		}
		return pendPos[i-count]
	}
	total := count + len(pendPos)
	rec := func(pos int) any {
		if pos < n {
			return recs[pos]
		}
		return pend[pos-n]
	}
	start, step := 0, 1
	if p.q.Descending {
		start, step = total-1, -1
	}
	if p.q.After != "" {
		cur, ok := l.position(p.q.After, n)
		if !ok {
			for i, rec := range pend {
				if storage.RecordID(rec) == p.q.After {
					cur, ok = n+i, true
				}
			}
		}
		if !ok {
			return nil, errclass.Tag(errors.Newf("%s: no record %q to page after", tm.ts.Name, p.q.After), storage.ErrNotFound)
		}
		// The sequence is ascending: start at the first position past cur, or descending, at the
		// last one before it.
		if p.q.Descending {
			start = sort.Search(total, func(i int) bool { return at(i) >= cur }) - 1
		} else {
			start = sort.Search(total, func(i int) bool { return at(i) > cur })
		}
	}
	for i := start; i >= 0 && i < total && !p.full(); i += step {
		p.offer(rec(at(i)))
	}
	return p.page, nil
}
