package filestore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// untilWritable retries putTeam(id) until the store accepts it (it recovers after its backoff),
// for at most five seconds.
func untilWritable(t *testing.T, s *Store, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := putTeam(s, id)
		if err == nil {
			return
		}
		if !errors.Is(err, storage.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("commit after the fault cleared: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecoverAfterFault: after a failed log write or fsync the store refuses writes during its
// backoff, then recovers from disk on the next write and accepts writes again; the failed commit
// is gone (even where its frame was written in full and could not be cut back, so only the page
// cache held it), and every acknowledged one stays, in memory and after reopen.
func TestRecoverAfterFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []fault
	}{
		{"fsync fails", []fault{{op: "sync", match: "wal-", err: syscall.EIO}}},
		{"fsync fails and the log cannot be cut back", []fault{
			{op: "sync", match: "wal-", err: syscall.EIO}, {op: "truncate", match: "wal-", err: syscall.EIO}}},
		{"ENOSPC", []fault{{op: "write", match: "wal-", err: syscall.ENOSPC}}},
		{"ENOSPC after half", []fault{{op: "write", match: "wal-", err: syscall.ENOSPC, short: true}}},
		{"short write", []fault{{op: "write", match: "wal-", err: io.ErrShortWrite, short: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := &faultFS{}
			s := mustOpen(t, dir, WithFS(fsys), WithRecoveryBackoff(100*time.Millisecond, time.Second))
			for _, id := range []string{"a", "b"} {
				if err := putTeam(s, id); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.faults {
				f.times = 1
				fsys.arm(&f)
			}
			if err := putTeam(s, "failed"); !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("commit under fault = %v, want ErrUnavailable", err)
			}
			fsys.disarm()
			if err := putTeam(s, "early"); !errors.Is(err, storage.ErrUnavailable) {
				t.Fatalf("commit during the backoff = %v, want ErrUnavailable", err)
			}
			checkTeams(t, s, "a", "b")
			untilWritable(t, s, "c")
			if err := putTeam(s, "d"); err != nil {
				t.Fatal(err)
			}
			checkTeams(t, s, "a", "b", "c", "d")
			if st := s.Stats(); st.Recoveries != 1 {
				t.Errorf("Stats().Recoveries = %d, want 1", st.Recoveries)
			}
			if err := s.Snapshot(); err != nil {
				t.Fatalf("snapshot after recovery: %v", err)
			}
			if err := putTeam(s, "e"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, dir)
			defer s.Close()
			checkTeams(t, s, "a", "b", "c", "d", "e")
		})
	}
}

// TestRecoveryFailsThenSucceeds: a recovery that cannot cut the log back leaves the store failed
// with a longer backoff; the next one, once the disk behaves, succeeds.
func TestRecoveryFailsThenSucceeds(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	s := mustOpen(t, dir, WithFS(fsys), WithRecoveryBackoff(10*time.Millisecond, time.Second))
	defer s.Close()
	if err := putTeam(s, "a"); err != nil {
		t.Fatal(err)
	}
	fsys.arm(&fault{op: "sync", match: "wal-", err: syscall.EIO, times: 1})
	if err := putTeam(s, "failed"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("commit under fault = %v", err)
	}
	// Every truncate fails now: the failure's own cut-back and the recovery's.
	fsys.arm(&fault{op: "truncate", match: "wal-", err: syscall.EIO})
	time.Sleep(20 * time.Millisecond)
	err := putTeam(s, "b")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("commit while recovery fails = %v, want ErrUnavailable", err)
	}
	if st := s.Stats(); st.Recoveries != 0 {
		t.Fatalf("a recovery succeeded although the log could not be cut back")
	}
	fsys.disarm()
	untilWritable(t, s, "c")
	checkTeams(t, s, "a", "c")
}

// TestRecoverUnderLoad: eight writers commit while log fsyncs fail now and then; the store fails,
// recovers and goes on. Every acknowledged commit is there after reopen, and no commit that
// failed is (its group was cut back from the log).
func TestRecoverUnderLoad(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	s := mustOpen(t, dir, WithFS(fsys), WithRecoveryBackoff(time.Millisecond, 5*time.Millisecond),
		WithSnapshotBytes(2<<10))
	var mu sync.Mutex
	acked, failed := map[string]bool{}, map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("%d-%d", g, n)
				err := putTeam(s, id)
				mu.Lock()
				switch {
				case err == nil:
					acked[id] = true
				case errors.Is(err, storage.ErrUnavailable):
					failed[id] = true
				default:
					t.Errorf("commit %s: %v", id, err)
				}
				mu.Unlock()
			}
		}()
	}
	for range 10 {
		time.Sleep(20 * time.Millisecond)
		fsys.arm(&fault{op: "sync", match: "wal-", err: syscall.EIO, times: 1})
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	fsys.disarm()
	st := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir)
	defer s.Close()
	present := map[string]bool{}
	for _, id := range teamIDs(t, s) {
		present[id] = true
	}
	for id := range acked {
		if !present[id] {
			t.Fatalf("acknowledged commit %s is missing after reopen", id)
		}
	}
	for id := range failed {
		if present[id] {
			t.Fatalf("commit %s failed but is present after reopen", id)
		}
	}
	if st.Recoveries == 0 {
		t.Fatalf("no recovery happened (stats %+v)", st)
	}
	t.Logf("%d acknowledged, %d refused or failed, %d recoveries, %d snapshots", len(acked), len(failed), st.Recoveries, st.Snapshots)
}

// TestRecoveryFailsCommitsSequencedDuringTheFailedSync: a commit sequenced while a log fsync is
// failing (it found the store healthy just before) waits in a batch for the syncer. The syncer
// may then run the recovery before that batch, as its select picks either; the commit must still
// fail, not be written after the recovery with a sequence number that follows the failed group's
// and writes the recovered state never saw. The test makes the syncer pick the recovery: during
// the failing fsync it takes away the syncer's wake-up for that batch.
func TestRecoveryFailsCommitsSequencedDuringTheFailedSync(t *testing.T) {
	dir := t.TempDir()
	fsys := &faultFS{}
	s := mustOpen(t, dir, WithFS(fsys), WithSnapshotBytes(0), WithRecoveryBackoff(time.Millisecond, time.Millisecond))
	if err := putTeam(s, "a"); err != nil {
		t.Fatal(err)
	}
	// One more commit counted in flight, so no writer commits inline: the sequencer and the
	// syncer goroutines do it.
	s.inflight.Add(1)
	bErr := make(chan error, 1)
	fsys.arm(&fault{op: "sync", match: "wal-", err: syscall.EIO, times: 1, during: func() {
		go func() { bErr <- putTeam(s, "b") }()
		deadline := time.Now().Add(10 * time.Second)
		for !s.waiting(&s.bmu, func() bool { return len(s.batches) > 0 }) || len(s.bkick) == 0 {
			if time.Now().After(deadline) {
				t.Error("the commit started during the failing fsync was never sequenced")
				return
			}
			time.Sleep(time.Millisecond)
		}
		<-s.bkick
	}})
	if err := putTeam(s, "failed"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("commit under fault = %v, want ErrUnavailable", err)
	}
	s.inflight.Add(-1)
	untilWritable(t, s, "c")
	err := <-bErr
	want := []string{"a", "c"}
	switch {
	case err == nil:
		want = append(want, "b")
	case !errors.Is(err, storage.ErrUnavailable):
		t.Fatalf("commit sequenced during the failing fsync = %v, want nil or ErrUnavailable", err)
	}
	checkTeams(t, s, want...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir)
	defer s.Close()
	checkTeams(t, s, want...)
}

// TestRecoverAfterFullDisk fills a small tmpfs until commits fail with ENOSPC, checks that writes
// stay refused while it is full, frees space and checks that writes work again without a reopen
// and that every acknowledged commit survives a reopen. It mounts the tmpfs itself, so it needs
// root; it is skipped without the permission, except under CI=true, where that is a failure.
func TestRecoverAfterFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mounting a 2 MiB tmpfs for the full-disk test: %v (CI needs root for it)", err)
		}
		t.Skipf("mounting a 2 MiB tmpfs needs root (%v); run as root to test recovery after a full disk", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	data := filepath.Join(dir, "store")
	s := mustOpen(t, data, WithSnapshotBytes(0), WithRecoveryBackoff(10*time.Millisecond, 100*time.Millisecond))
	// The filler takes most of the space; the log gets the rest.
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1800<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	big := func(id string) error {
		return s.Update(ctx, func(tx storage.WriteTx) error {
			return storage.Teams.Insert(tx, &storage.Team{ID: id, Name: fmt.Sprintf("%s-%01000d", id, 0)})
		})
	}
	var acked []string
	var full error
	for i := 0; full == nil; i++ {
		if i > 10_000 {
			t.Fatal("the tmpfs never filled up")
		}
		id := fmt.Sprintf("r%05d", i)
		if err := big(id); err != nil {
			full = err
			break
		}
		acked = append(acked, id)
	}
	if !errors.Is(full, storage.ErrUnavailable) || !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("commit on a full disk = %v, want ErrUnavailable caused by ENOSPC", full)
	}
	// Still full: a write after the backoff tries to recover, succeeds (the log can be cut back),
	// and its commit fails again.
	time.Sleep(20 * time.Millisecond)
	if err := big("while-full"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("commit while the disk is still full = %v, want ErrUnavailable", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := big("after")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit after space returned: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	acked = append(acked, "after")
	for i := range 20 {
		id := fmt.Sprintf("more%02d", i)
		if err := big(id); err != nil {
			t.Fatalf("commit %s after recovery: %v", id, err)
		}
		acked = append(acked, id)
	}
	recoveries := s.Stats().Recoveries
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, data)
	defer s.Close()
	checkTeams(t, s, acked...)
	t.Logf("%d commits acknowledged before the disk was full, %d recoveries", len(acked)-21, recoveries)
}
