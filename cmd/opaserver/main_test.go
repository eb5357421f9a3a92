package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opakit/opa/internal/pgtest"
)

// built is the server binary, built once per test run by buildServer (TestMain removes it).
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// pgCluster is the PostgreSQL server of the -postgres tests (package pgtest); nil when they skip.
var pgCluster *pgtest.Cluster

func TestMain(m *testing.M) {
	code := pgtest.Main(m, &pgCluster)
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildServer builds cmd/opaserver into a temporary directory, once per test run.
func buildServer(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "opaserver-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "opaserver")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

type banner struct {
	base, team, keyID, secret string
	endUser                   string // "NAME, key id X, key secret Y"
	lines                     []string
}

// start runs the server binary and reads its banner up to the curl lines.
func start(t testing.TB, bin string, args ...string) (*exec.Cmd, banner, *bytes.Buffer) {
	t.Helper()
	return startIn(t, "", nil, bin, args...)
}

// startIn is start with the server's working directory dir ("" for the test's) and extra
// environment variables.
func startIn(t testing.TB, dir string, env []string, bin string, args ...string) (*exec.Cmd, banner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var b banner
	field := func(line, name string) string {
		v, _ := strings.CutPrefix(line, name)
		return strings.TrimSpace(v)
	}
	for sc.Scan() {
		line := sc.Text()
		b.lines = append(b.lines, line)
		switch {
		case strings.HasPrefix(line, "base URL:"):
			b.base = field(line, "base URL:")
		case strings.HasPrefix(line, "team:"):
			b.team = field(line, "team:")
		case strings.HasPrefix(line, "key id:"):
			b.keyID = field(line, "key id:")
		case strings.HasPrefix(line, "key secret:"):
			b.secret = field(line, "key secret:")
		case strings.HasPrefix(line, "end user:"):
			b.endUser = field(line, "end user:")
		}
		if strings.HasPrefix(line, "browser reveal demo:") {
			break
		}
	}
	if b.base == "" || b.keyID == "" {
		t.Fatalf("no banner; stdout %q stderr %s", b.lines, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd, b, &stderr
}

// exchange does the printed token exchange and returns the bearer token.
func exchange(t testing.TB, b banner) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"key_id": b.keyID, "key_secret": b.secret})
	resp, err := http.Post(b.base+"/v1/teams/"+b.team+"/service_token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		BearerToken string `json:"bearer_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.BearerToken == "" {
		t.Fatalf("token exchange: status %d err %v", resp.StatusCode, err)
	}
	return tok.BearerToken
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func stop(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v; stderr %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30 s of SIGTERM")
	}
}

// TestMainJob is the README's main job: start the server, run the printed token exchange and list
// call, stop it with SIGTERM.
func TestMainJob(t *testing.T) {
	bin := buildServer(t)
	cmd, b, stderr := start(t, bin)
	if b.team != "demo" {
		t.Fatalf("team %q", b.team)
	}
	var curl []string
	for _, l := range b.lines {
		if strings.Contains(l, "curl ") {
			curl = append(curl, l)
		}
	}
	if len(curl) != 2 || !strings.Contains(curl[0], "/service_token") || !strings.Contains(curl[1], "Authorization: Bearer $TOKEN") {
		t.Fatalf("curl lines: %q", curl)
	}
	// The printed list URL, called with the token from the printed exchange.
	listURL := regexp.MustCompile(`curl -s (\S+) -H`).FindStringSubmatch(curl[1])[1]
	tok := exchange(t, b)
	status, body := get(t, listURL, tok)
	var list struct {
		List []map[string]any `json:"list"`
	}
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list.List) == 0 {
		t.Fatalf("list: %d %s", status, body)
	}
	stop(t, cmd, stderr)
}

// TestDataDir: with -data the state survives a restart and the key file is created 0600.
func TestDataDir(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	cmd, b, stderr := start(t, bin, "-data", dir)
	tok := exchange(t, b)
	body := `{"name":"kept","domain":"kept.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555"}`
	req, _ := http.NewRequest("POST", b.base+"/v1/teams/demo/integrations/ad_connections", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", err, resp)
	}
	resp.Body.Close()
	stop(t, cmd, stderr)
	fi, err := os.Stat(filepath.Join(dir, "kek"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, fi)
	}

	cmd, b, stderr = start(t, bin, "-data", dir)
	tok = exchange(t, b)
	status, got := get(t, b.base+"/v1/teams/demo/integrations/ad_connections", tok)
	if status != 200 || !strings.Contains(string(got), "kept.example.com") || !strings.Contains(string(got), "corp.example.com") {
		t.Fatalf("after restart: %d %s", status, got)
	}
	stop(t, cmd, stderr)
}

func TestBadFixtureFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.json")
	doc := `{"teams":[{"name":"t","users":[{"username":"a","email":"not-an-email"}]}]}`
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-fixtures", f}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "teams[0].users[0].email: not an email address") {
		t.Fatalf("err = %v", err)
	}
}
