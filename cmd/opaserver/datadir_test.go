package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
)

// firstStartKillsEnv sets how many kills TestFirstStartKilled makes (default 30, about 10 s).
const firstStartKillsEnv = "OPA_FIRSTSTART_KILLS"

// storedCounts returns how many records each table of the store in dir holds, leaving out the
// tables a running server adds to by itself (bearer tokens, audit events, sync results).
func storedCounts(t *testing.T, dir string) map[string]int {
	t.Helper()
	st, err := filestore.Open(dir)
	if err != nil {
		t.Fatalf("opening %s: %v", dir, err)
	}
	defer st.Close()
	out := map[string]int{}
	err = st.View(context.Background(), func(tx storage.ReadTx) error {
		for _, ts := range storage.Schema {
			switch ts.Name {
			case storage.Tokens.Name(), storage.AuditEvents.Name(), storage.SyncResults.Name():
				continue
			}
			recs, err := tx.List(ts.Name, "id")
			if err != nil {
				return err
			}
			if len(recs) > 0 {
				out[ts.Name] = len(recs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFirstStartKilled SIGKILLs the real server at a random moment of its first start with -data
// (from process start to shortly after the banner), then checks the data directory: it holds
// nothing, or the whole fixture, or is marked as an interrupted first start; and a restart serves
// the whole fixture, with the banner's key authenticating.
func TestFirstStartKilled(t *testing.T) {
	kills := 30
	if s := os.Getenv(firstStartKillsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q", firstStartKillsEnv, s)
		}
		kills = n
	}
	bin := buildServer(t)

	// The reference: one uninterrupted first start, timed to its banner.
	refDir := t.TempDir()
	began := time.Now()
	cmd, b, stderr := start(t, bin, "-data", refDir)
	firstStart := time.Since(began)
	exchange(t, b)
	stop(t, cmd, stderr)
	want := storedCounts(t, refDir)
	if want[storage.Users.Name()] == 0 || want[storage.ServiceKeys.Name()] == 0 || want[storage.Connections.Name()] == 0 {
		t.Fatalf("the reference start stored %v", want)
	}
	t.Logf("first start to banner: %v", firstStart)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	counts := map[string]int{}
	for i := range kills {
		dir := filepath.Join(t.TempDir(), "data")
		delay := time.Duration(rng.Int64N(int64(firstStart * 6 / 5)))
		killed := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", dir)
		if err := killed.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = killed.Process.Kill() // SIGKILL
		_ = killed.Wait()

		state := "interrupted (marked for a redo)"
		if _, err := os.Stat(filepath.Join(dir, firstStartMarker)); os.IsNotExist(err) {
			if _, err := os.Stat(dir); os.IsNotExist(err) {
				state = "nothing"
			} else if got := storedCounts(t, dir); len(got) == 0 {
				state = "nothing"
			} else if diff := cmp.Diff(want, got); diff == "" {
				state = "complete"
			} else {
				t.Fatalf("kill %d after %v: a partial fixture and no mark of an interrupted first start (-want +got):\n%s", i, delay, diff)
			}
		}
		counts[state]++

		cmd, b, stderr := start(t, bin, "-data", dir)
		exchange(t, b) // the banner's key authenticates
		status, body := get(t, b.base+"/v1/teams/"+b.team+"/integrations/ad_connections", exchange(t, b))
		if status != 200 || !strings.Contains(string(body), "corp.example.com") {
			t.Fatalf("kill %d after %v (%s): connections after restart: %d %s", i, delay, state, status, body)
		}
		stop(t, cmd, stderr)
		if diff := cmp.Diff(want, storedCounts(t, dir)); diff != "" {
			t.Fatalf("kill %d after %v (%s): after the restart (-want +got):\n%s", i, delay, state, diff)
		}
		if _, err := os.Stat(filepath.Join(dir, firstStartMarker)); !os.IsNotExist(err) {
			t.Fatalf("kill %d: the restart left the first-start mark: %v", i, err)
		}
	}
	t.Logf("%d kills: %v", kills, counts)
}

// connectionIDs returns the ids of the team's AD connections, as listed over HTTP.
func connectionIDs(t *testing.T, b banner) []string {
	t.Helper()
	status, body := get(t, b.base+"/v1/teams/"+b.team+"/integrations/ad_connections", exchange(t, b))
	var list struct {
		List []struct {
			ID string `json:"id"`
		} `json:"list"`
	}
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list.List) == 0 {
		t.Fatalf("connections: %d %s", status, body)
	}
	var ids []string
	for _, c := range list.List {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestSeedWithDataDir: the demo fixture's seed gives the same ids on the first start of two fresh
// data directories, and the same as in memory.
func TestSeedWithDataDir(t *testing.T) {
	bin := buildServer(t)
	var got [][]string
	for _, args := range [][]string{{"-data", t.TempDir()}, {"-data", t.TempDir()}, nil} {
		cmd, b, stderr := start(t, bin, args...)
		got = append(got, connectionIDs(t, b))
		stop(t, cmd, stderr)
	}
	if diff := cmp.Diff(got[0], got[1]); diff != "" {
		t.Errorf("two fresh data directories (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(got[0], got[2]); diff != "" {
		t.Errorf("a data directory and memory (-data +memory):\n%s", diff)
	}
}
