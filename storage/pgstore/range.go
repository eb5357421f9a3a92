package pgstore

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// rangeBatch bounds the rows one statement of a filtered Range fetches: a filter that refuses
// most records costs a round trip per rangeBatch rows scanned, not one per record.
const rangeBatch = 256

// Range is an index scan, WHERE <index values> AND id > $after ORDER BY id LIMIT n (< and DESC
// descending; seq for an append-only table), which the index's btree serves: its columns
// followed by id (or seq), or a Multi index's side relation joined to the table. Without a
// filter it is one statement; with one it fetches rangeBatch rows at a time from the cursor until
// the page is full or the range ends, and calls keep on no record past the page. For an
// append-only table the cursor is the seq of the record rg.After names, looked up first (an
// ErrNotFound error when there is none). Cost: O(log N + k) for the k records scanned, one round
// trip per rangeBatch of them.
func (r *readTx) Range(table string, rg storage.Range, keep func(any) bool) ([]any, error) {
	if r.broken != nil {
		return nil, r.broken
	}
	t, err := r.l.table(table)
	if err != nil {
		return nil, err
	}
	where, qargs, empty, err := t.rangeWhere(rg.Index, rg.Args)
	if err != nil {
		return nil, err
	}
	// The cursor: an id, or for an append-only table the seq of the record it names.
	var cursor any
	if rg.After != "" {
		cursor = rg.After
		if t.ts.AppendOnly {
			var seq int64
			if err := r.tx.QueryRow(r.ctx, fmt.Sprintf("SELECT seq FROM %s WHERE id = $1", t.rel), rg.After).Scan(&seq); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return nil, errclass.Mark(storage.ErrNotFound, "%s: no record %q to page after", table, rg.After)
				}
				return nil, r.fail(classify(r.ctx, err, "range "+table))
			}
			cursor = seq
		}
	}
	if empty {
		return nil, nil
	}
	order, cmp := "ASC", ">"
	if rg.Descending {
		order, cmp = "DESC", "<"
	}
	key := "t." + t.order
	var out []any
	for {
		batch := 0 // no LIMIT
		switch {
		case keep == nil && rg.Limit > 0:
			batch = rg.Limit - len(out)
		case keep != nil:
			batch = rangeBatch
		}
		args := append([]any(nil), qargs...)
		var b strings.Builder
		fmt.Fprintf(&b, "SELECT t.rec, %s FROM %s WHERE %s", key, t.rangeFrom(rg.Index), where)
		if cursor != nil {
			args = append(args, cursor)
			fmt.Fprintf(&b, " AND %s %s $%d", key, cmp, len(args))
		}
		fmt.Fprintf(&b, " ORDER BY %s %s", key, order)
		if batch > 0 {
			args = append(args, batch)
			fmt.Fprintf(&b, " LIMIT $%d", len(args))
		}
		rows, err := r.tx.Query(r.ctx, b.String(), args...)
		if err != nil {
			return nil, r.fail(classify(r.ctx, err, "range "+table))
		}
		n, full := 0, false
		var enc []byte
		var id string
		var seq int64
		pos := any(&id) // where the scan is: the id, or the seq of an append-only table
		if t.ts.AppendOnly {
			pos = &seq
		}
		for rows.Next() {
			n++
			if err := rows.Scan(&enc, pos); err != nil {
				rows.Close()
				return nil, r.fail(classify(r.ctx, err, "range "+table))
			}
			cursor = id
			if t.ts.AppendOnly {
				cursor = seq
			}
			if full {
				continue // the rest of the batch is read off the wire and dropped
			}
			rec, err := decode(t, enc)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if keep == nil || keep(rec) {
				out = append(out, rec)
				full = rg.Limit > 0 && len(out) >= rg.Limit
			}
		}
		if err := rows.Err(); err != nil {
			return nil, r.fail(classify(r.ctx, err, "range "+table))
		}
		if full || batch == 0 || n < batch {
			return out, nil
		}
	}
}

// rangeFrom is the FROM clause of a Range over index: the table as t, joined to the side
// relation s of a Multi index.
func (t *tableLayout) rangeFrom(index string) string {
	if il, ok := t.indexes[index]; ok && il.ix.Multi {
		return fmt.Sprintf("%s s JOIN %s t ON t.id = s.id", il.side, t.rel)
	}
	return t.rel + " t"
}

// rangeWhere returns the predicate and arguments that select index = args, or empty when no
// record can hold args.
func (t *tableLayout) rangeWhere(index string, args []string) (where string, qargs []any, empty bool, err error) {
	if index == "id" {
		switch len(args) {
		case 0:
			return "TRUE", nil, false, nil
		case 1:
			return "t.id = $1", []any{args[0]}, false, nil
		}
		return "", nil, false, errors.AssertionFailedf("pgstore: index %s.id takes 1 value, got %d", t.ts.Name, len(args))
	}
	il, ok := t.indexes[index]
	if !ok {
		return "", nil, false, errors.AssertionFailedf("pgstore: table %s has no index %q", t.ts.Name, index)
	}
	if len(args) != len(il.ix.Fields) {
		return "", nil, false, errors.AssertionFailedf("pgstore: index %s.%s takes %d values, got %d", t.ts.Name, index, len(il.ix.Fields), len(args))
	}
	qargs = make([]any, len(args))
	for i, a := range args {
		if a == "" {
			empty = true
		}
		if il.ix.Lowercase {
			a = strings.ToLower(a)
		}
		qargs[i] = a
	}
	if il.ix.Multi {
		return "s.value = $1", qargs, empty, nil
	}
	cols := t.colList("t.", il.cols)
	eq := make([]string, len(cols))
	for i, c := range cols {
		eq[i] = fmt.Sprintf("%s = $%d", c, i+1)
	}
	return strings.Join(eq, " AND ") + " AND " + nonEmpty(cols), qargs, empty, nil
}
