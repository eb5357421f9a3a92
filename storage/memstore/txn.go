package memstore

import (
	"reflect"

	"github.com/cockroachdb/errors"
	"github.com/hashicorp/go-memdb"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// WriteTxn is an optimistic write transaction of a Core. It implements storage.WriteTx. It reads
// the snapshot of the state its Begin saw, with its own writes (kept in an overlay, not in
// go-memdb) merged in, and records the keys of what it read; Commit validates those against the
// commits made since and applies the writes. It is not safe for concurrent use.
type WriteTxn struct {
	readTx
	base      *Snapshot // the state it started from
	ops       []Op
	readKeys  []uint64
	writeKeys []uint64
	sealed    bool
	done      bool
	committed bool
	dirty     bool // go-memdb was written
}

// Begin starts an optimistic write transaction on the state after the latest commit. It never
// blocks. The caller must end it with Commit or Abort.
func (c *Core) Begin() *WriteTxn {
	c.active.Add(1)
	base := c.latest.Load()
	w := &WriteTxn{base: base}
	w.readTx = readTx{txn: base.db.Txn(false), core: c, lens: base.lens, pend: make([]*logPending, len(c.logs)),
		reads: &w.readKeys, ov: overlay{}}
	return w
}

// Lock takes the Core's commit lock: Commit needs it, and a writer that holds it from Begin to
// Commit runs alone (its transaction cannot conflict). It is not reentrant.
func (c *Core) Lock() { c.mu.Lock() }

// TryLock takes the commit lock if it is free and reports whether it did.
func (c *Core) TryLock() bool { return c.mu.TryLock() }

// Unlock releases the commit lock.
func (c *Core) Unlock() { c.mu.Unlock() }

// Core returns the Core w began on.
func (w *WriteTxn) Core() *Core { return w.core }

// Ops returns the writes made so far, in order.
func (w *WriteTxn) Ops() []Op { return w.ops }

// Committed reports whether Commit applied w (false: it conflicted, or has not been committed).
func (w *WriteTxn) Committed() bool { return w.committed }

// Done reports whether w was committed (or found in conflict) or aborted.
func (w *WriteTxn) Done() bool { return w.done }

// Seal computes the keys of everything w wrote, so that Commit, under the lock, only looks them
// up. Commit seals a transaction that was not sealed; callers seal first to keep that work out of
// the lock. No write may follow.
func (w *WriteTxn) Seal() {
	if w.sealed {
		return
	}
	w.sealed = true
	c := w.core
	for _, op := range w.ops {
		tm := c.tables[op.Table]
		w.writeKeys = append(w.writeKeys, c.tableKey(op.Table), c.recordKey(op.Table, op.ID))
		for _, ix := range tm.ts.Indexes {
			for _, rec := range [2]any{op.prev, op.Rec} {
				if rec == nil {
					continue
				}
				for _, tuple := range storage.IndexValues(rec, ix) {
					w.writeKeys = append(w.writeKeys, c.key(op.Table, ix.Name, tuple))
				}
			}
		}
	}
}

// Commit validates ws in order and applies, as one go-memdb transaction, every one whose reads no
// commit since its Begin (an earlier one of ws included) has changed; Committed tells which. It
// returns the snapshot after them, to publish. The caller holds the lock (Lock). Every
// transaction of ws is finished afterwards.
func (c *Core) Commit(ws ...*WriteTxn) *Snapshot {
	valid := ws[:0:0]
	own := 0
	for _, w := range ws {
		if w.done {
			panic("memstore: Commit of a finished transaction")
		}
		if w.core != c {
			w.Abort() // begun on another Core (one a store replaced): it conflicts
			continue
		}
		own++
		w.Seal()
		w.done = true
		if c.conf.valid(w) {
			c.version++
			c.conf.record(w.writeKeys, c.version)
			w.committed = true
			valid = append(valid, w)
		}
	}
	prev := c.latest.Load()
	snap := &Snapshot{db: prev.db, lens: prev.lens, version: c.version}
	var main *memdb.Txn
	appended := false
	for _, w := range valid {
		if w.dirty { // otherwise it only appended to logs: go-memdb stays as it was
			if main == nil {
				main = c.db.Txn(true)
			}
			c.replay(main, w.ops)
		}
		for i, p := range w.pend {
			if p != nil && len(p.recs) > 0 {
				c.logs[i].add(p.recs)
				appended = true
			}
		}
	}
	if main != nil {
		main.Commit()
		snap.db = c.db.Snapshot()
	}
	if appended {
		snap.lens = c.logLens()
	}
	c.latest.Store(snap)
	if c.active.Add(-int64(own)) == 0 {
		c.conf.reset(c.version) // no transaction is open: none can conflict with the past
	}
	return snap
}

// replay applies a validated transaction's ops to txn.
func (c *Core) replay(txn *memdb.Txn, ops []Op) {
	for _, op := range ops {
		if c.tables[op.Table].log >= 0 {
			continue
		}
		var err error
		if op.Kind == OpDelete {
			err = txn.Delete(op.Table, op.prev) // go-memdb finds what to delete by its id
		} else {
			err = txn.Insert(op.Table, op.Rec)
		}
		if err != nil {
			// Validation guarantees every op applies as it did in its transaction.
			panic(errors.NewAssertionErrorWithWrappedErrf(err, "memstore: replaying %s %s", op.Table, op.ID))
		}
	}
}

// Commit commits w alone, taking the lock, and returns the snapshot after it, or nil when it
// conflicted (Committed is false).
func (w *WriteTxn) Commit() *Snapshot {
	w.core.Lock()
	defer w.core.Unlock()
	snap := w.core.Commit(w)
	if !w.committed {
		return nil
	}
	return snap
}

// Abort discards the transaction. Calling it after Commit does nothing.
func (w *WriteTxn) Abort() {
	if !w.done {
		w.done = true
		w.core.active.Add(-1)
	}
}

// Insert adds rec (a pointer to table's record type) to the transaction. It returns an ErrConflict
// error if the id exists or a unique index would hold two records.
func (w *WriteTxn) Insert(table string, rec any) error {
	if err := w.writable(table, rec); err != nil {
		return err
	}
	if li, l := w.core.logFor(table); l != nil {
		return w.logInsert(li, l, table, rec)
	}
	id := storage.RecordID(rec)
	if existing, err := w.lookup(table, id); err != nil {
		return err
	} else if existing != nil {
		return errclass.Tag(errors.Newf("%s %q already exists", table, id), storage.ErrConflict)
	}
	return w.put(OpInsert, table, id, rec, nil)
}

// Update replaces the record with rec's id. It returns an ErrNotFound error if there is none, an
// ErrConflict error if a unique index would hold two records, and an assertion failure for an
// append-only table.
func (w *WriteTxn) Update(table string, rec any) error {
	if err := w.writable(table, rec); err != nil {
		return err
	}
	if _, l := w.core.logFor(table); l != nil {
		return errAppendOnly(table, "update")
	}
	id := storage.RecordID(rec)
	existing, err := w.lookup(table, id)
	if err != nil {
		return err
	} else if existing == nil {
		return errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	return w.put(OpUpdate, table, id, rec, existing)
}

func (w *WriteTxn) put(kind OpKind, table, id string, rec, prev any) error {
	ts, _ := storage.Lookup(table)
	for _, ix := range ts.Indexes {
		if !ix.Unique {
			continue
		}
		for _, tuple := range storage.IndexValues(rec, ix) {
			holders, err := w.LendList(table, ix.Name, tuple...)
			if err != nil {
				return err
			}
			for _, h := range holders {
				if storage.RecordID(h) != id {
					return errclass.Tag(errors.Newf("a %s record with the same %s already exists", table, ix.Name), storage.ErrConflict)
				}
			}
		}
	}
	c := deepCopy(rec)
	w.dirty = true
	w.ov.set(table, id, c)
	w.ops = append(w.ops, Op{Kind: kind, Table: table, ID: id, Rec: c, prev: prev})
	return nil
}

// Delete removes the record with id. It returns an ErrNotFound error if there is none and an
// assertion failure for an append-only table.
func (w *WriteTxn) Delete(table, id string) error {
	if err := w.open(); err != nil {
		return err
	}
	if _, err := storage.Lookup(table); err != nil {
		return err
	}
	if _, l := w.core.logFor(table); l != nil {
		return errAppendOnly(table, "delete")
	}
	obj, err := w.lookup(table, id)
	if err != nil {
		return err
	} else if obj == nil {
		return errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	w.dirty = true
	w.ov.set(table, id, nil)
	w.ops = append(w.ops, Op{Kind: OpDelete, Table: table, ID: id, prev: obj})
	return nil
}

// lookup returns the record with id as the transaction sees it, or nil, and notes the read.
func (w *WriteTxn) lookup(table, id string) (any, error) {
	w.read(w.core.recordKey(table, id))
	if rec, written := w.ov.lookup(table, id); written {
		return rec, nil
	}
	obj, err := w.txn.First(table, "id", id)
	if err != nil {
		return nil, errors.Wrapf(err, "memstore: look up %s %q", table, id)
	}
	return obj, nil
}

// open fails once the transaction is sealed or finished.
func (w *WriteTxn) open() error {
	if w.sealed || w.done {
		return errors.AssertionFailedf("memstore: write in a sealed or finished transaction")
	}
	return nil
}

// writable checks a record written to table.
func (w *WriteTxn) writable(table string, rec any) error {
	if err := w.open(); err != nil {
		return err
	}
	ts, err := storage.Lookup(table)
	if err != nil {
		return err
	}
	if rec == nil {
		return errors.AssertionFailedf("memstore: nil %s record", table)
	}
	if t := typeOf(rec); t != ts.Type {
		return errors.AssertionFailedf("memstore: table %s holds %s, not %s", table, ts.Type, t)
	}
	if storage.RecordID(rec) == "" {
		return errors.AssertionFailedf("memstore: %s record without an id", table)
	}
	return nil
}

func typeOf(rec any) reflect.Type {
	t := reflect.TypeOf(rec)
	if t.Kind() != reflect.Pointer {
		return t
	}
	return t.Elem()
}
