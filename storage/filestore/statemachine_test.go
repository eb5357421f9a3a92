package filestore

import (
	"fmt"
	"os"
	"testing"

	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/storagetest"
)

// TestStateMachine runs the storage contract's state machine against the file store, with reopen,
// snapshot and torn-tail actions, several times over so the suite makes several hundred checks.
func TestStateMachine(t *testing.T) {
	base := t.TempDir()
	// The machine checks logic, not the disk: on tmpfs its fsyncs cost nothing. TestKill and the
	// fault tests cover durability on the real file system.
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "opa-filestore-sm"); err == nil {
			base = d
			t.Cleanup(func() { _ = os.RemoveAll(d) })
		}
	}
	open := func(t *rapid.T, dir string, snapBytes int64) storage.Storage {
		// Small preallocations make commits cross the zero-filled space's end often.
		prealloc := rapid.SampledFrom([]int64{0, 64, 4096}).Draw(t, "prealloc")
		s, err := Open(dir, WithSnapshotBytes(snapBytes), WithPrealloc(prealloc))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	cfg := storagetest.Config{
		Open: func(t *rapid.T) storage.Storage {
			dir, err := os.MkdirTemp(base, "sm")
			if err != nil {
				t.Fatal(err)
			}
			// Small thresholds make background snapshots race with commits.
			return open(t, dir, rapid.SampledFrom([]int64{0, 300, 4096}).Draw(t, "snapshot bytes"))
		},
		Reopen: func(t *rapid.T, s storage.Storage) storage.Storage {
			fs := s.(*Store)
			if err := fs.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, fs.dir, fs.opts.snapshotBytes)
		},
		Snapshot: func(t *rapid.T, s storage.Storage) {
			if err := s.(*Store).Snapshot(); err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
		},
		TearTail: func(t *rapid.T, s storage.Storage, mayLose bool) (storage.Storage, bool) {
			fs := s.(*Store)
			if err := fs.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			seg := lastSegment(t, fs.dir)
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			start, size := lastFrameIn(data)
			lost := mayLose && start >= 0 && rapid.Bool().Draw(t, "cut last frame")
			if lost {
				// A crash while writing the last frame: only part of it reached the disk.
				keep := rapid.IntRange(0, size-1).Draw(t, "bytes of the last frame kept")
				data = data[:start+keep]
			} else if rapid.Bool().Draw(t, "zeros") {
				// A crash with zero-filled space after the last frame (WithPrealloc).
				data = append(data, make([]byte, rapid.IntRange(1, 5000).Draw(t, "zero bytes"))...)
			} else {
				// A crash while writing a frame after the last acknowledged one.
				data = append(data, rapid.SliceOfN(rapid.Byte(), 1, 40).Draw(t, "garbage")...)
				if rapid.Bool().Draw(t, "zeros after the garbage") {
					data = append(data, make([]byte, 100)...)
				}
			}
			if err := os.WriteFile(seg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return open(t, fs.dir, fs.opts.snapshotBytes), lost
		},
	}
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) { storagetest.RunStateMachine(t, cfg) })
	}
}

// lastFrameIn returns the offset and size of the last valid frame of a log segment (-1 if none).
func lastFrameIn(data []byte) (int, int) {
	start, size := -1, 0
	for off := len(walMagic); off < len(data); {
		_, n, ok := nextFrame(data[off:])
		if !ok {
			break
		}
		start, size = off, n
		off += n
	}
	return start, size
}

// TestRange runs the fixed Range cases against the file store.
func TestRange(t *testing.T) {
	storagetest.RunRange(t, func(t *testing.T) storage.Storage { return mustOpen(t, t.TempDir()) })
}

// TestConcurrency runs the serializability checks against the file store.
func TestConcurrency(t *testing.T) {
	storagetest.RunConcurrency(t, func(t *testing.T) storage.Storage { return mustOpen(t, t.TempDir()) })
}
