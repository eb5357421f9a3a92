// Package pgstore implements storage.Storage on PostgreSQL, through pgx and its pool, so that
// several processes (replicas of one service) share one durable, transactional store.
//
// # Layout
//
// Every table of storage.Schema is a relation of its own in one PostgreSQL schema (the namespace,
// "opa" unless WithNamespace says otherwise): the record id as primary key, the record's JSON
// (the encoding filestore logs) as bytea, and its index fields as text columns with real btree
// indexes. A unique index is a UNIQUE index over non-empty values (a partial index that leaves
// out the rows whose indexed columns are empty); a case-insensitive index keeps its columns lowercased (by Go, so the database's
// collation never decides what is equal); a Multi index is a side relation of (value, id). Text is
// COLLATE "C", so every order is byte order, as in the embedded stores. Sealed secrets stay the
// sealed bytes inside the record's JSON; no column holds a secret.
//
// Open creates the namespace and its relations, or migrates them: the relation _pgstore records
// the layout version and the tables and indexes applied. Tables and indexes that storage.Schema
// gained since are created (a new index is filled from the stored records); a database with a
// higher layout version, or with a table or index this code does not know, was laid out by a newer
// program and is refused with an ErrNewerSchema error, before anything is written. Concurrent
// Opens of one namespace are serialized by an advisory lock.
//
// # Transactions
//
// View runs fn in a READ ONLY transaction at REPEATABLE READ: one snapshot, taken at its first
// statement. Update runs fn in a SERIALIZABLE transaction. When PostgreSQL aborts it with a
// serialization failure (SQLSTATE 40001) or a deadlock (40P01), or a concurrent commit takes a
// unique value under it (23505), Update rolls back and runs fn again on a fresh transaction,
// after a jittered, exponentially growing pause, up to a bound (WithRetries); when the bound is
// reached it returns an ErrConflict error. PostgreSQL reports most serialization failures on the
// statement that meets the conflict, not at COMMIT; such a run is run again whatever fn returned,
// since its error (or its choice to go on) came from a transaction already doomed. An error fn
// returns on a healthy transaction ends the Update with that error, and fn is not run again. So:
//
// The function given to Update may run more than once. Each run starts from the committed state
// of that moment; only the last run's writes are committed. fn must therefore have no effect
// outside its transaction (no messages sent, no counters bumped, no directory writes) and must not
// carry values from one run into the next; compute what to write inside fn, act on the outcome
// after Update returns.
//
// Every call on a transaction is one round trip to the server. A transaction is used by one
// goroutine at a time. A Store is safe for concurrent use: Views and Updates run in parallel, each
// on a pooled connection, and PostgreSQL orders them.
//
// # Append-only tables
//
// An append-only table (storage.TableSchema.AppendOnly) has an identity column, seq, and lists it
// in seq order. seq is drawn from a sequence when the row is inserted, not when its transaction
// commits, so two transactions appending at the same moment may commit in the other order than
// their seq: a reader may see seq 11 before seq 10 has committed, and later see 10 listed before
// 11. What holds: every snapshot lists its records in one order that every replica agrees on, an
// order that never changes once records are visible together; a transaction's own records keep
// the order it inserted them; and a record whose transaction started after another record's
// commit always comes after it (its seq was drawn later). Records are only ever reordered relative
// to records whose transactions overlapped in time, whose relative order is not meaningful (either
// could have been first). The cost of the alternative, ordering by commit, is serializing every
// appending transaction through one lock held until its commit, and nearly every write
// transaction of the engine appends an audit event. A reader that follows the log incrementally
// must therefore not treat "after the last seq I saw" as "everything new".
//
// # Errors
//
// Not found is storage.ErrNotFound; an existing id or a taken unique value is storage.ErrConflict;
// a lost connection, a shut-down or restarting server, or a closed Store is storage.ErrUnavailable.
// A connection lost during COMMIT leaves the outcome unknown: Update returns ErrUnavailable and the
// transaction may or may not have committed. A canceled context returns the context's error.
package pgstore

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// DefaultNamespace is the PostgreSQL schema the store lives in unless WithNamespace names another.
const DefaultNamespace = "opa"

// Defaults of WithRetries.
const (
	DefaultMaxAttempts = 20
	DefaultBackoffBase = 2 * time.Millisecond
	DefaultBackoffMax  = 250 * time.Millisecond
)

type options struct {
	ns                     string
	attempts               int
	backoffBase, backoffMx time.Duration
}

// Option configures Open and New.
type Option func(*options)

// WithNamespace puts the store in the PostgreSQL schema name (created if missing), so several
// stores can share one database. Names are quoted: any string is a valid name.
func WithNamespace(name string) Option { return func(o *options) { o.ns = name } }

// WithRetries bounds Update's retries: at most attempts runs of fn, the pause before run n+1
// drawn uniformly from [d/2, d] with d = min(base·2ⁿ⁻¹, ceiling).
func WithRetries(attempts int, base, ceiling time.Duration) Option {
	return func(o *options) {
		o.attempts, o.backoffBase, o.backoffMx = max(attempts, 1), base, ceiling
	}
}

// Stats counts a Store's Update outcomes since it was opened.
type Stats struct {
	Commits   uint64 // Updates that committed
	Retries   uint64 // runs of fn that were aborted and run again
	Conflicts uint64 // Updates that ran out of retries (returned ErrConflict)
}

// Store is a storage.Storage on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	l       *layout
	opts    options
	closed  atomic.Bool

	commits, retries, conflicts atomic.Uint64
}

var _ storage.Storage = (*Store)(nil)

// Open connects to the database dsn names (a PostgreSQL URL or key=value string; pgxpool's pool_*
// parameters such as pool_max_conns apply), creates or migrates the store's schema, and returns
// the store. Close closes the pool. Errors: ErrUnavailable when the server cannot be reached,
// ErrNewerSchema when the database was laid out by a newer program.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.Wrap(err, "pgstore: parsing the connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify(ctx, err, "connecting")
	}
	s, err := New(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New is Open on a pool the caller made; Close leaves the pool open.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	o := options{ns: DefaultNamespace, attempts: DefaultMaxAttempts, backoffBase: DefaultBackoffBase, backoffMx: DefaultBackoffMax}
	for _, opt := range opts {
		opt(&o)
	}
	l, err := newLayout(o.ns)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool, l); err != nil {
		return nil, err
	}
	return &Store{pool: pool, l: l, opts: o}, nil
}

// Namespace returns the PostgreSQL schema the store lives in.
func (s *Store) Namespace() string { return s.l.ns }

// Stats returns the store's Update counters.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Retries: s.retries.Load(), Conflicts: s.conflicts.Load()}
}

func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errors.Wrap(err, "pgstore")
	}
	if s.closed.Load() {
		return errclass.Mark(storage.ErrUnavailable, "pgstore: store is closed")
	}
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction. It returns fn's error, or an
// ErrUnavailable error when the server cannot be reached.
func (s *Store) View(ctx context.Context, fn func(storage.ReadTx) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return classify(ctx, err, "begin")
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	r := &readTx{ctx: ctx, tx: tx, l: s.l}
	err = fn(r)
	if err == nil && r.broken != nil {
		err = r.broken
	}
	return err
}

// Update runs fn in a SERIALIZABLE transaction and commits it when fn returns nil, running fn
// again when PostgreSQL aborts the transaction on a conflict with a concurrent one (see the
// package documentation: fn may run more than once). It returns fn's error (nothing is
// committed), an ErrConflict error when the retries run out, an ErrUnavailable error when the
// server cannot be reached (a connection lost during COMMIT leaves the outcome unknown).
func (s *Store) Update(ctx context.Context, fn func(storage.WriteTx) error) error {
	for run := 1; ; run++ {
		if err := s.enter(ctx); err != nil {
			return err
		}
		err := s.attempt(ctx, fn)
		if err == nil {
			s.commits.Add(1)
			return nil
		}
		retry := errors.Is(err, errRetry) || (errors.Is(err, storage.ErrUnavailable) && pgconn.SafeToRetry(err))
		if !retry {
			return err
		}
		if run >= s.opts.attempts {
			s.conflicts.Add(1)
			return errclass.Wrap(err, storage.ErrConflict, "pgstore: gave up after %d attempts", run)
		}
		s.retries.Add(1)
		if err := sleep(ctx, s.backoff(run)); err != nil {
			return err
		}
	}
}

// backoff returns the pause after the failed run n (n ≥ 1).
func (s *Store) backoff(n int) time.Duration {
	d := s.opts.backoffMx
	if n < 30 {
		d = min(s.opts.backoffBase<<(n-1), s.opts.backoffMx)
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.Wrap(ctx.Err(), "pgstore: waiting to retry")
	}
}

// attempt runs fn once in a new transaction and commits it.
func (s *Store) attempt(ctx context.Context, fn func(storage.WriteTx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return classify(ctx, err, "begin")
	}
	// A rollback after the commit does nothing; before it (fn failed, or panicked), it releases
	// the connection.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	w := &writeTx{readTx{ctx: ctx, tx: tx, l: s.l}}
	ferr := fn(w)
	if ferr != nil || w.broken != nil {
		switch {
		case w.broken != nil && errors.Is(w.broken, errRetry):
			// fn saw a transaction PostgreSQL had already doomed; its verdict does not count.
			return w.broken
		case ferr != nil:
			return ferr
		default:
			return w.broken
		}
	}
	if err := tx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			return errors.AssertionFailedf("pgstore: commit rolled back after a failure the transaction did not record")
		}
		return classify(ctx, err, "commit")
	}
	return nil
}

// Close closes the store (and the pool, if Open made it), waiting for transactions in progress.
// Later calls return ErrUnavailable errors. It is safe to call more than once.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}
