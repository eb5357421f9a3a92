// Package memstore implements storage.Storage in memory with go-memdb.
//
// Its Core is also the in-memory half of storage/filestore: a write transaction yields the list of
// operations it made (Ops) and a snapshot of the database after it, and the caller decides when that
// snapshot becomes visible to readers (Publish). The in-memory Store publishes at once.
//
// go-memdb does not enforce Unique on secondary indexes (hashicorp/go-memdb#7), so every unique
// index of storage.Schema is checked here, in code, on Insert and Update. Append-only tables
// (storage.TableSchema.AppendOnly) are kept outside go-memdb, in an appendLog each.
package memstore

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/errors"
	"github.com/hashicorp/go-memdb"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// OpKind says what an Op did.
type OpKind uint8

// The kinds of Op.
const (
	OpInsert OpKind = iota + 1
	OpUpdate
	OpDelete
)

// Op is one write of a transaction. Rec is a private copy of the record written (nil for OpDelete).
type Op struct {
	Kind  OpKind
	Table string
	ID    string
	Rec   any
}

// Core is a go-memdb database built from storage.Schema, with a published (reader-visible)
// snapshot that may lag the latest committed state. It is safe for concurrent use; write
// transactions are serialized by go-memdb's writer lock.
type Core struct {
	wmu      sync.Mutex // held for the life of a write transaction, so Commit can snapshot atomically
	db       *memdb.MemDB
	logs     []*appendLog   // the append-only tables, in storage.Schema order
	logIndex map[string]int // table name -> index in logs
	visible  atomic.Pointer[Snapshot]
	last     *Snapshot // the state after the latest commit, published or not; under wmu
}

// Snapshot is the state right after a write transaction: a go-memdb snapshot and the length of
// every append-only log. Readers of a published Snapshot see exactly that state.
type Snapshot struct {
	db   *memdb.MemDB
	lens []int
}

// NewCore returns an empty Core.
func NewCore() (*Core, error) {
	db, err := memdb.NewMemDB(dbSchema())
	if err != nil {
		return nil, errors.Wrap(err, "memstore: schema")
	}
	c := &Core{db: db, logIndex: map[string]int{}}
	for _, ts := range storage.Schema {
		if ts.AppendOnly {
			c.logIndex[ts.Name] = len(c.logs)
			c.logs = append(c.logs, newAppendLog(ts))
		}
	}
	c.last = &Snapshot{db: db.Snapshot(), lens: c.logLens()}
	c.visible.Store(c.last)
	return c, nil
}

// logLens returns the committed length of every log.
func (c *Core) logLens() []int {
	lens := make([]int, len(c.logs))
	for i, l := range c.logs {
		lens[i] = l.length()
	}
	return lens
}

func dbSchema() *memdb.DBSchema {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for _, ts := range storage.Schema {
		if ts.AppendOnly {
			continue
		}
		t := &memdb.TableSchema{Name: ts.Name, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		}}
		for _, ix := range ts.Indexes {
			t.Indexes[ix.Name] = &memdb.IndexSchema{Name: ix.Name, AllowMissing: true, Indexer: indexer(ix)}
		}
		s.Tables[ts.Name] = t
	}
	return s
}

func indexer(ix storage.Index) memdb.Indexer {
	if ix.Multi {
		return &memdb.StringSliceFieldIndex{Field: ix.Fields[0], Lowercase: ix.Lowercase}
	}
	if len(ix.Fields) == 1 {
		return &memdb.StringFieldIndex{Field: ix.Fields[0], Lowercase: ix.Lowercase}
	}
	c := &memdb.CompoundIndex{}
	for _, f := range ix.Fields {
		c.Indexes = append(c.Indexes, &memdb.StringFieldIndex{Field: f, Lowercase: ix.Lowercase})
	}
	return c
}

// Read returns a read transaction on the published snapshot.
func (c *Core) Read() storage.ReadTx {
	s := c.visible.Load()
	return &readTx{txn: s.db.Txn(false), core: c, lens: s.lens}
}

// Publish makes snap (from WriteTxn.Commit) the state readers see.
func (c *Core) Publish(snap *Snapshot) { c.visible.Store(snap) }

// Begin starts a write transaction. It blocks while another is open. The caller must end it with
// Commit or Abort.
func (c *Core) Begin() *WriteTxn {
	c.wmu.Lock()
	return &WriteTxn{readTx: readTx{txn: c.db.Txn(true), core: c, lens: c.last.lens,
		pend: make([]*logPending, len(c.logs))}}
}

// Apply runs ops (from a log) in one transaction and publishes the result. Used by recovery.
func (c *Core) Apply(ops []Op) error {
	w := c.Begin()
	for _, op := range ops {
		var err error
		switch op.Kind {
		case OpInsert:
			err = w.Insert(op.Table, op.Rec)
		case OpUpdate:
			err = w.Update(op.Table, op.Rec)
		case OpDelete:
			err = w.Delete(op.Table, op.ID)
		default:
			err = errors.Newf("unknown op kind %d", op.Kind)
		}
		if err != nil {
			w.Abort()
			return errclass.Tag(errors.Wrapf(err, "memstore: replaying %s %s", op.Table, op.ID), storage.ErrCorrupt)
		}
	}
	c.Publish(w.Commit())
	return nil
}

// Each calls fn for every record of every table of the published snapshot, table by table in
// storage.Schema order. Used to write snapshots.
func (c *Core) Each(fn func(table string, rec any) error) error {
	s := c.visible.Load()
	txn := s.db.Txn(false)
	for _, ts := range storage.Schema {
		if li, l := c.logFor(ts.Name); l != nil {
			for _, rec := range l.list(-1, "", s.lens[li]) {
				if err := fn(ts.Name, rec); err != nil {
					return err
				}
			}
			continue
		}
		it, err := txn.Get(ts.Name, "id")
		if err != nil {
			return errors.Wrap(err, "memstore: scan")
		}
		for obj := it.Next(); obj != nil; obj = it.Next() {
			if err := fn(ts.Name, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// readTx reads a go-memdb transaction and the first lens[i] records of each append-only log,
// plus, in a write transaction, the transaction's own log inserts (pend).
type readTx struct {
	txn  *memdb.Txn
	core *Core
	lens []int
	pend []*logPending // nil in a read transaction
}

var _ storage.Lender = (*readTx)(nil)

func (r *readTx) Get(table, id string) (any, error) { return r.get(table, id, deepCopy) }

// Lend is Get without the copy: stored records are never changed (a write stores a new copy).
func (r *readTx) Lend(table, id string) (any, error) { return r.get(table, id, lend) }

func (r *readTx) List(table, index string, args ...string) ([]any, error) {
	return r.list(table, index, args, deepCopy)
}

// LendList is List without the copies.
func (r *readTx) LendList(table, index string, args ...string) ([]any, error) {
	return r.list(table, index, args, lend)
}

func lend(rec any) any { return rec }

// get and list hand each stored record through out: deepCopy, or lend.
func (r *readTx) get(table, id string, out func(any) any) (any, error) {
	if li, l := r.core.logFor(table); l != nil {
		return r.logGet(li, l, table, id, out)
	}
	obj, err := r.txn.First(table, "id", id)
	if err != nil {
		return nil, errors.Wrapf(err, "memstore: get %s", table)
	}
	if obj == nil {
		return nil, errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	return out(obj), nil
}

func (r *readTx) list(table, index string, args []string, copyOut func(any) any) ([]any, error) {
	ts, err := storage.Lookup(table)
	if err != nil {
		return nil, err
	}
	ix, ok := ts.Index(index)
	if !ok {
		return nil, errors.AssertionFailedf("memstore: table %s has no index %q", table, index)
	}
	if (index != "id" || len(args) != 0) && len(args) != len(ix.Fields) {
		return nil, errors.AssertionFailedf("memstore: index %s.%s takes %d values, got %d", table, index, len(ix.Fields), len(args))
	}
	if li, l := r.core.logFor(table); l != nil {
		return r.logList(li, l, ix, args, copyOut), nil
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
	}
	it, err := r.txn.Get(table, index, vals...)
	if err != nil {
		return nil, errors.Wrapf(err, "memstore: list %s by %s", table, index)
	}
	var out []any
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, copyOut(obj))
	}
	return out, nil
}

// WriteTxn is a write transaction of a Core. It implements storage.WriteTx.
type WriteTxn struct {
	readTx
	ops   []Op
	done  bool
	dirty bool // go-memdb was written
}

// Ops returns the writes made so far, in order.
func (w *WriteTxn) Ops() []Op { return w.ops }

// Commit commits the transaction in memory and returns a snapshot of the database right after it.
// The snapshot is not visible to readers until the Core publishes it.
func (w *WriteTxn) Commit() *Snapshot {
	if w.done {
		panic("memstore: Commit of a finished transaction")
	}
	w.done = true
	c := w.core
	snap := *c.last
	// A transaction that only appended to logs (an access check's audit event) leaves go-memdb
	// as it was, so its last snapshot stands and no new one is taken.
	if w.dirty {
		w.txn.Commit()
		snap.db = c.db.Snapshot()
	} else {
		w.txn.Abort()
	}
	appended := false
	for i, p := range w.pend {
		if p != nil && len(p.recs) > 0 {
			c.logs[i].add(p.recs)
			appended = true
		}
	}
	if appended {
		snap.lens = c.logLens()
	}
	c.last = &snap
	c.wmu.Unlock()
	return &snap
}

// Abort discards the transaction. Calling it after Commit does nothing.
func (w *WriteTxn) Abort() {
	if !w.done {
		w.done = true
		w.txn.Abort()
		w.core.wmu.Unlock()
	}
}

// Insert adds rec (a pointer to table's record type) to the transaction. It returns an ErrConflict
// error if the id exists or a unique index would hold two records.
func (w *WriteTxn) Insert(table string, rec any) error {
	if err := w.checkRecord(table, rec); err != nil {
		return err
	}
	if li, l := w.core.logFor(table); l != nil {
		return w.logInsert(li, l, table, rec)
	}
	id := storage.RecordID(rec)
	if existing, err := w.txn.First(table, "id", id); err != nil {
		return errors.Wrapf(err, "memstore: insert %s", table)
	} else if existing != nil {
		return errclass.Tag(errors.Newf("%s %q already exists", table, id), storage.ErrConflict)
	}
	return w.put(OpInsert, table, id, rec)
}

// Update replaces the record with rec's id. It returns an ErrNotFound error if there is none, an
// ErrConflict error if a unique index would hold two records, and an assertion failure for an
// append-only table.
func (w *WriteTxn) Update(table string, rec any) error {
	if err := w.checkRecord(table, rec); err != nil {
		return err
	}
	if _, l := w.core.logFor(table); l != nil {
		return errAppendOnly(table, "update")
	}
	id := storage.RecordID(rec)
	if existing, err := w.txn.First(table, "id", id); err != nil {
		return errors.Wrapf(err, "memstore: update %s", table)
	} else if existing == nil {
		return errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	return w.put(OpUpdate, table, id, rec)
}

func (w *WriteTxn) put(kind OpKind, table, id string, rec any) error {
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
	if err := w.txn.Insert(table, c); err != nil {
		return errors.Wrapf(err, "memstore: write %s", table)
	}
	w.ops = append(w.ops, Op{Kind: kind, Table: table, ID: id, Rec: c})
	return nil
}

// Delete removes the record with id. It returns an ErrNotFound error if there is none and an
// assertion failure for an append-only table.
func (w *WriteTxn) Delete(table, id string) error {
	if _, err := storage.Lookup(table); err != nil {
		return err
	}
	if _, l := w.core.logFor(table); l != nil {
		return errAppendOnly(table, "delete")
	}
	obj, err := w.txn.First(table, "id", id)
	if err != nil {
		return errors.Wrapf(err, "memstore: delete %s", table)
	}
	if obj == nil {
		return errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	w.dirty = true
	if err := w.txn.Delete(table, obj); err != nil {
		return errors.Wrapf(err, "memstore: delete %s", table)
	}
	w.ops = append(w.ops, Op{Kind: OpDelete, Table: table, ID: id})
	return nil
}

func (w *WriteTxn) checkRecord(table string, rec any) error {
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

// Store is the in-memory storage.Storage. It is safe for concurrent use.
type Store struct {
	core   *Core
	mu     sync.RWMutex
	closed bool
}

var _ storage.Storage = (*Store)(nil)

// New returns an empty in-memory store.
func New() *Store {
	c, err := NewCore()
	if err != nil {
		panic(err) // the schema is static; a failure is a programming error caught by every test
	}
	return &Store{core: c}
}

// View runs fn in a read transaction on the latest committed state (storage.Storage.View). It
// returns fn's error, the context's error, or an ErrUnavailable error once the store is closed.
func (s *Store) View(ctx context.Context, fn func(storage.ReadTx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return fn(s.core.Read())
}

// Update runs fn in a write transaction and commits its writes when fn returns nil
// (storage.Storage.Update). It returns fn's error (nothing of fn's writes remains), the context's
// error, or an ErrUnavailable error once the store is closed.
func (s *Store) Update(ctx context.Context, fn func(storage.WriteTx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	w := s.core.Begin()
	defer w.Abort()
	if err := fn(w); err != nil {
		return err
	}
	s.core.Publish(w.Commit())
	return nil
}

func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errors.Wrap(err, "memstore")
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errclass.Tag(errors.New("store is closed"), storage.ErrUnavailable)
	}
	return nil
}

// Close closes the store; later calls return an ErrUnavailable error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
