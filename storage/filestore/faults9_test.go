package filestore

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// TestKill200 is TestKill's harness run OPA_KILL_RUNS times (default 20 to keep the -race suite
// bounded; scripts/fuzz.sh runs 200 without -race) with kill delays from 1 to 60 ms, so kills land
// before, during and after snapshots and the removal of obsolete segments (compaction). A fresh
// directory every 20 kills keeps recovery cost flat.
func TestKill200(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	runs := 20
	if v, err := strconv.Atoi(os.Getenv("OPA_KILL_RUNS")); err == nil && v > 0 {
		runs = v
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	var acked []string
	acknowledged := 0
	for i := range runs {
		if i > 0 && i%20 == 0 {
			dir, acked = t.TempDir(), nil
		}
		ids := runAndKill(t, dir, fmt.Sprintf("m%03d", i), time.Duration(1+rng.IntN(60))*time.Millisecond)
		acknowledged += len(ids)
		acked = append(acked, ids...)
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("kill %d: Open after SIGKILL: %v", i, err)
		}
		present := map[string]bool{}
		_ = s.View(ctx, func(tx storage.ReadTx) error {
			teams, err := storage.Teams.List(tx, "id")
			for _, tm := range teams {
				present[tm.ID] = true
			}
			return err
		})
		_ = s.Close()
		for _, id := range acked {
			if !present[id] {
				t.Fatalf("kill %d: acknowledged commit %s is missing after reopen", i, id)
			}
		}
	}
	t.Logf("%d kills: %d acknowledged commits, none lost, no reopen failure", runs, acknowledged)
}

// FuzzLogSegment replaces the last log segment with arbitrary bytes: Open never panics, and
// either fails with an error or opens a store holding at least the snapshot's records.
func FuzzLogSegment(f *testing.F) { fuzzFile(f, "wal-") }

// FuzzSnapshotFile replaces the snapshot with arbitrary bytes: Open never panics, and either
// fails or serves the whole state.
func FuzzSnapshotFile(f *testing.F) { fuzzFile(f, "snap-") }

func fuzzFile(f *testing.F, prefix string) {
	tmpl := f.TempDir()
	s, err := Open(tmpl)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		_ = putTeam(s, fmt.Sprintf("s%d", i))
	}
	_ = s.Snapshot()
	for i := range 3 {
		_ = putTeam(s, fmt.Sprintf("l%d", i))
	}
	_ = s.Close()
	files := map[string][]byte{}
	names, _ := os.ReadDir(tmpl)
	target := ""
	for _, e := range names {
		b, err := os.ReadFile(filepath.Join(tmpl, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		files[e.Name()] = b
		if strings.HasPrefix(e.Name(), prefix) && e.Name() > target {
			target = e.Name()
		}
	}
	f.Add(files[target])
	f.Add(files[target][:len(files[target])/2])
	f.Add([]byte{})
	// Each input is a fresh directory: on tmpfs (when there is one) its fsyncs cost nothing.
	base := f.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "opa-filestore-fuzz"); err == nil {
			base = d
			f.Cleanup(func() { _ = os.RemoveAll(d) })
		}
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(base, strconv.FormatInt(n.Add(1), 10))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		for name, b := range files {
			if name == target {
				b = data
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(dir)
		if err != nil {
			return
		}
		defer s.Close()
		n := len(teamIDs(t, s))
		if prefix == "snap-" && n != 6 {
			t.Fatalf("a damaged snapshot opened with %d of 6 teams", n)
		}
		if n < 3 {
			t.Fatalf("opened with %d teams, fewer than the snapshot's 3", n)
		}
	})
}
