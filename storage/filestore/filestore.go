// Package filestore implements storage.Storage durably in a local directory: go-memdb in memory
// (memstore.Core) in front of a write-ahead log and periodic snapshots.
//
// Each committed transaction is appended to the log as one checksummed frame (length, CRC-32C,
// payload) and fdatasync'ed before Update returns and before readers can see it. Write
// transactions are optimistic (memstore.Core): they run concurrently and encode their frames on
// their own goroutines; a sequencer validates and applies them in batches, and a syncer writes
// every batch ready with one write and one fdatasync (group commit) while the sequencer prepares
// the next (see commit.go). If a log write or fsync fails, the commits of that group fail, the log
// is truncated back, and the store refuses every Update with an ErrUnavailable error; View keeps
// serving the last durable state. After a backoff (WithRecoveryBackoff) the next Update recovers
// the state from disk, not from memory or the page cache, and writes are accepted again (see
// failure.go).
//
// A snapshot (every WithSnapshotBytes of log, or on Snapshot) writes every record to a temporary
// file, fsyncs it, renames it into place and fsyncs the directory; the log segments it covers are
// then removed. Open loads the newest snapshot and replays the log after it. A torn tail (a damaged
// last frame with nothing valid after it, left by a crash during a write that was never
// acknowledged) is truncated; any other damage fails Open with an ErrCorrupt error. The log is
// zero-filled ahead of its last frame (WithPrealloc), so commits overwrite allocated blocks; zeros
// after the last frame are the end of the log, and Open and Close cut them off.
//
// Files in the directory: LOCK (flock'ed while open), wal-<seq>.log (log segments, named by the
// sequence number of their first commit), snap-<seq>.snap (snapshots, named by the last commit they
// hold) and snap-<seq>.tmp (snapshots being written).
package filestore

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// DefaultSnapshotBytes is the log size after which a snapshot is taken automatically.
const DefaultSnapshotBytes = 64 << 20

// DefaultPreallocBytes is how far ahead of its end the log is zero-filled (see WithPrealloc).
const DefaultPreallocBytes = 4 << 20

// Default bounds of the wait before a store that failed a log write tries to recover (see
// WithRecoveryBackoff).
const (
	DefaultRecoveryBackoff    = time.Second
	DefaultMaxRecoveryBackoff = 30 * time.Second
)

// ErrLocked marks the error Open returns when another open store (in this or another process)
// holds the data directory. Such errors are marked storage.ErrUnavailable too.
var ErrLocked = errors.New("data directory in use")

type options struct {
	fs                  FS
	snapshotBytes       int64
	prealloc            int64
	backoff, maxBackoff time.Duration
}

// Option configures Open.
type Option func(*options)

// WithFS makes the store do all its file I/O through fsys (default OSFS). Tests use it to inject
// faults.
func WithFS(fsys FS) Option { return func(o *options) { o.fs = fsys } }

// WithSnapshotBytes sets the log size after which a snapshot is taken in the background
// (default DefaultSnapshotBytes). n <= 0 turns automatic snapshots off.
func WithSnapshotBytes(n int64) Option { return func(o *options) { o.snapshotBytes = n } }

// WithPrealloc sets how far ahead of the last commit the log segment is zero-filled (default
// DefaultPreallocBytes; 0 turns it off). A commit then overwrites blocks already allocated and
// written, so its fdatasync has only data to flush, not the file's new size and block map; the
// log grows by n at a time, in the same write as the commit that reaches its end.
func WithPrealloc(n int64) Option { return func(o *options) { o.prealloc = max(n, 0) } }

// WithRecoveryBackoff sets how long a store that failed a log write refuses writes before an
// Update tries to recover (first wait), and the longest wait, which doubles after each failed
// attempt (defaults DefaultRecoveryBackoff and DefaultMaxRecoveryBackoff).
func WithRecoveryBackoff(first, longest time.Duration) Option {
	return func(o *options) { o.backoff, o.maxBackoff = first, max(first, longest) }
}

// Stats are counters of a Store since Open.
type Stats struct {
	Commits    uint64 // durable commits
	Syncs      uint64 // fdatasyncs of the log for commits; Commits/Syncs is the group-commit factor
	Conflicts  uint64 // optimistic transactions run again because a concurrent commit changed what they read
	Snapshots  uint64 // snapshots written
	Recoveries uint64 // recoveries from disk after a failed log write
	LogBytes   int64  // size of the current log segment
	// SyncTime is the wall time spent in the log writes and fdatasyncs of commits: the disk's
	// share of a commit (the rest is CPU and waiting for the next group).
	SyncTime time.Duration
	// SnapshotErr is the error of the last automatic snapshot, or nil if it succeeded.
	SnapshotErr error
}

// Store is the durable storage.Storage. It is safe for concurrent use.
type Store struct {
	dir  string
	fs   FS
	opts options
	core atomic.Pointer[memstore.Core] // replaced when the store recovers after a failure
	lock io.Closer

	mu     sync.RWMutex // Update holds it for reading; Close for writing, to wait for them
	closed atomic.Bool

	// Writers hand sealed transactions to the sequencer.
	qmu   sync.Mutex
	queue []*pending
	qkick chan struct{}

	seq      uint64       // last sequence number given to a commit; under the core's lock
	inflight atomic.Int64 // commits queued or sequenced and not yet answered

	// The sequencer hands batches of sequenced commits to the syncer.
	bmu     sync.Mutex
	batches []*batch
	bkick   chan struct{}

	calls    chan func() // run on the syncer goroutine (log rotations, recovery)
	stop     chan struct{}
	seqDone  chan struct{}
	syncDone chan struct{}

	// Under syncMu (and owned by Open and Close when the goroutines are not running).
	syncMu     sync.Mutex
	seg        File
	segStart   uint64
	segSize    int64 // the end of the last frame
	segAlloc   int64 // the file's size: segSize and the zero-filled space after it
	durable    uint64
	buf        []byte
	zeros      []byte // WithPrealloc bytes of zeros, made at the first growth
	nextSnapAt int64

	failMu  sync.Mutex
	failErr error     // the failure writes are refused for, or nil
	retryAt time.Time // when an Update may try to recover
	backoff time.Duration
	recMu   sync.Mutex // one recovery at a time

	snapMu      sync.Mutex // one snapshot at a time
	snapWG      sync.WaitGroup
	lastSnapSeq uint64 // under snapMu

	commits, syncs, conflicts, snapshots, recoveries atomic.Uint64
	logBytes, syncNanos                              atomic.Int64
	snapErr                                          atomic.Pointer[error]
}

var _ storage.Storage = (*Store)(nil)

type rotation struct {
	seq  uint64
	read storage.ReadTx
	err  error
}

// Open opens (creating it if needed) the store in dir, recovering its state from the newest
// snapshot and the log. It returns an error marked storage.ErrCorrupt if the durable state is
// damaged anywhere but in a torn tail, an error marked ErrLocked and storage.ErrUnavailable if
// another store holds dir, and a plain error for I/O failures.
func Open(dir string, opts ...Option) (*Store, error) {
	o := options{fs: OSFS{}, snapshotBytes: DefaultSnapshotBytes, prealloc: DefaultPreallocBytes,
		backoff: DefaultRecoveryBackoff, maxBackoff: DefaultMaxRecoveryBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.fs.MkdirAll(dir, 0o700); err != nil {
		return nil, errors.Wrap(err, "filestore: create data directory")
	}
	lock, err := o.fs.Lock(filepath.Join(dir, "LOCK"))
	if err != nil {
		if errors.Is(err, errWouldBlock) {
			err = errors.Newf("filestore: data directory %s is in use by another open store", dir)
			err = errclass.Tag(errclass.Tag(err, ErrLocked), storage.ErrUnavailable)
			return nil, errors.WithHint(err, "close the other store (in this or another process) first")
		}
		return nil, errors.Wrap(err, "filestore: lock data directory")
	}
	core, err := memstore.NewCore()
	if err != nil {
		_ = lock.Close()
		return nil, err
	}
	s := &Store{
		dir: dir, fs: o.fs, opts: o, lock: lock, backoff: o.backoff,
		qkick:    make(chan struct{}, 1),
		bkick:    make(chan struct{}, 1),
		calls:    make(chan func()),
		stop:     make(chan struct{}),
		seqDone:  make(chan struct{}),
		syncDone: make(chan struct{}),
	}
	if err := s.recover(core, false); err != nil {
		if s.seg != nil {
			_ = s.seg.Close()
		}
		_ = lock.Close()
		return nil, err
	}
	s.core.Store(core)
	s.seq = s.durable
	s.nextSnapAt = o.snapshotBytes
	s.logBytes.Store(s.segSize)
	go s.sequencer()
	go s.syncer()
	return s, nil
}

// View runs fn in a read transaction on the last durable state. It returns fn's error, the
// context's error if ctx is done before it starts, or an ErrUnavailable error once the store is
// closed.
func (s *Store) View(ctx context.Context, fn func(storage.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return errors.Wrap(err, "filestore")
	}
	if s.closed.Load() {
		return errClosed()
	}
	return fn(s.core.Load().Read())
}

// Update runs fn in an optimistic write transaction (see storage.Storage: fn may run more than
// once, at most three times; the last run holds the commit lock). When fn returns nil, its writes
// are on disk when Update returns nil. It returns fn's error (and nothing of fn's writes
// remains), the context's error if ctx is done before a run starts, or an ErrUnavailable error if
// the store is closed, if the log write failed (the commit did not happen), or if an earlier log
// write failed and the store has not recovered yet (see Store's doc).
func (s *Store) Update(ctx context.Context, fn func(storage.WriteTx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for run := 0; ; run++ {
		if err := ctx.Err(); err != nil {
			return errors.Wrap(err, "filestore")
		}
		if s.closed.Load() {
			return errClosed()
		}
		if err := s.writable(); err != nil {
			return err
		}
		p, err := s.run(fn, run >= optimisticRuns)
		if err != nil || p == nil {
			return err
		}
		s.syncInline(p)
		err = <-p.done
		s.inflight.Add(-1)
		if !errors.Is(err, errRetry) {
			return err
		}
		s.conflicts.Add(1)
	}
}

func errClosed() error {
	return errclass.Tag(errors.New("filestore: store is closed"), storage.ErrUnavailable)
}

// Stats returns the store's counters. It is safe for concurrent use.
func (s *Store) Stats() Stats {
	st := Stats{
		Commits:    s.commits.Load(),
		Syncs:      s.syncs.Load(),
		Conflicts:  s.conflicts.Load(),
		Snapshots:  s.snapshots.Load(),
		Recoveries: s.recoveries.Load(),
		LogBytes:   s.logBytes.Load(),
		SyncTime:   time.Duration(s.syncNanos.Load()),
	}
	if p := s.snapErr.Load(); p != nil {
		st.SnapshotErr = *p
	}
	return st
}

// Close waits for Updates in progress to end (their commits on disk, or failed) and for a running
// snapshot to finish, then releases the data directory. Later calls of View and Update return
// ErrUnavailable errors; a second Close returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.mu.Unlock()
	close(s.stop)
	<-s.seqDone
	<-s.syncDone
	s.snapWG.Wait()
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	var err error
	if s.seg != nil {
		s.trimSegment() // a clean close leaves no zero-filled space behind
		err = s.seg.Close()
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return errors.Wrap(err, "filestore: close")
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

func segName(start uint64) string { return fmtName("wal-", start, ".log") }
func snapName(seq uint64) string  { return fmtName("snap-", seq, ".snap") }

// createSegment creates the log segment starting at seq and makes it durable (its header and its
// directory entry), so acknowledged commits in it survive a crash.
func (s *Store) createSegment(start uint64) (File, error) {
	name := s.path(segName(start))
	f, err := s.fs.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, errors.Wrap(err, "filestore: create log segment")
	}
	n, err := f.Write(walMagic[:])
	if err == nil && n != len(walMagic) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = s.fs.SyncDir(s.dir)
	}
	if err != nil {
		_ = f.Close()
		_ = s.fs.Remove(name)
		return nil, errors.Wrap(err, "filestore: create log segment")
	}
	return f, nil
}

// trimSegment cuts the zero-filled space off the current segment (best effort: recovery accepts
// zeros after the last frame). It runs on the syncer or when it is not running.
func (s *Store) trimSegment() {
	if s.segAlloc > s.segSize && s.seg.Truncate(s.segSize) == nil && s.seg.Sync() == nil {
		s.segAlloc = s.segSize
	}
}
