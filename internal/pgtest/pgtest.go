// Package pgtest gives tests a real PostgreSQL server: a throwaway cluster that
// scripts/pg-cluster.sh starts for one test binary, or a running one named by environment
// variables.
//
// A package's TestMain calls Main. With OPA_POSTGRES_DSN set (and, for restarts,
// OPA_POSTGRES_DIR: the variables of pg-cluster.sh's env file) the tests use that server.
// Otherwise, with CI=true or OPA_POSTGRES=1, Main starts a cluster with scripts/pg-cluster.sh and
// removes it afterwards; under CI=true a missing PostgreSQL is first installed
// (scripts/pg-cluster.sh install) and then a failure, never a skip. Without either, Require skips
// the test with a message saying how to run it.
package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
)

// Cluster is the server under test.
type Cluster struct {
	// DSN connects to the test database.
	DSN string
	// Dir is the cluster's directory, "" for a server the tests did not start (no Restart).
	Dir    string
	script string
}

// skipReason is what Require says when no server is configured.
const skipReason = "PostgreSQL tests skipped: set OPA_POSTGRES=1 (or CI=true) to start a cluster with " +
	"scripts/pg-cluster.sh, or OPA_POSTGRES_DSN (and OPA_POSTGRES_DIR) to use a running one"

// Main runs m with a cluster as described in the package documentation, then stops the cluster
// it started. *c is set before m runs (left nil when the tests are to skip). It returns the exit
// code for os.Exit.
func Main(m *testing.M, c **Cluster) int {
	ci := os.Getenv("CI") == "true"
	script, err := findScript()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: PostgreSQL:", err)
		return 1
	}
	if dsn := os.Getenv("OPA_POSTGRES_DSN"); dsn != "" {
		*c = &Cluster{DSN: dsn, Dir: os.Getenv("OPA_POSTGRES_DIR"), script: script}
		return m.Run()
	}
	if !ci && os.Getenv("OPA_POSTGRES") != "1" {
		return m.Run()
	}
	env, err := start(script, ci)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: PostgreSQL:", err)
		return 1
	}
	*c = &Cluster{DSN: env["OPA_POSTGRES_DSN"], Dir: env["OPA_POSTGRES_DIR"], script: script}
	defer func() {
		if out, err := exec.Command(script, "stop", env["OPA_POSTGRES_DIR"]).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "pg-cluster.sh stop: %v\n%s", err, out)
		}
	}()
	return m.Run()
}

// findScript returns the path of scripts/pg-cluster.sh, looking up from the working directory
// (a test binary runs in its package's directory) for the module root.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "pg-cluster.sh"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// start runs pg-cluster.sh start (installing PostgreSQL first under CI when it is missing) and
// returns the variables it printed.
func start(script string, ci bool) (map[string]string, error) {
	run := func() ([]byte, error) {
		cmd := exec.Command(script, "start")
		cmd.Env = append(os.Environ(), "OPA_PG_OWNER="+strconv.Itoa(os.Getpid()))
		cmd.Stderr = os.Stderr
		return cmd.Output()
	}
	out, err := run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 && ci {
		fmt.Fprintln(os.Stderr, "PostgreSQL is not installed; CI=true: installing it")
		inst := exec.Command(script, "install")
		inst.Stdout, inst.Stderr = os.Stderr, os.Stderr
		if err := inst.Run(); err != nil {
			return nil, errors.Wrap(err, "installing PostgreSQL")
		}
		out, err = run()
	}
	if err != nil {
		return nil, errors.Wrapf(err, "%s start", script)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if env["OPA_POSTGRES_DSN"] == "" {
		return nil, errors.Newf("%s start printed no OPA_POSTGRES_DSN", script)
	}
	return env, nil
}

// Require returns c, or skips t when no server is configured.
func Require(t testing.TB, c *Cluster) *Cluster {
	t.Helper()
	if c == nil {
		t.Skip(skipReason)
	}
	return c
}

// Namespace returns a new PostgreSQL schema name for one test, and drops that schema (and
// everything in it) when the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ns := "test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if err := c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{ns}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", ns, err)
		}
	})
	return ns
}

// Exec runs sql on a connection of its own.
func (c *Cluster) Exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// Restart restarts the server with pg_ctl (mode "fast": sessions are told to end; "immediate":
// the server is killed and recovers from its WAL on start). It fails t when the cluster was not
// started by the tests, since then there is nothing to restart it with.
func (c *Cluster) Restart(t testing.TB, mode string) {
	t.Helper()
	if c.Dir == "" {
		t.Fatal("the server was not started by scripts/pg-cluster.sh (OPA_POSTGRES_DIR is unset): cannot restart it")
	}
	if out, err := exec.Command(c.script, "restart", c.Dir, mode).CombinedOutput(); err != nil {
		t.Fatalf("pg-cluster.sh restart: %v\n%s", err, out)
	}
}
