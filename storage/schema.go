package storage

import (
	"reflect"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/internal/errclass"
)

// Index describes a named lookup over one or more string fields of a record.
type Index struct {
	// Name is the index name used with ReadTx.List; "id" is implicit on every table.
	Name string
	// Fields are the record's Go field names, all of type string (or []string when Multi).
	Fields []string
	// Unique: at most one record may hold each value (records with an empty value are not indexed).
	Unique bool
	// Lowercase makes the index case-insensitive.
	Lowercase bool
	// Multi: the single field is a []string and the record is indexed under each element.
	Multi bool
}

// TableSchema describes a table: its name, its record type and its indexes.
type TableSchema struct {
	Name    string
	Type    reflect.Type // the struct type; records are pointers to it
	Indexes []Index
	// AppendOnly marks a log: records are inserted and never updated or deleted (WriteTx.Update and
	// Delete fail with an assertion error), its indexes are not unique, and every List returns
	// records in insertion (commit) order, not id order. Implementations keep such a table as an
	// append-only sequence, so an insert costs the same however long the log has grown.
	AppendOnly bool
}

// Schema lists every table, in a fixed order. Implementations build their tables from it.
var Schema []*TableSchema

var schemaByName = map[string]*TableSchema{}

// Lookup returns the schema of the named table.
func Lookup(table string) (*TableSchema, error) {
	s, ok := schemaByName[table]
	if !ok {
		return nil, errors.AssertionFailedf("storage: unknown table %q", table)
	}
	return s, nil
}

// Index returns the named index of the table.
func (s *TableSchema) Index(name string) (Index, bool) {
	if name == "id" {
		return Index{Name: "id", Fields: []string{"ID"}, Unique: true}, true
	}
	for _, ix := range s.Indexes {
		if ix.Name == name {
			return ix, true
		}
	}
	return Index{}, false
}

// New returns a pointer to a new zero record of the table.
func (s *TableSchema) New() any { return reflect.New(s.Type).Interface() }

// RecordID returns the ID field of a record pointer.
func RecordID(rec any) string {
	v := reflect.ValueOf(rec).Elem()
	return v.Field(fieldIndex(v.Type(), "ID")).String()
}

type fieldKey struct {
	t    reflect.Type
	name string
}

var fieldIndexes sync.Map // fieldKey -> int

// fieldIndex returns the index of the top-level field name of the struct type t (every record
// write looks fields up by name, and reflect's FieldByName walks the type each time).
func fieldIndex(t reflect.Type, name string) int {
	k := fieldKey{t, name}
	if i, ok := fieldIndexes.Load(k); ok {
		return i.(int)
	}
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 {
		panic("storage: " + t.String() + " has no top-level field " + name)
	}
	fieldIndexes.Store(k, f.Index[0])
	return f.Index[0]
}

// IndexValues returns the values rec holds for index ix: one tuple, or one per element for Multi.
// A tuple with an empty field is left out (records with an empty value are not indexed).
func IndexValues(rec any, ix Index) [][]string {
	v := reflect.ValueOf(rec).Elem()
	if ix.Multi {
		var out [][]string
		f := v.Field(fieldIndex(v.Type(), ix.Fields[0]))
		for i := 0; i < f.Len(); i++ {
			s := f.Index(i).String()
			if s == "" {
				continue
			}
			if ix.Lowercase {
				s = strings.ToLower(s)
			}
			out = append(out, []string{s})
		}
		return out
	}
	tuple := make([]string, len(ix.Fields))
	for i, name := range ix.Fields {
		s := v.Field(fieldIndex(v.Type(), name)).String()
		if s == "" {
			return nil
		}
		if ix.Lowercase {
			s = strings.ToLower(s)
		}
		tuple[i] = s
	}
	return [][]string{tuple}
}

// Table is a typed handle on one table. Its methods check the record type at compile time.
type Table[T any] struct{ name string }

// Name returns the table's name.
func (t Table[T]) Name() string { return t.name }

// Get returns the record with id, or an ErrNotFound error.
func (t Table[T]) Get(tx ReadTx, id string) (*T, error) {
	r, err := tx.Get(t.name, id)
	if err != nil {
		return nil, err
	}
	return r.(*T), nil
}

// List returns the records whose index equals args. List(tx, "id") returns all records.
func (t Table[T]) List(tx ReadTx, index string, args ...string) ([]*T, error) {
	return typed[T](tx.List(t.name, index, args...))
}

// typed converts a ReadTx list to the table's record type.
func typed[T any](rs []any, err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(rs))
	for i, r := range rs {
		out[i] = r.(*T)
	}
	return out, nil
}

// First returns the first record whose index equals args, or an ErrNotFound error.
func (t Table[T]) First(tx ReadTx, index string, args ...string) (*T, error) {
	rs, err := tx.List(t.name, index, args...)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, errclass.Tag(errors.Newf("%s: no record for %s", t.name, index), ErrNotFound)
	}
	return rs[0].(*T), nil
}

// Borrow returns the record with id for reading only, or an ErrNotFound error. Where the
// transaction can lend its stored record (Lender) no copy is made, so the caller must not change
// the record or anything it references; elsewhere it is Get. Meant for hot read paths.
func (t Table[T]) Borrow(tx ReadTx, id string) (*T, error) {
	l, ok := tx.(Lender)
	if !ok {
		return t.Get(tx, id)
	}
	r, err := l.Lend(t.name, id)
	if err != nil {
		return nil, err
	}
	return r.(*T), nil
}

// BorrowList is List for reading only, with Borrow's rule: the records must not be changed.
func (t Table[T]) BorrowList(tx ReadTx, index string, args ...string) ([]*T, error) {
	l, ok := tx.(Lender)
	if !ok {
		return t.List(tx, index, args...)
	}
	return typed[T](l.LendList(t.name, index, args...))
}

// Insert adds rec.
func (t Table[T]) Insert(tx WriteTx, rec *T) error { return tx.Insert(t.name, rec) }

// Update replaces the stored record with rec's id.
func (t Table[T]) Update(tx WriteTx, rec *T) error { return tx.Update(t.name, rec) }

// Delete removes the record with id.
func (t Table[T]) Delete(tx WriteTx, id string) error { return tx.Delete(t.name, id) }

// define registers a table in Schema and returns its typed handle.
func define[T any](name string, indexes ...Index) Table[T] {
	return register[T](&TableSchema{Name: name, Indexes: indexes})
}

// defineLog registers an append-only table (TableSchema.AppendOnly) and returns its typed handle.
func defineLog[T any](name string, indexes ...Index) Table[T] {
	for _, ix := range indexes {
		if ix.Unique {
			panic("storage: append-only table " + name + " cannot have the unique index " + ix.Name)
		}
	}
	return register[T](&TableSchema{Name: name, Indexes: indexes, AppendOnly: true})
}

func register[T any](s *TableSchema) Table[T] {
	name, indexes := s.Name, s.Indexes
	var zero T
	typ := reflect.TypeOf(zero)
	if typ.Kind() != reflect.Struct {
		panic("storage: record type must be a struct")
	}
	if f, ok := typ.FieldByName("ID"); !ok || f.Type.Kind() != reflect.String {
		panic("storage: record type " + typ.Name() + " needs an ID string field")
	}
	for _, ix := range indexes {
		for _, fname := range ix.Fields {
			f, ok := typ.FieldByName(fname)
			want := reflect.String
			if ix.Multi {
				want = reflect.Slice
			}
			if !ok || f.Type.Kind() != want {
				panic("storage: index " + name + "." + ix.Name + " on bad field " + fname)
			}
		}
	}
	s.Type = typ
	Schema = append(Schema, s)
	schemaByName[name] = s
	return Table[T]{name: name}
}

func idx(name string, fields ...string) Index { return Index{Name: name, Fields: fields} }

func unique(name string, lower bool, fields ...string) Index {
	return Index{Name: name, Fields: fields, Unique: true, Lowercase: lower}
}

func multi(name, field string) Index { return Index{Name: name, Fields: []string{field}, Multi: true} }
