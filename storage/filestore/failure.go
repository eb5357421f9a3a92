package filestore

import (
	"os"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// After a failed log write or fsync the store refuses writes: the commits of the failed group
// (and any sequenced after them) fail, and the in-memory state, which holds them, is no longer
// trusted. Nor is the page cache: after a failed fsync the kernel may have dropped the dirty pages
// or kept them and marked them clean, so what a read returns says nothing of what is on disk.
// Once the backoff has passed, the next Update recovers: it stops the pipeline, cuts the log back
// to the size its last successful fsync made durable and fsyncs that, evicts the files' cached
// pages, and rebuilds the state from the snapshot and the log as Open does, into a new Core. The
// recovered state must end at the last acknowledged commit exactly; then writes are accepted
// again. A failed recovery doubles the backoff.

// fail puts the store into the failed state after a log write or sync failed, and tries to cut
// the log back to its last durable size so the failed commits leave no trace. It returns the error
// for the commits of the failed group. It runs on the syncer.
func (s *Store) fail(cause error) error {
	s.failMu.Lock()
	s.failErr = cause
	s.retryAt = time.Now().Add(s.backoff)
	s.failMu.Unlock()
	msg := "filestore: commit failed and was rolled back"
	s.segAlloc = s.segSize
	if err := s.seg.Truncate(s.segSize); err != nil {
		msg = "filestore: commit failed; it may or may not survive a reopen"
	} else if err := s.seg.Sync(); err != nil {
		msg = "filestore: commit failed; it may or may not survive a reopen"
	}
	return errclass.Tag(errors.Wrap(cause, msg), storage.ErrUnavailable)
}

// failure returns the error every Update returns while the store is failed, or nil.
func (s *Store) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if s.failErr == nil {
		return nil
	}
	err := errclass.Tag(errors.New("filestore: store refuses writes after a failed log write"), storage.ErrUnavailable)
	return errors.WithHintf(err, "check the disk; the store tries to recover on a write after %s",
		s.retryAt.Format(time.RFC3339Nano))
}

// writable returns nil when the store accepts writes, recovering first if it failed and its
// backoff has passed; otherwise the failure.
func (s *Store) writable() error {
	if s.failure() == nil {
		return nil
	}
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.failMu.Lock()
	failed, due := s.failErr != nil, !time.Now().Before(s.retryAt)
	s.failMu.Unlock()
	if !failed {
		return nil // another writer recovered
	}
	if !due {
		return s.failure()
	}
	// No snapshot may remove log segments while they are reread, and nothing may commit on the
	// Core being replaced.
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	c := s.core.Load()
	c.Lock()
	defer c.Unlock()
	var err error
	if cerr := s.onSyncer(func() { err = s.reload() }); cerr != nil {
		return cerr
	}
	s.failMu.Lock()
	defer s.failMu.Unlock()
	if err != nil {
		s.backoff = min(2*s.backoff, s.opts.maxBackoff)
		s.retryAt = time.Now().Add(s.backoff)
		err = errclass.Tag(errors.Wrap(err, "filestore: store refuses writes after a failed log write; recovery failed"), storage.ErrUnavailable)
		return errors.WithHintf(err, "check the disk; the store tries again on a write after %s", s.retryAt.Format(time.RFC3339Nano))
	}
	s.failErr, s.backoff = nil, s.opts.backoff
	s.recoveries.Add(1)
	return nil
}

// reload rebuilds the store's state from disk after a failure: the log cut back to its last
// durable size, every file read past the page cache, a new Core. It runs on the syncer, with the
// snapshot lock and the current Core's lock held.
func (s *Store) reload() error {
	// Batches still waiting for the syncer were sequenced on the Core being replaced, after the
	// failed group: they checked the store was healthy while the failing write was under way. Their
	// sequence numbers follow the failed group's and their writes are not on disk, so they can never
	// be durable: fail them now. None can be added after this: sequencing holds the Core's lock,
	// which the recovery holds until the new Core is in place, and checks that its Core is current.
	answerBatches(drain(&s.bmu, &s.batches), s.failure())
	if s.seg != nil {
		_ = s.seg.Close() // a failed fsync's error may stick to the descriptor
		s.seg = nil
	}
	f, err := s.fs.OpenFile(s.path(segName(s.segStart)), os.O_WRONLY, 0)
	if err != nil {
		return errors.Wrap(err, "filestore: reopen log segment")
	}
	err = f.Truncate(s.segSize)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Wrap(err, "filestore: cut the log back to its durable size")
	}
	acked := s.durable
	core, err := memstore.NewCore()
	if err != nil {
		return err
	}
	if err := s.recover(core, true); err != nil {
		return err
	}
	if s.durable != acked {
		// What the disk holds is not what was acknowledged: refuse to go on from it.
		err := corruptf("the log holds commits up to %d after recovery, but %d were acknowledged", s.durable, acked)
		s.durable = acked
		return err
	}
	s.seq = s.durable
	s.nextSnapAt = s.segSize + s.opts.snapshotBytes
	s.logBytes.Store(s.segSize)
	s.core.Store(core)
	return nil
}
