package filestore

import (
	"encoding/binary"
	"io"
	"sync"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// The commit pipeline. A writer runs its transaction optimistically and encodes its log frame on
// its own goroutine, then queues it (pending). Sequencing takes every queued transaction,
// validates and applies them in memory as one batch under the Core's lock, gives each valid one
// the next sequence number, fills in its frame, and hands the batch on. Syncing, under syncMu,
// writes every batch handed on with one write and one fdatasync, then publishes the newest state
// and wakes the writers. A writer with no other commit in flight sequences its own commit, and
// then syncs it itself if syncMu is free, so a writer alone commits with no goroutine handoff; under contention the sequencer and syncer goroutines do the steps, and the
// batches grow with the load. So batches are built while the disk syncs the one before, and the
// only work done one transaction at a time is validation, the in-memory apply and a copy of the
// frame.
//
// A transaction that conflicts is answered errRetry at once and its writer runs it again; a
// writer whose transaction conflicted optimisticRuns times runs it holding the Core's lock, so it
// cannot conflict, and sequences it itself.

// optimisticRuns is how many times Update runs fn optimistically before it runs it holding the
// commit lock: fn runs at most optimisticRuns+1 times.
const optimisticRuns = 2

// errRetry answers a transaction that conflicted: its writer runs it again.
var errRetry = errors.New("filestore: transaction conflicted; run it again")

// pending is a sealed transaction on its way to the disk.
type pending struct {
	w      *memstore.WriteTxn
	frame  []byte     // its commit frame; the sequencer fills in the sequence number and checksum
	done   chan error // nil once durable, errRetry, or why it failed
	inline bool       // its writer sequenced it and may sync it itself
}

// batch is what the sequencer hands the syncer: frames in sequence order, the state after them,
// the sequence number of the last, and their writers.
type batch struct {
	buf     []byte
	core    *memstore.Core
	snap    *memstore.Snapshot
	last    uint64
	waiters []*pending
}

// run runs fn once and, if it wrote anything, queues its commit (or, exclusive, runs it holding
// the Core's lock and sequences it at once). It returns nil and fn's error, or nil and nil when fn
// wrote nothing.
func (s *Store) run(fn func(storage.WriteTx) error, exclusive bool) (*pending, error) {
	c := s.core.Load()
	if exclusive {
		c.Lock()
		defer c.Unlock()
		if s.core.Load() != c { // replaced by a recovery meanwhile
			return s.failedRun(), nil
		}
	}
	w := c.Begin()
	if err := fn(w); err != nil {
		w.Abort()
		return nil, err
	}
	if len(w.Ops()) == 0 {
		w.Abort()
		return nil, nil
	}
	w.Seal()
	frame, err := appendOps(newFrame(make([]byte, 0, 512), 0, kindCommit), w.Ops())
	if err != nil {
		w.Abort()
		return nil, err
	}
	p := &pending{w: w, frame: frame, done: make(chan error, 1)}
	alone := s.inflight.Add(1) == 1
	if exclusive {
		s.sequence(c, []*pending{p})
		p.inline = true
		return p, nil
	}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	s.qmu.Unlock()
	if alone && c.TryLock() {
		p.inline = true
		if s.core.Load() == c {
			if ps := drain(&s.qmu, &s.queue); len(ps) > 0 {
				s.sequence(c, ps)
			}
		}
		c.Unlock()
		if !s.waiting(&s.qmu, func() bool { return len(s.queue) > 0 }) {
			return p, nil
		}
	}
	kick(s.qkick)
	return p, nil
}

// syncInline syncs the batches handed on, on the caller's goroutine if p was sequenced there and
// syncMu is free, and leaves them to the syncer goroutine otherwise.
func (s *Store) syncInline(p *pending) {
	if !p.inline || !s.syncMu.TryLock() {
		kick(s.bkick)
		return
	}
	s.flush()
	s.maybeSnapshot()
	s.syncMu.Unlock()
	if s.waiting(&s.bmu, func() bool { return len(s.batches) > 0 }) {
		kick(s.bkick)
	}
}

// waiting reports cond under mu.
func (s *Store) waiting(mu *sync.Mutex, cond func() bool) bool {
	mu.Lock()
	defer mu.Unlock()
	return cond()
}

// failedRun is a pending already answered errRetry.
func (s *Store) failedRun() *pending {
	s.inflight.Add(1)
	p := &pending{done: make(chan error, 1)}
	p.done <- errRetry
	return p
}

// drain empties the queue q that mu guards and returns what it held.
func drain[T any](mu *sync.Mutex, q *[]T) []T {
	mu.Lock()
	defer mu.Unlock()
	out := *q
	*q = nil
	return out
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sequencer is the goroutine that sequences queued transactions. While a batch it handed on
// waits for the syncer, it lets the queue grow instead (the syncer kicks it when it takes the
// batch): one batch per fsync, as large as the load makes it, and go-memdb applies a large batch
// for a fraction of the cost per record of a small one.
func (s *Store) sequencer() {
	defer close(s.seqDone)
	for {
		select {
		case <-s.qkick:
		case <-s.stop:
			return
		}
		for !s.waiting(&s.bmu, func() bool { return len(s.batches) > 0 }) {
			ps := drain(&s.qmu, &s.queue)
			if len(ps) == 0 {
				break
			}
			c := s.core.Load()
			c.Lock()
			if s.core.Load() != c {
				c.Unlock()
				c = s.core.Load()
				c.Lock()
			}
			s.sequence(c, ps)
			c.Unlock()
			kick(s.bkick)
		}
	}
}

// sequence validates and applies ps on c as one batch, numbers the valid ones and hands them to
// the syncer; the others are answered errRetry. The caller holds c's lock.
func (s *Store) sequence(c *memstore.Core, ps []*pending) {
	if err := s.failure(); err != nil {
		for _, p := range ps {
			p.w.Abort()
			p.done <- err
		}
		return
	}
	ws := make([]*memstore.WriteTxn, len(ps))
	for i, p := range ps {
		ws[i] = p.w
	}
	snap := c.Commit(ws...)
	size := 0
	for _, p := range ps {
		size += len(p.frame)
	}
	b := &batch{core: c, snap: snap, buf: make([]byte, 0, size), waiters: make([]*pending, 0, len(ps))}
	for _, p := range ps {
		if !p.w.Committed() {
			p.done <- errRetry
			continue
		}
		s.seq++
		binary.LittleEndian.PutUint64(p.frame[frameHeaderSize:], s.seq)
		b.buf = append(b.buf, sealFrame(p.frame)...)
		b.waiters = append(b.waiters, p)
	}
	if len(b.waiters) == 0 {
		return
	}
	b.last = s.seq
	s.bmu.Lock()
	s.batches = append(s.batches, b)
	s.bmu.Unlock()
}

// syncer is the goroutine that writes the batches no writer wrote itself, and runs log
// rotations for snapshots and recoveries between them, all under syncMu.
func (s *Store) syncer() {
	defer close(s.syncDone)
	for {
		select {
		case <-s.bkick:
			s.syncMu.Lock()
			s.flush()
			s.maybeSnapshot()
			s.syncMu.Unlock()
		case f := <-s.calls:
			s.syncMu.Lock()
			f()
			s.syncMu.Unlock()
		case <-s.stop:
			s.syncMu.Lock()
			s.flush()
			s.syncMu.Unlock()
			return
		}
	}
}

// flush writes every batch handed over with one write and one fdatasync, then publishes the
// newest state and wakes the writers. The caller holds syncMu.
func (s *Store) flush() {
	bs := drain(&s.bmu, &s.batches)
	if len(bs) == 0 {
		return
	}
	// The sequencer may build the next batch. It needs waking only if something is queued: a
	// writer that queues after this check kicks it itself, and then finds no batch pending (a lone
	// writer's commit would otherwise wake it for nothing on every commit).
	if s.waiting(&s.qmu, func() bool { return len(s.queue) > 0 }) {
		kick(s.qkick)
	}
	answer := func(err error) { answerBatches(bs, err) }
	if err := s.failure(); err != nil {
		answer(err) // committed in memory after the failure: never durable
		return
	}
	buf := bs[0].buf
	if len(bs) > 1 {
		buf = s.buf[:0]
		for _, b := range bs {
			buf = append(buf, b.buf...)
		}
		s.buf = buf
	}
	start := time.Now()
	n, err := s.seg.WriteAt(buf, s.segSize)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	end := s.segSize + int64(len(buf))
	if err == nil && end > s.segAlloc && s.opts.prealloc > 0 {
		// Zero-fill the next stretch; this group's fsync persists it with the new size. It is
		// best effort: on a disk too full for it the log just grows with each write.
		if len(s.zeros) == 0 {
			s.zeros = make([]byte, s.opts.prealloc)
		}
		z, _ := s.seg.WriteAt(s.zeros, end)
		s.segAlloc = end + int64(z)
	}
	if err == nil {
		err = s.seg.Sync()
	}
	s.syncNanos.Add(int64(time.Since(start)))
	if err != nil {
		answer(s.fail(err))
		return
	}
	s.segAlloc = max(s.segAlloc, end)
	s.segSize = end
	s.logBytes.Store(s.segSize)
	s.syncs.Add(1)
	last := bs[len(bs)-1]
	last.core.Publish(last.snap)
	s.durable = last.last
	count := 0
	for _, b := range bs {
		count += len(b.waiters)
	}
	s.commits.Add(uint64(count))
	answer(nil)
}

// answerBatches answers every writer of bs with err.
func answerBatches(bs []*batch, err error) {
	for _, b := range bs {
		for _, p := range b.waiters {
			p.done <- err
		}
	}
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

// onSyncer runs f on the syncer goroutine, holding syncMu, and waits for it; it returns an
// ErrUnavailable error if the syncer has stopped.
func (s *Store) onSyncer(f func()) error {
	done := make(chan struct{})
	select {
	case s.calls <- func() { f(); close(done) }:
	case <-s.syncDone:
		return errClosed()
	}
	<-done
	return nil
}
