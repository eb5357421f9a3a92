package pgstore

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// readTx is a storage.ReadTx over one PostgreSQL transaction. Every call is one round trip.
// It is not safe for concurrent use (nor is a pgx.Tx).
type readTx struct {
	ctx context.Context
	tx  pgx.Tx
	l   *layout
	// broken is the first error that aborted the PostgreSQL transaction: every later statement
	// would fail, so every later call returns it at once.
	broken error
}

// fail records err if it aborted the transaction and returns it.
func (r *readTx) fail(err error) error {
	if r.broken == nil && err != nil && !errors.Is(err, storage.ErrNotFound) {
		r.broken = err
	}
	return err
}

func (r *readTx) Get(table, id string) (any, error) {
	if r.broken != nil {
		return nil, r.broken
	}
	t, err := r.l.table(table)
	if err != nil {
		return nil, err
	}
	var enc []byte
	if err := r.tx.QueryRow(r.ctx, t.getSQL, id).Scan(&enc); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound(table, id)
		}
		return nil, r.fail(classify(r.ctx, err, "get "+table))
	}
	return decode(t, enc)
}

func (r *readTx) List(table, index string, args ...string) ([]any, error) {
	if r.broken != nil {
		return nil, r.broken
	}
	t, err := r.l.table(table)
	if err != nil {
		return nil, err
	}
	sql, qargs, empty, err := t.listQuery(index, args)
	if err != nil || empty {
		return nil, err
	}
	rows, err := r.tx.Query(r.ctx, sql, qargs...)
	if err != nil {
		return nil, r.fail(classify(r.ctx, err, "list "+table))
	}
	defer rows.Close()
	var out []any
	var enc []byte
	for rows.Next() {
		if err := rows.Scan(&enc); err != nil {
			return nil, r.fail(classify(r.ctx, err, "list "+table))
		}
		rec, err := decode(t, enc)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(classify(r.ctx, err, "list "+table))
	}
	return out, nil
}

// listQuery returns the statement and arguments of List(index, args), or empty when no record
// can hold args (an empty value is never indexed).
func (t *tableLayout) listQuery(index string, args []string) (sql string, qargs []any, empty bool, err error) {
	if index == "id" {
		switch len(args) {
		case 0:
			return t.listAllSQL, nil, false, nil
		case 1:
			return t.getSQL, []any{args[0]}, false, nil
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
			return "", nil, true, nil
		}
		if il.ix.Lowercase {
			a = strings.ToLower(a)
		}
		qargs[i] = a
	}
	return il.listSQL, qargs, false, nil
}

// decode returns a new record of t's type from its stored encoding.
func decode(t *tableLayout, enc []byte) (any, error) {
	rec := t.ts.New()
	if err := json.Unmarshal(enc, rec); err != nil {
		return nil, errclass.Wrap(err, storage.ErrCorrupt, "pgstore: decoding a %s record", t.ts.Name)
	}
	return rec, nil
}

// writeTx is a storage.WriteTx over one SERIALIZABLE PostgreSQL transaction.
type writeTx struct{ readTx }

func (w *writeTx) Insert(table string, rec any) error {
	t, enc, err := w.prepare(table, rec)
	if err != nil {
		return err
	}
	n, err := w.write(t.insertSQL, len(t.multis) > 0, t.args(rec, enc))
	if err != nil {
		return w.fail(classify(w.ctx, err, "insert "+table))
	}
	if n == 0 {
		return errclass.Mark(storage.ErrConflict, "a %s record with the same id or unique value already exists", table)
	}
	return nil
}

func (w *writeTx) Update(table string, rec any) error {
	t, enc, err := w.prepare(table, rec)
	if err != nil {
		return err
	}
	if t.ts.AppendOnly {
		return errAppendOnly(table, "update")
	}
	id := storage.RecordID(rec)
	n, err := w.write(t.updateSQL, len(t.multis) > 0, t.args(rec, enc))
	if err != nil {
		return w.fail(classify(w.ctx, err, "update "+table))
	}
	if n > 0 {
		return nil
	}
	// Nothing updated: the record is absent, or a unique index guard held.
	var exists bool
	if err := w.tx.QueryRow(w.ctx, t.existsSQL, id).Scan(&exists); err != nil {
		return w.fail(classify(w.ctx, err, "update "+table))
	}
	if !exists {
		return notFound(table, id)
	}
	return errclass.Mark(storage.ErrConflict, "a %s record with the same unique value already exists", table)
}

func (w *writeTx) Delete(table, id string) error {
	if w.broken != nil {
		return w.broken
	}
	t, err := w.l.table(table)
	if err != nil {
		return err
	}
	if t.ts.AppendOnly {
		return errAppendOnly(table, "delete")
	}
	n, err := w.write(t.deleteSQL, len(t.multis) > 0, []any{id})
	if err != nil {
		return w.fail(classify(w.ctx, err, "delete "+table))
	}
	if n == 0 {
		return notFound(table, id)
	}
	return nil
}

// write runs a writing statement and returns how many main-table rows it wrote: the rows
// affected, or, for a statement with side relations, the count it selects.
func (w *writeTx) write(sql string, counts bool, args []any) (int64, error) {
	if !counts {
		tag, err := w.tx.Exec(w.ctx, sql, args...)
		return tag.RowsAffected(), err
	}
	var n int64
	err := w.tx.QueryRow(w.ctx, sql, args...).Scan(&n)
	return n, err
}

// prepare checks rec against table and encodes it.
func (w *writeTx) prepare(table string, rec any) (*tableLayout, []byte, error) {
	if w.broken != nil {
		return nil, nil, w.broken
	}
	t, err := w.l.table(table)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil || reflect.TypeOf(rec).Kind() != reflect.Pointer || reflect.ValueOf(rec).IsNil() {
		return nil, nil, errors.AssertionFailedf("pgstore: %s record must be a non-nil pointer", table)
	}
	if typ := reflect.TypeOf(rec).Elem(); typ != t.ts.Type {
		return nil, nil, errors.AssertionFailedf("pgstore: table %s holds %s, not %s", table, t.ts.Type, typ)
	}
	if storage.RecordID(rec) == "" {
		return nil, nil, errors.AssertionFailedf("pgstore: %s record without an id", table)
	}
	enc, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, errors.Wrapf(err, "pgstore: encoding a %s record", table)
	}
	return t, enc, nil
}

func errAppendOnly(table, op string) error {
	return errors.AssertionFailedf("pgstore: %s of the append-only table %s", op, table)
}
