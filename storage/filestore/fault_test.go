package filestore

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// faultFS wraps OSFS and fails the operations its armed faults match.
type faultFS struct {
	OSFS
	mu     sync.Mutex
	faults []*fault
}

// fault fails operation op ("open", "write", "sync", "truncate", "rename", "syncdir") on files
// whose base name contains match. With short set, a write writes half its bytes first. times
// bounds how often it fires (0: always). A sync fault runs during, when set, before it fails: the
// store is then inside the failing fsync.
type fault struct {
	op, match string
	err       error
	short     bool
	times     int
	skip      int // matches to let through before firing
	fired     int
	during    func()
}

func (f *faultFS) arm(ft *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, ft)
}

func (f *faultFS) disarm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

func (f *faultFS) hit(op, name string) *fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ft := range f.faults {
		if ft.op == op && strings.Contains(filepath.Base(name), ft.match) && (ft.times == 0 || ft.fired < ft.times) {
			if ft.skip > 0 {
				ft.skip--
				continue
			}
			ft.fired++
			return ft
		}
	}
	return nil
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if ft := f.hit("open", name); ft != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: ft.err}
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) Rename(oldname, newname string) error {
	if ft := f.hit("rename", newname); ft != nil {
		return ft.err
	}
	return f.OSFS.Rename(oldname, newname)
}

func (f *faultFS) SyncDir(dir string) error {
	if ft := f.hit("syncdir", ""); ft != nil {
		return ft.err
	}
	return f.OSFS.SyncDir(dir)
}

type faultFile struct {
	File
	fs   *faultFS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if ft := f.fs.hit("write", f.name); ft != nil {
		if ft.short {
			n, _ := f.File.Write(p[:len(p)/2])
			return n, ft.err
		}
		return 0, ft.err
	}
	return f.File.Write(p)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if ft := f.fs.hit("write", f.name); ft != nil {
		if ft.short {
			n, _ := f.File.WriteAt(p[:len(p)/2], off)
			return n, ft.err
		}
		return 0, ft.err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if ft := f.fs.hit("sync", f.name); ft != nil {
		if ft.during != nil {
			ft.during()
		}
		return ft.err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if ft := f.fs.hit("truncate", f.name); ft != nil {
		return ft.err
	}
	return f.File.Truncate(size)
}

// TestCommitFaults: a commit whose log write or fsync fails returns an error, leaves no trace
// after reopen, and puts the store into the failed state; reads keep serving the durable state.
func TestCommitFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fault
	}{
		{"fsync fails", fault{op: "sync", match: "wal-", err: syscall.EIO}},
		{"short write", fault{op: "write", match: "wal-", err: io.ErrShortWrite, short: true}},
		{"short write without error", fault{op: "write", match: "wal-", short: true}},
		{"ENOSPC", fault{op: "write", match: "wal-", err: syscall.ENOSPC}},
		{"ENOSPC after half", fault{op: "write", match: "wal-", err: syscall.ENOSPC, short: true}},
		{"EIO on write", fault{op: "write", match: "wal-", err: syscall.EIO}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := &faultFS{}
			// No recovery during the test: the failed state must hold.
			s := mustOpen(t, dir, WithFS(fsys), WithRecoveryBackoff(time.Hour, time.Hour))
			if err := putTeam(s, "a"); err != nil {
				t.Fatal(err)
			}
			ft := tc.f
			ft.times = 1
			fsys.arm(&ft)
			if err := putTeam(s, "b"); !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("commit under fault = %v, want ErrUnavailable", err)
			}
			fsys.disarm()
			checkTeams(t, s, "a") // View serves the last durable state
			if err := putTeam(s, "c"); !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("commit after failure = %v, want ErrUnavailable", err)
			}
			if err := s.Snapshot(); !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("snapshot after failure = %v, want ErrUnavailable", err)
			}
			_ = s.Close()
			s = mustOpen(t, dir)
			defer s.Close()
			checkTeams(t, s, "a")
			if err := putTeam(s, "d"); err != nil {
				t.Fatalf("commit after reopen: %v", err)
			}
		})
	}
}

// TestCommitFaultRollbackFails: when the log cannot even be cut back, the failed commit's outcome
// is unknown, but the store must still reopen with every acknowledged commit.
func TestCommitFaultRollbackFails(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	s := mustOpen(t, dir, WithFS(fsys))
	if err := putTeam(s, "a"); err != nil {
		t.Fatal(err)
	}
	fsys.arm(&fault{op: "sync", match: "wal-", err: syscall.EIO})
	fsys.arm(&fault{op: "truncate", match: "wal-", err: syscall.EIO})
	if err := putTeam(s, "b"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("commit under fault = %v", err)
	}
	_ = s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	got := teamIDs(t, s)
	if len(got) < 1 || got[0] != "a" || len(got) > 2 {
		t.Fatalf("teams after reopen = %v, want a and maybe b", got)
	}
}

// TestSnapshotFaults: a snapshot that fails anywhere returns an error, the store keeps committing,
// and every acknowledged commit survives reopen.
func TestSnapshotFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    fault
	}{
		{"ENOSPC writing", fault{op: "write", match: ".tmp", err: syscall.ENOSPC}},
		{"short write", fault{op: "write", match: ".tmp", err: io.ErrShortWrite, short: true}},
		{"EIO writing", fault{op: "write", match: ".tmp", err: syscall.EIO}},
		{"fsync fails", fault{op: "sync", match: ".tmp", err: syscall.EIO}},
		{"create fails", fault{op: "open", match: ".tmp", err: syscall.ENOSPC}},
		{"rename fails", fault{op: "rename", match: "snap-", err: syscall.EIO}},
		{"directory fsync fails at rotation", fault{op: "syncdir", err: syscall.EIO}},
		{"directory fsync fails after rename", fault{op: "syncdir", err: syscall.EIO, skip: 1}},
		{"new segment create fails", fault{op: "open", match: "wal-", err: syscall.ENOSPC}},
		{"new segment write fails", fault{op: "write", match: "wal-", err: syscall.ENOSPC}},
		{"new segment fsync fails", fault{op: "sync", match: "wal-", err: syscall.EIO}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := &faultFS{}
			s := mustOpen(t, dir, WithFS(fsys), WithSnapshotBytes(0))
			for _, id := range []string{"a", "b"} {
				if err := putTeam(s, id); err != nil {
					t.Fatal(err)
				}
			}
			ft := tc.f
			ft.times = 1
			fsys.arm(&ft)
			err := s.Snapshot()
			fsys.disarm()
			if err == nil {
				t.Fatalf("Snapshot under fault succeeded")
			}
			if errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("Snapshot error %v must not fail the store", err)
			}
			if err := putTeam(s, "c"); err != nil {
				t.Fatalf("commit after failed snapshot: %v", err)
			}
			_ = s.Close()
			s = mustOpen(t, dir)
			checkTeams(t, s, "a", "b", "c")
			// A later snapshot works and keeps everything.
			if err := s.Snapshot(); err != nil {
				t.Fatal(err)
			}
			if err := putTeam(s, "d"); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			s = mustOpen(t, dir)
			defer s.Close()
			checkTeams(t, s, "a", "b", "c", "d")
			if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
}

// TestAutoSnapshotFault: a failing background snapshot is reported in Stats and loses nothing.
func TestAutoSnapshotFault(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	fsys.arm(&fault{op: "sync", match: ".tmp", err: syscall.EIO})
	s := mustOpen(t, dir, WithFS(fsys), WithSnapshotBytes(256))
	var want []string
	for i := range 40 {
		id := string(rune('A'+i%26)) + string(rune('a'+i/26))
		want = append(want, id)
		if err := putTeam(s, id); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	if st := s.Stats(); st.Snapshots != 0 || st.SnapshotErr == nil {
		t.Errorf("stats = %+v, want a snapshot error and no snapshot", st)
	}
	s = mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, want...)
}
