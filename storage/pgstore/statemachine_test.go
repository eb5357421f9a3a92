package pgstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"pgregory.net/rapid"

	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
	"github.com/opakit/opa/storage/storagetest"
)

// TestStateMachine runs the storage contract's state machine against the PostgreSQL store, with
// a reopen action (a new Store on the namespace must see the same records). Each run has one
// namespace; a check's "new, empty store" is that namespace emptied, which costs a few
// milliseconds where creating a namespace costs a hundred.
func TestStateMachine(t *testing.T) {
	c := pgtestRequire(t)
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ns := c.Namespace(t)
			pool, err := pgxpool.New(ctx, c.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			newStore := func(fatalf func(string, ...any)) *pgstore.Store {
				s, err := pgstore.New(ctx, pool, pgstore.WithNamespace(ns))
				if err != nil {
					fatalf("New: %v", err)
				}
				return s
			}
			_ = newStore(t.Fatalf) // creates the namespace
			empty := emptyAll(t, pool, ns)
			cfg := storagetest.Config{
				Open: func(rt *rapid.T) storage.Storage {
					s := newStore(rt.Fatalf)
					if _, err := pool.Exec(ctx, empty); err != nil {
						rt.Fatalf("emptying %s: %v", ns, err)
					}
					return s
				},
				Reopen: func(rt *rapid.T, s storage.Storage) storage.Storage {
					if err := s.Close(); err != nil {
						rt.Fatalf("Close: %v", err)
					}
					return newStore(rt.Fatalf)
				},
			}
			storagetest.RunStateMachine(t, cfg)
		})
	}
}

// emptyAll returns a statement that deletes every row of every relation of namespace ns but its
// schema record.
func emptyAll(t *testing.T, pool *pgxpool.Pool, ns string) string {
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> '_pgstore'`, ns)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "DELETE FROM %s;", pgx.Identifier{ns, n}.Sanitize())
	}
	return b.String()
}
