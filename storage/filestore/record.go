package filestore

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
)

// On-disk framing, shared by log segments and snapshots. Every frame is
//
//	length  uint32 LE   length of payload
//	crc     uint32 LE   CRC-32C (Castagnoli) of the 4 length bytes followed by payload
//	payload [length]byte
//
// and every payload starts with
//
//	seq  uint64 LE  the commit sequence number (log) or the snapshot's sequence number
//	kind byte       one of the frame kinds below
//
// followed by the kind's body. A commit or rows body is a uvarint count of ops, then per op: the
// kind byte, the table and the id as uvarint-length-prefixed strings, and the record's JSON as a
// uvarint-length-prefixed byte string (empty for a delete).
const (
	frameHeaderSize = 8
	payloadMin      = 9
	// maxPayload bounds a frame so a damaged length cannot make recovery allocate wildly.
	maxPayload = 1 << 30

	kindCommit    byte = 1 // log: one transaction
	kindSnapBegin byte = 2 // snapshot: header
	kindSnapRows  byte = 3 // snapshot: a batch of records, as inserts
	kindSnapEnd   byte = 4 // snapshot: trailer with the record count
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)

	walMagic  = [8]byte{'O', 'P', 'A', 'W', 'A', 'L', 0, 1}
	snapMagic = [8]byte{'O', 'P', 'A', 'S', 'N', 'P', 0, 1}
)

// newFrame returns a buffer with room for a frame header, followed by the payload header for seq
// and kind. Append the body, then call sealFrame.
func newFrame(dst []byte, seq uint64, kind byte) []byte {
	dst = append(dst[:0], make([]byte, frameHeaderSize)...)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	return append(dst, kind)
}

// sealFrame fills in the header of the frame that makes up all of b (from newFrame) and returns b.
func sealFrame(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(b)-frameHeaderSize))
	crc := crc32.Update(0, castagnoli, b[0:4])
	crc = crc32.Update(crc, castagnoli, b[frameHeaderSize:])
	binary.LittleEndian.PutUint32(b[4:8], crc)
	return b
}

// nextFrame reads the frame at the start of b. It returns the payload and the frame's total size,
// or ok=false if b does not start with a whole frame whose checksum holds.
func nextFrame(b []byte) (payload []byte, size int, ok bool) {
	if len(b) < frameHeaderSize {
		return nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n < payloadMin || n > maxPayload || uint64(len(b)-frameHeaderSize) < uint64(n) {
		return nil, 0, false
	}
	payload = b[frameHeaderSize : frameHeaderSize+int(n)]
	crc := crc32.Update(0, castagnoli, b[0:4])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, false
	}
	return payload, frameHeaderSize + int(n), true
}

// anyFrameIn reports whether a valid frame starts anywhere in b. Recovery uses it to tell a torn
// tail (nothing valid after the damage) from corruption in the middle of a log.
func anyFrameIn(b []byte) bool {
	for i := 0; i+frameHeaderSize+payloadMin <= len(b); i++ {
		if _, _, ok := nextFrame(b[i:]); ok {
			return true
		}
	}
	return false
}

// appendOps appends the body of a commit or rows payload.
func appendOps(dst []byte, ops []memstore.Op) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for _, op := range ops {
		dst = append(dst, byte(op.Kind))
		dst = appendString(dst, op.Table)
		dst = appendString(dst, op.ID)
		var js []byte
		if op.Kind != memstore.OpDelete {
			var err error
			if js, err = json.Marshal(op.Rec); err != nil {
				return nil, errors.Wrapf(err, "filestore: encode %s record", op.Table)
			}
		}
		dst = appendString(dst, string(js))
	}
	return dst, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// payloadReader decodes a payload. Every failure is an ErrCorrupt error.
type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = errclass.Tag(errors.Newf(format, args...), storage.ErrCorrupt)
	}
}

func (r *payloadReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("filestore: bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("filestore: string runs past the record")
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *payloadReader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("filestore: record ends early")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// splitPayload returns a payload's seq, kind and body. The payload has at least payloadMin bytes
// (nextFrame checks it).
func splitPayload(p []byte) (seq uint64, kind byte, body []byte) {
	return binary.LittleEndian.Uint64(p[0:8]), p[8], p[payloadMin:]
}

// decodeOps decodes the body of a commit or rows payload. The records are decoded into fresh values
// of their table's type. Every failure is an ErrCorrupt error.
func decodeOps(body []byte) ([]memstore.Op, error) {
	r := &payloadReader{b: body}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(body)) {
		r.fail("filestore: op count %d too large", n)
	}
	var ops []memstore.Op
	if r.err == nil {
		ops = make([]memstore.Op, 0, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		kind := memstore.OpKind(r.byte1())
		table := string(r.bytes())
		id := string(r.bytes())
		js := r.bytes()
		if r.err != nil {
			break
		}
		ts, err := storage.Lookup(table)
		if err != nil {
			r.fail("filestore: unknown table %q", table)
			break
		}
		op := memstore.Op{Kind: kind, Table: table, ID: id}
		switch kind {
		case memstore.OpInsert, memstore.OpUpdate:
			rec := ts.New()
			// The decoder's message is left out: it may quote bytes of a sealed secret.
			if err := json.Unmarshal(js, rec); err != nil {
				r.fail("filestore: undecodable %s record", table)
				break
			}
			if storage.RecordID(rec) != id {
				r.fail("filestore: %s record id does not match its op", table)
				break
			}
			op.Rec = rec
		case memstore.OpDelete:
			if len(js) != 0 {
				r.fail("filestore: delete op with a record")
			}
		default:
			r.fail("filestore: unknown op kind %d", kind)
		}
		ops = append(ops, op)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("filestore: %d trailing bytes in a record", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return ops, nil
}
