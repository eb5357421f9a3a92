package filestore

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// snapBatch is the number of records per snapshot frame; recovery applies one frame per memdb
// transaction, and memdb slows down sharply beyond about 2k records per transaction.
const snapBatch = 512

func fmtName(prefix string, seq uint64, suffix string) string {
	return fmt.Sprintf("%s%016x%s", prefix, seq, suffix)
}

// parseName returns the sequence number in a file name made by fmtName.
func parseName(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	hex := name[len(prefix) : len(name)-len(suffix)]
	if len(hex) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	return v, err == nil
}

// Snapshot writes a snapshot of the durable state now and removes the log segments it covers.
// Commits go on while it runs. It returns an ErrUnavailable error if the store is closed or has
// failed, and an I/O error if the snapshot could not be written; the store stays usable and
// loses nothing then. It is safe for concurrent use; snapshots run one at a time.
func (s *Store) Snapshot() error {
	if s.closed.Load() {
		return errClosed()
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	return s.snapshot()
}

// snapshot asks the syncer for a log rotation and writes the snapshot. Caller holds snapMu.
func (s *Store) snapshot() error {
	var r rotation
	if err := s.onSyncer(func() { r = s.rotate() }); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if r.seq == s.lastSnapSeq {
		return nil // nothing committed since the last snapshot
	}
	if err := s.writeSnapshot(r.seq, r.read); err != nil {
		return err
	}
	s.lastSnapSeq = r.seq
	s.snapshots.Add(1)
	s.removeObsolete(r.seq)
	return nil
}

// rotate runs on the syncer between groups: it starts a new log segment after the last durable
// commit and returns that commit's sequence number with a read transaction on its state.
func (s *Store) rotate() rotation {
	if err := s.failure(); err != nil {
		return rotation{err: err}
	}
	start := s.durable + 1
	if start != s.segStart { // otherwise the current segment is empty and starts there already
		f, err := s.createSegment(start)
		if err != nil {
			return rotation{err: errors.Wrap(err, "filestore: snapshot")}
		}
		s.trimSegment()
		_ = s.seg.Close() // everything in it is synced
		s.seg, s.segStart, s.segSize = f, start, int64(len(walMagic))
		s.segAlloc = s.segSize
		s.logBytes.Store(s.segSize)
	}
	s.nextSnapAt = s.opts.snapshotBytes
	return rotation{seq: s.durable, read: s.core.Load().Read()}
}

// writeSnapshot writes every record of rt as the snapshot at seq: temporary file, fsync, rename,
// fsync of the directory.
func (s *Store) writeSnapshot(seq uint64, rt storage.ReadTx) (err error) {
	tmp := s.path(fmtName("snap-", seq, ".tmp"))
	f, err := s.fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return errors.Wrap(err, "filestore: snapshot")
	}
	renamed := false
	defer func() {
		if err != nil {
			err = errors.Wrap(err, "filestore: snapshot")
			if f != nil {
				_ = f.Close()
			}
			if !renamed {
				_ = s.fs.Remove(tmp)
			}
		}
	}()
	w := &frameWriter{f: f}
	w.add(snapMagic[:])
	w.add(sealFrame(newFrame(nil, seq, kindSnapBegin)))
	var count uint64
	ops := make([]memstore.Op, 0, snapBatch)
	emit := func() {
		if len(ops) == 0 || w.err != nil {
			return
		}
		b, err := appendOps(newFrame(nil, seq, kindSnapRows), ops)
		if err != nil {
			w.err = err
			return
		}
		w.add(sealFrame(b))
		count += uint64(len(ops))
		ops = ops[:0]
	}
	for _, ts := range storage.Schema {
		recs, err := rt.List(ts.Name, "id")
		if err != nil {
			return err
		}
		for _, rec := range recs {
			ops = append(ops, memstore.Op{Kind: memstore.OpInsert, Table: ts.Name, ID: storage.RecordID(rec), Rec: rec})
			if len(ops) == snapBatch {
				emit()
			}
		}
	}
	emit()
	end := binary.AppendUvarint(newFrame(nil, seq, kindSnapEnd), count)
	w.add(sealFrame(end))
	w.flush()
	if w.err != nil {
		return w.err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		f = nil
		return err
	}
	f = nil
	if err := s.fs.Rename(tmp, s.path(snapName(seq))); err != nil {
		return err
	}
	renamed = true
	return s.fs.SyncDir(s.dir)
}

// removeObsolete removes the log segments and snapshots that the snapshot at seq replaces. Failures
// are left for the next snapshot or Open to clean up.
func (s *Store) removeObsolete(seq uint64) {
	names, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, name := range names {
		if start, ok := parseName(name, "wal-", ".log"); ok && start <= seq {
			_ = s.fs.Remove(s.path(name))
		}
		if n, ok := parseName(name, "snap-", ".snap"); ok && n < seq {
			_ = s.fs.Remove(s.path(name))
		}
	}
	_ = s.fs.SyncDir(s.dir)
}

// frameWriter buffers frames and writes them in large chunks, remembering the first error.
type frameWriter struct {
	f   File
	buf []byte
	err error
}

func (w *frameWriter) add(frame []byte) {
	w.buf = append(w.buf, frame...)
	if len(w.buf) >= 1<<20 {
		w.flush()
	}
}

func (w *frameWriter) flush() {
	if w.err != nil || len(w.buf) == 0 {
		return
	}
	n, err := w.f.Write(w.buf)
	if err == nil && n != len(w.buf) {
		err = io.ErrShortWrite
	}
	w.err = err
	w.buf = w.buf[:0]
}
