package filestore

import (
	"bytes"
	"encoding/binary"
	"os"
	"sort"
	"strings"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

func corruptf(format string, args ...any) error {
	return errclass.Tag(errors.NewWithDepthf(1, "filestore: "+format, args...), storage.ErrCorrupt)
}

// recover loads the newest snapshot into core, replays the log after it, truncates a torn tail and
// opens the log segment to append to. With uncached, every file is read past the page cache (see
// readFile).
func (s *Store) recover(core *memstore.Core, uncached bool) error {
	names, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return errors.Wrap(err, "filestore: list data directory")
	}
	var snaps, wals []uint64
	for _, name := range names {
		if n, ok := parseName(name, "snap-", ".snap"); ok {
			snaps = append(snaps, n)
		} else if n, ok := parseName(name, "wal-", ".log"); ok {
			wals = append(wals, n)
		} else if strings.HasSuffix(name, ".tmp") {
			_ = s.fs.Remove(s.path(name)) // a snapshot that was never renamed into place
		}
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i] < snaps[j] })
	sort.Slice(wals, func(i, j int) bool { return wals[i] < wals[j] })

	var base uint64
	if len(snaps) > 0 {
		base = snaps[len(snaps)-1]
		if err := s.loadSnapshot(core, base, uncached); err != nil {
			return err
		}
	}
	s.lastSnapSeq = base

	// Skip the segments the snapshot covers whole.
	first := 0
	for first+1 < len(wals) && wals[first+1] <= base+1 {
		first++
	}
	segs := wals[first:]
	if len(segs) == 0 {
		if base > 0 {
			return corruptf("snapshot %s has no log segment after it", snapName(base))
		}
	} else if segs[0] > base+1 {
		return corruptf("log segment %s starts after snapshot %d: commits are missing", segName(segs[0]), base)
	}

	next := uint64(1) // the sequence number the next frame must carry
	if len(segs) > 0 {
		next = segs[0]
	}
	truncateAt := int64(-1)
	tornHeader := false
	for i, start := range segs {
		last := i == len(segs)-1
		name := segName(start)
		if start != next {
			return corruptf("log segment %s does not follow commit %d", name, next-1)
		}
		data, err := readFile(s.fs, s.path(name), uncached)
		if err != nil {
			return err
		}
		if len(data) < len(walMagic) || !bytes.Equal(data[:len(walMagic)], walMagic[:]) {
			if last && len(data) < len(walMagic) && bytes.Equal(data, walMagic[:len(data)]) {
				tornHeader = true // created but never made durable: it holds no commit
				break
			}
			return corruptf("log segment %s has a bad header", name)
		}
		off := len(walMagic)
		for off < len(data) {
			payload, size, ok := nextFrame(data[off:])
			if !ok {
				zeros := allZero(data[off:]) // the zero-filled space after the last frame (WithPrealloc)
				if !zeros && (!last || anyFrameIn(data[off+1:])) {
					return corruptf("log segment %s: bad frame at offset %d", name, off)
				}
				if last {
					truncateAt = int64(off) // zeros, or a torn tail: written but never acknowledged
				}
				break
			}
			seq, kind, body := splitPayload(payload)
			if kind != kindCommit || seq != next {
				return corruptf("log segment %s: frame at offset %d is not commit %d", name, off, next)
			}
			ops, err := decodeOps(body)
			if err != nil {
				return errors.Wrapf(err, "filestore: log segment %s at offset %d", name, off)
			}
			if seq > base {
				if err := core.Apply(ops); err != nil {
					return err
				}
			}
			next++
			off += size
		}
		if last {
			s.segSize = int64(off)
		}
	}
	if next-1 < base {
		return corruptf("log ends at commit %d, before snapshot %d", next-1, base)
	}
	if len(segs) > 0 {
		s.durable = next - 1
	} else {
		s.durable = base
	}

	// Clean up what the snapshot replaced.
	for _, start := range wals[:first] {
		_ = s.fs.Remove(s.path(segName(start)))
	}
	for _, n := range snaps[:max(len(snaps)-1, 0)] {
		_ = s.fs.Remove(s.path(snapName(n)))
	}

	if len(segs) == 0 || tornHeader {
		f, err := s.createSegment(s.durable + 1)
		if err != nil {
			return err
		}
		s.seg, s.segStart, s.segSize = f, s.durable+1, int64(len(walMagic))
		s.segAlloc = s.segSize
		return nil
	}
	start := segs[len(segs)-1]
	f, err := s.fs.OpenFile(s.path(segName(start)), os.O_WRONLY, 0)
	if err != nil {
		return errors.Wrap(err, "filestore: open log segment")
	}
	s.seg, s.segStart, s.segAlloc = f, start, s.segSize
	if truncateAt >= 0 {
		if err := f.Truncate(truncateAt); err != nil {
			return errors.Wrap(err, "filestore: truncate torn log tail")
		}
		if err := f.Sync(); err != nil {
			return errors.Wrap(err, "filestore: truncate torn log tail")
		}
	}
	return nil
}

// loadSnapshot applies the snapshot holding commits up to seq to core. Any damage is an
// ErrCorrupt error.
func (s *Store) loadSnapshot(core *memstore.Core, seq uint64, uncached bool) error {
	name := snapName(seq)
	data, err := readFile(s.fs, s.path(name), uncached)
	if err != nil {
		return err
	}
	if len(data) < len(snapMagic) || !bytes.Equal(data[:len(snapMagic)], snapMagic[:]) {
		return corruptf("snapshot %s has a bad header", name)
	}
	off := len(snapMagic)
	var count uint64
	for i := 0; ; i++ {
		payload, size, ok := nextFrame(data[off:])
		if !ok {
			return corruptf("snapshot %s: bad frame at offset %d", name, off)
		}
		fseq, kind, body := splitPayload(payload)
		if fseq != seq || (i == 0) != (kind == kindSnapBegin) {
			return corruptf("snapshot %s: unexpected frame at offset %d", name, off)
		}
		off += size
		switch kind {
		case kindSnapBegin:
			if len(body) != 0 {
				return corruptf("snapshot %s: bad header frame", name)
			}
		case kindSnapRows:
			ops, err := decodeOps(body)
			if err != nil {
				return errors.Wrapf(err, "filestore: snapshot %s at offset %d", name, off-size)
			}
			for _, op := range ops {
				if op.Kind != memstore.OpInsert {
					return corruptf("snapshot %s: frame at offset %d is not a list of records", name, off-size)
				}
			}
			if err := core.Apply(ops); err != nil {
				return err
			}
			count += uint64(len(ops))
		case kindSnapEnd:
			n, k := binary.Uvarint(body)
			if k <= 0 || k != len(body) || n != count || off != len(data) {
				return corruptf("snapshot %s: bad trailer", name)
			}
			return nil
		default:
			return corruptf("snapshot %s: unknown frame kind %d", name, kind)
		}
	}
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
