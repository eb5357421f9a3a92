package pgstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"

	"github.com/opakit/opa/internal/pgtest"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/pgstore"
)

// meta reads and rewrites the schema record of namespace ns, as an older or newer program
// would have left it.
type meta struct {
	t  *testing.T
	c  *pgtest.Cluster
	ns string
}

func (m meta) rel(name string) string { return pgx.Identifier{m.ns, name}.Sanitize() }

func (m meta) exec(sql string, args ...any) {
	m.t.Helper()
	if err := m.c.Exec(ctx, sql, args...); err != nil {
		m.t.Fatalf("%s: %v", sql, err)
	}
}

// tables returns the recorded tables, as generic JSON.
func (m meta) tables() []map[string]any {
	m.t.Helper()
	conn, err := pgx.Connect(ctx, m.c.DSN)
	if err != nil {
		m.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var enc string
	if err := conn.QueryRow(ctx, "SELECT value FROM "+m.rel("_pgstore")+" WHERE key = 'tables'").Scan(&enc); err != nil {
		m.t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(enc), &out); err != nil {
		m.t.Fatal(err)
	}
	return out
}

func (m meta) setTables(tables []map[string]any) {
	m.t.Helper()
	enc, err := json.Marshal(tables)
	if err != nil {
		m.t.Fatal(err)
	}
	m.exec("UPDATE "+m.rel("_pgstore")+" SET value = $1 WHERE key = 'tables'", string(enc))
}

// edit changes the recorded table name with fn.
func (m meta) edit(name string, fn func(table map[string]any) bool) {
	m.t.Helper()
	tables := m.tables()
	tables = slices.DeleteFunc(tables, func(table map[string]any) bool {
		return table["name"] == name && !fn(table)
	})
	m.setTables(tables)
}

func dropIndex(table map[string]any, name string) {
	ixs := table["indexes"].([]any)
	table["indexes"] = slices.DeleteFunc(ixs, func(ix any) bool { return ix.(map[string]any)["name"] == name })
}

// TestOpenAddsWhatTheSchemaGained: a database laid out before storage.Schema had some of its
// indexes and tables (simulated by removing them) gets them on Open, filled from the stored
// records.
func TestOpenAddsWhatTheSchemaGained(t *testing.T) {
	c := pgtestRequire(t)
	ns := c.Namespace(t)
	s := open(t, ns)
	err := s.Update(ctx, func(tx storage.WriteTx) error {
		for i, u := range []*storage.User{
			{ID: "u1", TeamID: "t1", Username: "alice", Email: "Alice@Example.com", GroupIDs: []string{"g1", "g2"}},
			{ID: "u2", TeamID: "t1", Username: "bob", Email: "alice@example.COM", GroupIDs: []string{"g2"}},
			{ID: "u3", TeamID: "t1", Username: "carol"},
		} {
			if err := storage.Users.Insert(tx, u); err != nil {
				return errors.Wrapf(err, "user %d", i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	m := meta{t, c, ns}
	m.exec("DROP INDEX " + m.rel("users__email"))
	m.exec("ALTER TABLE " + m.rel("users") + " DROP COLUMN lower_email")
	m.exec("DROP TABLE " + m.rel("users__group"))
	m.exec("DROP TABLE " + m.rel("rules"))
	m.edit("users", func(table map[string]any) bool {
		dropIndex(table, "email")
		dropIndex(table, "group")
		return true
	})
	m.edit("rules", func(map[string]any) bool { return false })

	s = open(t, ns)
	err = s.View(ctx, func(tx storage.ReadTx) error {
		for _, q := range []struct {
			index storage.IndexName[storage.User]
			args  []string
			want  []string
		}{
			{storage.UsersByEmail, []string{"T1", "ALICE@example.com"}, []string{"u1", "u2"}},
			{storage.UsersByGroup, []string{"g2"}, []string{"u1", "u2"}},
			{storage.UsersByGroup, []string{"g1"}, []string{"u1"}},
		} {
			users, err := storage.Users.List(tx, q.index, q.args...)
			if err != nil {
				return err
			}
			var got []string
			for _, u := range users {
				got = append(got, u.ID)
			}
			if !slices.Equal(got, q.want) {
				t.Errorf("users by %s %q after the migration: %v, want %v", q.index, q.args, got, q.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx storage.WriteTx) error {
		return storage.Rules.Insert(tx, &storage.Rule{ID: "r1", ConnectionID: "c1"})
	}); err != nil {
		t.Fatalf("writing to the recreated rules table: %v", err)
	}
	recorded := map[string]bool{}
	for _, table := range m.tables() {
		recorded[table["name"].(string)] = true
		if table["name"] == "users" && len(table["indexes"].([]any)) != 4 {
			t.Errorf("users has %d recorded indexes after the migration, want 4", len(table["indexes"].([]any)))
		}
	}
	for _, ts := range storage.Schema {
		if !recorded[ts.Name] {
			t.Errorf("table %s is not recorded after the migration", ts.Name)
		}
	}
}

// TestOpenRefusesNewerSchema: a database with a higher layout version, or with a table or index
// this program does not know, is refused with ErrNewerSchema and left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	c := pgtestRequire(t)
	for _, tc := range []struct {
		name   string
		change func(m meta)
	}{
		{"layout version", func(m meta) {
			m.exec("UPDATE " + m.rel("_pgstore") + " SET value = '99' WHERE key = 'layout'")
		}},
		{"unknown index", func(m meta) {
			m.edit("teams", func(table map[string]any) bool {
				table["indexes"] = append(table["indexes"].([]any), map[string]any{"name": "region", "fields": []string{"Region"}})
				return true
			})
		}},
		{"changed index", func(m meta) {
			m.edit("teams", func(table map[string]any) bool {
				table["indexes"].([]any)[0].(map[string]any)["lowercase"] = false
				return true
			})
		}},
		{"unknown table", func(m meta) {
			m.setTables(append(m.tables(), map[string]any{"name": "widgets", "indexes": []any{}}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := c.Namespace(t)
			open(t, ns).Close()
			m := meta{t, c, ns}
			tc.change(m)
			before, _ := json.Marshal(m.tables())
			_, err := pgstore.Open(ctx, c.DSN, pgstore.WithNamespace(ns))
			if !errors.Is(err, pgstore.ErrNewerSchema) {
				t.Fatalf("Open: %v, want ErrNewerSchema", err)
			}
			if after, _ := json.Marshal(m.tables()); string(after) != string(before) {
				t.Errorf("the refused Open changed the schema record:\n%s\n%s", before, after)
			}
		})
	}
}

// TestConcurrentOpensOfANewNamespace: replicas starting at once on an empty database all open
// it; one creates the schema, the others wait for it and find it made.
func TestConcurrentOpensOfANewNamespace(t *testing.T) {
	c := pgtestRequire(t)
	ns := c.Namespace(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.Open(ctx, c.DSN, pgstore.WithNamespace(ns))
			if err == nil {
				err = insertTeam(s, fmt.Sprint("t", i), fmt.Sprint("team ", i))
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("opener %d: %v", i, err)
		}
	}
}
