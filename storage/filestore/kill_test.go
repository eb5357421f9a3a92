package filestore

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa/storage"
)

const killEnv = "OPA_FILESTORE_KILL_CHILD_DIR"

// TestKill re-runs this test binary as a child that commits from four goroutines and prints each
// acknowledged commit, SIGKILLs it at a random moment, then reopens the store and checks that every
// acknowledged commit is there. Fifty kills in a row, on the same directory, with snapshots taken
// often so some kills land in the middle of one.
func TestKill(t *testing.T) {
	if dir := os.Getenv(killEnv); dir != "" {
		killChild(dir, os.Getenv(killEnv+"_PREFIX"))
		return
	}
	if testing.Short() {
		t.Skip("spawns 50 processes")
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	var acked []string
	for i := range 50 {
		acked = append(acked, runAndKill(t, dir, fmt.Sprintf("k%02d", i), time.Duration(5+rng.IntN(46))*time.Millisecond)...)
		checkAcked(t, dir, i, acked)
	}
	t.Logf("%d acknowledged commits survived 50 kills", len(acked))
}

// TestKillDuringCompaction is TestKill's harness run OPA_KILL_RUNS times (default 20 to keep the -race suite
// bounded; scripts/fuzz.sh runs 200 without -race) with kill delays from 1 to 60 ms, so kills land
// before, during and after snapshots and the removal of obsolete segments (compaction). A fresh
// directory every 20 kills keeps recovery cost flat.
func TestKillDuringCompaction(t *testing.T) {
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
		checkAcked(t, dir, i, acked)
	}
	t.Logf("%d kills: %d acknowledged commits, none lost, no reopen failure", runs, acknowledged)
}

// checkAcked reopens dir after kill number i and fails t unless every id in acked is a team.
func checkAcked(t *testing.T, dir string, i int, acked []string) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("kill %d: Open after SIGKILL: %v", i, err)
	}
	present := map[string]bool{}
	for _, id := range teamIDs(t, s) {
		present[id] = true
	}
	_ = s.Close()
	for _, id := range acked {
		if !present[id] {
			t.Fatalf("kill %d: acknowledged commit %s is missing after reopen", i, id)
		}
	}
}

// runAndKill starts the child, kills it delay after it is ready, and returns the ids it
// acknowledged.
func runAndKill(t *testing.T, dir, prefix string, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+dir, killEnv+"_PREFIX="+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a last line without its newline was not acknowledged in full
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	var ids []string
	var timer <-chan time.Time // nil until the child is ready
	ready, killed := false, false
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				done = true
			case line == "ready":
				ready, timer = true, time.After(delay)
			case strings.HasPrefix(line, prefix+"-"):
				ids = append(ids, line)
			}
		case <-timer:
			_ = cmd.Process.Kill() // SIGKILL
			killed, timer = true, nil
		}
	}
	_ = cmd.Wait()
	if !ready {
		t.Fatalf("child %s never became ready: %s", prefix, stderr.String())
	}
	if !killed {
		t.Fatalf("child %s exited before the kill: %s", prefix, stderr.String())
	}
	return ids
}

// killChild is the child's side: commit until killed, printing each acknowledged id.
func killChild(dir, prefix string) {
	s, err := Open(dir, WithSnapshotBytes(16<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	deadline := time.Now().Add(10 * time.Second) // in case the parent is gone
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				id := fmt.Sprintf("%s-%d-%d", prefix, g, n)
				err := s.Update(ctx, func(tx storage.WriteTx) error {
					return storage.Teams.Insert(tx, &storage.Team{ID: id, Name: id})
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					os.Exit(2)
				}
				fmt.Println(id)
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}
