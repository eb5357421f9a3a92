// Package memstore implements storage.Storage in memory with go-memdb.
//
// Its Core is also the in-memory half of storage/filestore. Write transactions are optimistic:
// each runs on a private copy-on-write snapshot of the latest committed state (a go-memdb
// snapshot has its own writer), so any number run at once, and records what it read. Commit then
// validates a batch of them in order, under the Core's lock: a transaction whose reads a
// transaction committed after its start has changed conflicts and is not applied (its store runs
// it again); the others are applied to the database in one go-memdb transaction, the first of them
// by adopting its private tree when nothing committed since it started. A commit yields the list
// of operations each transaction made (Ops) and a snapshot of the database after the batch, and
// the caller decides when that snapshot becomes visible to readers (Publish). The in-memory Store
// publishes at once.
//
// go-memdb does not enforce Unique on secondary indexes (hashicorp/go-memdb#7), so every unique
// index of storage.Schema is checked here, in code, on Insert and Update. Append-only tables
// (storage.TableSchema.AppendOnly) are kept outside go-memdb, in an appendLog each.
package memstore

import (
	"context"
	"hash/maphash"
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
	prev  any // the record before the op, as the transaction saw it (nil for an insert)
}

// Core is a go-memdb database built from storage.Schema, with the state after the latest commit
// (where write transactions start) and a published state (what readers see) that may lag it. It
// is safe for concurrent use: Begin, Read and Publish need no lock; Commit needs the Core's lock
// (Lock), which serializes commits.
type Core struct {
	tables   map[string]*tableMeta
	logs     []*appendLog   // the append-only tables, in storage.Schema order
	logIndex map[string]int // table name -> index in logs

	mu      sync.Mutex   // Lock: held while a batch commits, and by a store's exclusive writer
	db      *memdb.MemDB // the database after the latest commit; under mu
	version uint64       // commits so far; under mu
	conf    conflicts    // under mu
	seed    maphash.Seed // of the read and write keys

	latest  atomic.Pointer[Snapshot] // after the latest commit, published or not
	visible atomic.Pointer[Snapshot] // published
	active  atomic.Int64             // write transactions begun and not yet committed or aborted
}

// Snapshot is the state right after a commit: a go-memdb snapshot, the length of every
// append-only log and the number of commits it holds. Readers of a published Snapshot see
// exactly that state.
type Snapshot struct {
	db      *memdb.MemDB
	lens    []int
	version uint64
}

// NewCore returns an empty Core.
func NewCore() (*Core, error) {
	c := &Core{tables: map[string]*tableMeta{}, logIndex: map[string]int{}}
	for _, ts := range storage.Schema {
		log := -1
		if ts.AppendOnly {
			log = len(c.logs)
			c.logIndex[ts.Name] = log
			c.logs = append(c.logs, newAppendLog(ts))
		}
		c.tables[ts.Name] = newTableMeta(ts, log)
	}
	db, err := memdb.NewMemDB(c.dbSchema())
	if err != nil {
		return nil, errors.Wrap(err, "memstore: schema")
	}
	// DESIGN: the Core writes to a snapshot of the database it made, not to the database itself.
	// go-memdb tracks, for the primary database only, the watch channel of every radix node a
	// write transaction changes, to close them all at commit (WatchSet notifications). Nothing
	// here watches, and that tracking cost ~5 % of a one-record commit's CPU, in the apply that
	// runs one batch at a time under the Core's lock. A snapshot is a full go-memdb database with
	// its own writer.
	c.db, c.seed = db.Snapshot(), maphash.MakeSeed()
	snap := &Snapshot{db: db.Snapshot(), lens: c.logLens()}
	c.latest.Store(snap)
	c.visible.Store(snap)
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

func (c *Core) dbSchema() *memdb.DBSchema {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for _, ts := range storage.Schema {
		if ts.AppendOnly {
			continue
		}
		tm := c.tables[ts.Name]
		t := &memdb.TableSchema{Name: ts.Name, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: tm.indexes["id"].indexer()},
		}}
		for _, ix := range ts.Indexes {
			t.Indexes[ix.Name] = &memdb.IndexSchema{Name: ix.Name, AllowMissing: true, Indexer: tm.indexes[ix.Name].indexer()}
		}
		s.Tables[ts.Name] = t
	}
	return s
}

// index returns the table and index named, checking that args holds one value per field of the
// index ("id" takes none, for the whole table, or one).
func (c *Core) index(table, index string, args []string) (*tableMeta, *indexMeta, error) {
	tm, ok := c.tables[table]
	if !ok {
		return nil, nil, errors.AssertionFailedf("memstore: unknown table %q", table)
	}
	im, ok := tm.indexes[index]
	if !ok {
		return nil, nil, errors.AssertionFailedf("memstore: table %s has no index %q", table, index)
	}
	if (index != "id" || len(args) != 0) && len(args) != len(im.Fields) {
		return nil, nil, errors.AssertionFailedf("memstore: index %s.%s takes %d values, got %d", table, index, len(im.Fields), len(args))
	}
	return tm, im, nil
}

// Read returns a read transaction on the published snapshot.
func (c *Core) Read() storage.ReadTx {
	s := c.visible.Load()
	return &readTx{txn: s.db.Txn(false), core: c, lens: s.lens}
}

// Publish makes snap (from Commit) the state readers see. Snapshots must be published in the
// order they were committed.
func (c *Core) Publish(snap *Snapshot) { c.visible.Store(snap) }

// Apply runs ops (from a log) as one transaction, commits and publishes it. Used by recovery; the
// caller must not commit concurrently.
func (c *Core) Apply(ops []Op) error {
	c.Lock()
	defer c.Unlock()
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
	snap := c.Commit(w)
	if !w.Committed() {
		return errors.AssertionFailedf("memstore: a replayed transaction conflicted")
	}
	c.Publish(snap)
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
	txn   *memdb.Txn
	core  *Core
	lens  []int
	pend  []*logPending // nil in a read transaction
	reads *[]uint64     // a write transaction's read keys; nil in a read transaction
	ov    overlay       // a write transaction's writes; nil in a read transaction
}

// read records that the transaction read what key names (a no-op in a read transaction).
func (r *readTx) read(key uint64) {
	if r.reads != nil {
		*r.reads = append(*r.reads, key)
	}
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
	r.read(r.core.recordKey(table, id))
	if li, l := r.core.logFor(table); l != nil {
		return r.logGet(li, l, table, id, out)
	}
	obj, written := r.ov.lookup(table, id)
	if !written {
		var err error
		if obj, err = r.txn.First(table, "id", id); err != nil {
			return nil, errors.Wrapf(err, "memstore: get %s", table)
		}
	}
	if obj == nil {
		return nil, errclass.Tag(errors.Newf("%s %q not found", table, id), storage.ErrNotFound)
	}
	return out(obj), nil
}

// list is a Range without cursor or limit.
func (r *readTx) list(table, index string, args []string, copyOut func(any) any) ([]any, error) {
	return r.rangeOf(table, storage.Range{Index: index, Args: args}, nil, copyOut)
}

// optimisticRuns is how many times a store runs an Update's fn optimistically before it runs it
// once more holding the Core's lock, where it cannot conflict: fn runs at most optimisticRuns+1
// times.
const optimisticRuns = 2

// Store is the in-memory storage.Storage. It is safe for concurrent use. Update runs fn
// optimistically (see storage.Storage: fn may run more than once) and commits concurrent
// transactions in batches.
type Store struct {
	core   *Core
	mu     sync.RWMutex
	closed bool

	qmu   sync.Mutex
	queue []*WriteTxn // sealed transactions waiting for the commit lock
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

// Update runs fn in an optimistic write transaction and commits it, running fn again when a
// concurrent commit changed what it read (at most optimisticRuns+1 runs; the last holds the
// commit lock). It returns fn's error, the context's error if ctx is done before a run starts, or
// an ErrUnavailable error once the store is closed.
func (s *Store) Update(ctx context.Context, fn func(storage.WriteTx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	for run := 0; run < optimisticRuns; run++ {
		if run > 0 {
			if err := ctx.Err(); err != nil {
				return errors.Wrap(err, "memstore")
			}
		}
		w := s.core.Begin()
		if err := fn(w); err != nil {
			w.Abort()
			return err
		}
		if len(w.Ops()) == 0 {
			w.Abort()
			return nil
		}
		w.Seal()
		if s.commit(w) {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return errors.Wrap(err, "memstore")
	}
	s.core.Lock()
	defer s.core.Unlock()
	w := s.core.Begin()
	if err := fn(w); err != nil {
		w.Abort()
		return err
	}
	if len(w.Ops()) > 0 {
		s.core.Publish(s.core.Commit(w))
	} else {
		w.Abort()
	}
	return nil
}

// commit queues w and commits it, with every transaction queued meanwhile, under the commit lock,
// unless the writer that held the lock before has committed it already. It reports whether w
// committed.
func (s *Store) commit(w *WriteTxn) bool {
	s.qmu.Lock()
	s.queue = append(s.queue, w)
	s.qmu.Unlock()
	s.core.Lock()
	defer s.core.Unlock()
	if !w.Done() {
		s.qmu.Lock()
		batch := s.queue
		s.queue = nil
		s.qmu.Unlock()
		s.core.Publish(s.core.Commit(batch...))
	}
	return w.Committed()
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
