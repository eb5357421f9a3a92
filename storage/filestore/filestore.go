// Package filestore implements storage.Storage durably in a local directory: go-memdb in memory
// (memstore.Core) in front of a write-ahead log and periodic snapshots.
//
// Each committed transaction is appended to the log as one checksummed frame (length, CRC-32C,
// payload) and fdatasync'ed before Update returns and before readers can see it. Concurrent
// Update calls share fsyncs (group commit): a committer goroutine writes every queued frame with
// one write and one fdatasync, then publishes the newest state and wakes the writers. If a log
// write or fsync fails, the commits of that group fail, the log is truncated back, and the store
// refuses every later Update with an ErrUnavailable error until it is reopened; View keeps serving
// the last durable state.
//
// A snapshot (every WithSnapshotBytes of log, or on Snapshot) writes every record to a temporary
// file, fsyncs it, renames it into place and fsyncs the directory; the log segments it covers are
// then removed. Open loads the newest snapshot and replays the log after it. A torn tail (a damaged
// last frame with nothing valid after it, left by a crash during a write that was never
// acknowledged) is truncated; any other damage fails Open with an ErrCorrupt error.
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

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// DefaultSnapshotBytes is the log size after which a snapshot is taken automatically.
const DefaultSnapshotBytes = 64 << 20

// ErrLocked marks the error Open returns when another open store (in this or another process)
// holds the data directory. Such errors are marked storage.ErrUnavailable too.
var ErrLocked = errors.New("data directory in use")

type options struct {
	fs            FS
	snapshotBytes int64
}

// Option configures Open.
type Option func(*options)

// WithFS makes the store do all its file I/O through fsys (default OSFS). Tests use it to inject
// faults.
func WithFS(fsys FS) Option { return func(o *options) { o.fs = fsys } }

// WithSnapshotBytes sets the log size after which a snapshot is taken in the background
// (default DefaultSnapshotBytes). n <= 0 turns automatic snapshots off.
func WithSnapshotBytes(n int64) Option { return func(o *options) { o.snapshotBytes = n } }

// Stats are counters of a Store since Open.
type Stats struct {
	Commits   uint64 // durable commits
	Syncs     uint64 // fdatasyncs of the log for commits; Commits/Syncs is the group-commit factor
	Snapshots uint64 // snapshots written
	LogBytes  int64  // size of the current log segment
	// SnapshotErr is the error of the last automatic snapshot, or nil if it succeeded.
	SnapshotErr error
}

// Store is the durable storage.Storage. It is safe for concurrent use.
type Store struct {
	dir  string
	fs   FS
	opts options
	core *memstore.Core
	lock io.Closer

	wmu    sync.Mutex // held from Begin to enqueue, so the log order is the commit order
	seq    uint64     // last sequence number given to a commit; under wmu
	closed atomic.Bool

	qmu     sync.Mutex
	queue   []*pending
	kick    chan struct{}
	snapReq chan chan rotation
	stop    chan struct{}
	done    chan struct{}

	// Owned by the committer goroutine (and by Open and Close when it is not running).
	seg        File
	segStart   uint64
	segSize    int64
	durable    uint64
	buf        []byte
	nextSnapAt int64

	failMu  sync.Mutex
	failErr error

	snapMu      sync.Mutex // one snapshot at a time
	snapWG      sync.WaitGroup
	lastSnapSeq uint64 // under snapMu

	commits, syncs, snapshots atomic.Uint64
	logBytes                  atomic.Int64
	snapErr                   atomic.Pointer[error]
}

var _ storage.Storage = (*Store)(nil)

type pending struct {
	seq   uint64
	frame []byte
	snap  *memstore.Snapshot
	done  chan error
}

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
	o := options{fs: OSFS{}, snapshotBytes: DefaultSnapshotBytes}
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
		dir: dir, fs: o.fs, opts: o, core: core, lock: lock,
		kick:    make(chan struct{}, 1),
		snapReq: make(chan chan rotation),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		if s.seg != nil {
			_ = s.seg.Close()
		}
		_ = lock.Close()
		return nil, err
	}
	s.seq = s.durable
	s.nextSnapAt = o.snapshotBytes
	s.logBytes.Store(s.segSize)
	go s.run()
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
	return fn(s.core.Read())
}

// Update runs fn in a write transaction. When fn returns nil, its writes are on disk when Update
// returns nil. It returns fn's error (and nothing of fn's writes remains), the context's error if
// ctx is done before the transaction starts, or an ErrUnavailable error if the store is closed,
// if the log write failed (the commit did not happen), or if an earlier log write failed.
func (s *Store) Update(ctx context.Context, fn func(storage.WriteTx) error) error {
	if err := ctx.Err(); err != nil {
		return errors.Wrap(err, "filestore")
	}
	p, err := s.commit(fn)
	if err != nil || p == nil {
		return err
	}
	return <-p.done
}

// commit runs fn and, if it wrote anything, commits it in memory and queues its log frame.
func (s *Store) commit(fn func(storage.WriteTx) error) (*pending, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil, errClosed()
	}
	if err := s.failure(); err != nil {
		return nil, err
	}
	w := s.core.Begin()
	defer w.Abort() // after Commit it does nothing
	if err := fn(w); err != nil {
		return nil, err
	}
	ops := w.Ops()
	if len(ops) == 0 {
		return nil, nil
	}
	frame, err := appendOps(newFrame(make([]byte, 0, 512), s.seq+1, kindCommit), ops)
	if err != nil {
		return nil, err
	}
	s.seq++
	p := &pending{seq: s.seq, frame: sealFrame(frame), snap: w.Commit(), done: make(chan error, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	s.qmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return p, nil
}

func errClosed() error {
	return errclass.Tag(errors.New("filestore: store is closed"), storage.ErrUnavailable)
}

// failure returns the error every Update returns after a failed log write, or nil.
func (s *Store) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failErr == nil {
		return nil
	}
	err := errclass.Tag(errors.New("filestore: store refuses writes after a failed log write"), storage.ErrUnavailable)
	return errors.WithHint(err, "check the disk, then reopen the store")
}

// run is the committer goroutine: it writes queued frames in groups and takes log rotations for
// snapshots between groups.
func (s *Store) run() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
			s.flush()
			s.maybeSnapshot()
		case reply := <-s.snapReq:
			reply <- s.rotate()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

// flush writes every queued frame with one write and one fdatasync, then publishes the newest
// state and wakes the writers.
func (s *Store) flush() {
	s.qmu.Lock()
	batch := s.queue
	s.queue = nil
	s.qmu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := s.failure(); err != nil {
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	buf := s.buf[:0]
	for _, p := range batch {
		buf = append(buf, p.frame...)
	}
	s.buf = buf
	n, err := s.seg.Write(buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = s.seg.Sync()
	}
	if err != nil {
		err = s.fail(err)
		for _, p := range batch {
			p.done <- err
		}
		return
	}
	s.segSize += int64(n)
	s.logBytes.Store(s.segSize)
	s.syncs.Add(1)
	s.commits.Add(uint64(len(batch)))
	last := batch[len(batch)-1]
	s.core.Publish(last.snap)
	s.durable = last.seq
	for _, p := range batch {
		p.done <- nil
	}
}

// fail puts the store into the failed state after a log write or sync failed, and tries to cut
// the log back to its last durable size so the failed commits leave no trace. It returns the error
// for the commits of the failed group.
func (s *Store) fail(cause error) error {
	s.failMu.Lock()
	s.failErr = cause
	s.failMu.Unlock()
	msg := "filestore: commit failed and was rolled back"
	if err := s.seg.Truncate(s.segSize); err != nil {
		msg = "filestore: commit failed; it may or may not survive a reopen"
	} else if err := s.seg.Sync(); err != nil {
		msg = "filestore: commit failed; it may or may not survive a reopen"
	}
	return errclass.Tag(errors.Wrap(cause, msg), storage.ErrUnavailable)
}

// maybeSnapshot starts a background snapshot when the log has grown past the threshold.
func (s *Store) maybeSnapshot() {
	if s.opts.snapshotBytes <= 0 || s.segSize < s.nextSnapAt || s.failure() != nil {
		return
	}
	// If this attempt fails before rotating, retry after another threshold of log.
	s.nextSnapAt = s.segSize + s.opts.snapshotBytes
	s.snapWG.Add(1)
	go func() {
		defer s.snapWG.Done()
		if !s.snapMu.TryLock() {
			return
		}
		defer s.snapMu.Unlock()
		err := s.snapshot()
		s.snapErr.Store(&err)
	}()
}

// Stats returns the store's counters. It is safe for concurrent use.
func (s *Store) Stats() Stats {
	st := Stats{
		Commits:   s.commits.Load(),
		Syncs:     s.syncs.Load(),
		Snapshots: s.snapshots.Load(),
		LogBytes:  s.logBytes.Load(),
	}
	if p := s.snapErr.Load(); p != nil {
		st.SnapshotErr = *p
	}
	return st
}

// Close waits for queued commits to reach the disk and for a running snapshot to finish, then
// releases the data directory. Later calls of View and Update return ErrUnavailable errors; a
// second Close returns nil.
func (s *Store) Close() error {
	s.wmu.Lock()
	if s.closed.Load() {
		s.wmu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.wmu.Unlock()
	close(s.stop)
	<-s.done
	s.snapWG.Wait()
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	err := s.seg.Close()
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
	f, err := s.fs.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
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
