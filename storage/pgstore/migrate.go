package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/opakit/opa/internal/errclass"
	"github.com/opakit/opa/storage"
)

// layoutVersion is the version of the relational layout this code writes (layout.go). A change
// that additive migration cannot make (a column's meaning, a removed index) raises it and adds
// a step to upgrades.
const layoutVersion = 1

// upgrade migrates a database from layout version v to v+1, inside Open's transaction. Version 0
// is an empty namespace; creating it is not an upgrade but reconcile's additive step.
func upgrade(_ context.Context, _ pgx.Tx, _ *layout, v int) error {
	switch v {
	default:
		return errors.AssertionFailedf("pgstore: no upgrade from layout version %d", v)
	}
}

// tableDesc and indexDesc describe what was applied, as recorded in _pgstore.
type tableDesc struct {
	Name       string      `json:"name"`
	AppendOnly bool        `json:"append_only,omitempty"`
	Indexes    []indexDesc `json:"indexes"`
}

type indexDesc struct {
	Name      string   `json:"name"`
	Fields    []string `json:"fields"`
	Unique    bool     `json:"unique,omitempty"`
	Lowercase bool     `json:"lowercase,omitempty"`
	Multi     bool     `json:"multi,omitempty"`
}

func describe(ts *storage.TableSchema) tableDesc {
	d := tableDesc{Name: ts.Name, AppendOnly: ts.AppendOnly, Indexes: []indexDesc{}}
	for _, ix := range ts.Indexes {
		d.Indexes = append(d.Indexes, describeIndex(ix))
	}
	return d
}

func describeIndex(ix storage.Index) indexDesc {
	return indexDesc{Name: ix.Name, Fields: ix.Fields, Unique: ix.Unique, Lowercase: ix.Lowercase, Multi: ix.Multi}
}

func (d indexDesc) equal(o indexDesc) bool {
	return d.Name == o.Name && slices.Equal(d.Fields, o.Fields) && d.Unique == o.Unique &&
		d.Lowercase == o.Lowercase && d.Multi == o.Multi
}

// advisoryKey names the lock that serializes migrations of one namespace.
const advisoryKey = "opa pgstore migration "

// migrate creates or upgrades the namespace of l in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool, l *layout) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return classify(ctx, err, "opening")
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	exec := func(sql string, args ...any) error {
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return classify(ctx, err, "migrating the schema")
		}
		return nil
	}
	if err := exec("SELECT pg_advisory_xact_lock(hashtext($1))", advisoryKey+l.ns); err != nil {
		return err
	}
	if err := exec("CREATE SCHEMA IF NOT EXISTS " + quote(l.ns)); err != nil {
		return err
	}
	meta := qualify(l.ns, "_pgstore")
	if err := exec(fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (key text PRIMARY KEY, value text NOT NULL)", meta)); err != nil {
		return err
	}
	version, applied, err := readMeta(ctx, tx, meta)
	if err != nil {
		return err
	}
	if version > layoutVersion {
		return newer("layout version %d, this program knows up to %d", version, layoutVersion)
	}
	for v := version; v > 0 && v < layoutVersion; v++ {
		if err := upgrade(ctx, tx, l, v); err != nil {
			return errors.Wrapf(err, "pgstore: upgrading layout version %d", v)
		}
	}
	next, err := reconcile(ctx, tx, l, applied)
	if err != nil {
		return err
	}
	enc, err := json.Marshal(next)
	if err != nil {
		return errors.Wrap(err, "pgstore: recording the schema")
	}
	upsert := fmt.Sprintf("INSERT INTO %s (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", meta)
	if err := exec(upsert, "layout", strconv.Itoa(layoutVersion)); err != nil {
		return err
	}
	if err := exec(upsert, "tables", string(enc)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(ctx, err, "committing the schema")
	}
	return nil
}

func newer(format string, args ...any) error {
	return errors.WithHint(errclass.Mark(ErrNewerSchema, "pgstore: the database was laid out by a newer program: "+format, args...),
		"upgrade this program, or open another database or namespace")
}

// readMeta returns the recorded layout version (0 for a new namespace) and tables.
func readMeta(ctx context.Context, tx pgx.Tx, meta string) (int, []tableDesc, error) {
	rows, err := tx.Query(ctx, "SELECT key, value FROM "+meta)
	if err != nil {
		return 0, nil, classify(ctx, err, "reading the schema version")
	}
	kv, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var k, v string
		err := r.Scan(&k, &v)
		return [2]string{k, v}, err
	})
	if err != nil {
		return 0, nil, classify(ctx, err, "reading the schema version")
	}
	version := 0
	var applied []tableDesc
	for _, e := range kv {
		switch e[0] {
		case "layout":
			if version, err = strconv.Atoi(e[1]); err != nil {
				return 0, nil, errclass.Mark(storage.ErrCorrupt, "pgstore: bad layout version %q", e[1])
			}
		case "tables":
			if err := json.Unmarshal([]byte(e[1]), &applied); err != nil {
				return 0, nil, errclass.Wrap(err, storage.ErrCorrupt, "pgstore: bad schema record")
			}
		}
	}
	return version, applied, nil
}

// reconcile refuses a database that holds tables or indexes l does not know, creates what l has
// and the database lacks, and returns the description of the result.
func reconcile(ctx context.Context, tx pgx.Tx, l *layout, applied []tableDesc) ([]tableDesc, error) {
	known := map[string]tableDesc{}
	for _, t := range l.order {
		known[t.ts.Name] = describe(t.ts)
	}
	have := map[string]tableDesc{}
	for _, a := range applied {
		k, ok := known[a.Name]
		if !ok {
			return nil, newer("table %q is unknown", a.Name)
		}
		if k.AppendOnly != a.AppendOnly {
			return nil, newer("table %q differs", a.Name)
		}
		for _, ai := range a.Indexes {
			ki := slices.IndexFunc(k.Indexes, func(d indexDesc) bool { return d.Name == ai.Name })
			if ki < 0 {
				return nil, newer("index %s.%s is unknown", a.Name, ai.Name)
			}
			if !k.Indexes[ki].equal(ai) {
				return nil, newer("index %s.%s differs", a.Name, ai.Name)
			}
		}
		have[a.Name] = a
	}
	var out []tableDesc
	for _, t := range l.order {
		a, ok := have[t.ts.Name]
		if !ok {
			for _, stmt := range t.ddl() {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return nil, classify(ctx, err, "creating table "+t.ts.Name)
				}
			}
		} else {
			for _, ix := range t.ts.Indexes {
				if slices.ContainsFunc(a.Indexes, func(d indexDesc) bool { return d.Name == ix.Name }) {
					continue
				}
				if err := addIndex(ctx, tx, t, t.indexes[ix.Name]); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, describe(t.ts))
	}
	return out, nil
}

// addIndex adds an index that storage.Schema gained to an existing table: its columns, filled
// from every stored record, its side relation for Multi, then the index itself.
func addIndex(ctx context.Context, tx pgx.Tx, t *tableLayout, il *indexLayout) error {
	what := "adding index " + t.ts.Name + "." + il.ix.Name
	for _, p := range il.cols {
		stmt := fmt.Sprintf(`ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s text COLLATE "C" NOT NULL DEFAULT ''`, t.rel, quote(t.cols[p].name))
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return classify(ctx, err, what)
		}
	}
	ddl := t.indexDDL(il)
	if il.ix.Multi {
		// The side relation must exist before it is filled; its index comes with it.
		for _, stmt := range ddl {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return classify(ctx, err, what)
			}
		}
		ddl = nil
	}
	// Fill the new columns (or side rows) from the stored records, a page at a time.
	after := ""
	for {
		rows, err := tx.Query(ctx, fmt.Sprintf("SELECT id, rec FROM %s WHERE id > $1 ORDER BY id LIMIT 500", t.rel), after)
		if err != nil {
			return classify(ctx, err, what)
		}
		type row struct {
			id  string
			rec []byte
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.rec)
			return x, err
		})
		if err != nil {
			return classify(ctx, err, what)
		}
		if len(page) == 0 {
			break
		}
		b := &pgx.Batch{}
		for _, x := range page {
			rec, err := decode(t, x.rec)
			if err != nil {
				return err
			}
			args := t.args(rec, x.rec)
			if il.ix.Multi {
				b.Queue(fmt.Sprintf("INSERT INTO %s (value, id) SELECT v, $1 FROM unnest($2::text[]) v ON CONFLICT DO NOTHING", il.side),
					x.id, multiValues(rec, il.ix))
				continue
			}
			var sets []string
			vals := []any{x.id}
			for _, p := range il.cols {
				vals = append(vals, args[2+p])
				sets = append(sets, fmt.Sprintf("%s = $%d", quote(t.cols[p].name), len(vals)))
			}
			b.Queue(fmt.Sprintf("UPDATE %s SET %s WHERE id = $1", t.rel, strings.Join(sets, ", ")), vals...)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return classify(ctx, err, what)
		}
		after = page[len(page)-1].id
	}
	for _, stmt := range ddl {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			// A unique index that the stored records break fails here, and Open with it.
			return classify(ctx, err, what)
		}
	}
	return nil
}
