package pgstore

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"

	"github.com/opakit/opa/storage"
)

// The relational layout of storage.Schema, inside one PostgreSQL schema (the namespace):
//
//   - one relation per table, named after it: id text PRIMARY KEY, rec bytea (the record's JSON,
//     the same encoding as filestore's log), and one text column per indexed (field, case) pair,
//     named after the field in snake case ("team_id"), prefixed "lower_" when an index is
//     case-insensitive. Columns hold the value the index compares (lowercased in Go, so the
//     database's collation never decides what is equal), '' when the field is empty. Every text
//     column is COLLATE "C": order is byte order, as in the embedded stores.
//   - an append-only table also has seq, an identity column that orders its lists.
//   - an index is a btree on its columns, partial (WHERE every column <> ''), since a record with
//     an empty value is not indexed; a non-unique one ends with id (or seq) so an equality lookup
//     comes out in list order. A unique index is a UNIQUE partial index on its columns alone.
//   - a Multi index is a side relation "<table>__<index>" of (value, id), primary key
//     (value, id), with an index on id.
//   - the relation "_pgstore" holds the layout version and the tables and indexes applied.
//
// Lookups repeat the partial-index predicate (col <> '') so that prepared, generic plans still
// match the partial index.

// tableLayout is one table's relation, columns and ready-made statements.
type tableLayout struct {
	ts      *storage.TableSchema
	rel     string // qualified, quoted relation name
	cols    []column
	order   string // "id", or "seq" for an append-only table
	indexes map[string]*indexLayout
	multis  []*indexLayout

	getSQL, listAllSQL, insertSQL, updateSQL, deleteSQL, existsSQL string
}

// column is an index column: the value of one string field, lowercased or not.
type column struct {
	name  string
	field int // index of the field in the record struct
	lower bool
}

// indexLayout is one index of a table.
type indexLayout struct {
	ix      storage.Index
	pgName  string // the PostgreSQL index name (unqualified)
	cols    []int  // positions in tableLayout.cols (not Multi)
	side    string // qualified side relation (Multi)
	sideRaw string // unqualified side relation name (Multi)
	listSQL string
}

// layout is the whole schema's layout in one namespace.
type layout struct {
	ns     string
	tables map[string]*tableLayout
	order  []*tableLayout // storage.Schema order
}

func newLayout(ns string) (*layout, error) {
	l := &layout{ns: ns, tables: map[string]*tableLayout{}}
	for _, ts := range storage.Schema {
		t, err := newTableLayout(ns, ts)
		if err != nil {
			return nil, err
		}
		l.tables[ts.Name] = t
		l.order = append(l.order, t)
	}
	return l, nil
}

func (l *layout) table(name string) (*tableLayout, error) {
	t, ok := l.tables[name]
	if !ok {
		return nil, errors.AssertionFailedf("pgstore: unknown table %q", name)
	}
	return t, nil
}

func qualify(ns, name string) string { return pgx.Identifier{ns, name}.Sanitize() }

func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func newTableLayout(ns string, ts *storage.TableSchema) (*tableLayout, error) {
	t := &tableLayout{ts: ts, rel: qualify(ns, ts.Name), order: "id", indexes: map[string]*indexLayout{}}
	if ts.AppendOnly {
		t.order = "seq"
	}
	colOf := map[string]int{}
	for _, ix := range ts.Indexes {
		il := &indexLayout{ix: ix, pgName: ts.Name + "__" + ix.Name}
		if ix.Multi {
			if ix.Unique {
				return nil, errors.AssertionFailedf("pgstore: unique multi-value index %s.%s is not supported", ts.Name, ix.Name)
			}
			il.sideRaw = ts.Name + "__" + ix.Name
			il.side = qualify(ns, il.sideRaw)
			t.multis = append(t.multis, il)
		} else {
			for _, fname := range ix.Fields {
				name := columnName(fname, ix.Lowercase)
				i, ok := colOf[name]
				if !ok {
					f, _ := ts.Type.FieldByName(fname)
					i = len(t.cols)
					colOf[name] = i
					t.cols = append(t.cols, column{name: name, field: f.Index[0], lower: ix.Lowercase})
				}
				il.cols = append(il.cols, i)
			}
		}
		t.indexes[ix.Name] = il
	}
	t.buildSQL()
	return t, nil
}

// columnName is the column of a field: snake case, "lower_" first for a case-insensitive index.
func columnName(field string, lower bool) string {
	var b strings.Builder
	rs := []rune(field)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	name := b.String()
	if lower {
		return "lower_" + name
	}
	if name == "id" || name == "rec" || name == "seq" {
		return "f_" + name
	}
	return name
}

// colList returns the quoted names of the columns at positions, each prefixed by prefix.
func (t *tableLayout) colList(prefix string, positions []int) []string {
	out := make([]string, len(positions))
	for i, p := range positions {
		out[i] = prefix + quote(t.cols[p].name)
	}
	return out
}

func (t *tableLayout) allCols() []int {
	out := make([]int, len(t.cols))
	for i := range out {
		out[i] = i
	}
	return out
}

// nonEmpty is the partial-index predicate of cols.
func nonEmpty(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + " <> ''"
	}
	return strings.Join(parts, " AND ")
}

func (t *tableLayout) buildSQL() {
	t.getSQL = fmt.Sprintf("SELECT rec FROM %s WHERE id = $1", t.rel)
	t.listAllSQL = fmt.Sprintf("SELECT rec FROM %s ORDER BY %s", t.rel, t.order)
	t.existsSQL = fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE id = $1)", t.rel)

	names := append([]string{"id", "rec"}, t.colList("", t.allCols())...)
	params := make([]string, len(names))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	ins := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING",
		t.rel, strings.Join(names, ", "), strings.Join(params, ", "))
	// A record is written with $1 id, $2 rec, $3… its columns, then one text[] per Multi index.
	multiParam := func(i int) string { return fmt.Sprintf("$%d::text[]", len(names)+1+i) }
	if len(t.multis) == 0 {
		t.insertSQL = ins
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, "WITH w AS (%s RETURNING id)", ins)
		for i, m := range t.multis {
			fmt.Fprintf(&b, ", m%d AS (INSERT INTO %s (value, id) SELECT v, w.id FROM w, unnest(%s) v ON CONFLICT DO NOTHING)",
				i, m.side, multiParam(i))
		}
		b.WriteString(" SELECT count(*) FROM w")
		t.insertSQL = b.String()
	}

	if !t.ts.AppendOnly {
		sets := []string{"rec = $2"}
		for i, c := range t.cols {
			sets = append(sets, fmt.Sprintf("%s = $%d", quote(c.name), i+3))
		}
		var guards []string
		for _, ix := range t.ts.Indexes {
			il := t.indexes[ix.Name]
			if !ix.Unique || ix.Multi {
				continue
			}
			var eq []string
			for _, p := range il.cols {
				eq = append(eq, fmt.Sprintf("o.%s = $%d", quote(t.cols[p].name), p+3))
			}
			guards = append(guards, fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s o WHERE %s AND %s AND o.id <> $1)",
				t.rel, strings.Join(eq, " AND "), nonEmpty(t.colList("o.", il.cols))))
		}
		where := "id = $1"
		if len(guards) > 0 {
			where += " AND " + strings.Join(guards, " AND ")
		}
		upd := fmt.Sprintf("UPDATE %s SET %s WHERE %s", t.rel, strings.Join(sets, ", "), where)
		del := fmt.Sprintf("DELETE FROM %s WHERE id = $1", t.rel)
		if len(t.multis) == 0 {
			t.updateSQL, t.deleteSQL = upd, del
		} else {
			var ub, db strings.Builder
			fmt.Fprintf(&ub, "WITH w AS (%s RETURNING id)", upd)
			fmt.Fprintf(&db, "WITH w AS (%s RETURNING id)", del)
			for i, m := range t.multis {
				// Values the record no longer holds go; new ones come; kept ones stay.
				fmt.Fprintf(&ub, ", d%d AS (DELETE FROM %s s USING w WHERE s.id = w.id AND s.value <> ALL (%s))", i, m.side, multiParam(i))
				fmt.Fprintf(&ub, ", m%d AS (INSERT INTO %s (value, id) SELECT v, w.id FROM w, unnest(%s) v ON CONFLICT DO NOTHING)", i, m.side, multiParam(i))
				fmt.Fprintf(&db, ", d%d AS (DELETE FROM %s s USING w WHERE s.id = w.id)", i, m.side)
			}
			ub.WriteString(" SELECT count(*) FROM w")
			db.WriteString(" SELECT count(*) FROM w")
			t.updateSQL, t.deleteSQL = ub.String(), db.String()
		}
	}

	for _, il := range t.indexes {
		if il.ix.Multi {
			il.listSQL = fmt.Sprintf("SELECT t.rec FROM %s s JOIN %s t ON t.id = s.id WHERE s.value = $1 ORDER BY t.%s",
				il.side, t.rel, t.order)
			continue
		}
		cols := t.colList("", il.cols)
		eq := make([]string, len(cols))
		for i, c := range cols {
			eq[i] = fmt.Sprintf("%s = $%d", c, i+1)
		}
		il.listSQL = fmt.Sprintf("SELECT rec FROM %s WHERE %s AND %s ORDER BY %s",
			t.rel, strings.Join(eq, " AND "), nonEmpty(cols), t.order)
	}
}

// args returns the statement arguments of rec: id, the encoding, the columns, one []string per
// Multi index.
func (t *tableLayout) args(rec any, enc []byte) []any {
	v := reflect.ValueOf(rec).Elem()
	out := make([]any, 0, 2+len(t.cols)+len(t.multis))
	out = append(out, storage.RecordID(rec), enc)
	for _, c := range t.cols {
		s := v.Field(c.field).String()
		if c.lower {
			s = strings.ToLower(s)
		}
		out = append(out, s)
	}
	for _, m := range t.multis {
		out = append(out, multiValues(rec, m.ix))
	}
	return out
}

// multiValues returns the distinct values rec holds for the Multi index ix (never nil, so the
// array parameter is '{}' rather than NULL).
func multiValues(rec any, ix storage.Index) []string {
	vals := []string{}
	for _, tuple := range storage.IndexValues(rec, ix) {
		if !slices.Contains(vals, tuple[0]) {
			vals = append(vals, tuple[0])
		}
	}
	return vals
}

// ddl returns the statements that create the table, its side relations and its indexes.
func (t *tableLayout) ddl() []string {
	var cols []string
	cols = append(cols, `id text COLLATE "C" PRIMARY KEY`)
	if t.ts.AppendOnly {
		cols = append(cols, "seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE")
	}
	cols = append(cols, "rec bytea NOT NULL")
	for _, c := range t.cols {
		cols = append(cols, quote(c.name)+` text COLLATE "C" NOT NULL DEFAULT ''`)
	}
	out := []string{fmt.Sprintf("CREATE TABLE %s (%s)", t.rel, strings.Join(cols, ", "))}
	for _, ix := range t.ts.Indexes {
		out = append(out, t.indexDDL(t.indexes[ix.Name])...)
	}
	return out
}

// indexDDL returns the statements that create one index (its columns exist already).
func (t *tableLayout) indexDDL(il *indexLayout) []string {
	if il.ix.Multi {
		return []string{
			fmt.Sprintf(`CREATE TABLE %s (value text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, PRIMARY KEY (value, id))`, il.side),
			fmt.Sprintf("CREATE INDEX %s ON %s (id)", quote(il.sideRaw+"__id"), il.side),
		}
	}
	cols := t.colList("", il.cols)
	if il.ix.Unique {
		return []string{fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s) WHERE %s",
			quote(il.pgName), t.rel, strings.Join(cols, ", "), nonEmpty(cols))}
	}
	return []string{fmt.Sprintf("CREATE INDEX %s ON %s (%s, %s) WHERE %s",
		quote(il.pgName), t.rel, strings.Join(cols, ", "), t.order, nonEmpty(cols))}
}
