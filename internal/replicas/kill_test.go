package replicas_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/directory"
	"github.com/opakit/opa/internal/pgtest"
	"github.com/opakit/opa/internal/replicas"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

// The killed replica: the test binary run again with childEnv set to a namespace and dsnEnv to
// the database, as a replica process of its own.
const (
	childEnv = "OPA_REPLICAS_CHILD_NAMESPACE"
	dsnEnv   = "OPA_REPLICAS_CHILD_DSN"
	// killTTL is the lease time to live of both replicas: how long the survivor waits.
	killTTL = 2 * time.Second
	// searching is what the child prints when its sync is under way (blocked in the directory).
	searching = "searching the directory"
)

// blockingDirectory is a directory whose Search announces itself on stdout and then never returns
// (until its context ends): a sync that is under way when the process is killed.
type blockingDirectory struct{ directory.Directory }

func (d blockingDirectory) Search(ctx context.Context, _ directory.SearchRequest) ([]*directory.Entry, error) {
	fmt.Println(searching)
	<-ctx.Done()
	return nil, ctx.Err()
}

// childMain is the replica process: an engine on the namespace that ticks until it is killed.
func childMain() int {
	store, err := pgstore.Open(ctx, os.Getenv(dsnEnv), pgstore.WithNamespace(os.Getenv(childEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	wrap := func(r directory.Resolver) directory.Resolver {
		return directory.ResolverFunc(func(ctx context.Context, team directory.Team, conn directory.Connection) (directory.Directory, error) {
			d, err := r.Directory(ctx, team, conn)
			if err != nil {
				return nil, err
			}
			return blockingDirectory{d}, nil
		})
	}
	c, err := replicas.New(ctx, []storage.Storage{store}, opa.SystemClock{}, nil, false, wrap, opa.WithLeaseTTL(killTTL))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	for {
		if err := c.Engines[0].Tick(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "child tick:", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicaKilledMidSyncIsFinishedByAnother: a replica process that is running a due sync job
// is killed with SIGKILL in the middle of it (its directory search never returns). Its lease on
// the connection stops being renewed; once it expires, the surviving replica's Tick claims the job
// and runs it, and the job has exactly one recorded run: the survivor's.
func TestReplicaKilledMidSyncIsFinishedByAnother(t *testing.T) {
	pg := pgtest.Require(t, cluster)
	ns := pg.Namespace(t)
	store, err := pgstore.Open(ctx, pg.DSN, pgstore.WithNamespace(ns))
	must(t, err)
	t.Cleanup(func() { _ = store.Close() })
	c, err := replicas.New(ctx, []storage.Storage{store}, opa.SystemClock{}, nil, true, nil, opa.WithLeaseTTL(killTTL))
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	survivor := c.Engines[0]
	admin, err := c.Admin(ctx)
	must(t, err)
	job, err := survivor.CreateUserSyncJob(ctx, admin, c.ConnID, opa.UserSyncJobInput{
		Name: "service accounts", Frequency: 1, IsActive: true, BaseDN: "OU=ServiceAccounts,DC=corp,DC=example,DC=com"})
	must(t, err) // due at once; only the child ticks until it is killed

	exe, err := os.Executable()
	must(t, err)
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+ns, dsnEnv+"="+pg.DSN)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	must(t, err)
	must(t, child.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})
	started := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), searching) {
				started <- true
				break
			}
		}
		for sc.Scan() { // drain
		}
		close(started)
	}()
	select {
	case ok := <-started:
		if !ok {
			t.Fatal("the replica process ended before its sync started")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the replica process never started the sync")
	}
	status, err := survivor.SyncStatus(ctx, admin, c.ConnID)
	must(t, err)
	if status != opa.SyncInProgress {
		t.Fatalf("while the other replica syncs, the status reads %s, want %s", status, opa.SyncInProgress)
	}
	must(t, survivor.Tick(ctx)) // the lease is live: the job is not the survivor's yet
	must(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	killed = true
	if runs, err := c.SyncRuns(ctx, job.ID); err != nil || runs[job.ID] != 0 {
		t.Fatalf("runs recorded before the takeover: %v %v", runs, err)
	}

	deadline := time.Now().Add(time.Minute)
	for {
		must(t, survivor.Tick(ctx))
		runs, err := c.SyncRuns(ctx, job.ID)
		must(t, err)
		if runs[job.ID] == 1 {
			break
		}
		if runs[job.ID] > 1 || time.Now().After(deadline) {
			t.Fatalf("job runs after the kill: %d", runs[job.ID])
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, err = survivor.SyncStatus(ctx, admin, c.ConnID)
	must(t, err)
	if status != opa.SyncCompleted {
		t.Fatalf("after the takeover the status is %s", status)
	}
	results, err := survivor.UserSyncResults(ctx, admin, c.ConnID, job.ID, opa.PageRequest{})
	must(t, err)
	if len(results.Items) != 1 || results.Items[0].TaskState != opa.TaskDone {
		t.Fatalf("results %+v", results.Items)
	}
}
