package filestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/storage"
)

var ctx = context.Background()

func mustOpen(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func putTeam(s storage.Storage, id string) error {
	return s.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Teams.Insert(tx, &storage.Team{ID: id, Name: "name-" + id})
	})
}

// teamIDs returns the sorted ids of every team.
func teamIDs(t *testing.T, s storage.Storage) []string {
	t.Helper()
	var ids []string
	err := s.View(ctx, func(tx storage.ReadTx) error {
		ts, err := storage.Teams.All(tx)
		for _, tm := range ts {
			ids = append(ids, tm.ID)
		}
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	sort.Strings(ids)
	return ids
}

func checkTeams(t *testing.T, s storage.Storage, want ...string) {
	t.Helper()
	sort.Strings(want)
	if diff := cmp.Diff(want, teamIDs(t, s)); diff != "" {
		t.Errorf("teams (-want +got):\n%s", diff)
	}
}

// fatalT is what the helpers need of a *testing.T or a *rapid.T.
type fatalT interface {
	Helper()
	Fatalf(format string, args ...any)
}

// lastSegment returns the path of the newest log segment in dir.
func lastSegment(t fatalT, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	sort.Strings(m)
	if len(m) == 0 {
		t.Fatalf("no log segment in %s", dir)
	}
	return m[len(m)-1]
}

func TestReopenKeepsCommits(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	for i := range 5 {
		if err := putTeam(s, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		if err := storage.Teams.Delete(tx, "1"); err != nil {
			return err
		}
		return storage.Teams.Update(tx, &storage.Team{ID: "2", Name: "renamed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	failing := errors.New("fn failed")
	err = s.Update(ctx, func(tx storage.WriteTx) error {
		_ = storage.Teams.Insert(tx, &storage.Team{ID: "x", Name: "x"})
		return failing
	})
	if !errors.Is(err, failing) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, "0", "2", "3", "4")
	_ = s.View(ctx, func(tx storage.ReadTx) error {
		tm, err := storage.Teams.Get(tx, "2")
		if err != nil || tm.Name != "renamed" {
			t.Errorf("team 2 = %+v, %v", tm, err)
		}
		return nil
	})
}

func TestSecondOpenerIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := Open(dir)
	if !errors.Is(err, ErrLocked) || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir)
	_ = s.Close()
}

func TestClosedStore(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := putTeam(s, "a"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Update after Close = %v", err)
	}
	if err := s.View(ctx, func(storage.ReadTx) error { return nil }); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("View after Close = %v", err)
	}
	if err := s.Snapshot(); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Snapshot after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	c, cancel := context.WithCancel(ctx)
	cancel()
	called := false
	err := s.Update(c, func(storage.WriteTx) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("Update with canceled ctx = %v (fn called: %v)", err, called)
	}
}

func TestSnapshotAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, WithSnapshotBytes(2048))
	var want []string
	for i := range 200 {
		id := fmt.Sprintf("t%03d", i)
		want = append(want, id)
		if err := putTeam(s, id); err != nil {
			t.Fatal(err)
		}
		if i == 100 {
			if err := s.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Snapshots == 0 || st.Commits != 200 {
		t.Errorf("stats = %+v, want snapshots and 200 commits", st)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	if len(snaps) != 1 {
		t.Errorf("snapshot files = %v, want one", snaps)
	}
	s = mustOpen(t, dir)
	checkTeams(t, s, want...)
	if err := putTeam(s, "after"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, append(want, "after")...)
}

func TestGroupCommitConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	var want []string
	for w := range writers {
		for i := range each {
			want = append(want, fmt.Sprintf("w%d-%d", w, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := putTeam(s, id); err != nil {
					t.Error(err)
					return
				}
				// Read-your-writes: the commit is visible once Update returns.
				if err := s.View(ctx, func(tx storage.ReadTx) error {
					_, err := storage.Teams.Get(tx, id)
					return err
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Commits != writers*each || st.Syncs == 0 || st.Syncs > st.Commits || st.SyncTime <= 0 {
		t.Errorf("stats = %+v", st)
	}
	t.Logf("%d commits in %d fsyncs", st.Commits, st.Syncs)
	_ = s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, want...)
}

func TestTornTailIsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, path string)
		wantLast bool
	}{
		{"garbage appended", func(t *testing.T, path string) { appendBytes(t, path, []byte{7, 0, 0, 0, 1, 2}) }, true},
		{"zeros appended", func(t *testing.T, path string) { appendBytes(t, path, make([]byte, 100)) }, true},
		{"last frame cut", func(t *testing.T, path string) { truncateBy(t, path, 3) }, false},
		{"last frame header cut", func(t *testing.T, path string) { lastFrameCut(t, path, 4) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			for _, id := range []string{"a", "b", "c"} {
				if err := putTeam(s, id); err != nil {
					t.Fatal(err)
				}
			}
			_ = s.Close()
			tc.damage(t, lastSegment(t, dir))
			s = mustOpen(t, dir)
			want := []string{"a", "b"}
			if tc.wantLast {
				want = append(want, "c")
			}
			checkTeams(t, s, want...)
			if err := putTeam(s, "d"); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			s = mustOpen(t, dir)
			defer s.Close()
			checkTeams(t, s, append(want, "d")...)
		})
	}
}

func TestCorruptionFailsOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"bit flip in a middle frame", func(t *testing.T, dir string) { flipByte(t, lastSegment(t, dir), len(walMagic)+12) }},
		{"bad segment header", func(t *testing.T, dir string) { flipByte(t, lastSegment(t, dir), 0) }},
		{"bit flip in snapshot", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
			flipByte(t, m[0], len(snapMagic)+30)
		}},
		{"snapshot cut", func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
			truncateBy(t, m[0], 5)
		}},
		{"segment missing", func(t *testing.T, dir string) { _ = os.Remove(lastSegment(t, dir)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			for _, id := range []string{"a", "b"} {
				if err := putTeam(s, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Snapshot(); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"c", "d", "e"} {
				if err := putTeam(s, id); err != nil {
					t.Fatal(err)
				}
			}
			_ = s.Close()
			tc.damage(t, dir)
			s, err := Open(dir)
			if err == nil {
				_ = s.Close()
			}
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func truncateBy(t *testing.T, path string, n int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-n); err != nil {
		t.Fatal(err)
	}
}

// lastFrameCut truncates path to keep only keep bytes of its last frame.
func lastFrameCut(t *testing.T, path string, keep int) {
	t.Helper()
	start, _ := lastFrame(t, path)
	if err := os.Truncate(path, int64(start+keep)); err != nil {
		t.Fatal(err)
	}
}

// lastFrame returns the offset and size of the last valid frame of a log segment (-1 if none).
func lastFrame(t *testing.T, path string) (int, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return lastFrameIn(data)
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x40
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAppendOnlyTableSurvivesReopen: an append-only table comes back in insertion order from the
// log alone and from a snapshot plus the log.
func TestAppendOnlyTableSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	var want []string
	add := func(s *Store, i int) {
		t.Helper()
		id := fmt.Sprintf("e%03d", 999-i) // ids descend, so id order is not insertion order
		want = append(want, id)
		if err := s.Update(ctx, func(tx storage.WriteTx) error {
			return storage.AuditEvents.Insert(tx, &storage.AuditEvent{ID: id, TeamID: "t", ResourceID: fmt.Sprint("r", i%3)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		err := s.View(ctx, func(tx storage.ReadTx) error {
			evs, err := storage.AuditEvents.All(tx)
			var got []string
			for _, ev := range evs {
				got = append(got, ev.ID)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			r0, _ := storage.AuditEvents.List(tx, storage.AuditEventsByResource, "r0")
			if len(r0) != (len(want)+2)/3 {
				t.Errorf("resource index has %d events, want %d", len(r0), (len(want)+2)/3)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		add(s, i)
	}
	_ = s.Close()
	s = mustOpen(t, dir)
	check(s)
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < 80; i++ {
		add(s, i)
	}
	_ = s.Close()
	s = mustOpen(t, dir)
	defer s.Close()
	check(s)
}
