package filestore

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
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
	t.Logf("%d acknowledged commits survived 50 kills", len(acked))
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
