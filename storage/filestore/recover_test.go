package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// readFaultFS fails reads of files whose base name contains match with err (after skip bytes
// have been read successfully from each such file).
type readFaultFS struct {
	OSFS
	match string
	err   error
	skip  int
}

func (f *readFaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.Contains(filepath.Base(name), f.match) {
		return file, err
	}
	return &readFaultFile{File: file, left: f.skip, err: f.err}, nil
}

type readFaultFile struct {
	File
	left int
	err  error
}

func (f *readFaultFile) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, f.err
	}
	if len(p) > f.left {
		p = p[:f.left]
	}
	n, err := f.File.Read(p)
	f.left -= n
	return n, err
}

// populate leaves dir with a snapshot of teams s0..s4 and a log holding l0..l9 after it.
func populate(t *testing.T, dir string) []string {
	t.Helper()
	s := mustOpen(t, dir)
	var ids []string
	for i := range 5 {
		ids = append(ids, fmt.Sprintf("s%d", i))
		if err := putTeam(s, ids[len(ids)-1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("l%d", i))
		if err := putTeam(s, ids[len(ids)-1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

// TestRecoveryFaults injects EIO (and other errors) while Open reads the snapshot and the log, at
// the first byte and part-way through: Open must fail with an error, never come up empty or
// partial; once the fault is gone the store reopens with every commit.
func TestRecoveryFaults(t *testing.T) {
	dir := t.TempDir()
	want := populate(t, dir)
	cases := 0
	for _, match := range []string{"snap-", "wal-"} {
		for _, skip := range []int{0, 8, 17, 64} {
			for _, ferr := range []error{syscall.EIO, syscall.ENOMEM, syscall.EINTR} {
				cases++
				name := fmt.Sprintf("%s/skip%d/%v", match, skip, ferr)
				s, err := Open(dir, WithFS(&readFaultFS{match: match, err: ferr, skip: skip}))
				if err == nil {
					got := teamIDs(t, s)
					_ = s.Close()
					t.Fatalf("%s: Open succeeded with %d of %d teams", name, len(got), len(want))
				}
				if !errors.Is(err, ferr) && !errors.Is(err, storage.ErrCorrupt) {
					t.Errorf("%s: Open = %v, want the injected error", name, err)
				}
			}
		}
	}
	// Failing to open the files at all.
	for _, match := range []string{"snap-", "wal-"} {
		cases++
		fsys := &faultFS{}
		fsys.arm(&fault{op: "open", match: match, err: syscall.EIO})
		if s, err := Open(dir, WithFS(fsys)); err == nil {
			_ = s.Close()
			t.Fatalf("open fault on %s: Open succeeded", match)
		}
	}
	s := mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, want...)
	t.Logf("%d recovery fault cases", cases)
}

// TestFlipEveryByte flips, one at a time, every byte of the snapshot and every byte of the log
// before its last frame (damage in the last frame is a torn tail by design): each must fail Open
// with ErrCorrupt, and the undamaged files must then reopen with every commit.
func TestFlipEveryByte(t *testing.T) {
	dir := t.TempDir()
	want := populate(t, dir)
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots", len(snaps))
	}
	seg := lastSegment(t, dir)
	last, _ := lastFrame(t, seg)
	stride := 1
	if testing.Short() {
		stride = 7
	}
	flips := 0
	for _, tc := range []struct {
		path     string
		from, to int
	}{{snaps[0], 0, -1}, {seg, 0, last}} {
		orig, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		to := tc.to
		if to < 0 {
			to = len(orig)
		}
		for off := tc.from; off < to; off += stride {
			flips++
			bad := append([]byte(nil), orig...)
			bad[off] ^= 0x01 << (off % 8)
			if err := os.WriteFile(tc.path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir)
			if err == nil {
				n := len(teamIDs(t, s))
				_ = s.Close()
				t.Fatalf("%s: flipped byte %d of %d: Open succeeded with %d of %d teams", filepath.Base(tc.path), off, len(orig), n, len(want))
			}
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("%s: flipped byte %d: Open = %v, want ErrCorrupt", filepath.Base(tc.path), off, err)
			}
		}
		if err := os.WriteFile(tc.path, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, want...)
	t.Logf("%d single-byte flips, all reported as ErrCorrupt", flips)
}
