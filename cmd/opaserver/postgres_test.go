package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/internal/pgtest"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/memstore"
	"github.com/opakit/opa/storage/pgstore"
)

// TestPostgresDSNFromTheEnvironment: -postgres wins; OPA_POSTGRES is read only when it holds a
// DSN (the tests' "1" is not one); OPA_POSTGRES_DSN, the tests' server, is never read.
func TestPostgresDSNFromTheEnvironment(t *testing.T) {
	t.Setenv("OPA_POSTGRES_DSN", "postgres://tests@127.0.0.1/tests")
	for _, c := range []struct{ flag, env, want string }{
		{"", "1", ""},
		{"", "true", ""},
		{"", "", ""},
		{"", "postgres://u@db/opa", "postgres://u@db/opa"},
		{"", "postgresql://u@db/opa", "postgresql://u@db/opa"},
		{"", "host=db dbname=opa", "host=db dbname=opa"},
		{"postgres://flag@db/opa", "postgres://env@db/opa", "postgres://flag@db/opa"},
	} {
		t.Setenv("OPA_POSTGRES", c.env)
		if got := postgresDSN(c.flag); got != c.want {
			t.Errorf("flag %q, OPA_POSTGRES %q: %q, want %q", c.flag, c.env, got, c.want)
		}
	}
	t.Setenv("OPA_POSTGRES", "1")
	if _, err := parseFlags([]string{"-postgres", "postgres://x@db/opa", "-data", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("-data with -postgres was accepted")
	}
	if err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-postgres", "postgres://x@127.0.0.1:1/opa"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("-postgres without -key-file started")
	}
}

// tableCounts returns the number of records of every table of store.
func tableCounts(t *testing.T, store storage.Storage) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := store.View(context.Background(), func(tx storage.ReadTx) error {
		for _, ts := range storage.Schema {
			rs, err := tx.List(ts.Name, "id")
			if err != nil {
				return err
			}
			out[ts.Name] = len(rs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPostgresReplicasLoadTheFixtureOnce: three servers started at once with -postgres on one
// empty schema load the fixture once between them: the database holds exactly the records one
// load makes. Each serves the demo team; a connection created through one is listed by the
// others; and a later start loads nothing.
func TestPostgresReplicasLoadTheFixtureOnce(t *testing.T) {
	pg := pgtest.Require(t, pgCluster)
	ns := pg.Namespace(t)
	bin := buildServer(t)
	keyFile := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(keyFile, bytes.Repeat([]byte{9}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-postgres", pg.DSN, "-postgres-schema", ns, "-key-file", keyFile}
	banners := make([]banner, 3)
	var wg sync.WaitGroup
	for i := range banners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, banners[i], _ = start(t, bin, args...)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	store, err := pgstore.Open(t.Context(), pg.DSN, pgstore.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fx, err := fixture.Parse(opa.DemoFixture)
	if err != nil {
		t.Fatal(err)
	}
	mem := memstore.New()
	_, l, err := fixture.Build(t.Context(), fx, fixture.Options{Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Directory.Close()
	want := tableCounts(t, mem)
	got := tableCounts(t, store)
	for name, n := range want {
		if name == storage.Leases.Name() || name == storage.Tokens.Name() {
			continue
		}
		if got[name] != n {
			t.Errorf("table %s: %d records, want one load's %d", name, got[name], n)
		}
	}
	tok := exchange(t, banners[0])
	body := `{"name":"shared","domain":"shared.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555"}`
	status, _ := post(t, banners[0].base+"/v1/teams/demo/integrations/ad_connections", tok, body)
	if status != 201 {
		t.Fatalf("create through replica 0: %d", status)
	}
	for i, b := range banners[1:] {
		status, list := get(t, b.base+"/v1/teams/demo/integrations/ad_connections", exchange(t, b))
		if status != 200 || !bytes.Contains(list, []byte("shared.example.com")) {
			t.Fatalf("replica %d does not list the connection replica 0 made: %d %s", i+1, status, list)
		}
	}
	start(t, bin, args...)
	if n := tableCounts(t, store)[storage.Teams.Name()]; n != 1 {
		t.Fatalf("a later start: %d teams", n)
	}
}

func post(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
