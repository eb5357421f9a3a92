package memstore

import (
	"reflect"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/hashicorp/go-memdb"

	"github.com/opakit/opa/storage"
)

// The go-memdb indexers of storage.Schema's indexes. An index key is the record's values for the
// index's fields, each followed by a NUL byte (go-memdb's own StringFieldIndex encoding); go-memdb
// appends the record's id key (the id and a NUL) to every key of a non-unique index, and every
// secondary index is non-unique to go-memdb (uniqueness is checked in code), so a secondary key is
// values, then id: equal values list in id order, which Range relies on.
//
// They read fields by their position, found once per type, instead of go-memdb's FieldByName on
// every call, and size each key so go-memdb's append of the id fits without a second allocation.
// FromArgs also accepts one seekKey, a raw key prefix, so Range can seek to (values, id).

// seekKey is a raw index key passed through FromArgs unchanged.
type seekKey []byte

// tableMeta is what a Core knows of a table: its schema, its append-only log (or -1) and its
// indexes, "id" included.
type tableMeta struct {
	ts      *storage.TableSchema
	log     int
	indexes map[string]*indexMeta
}

// indexMeta is an index with the positions of its fields in the record struct.
type indexMeta struct {
	storage.Index
	fields []int
	id     int // position of the ID field
}

func newTableMeta(ts *storage.TableSchema, log int) *tableMeta {
	t := &tableMeta{ts: ts, log: log, indexes: map[string]*indexMeta{}}
	id, _ := ts.Index("id")
	for _, ix := range append([]storage.Index{id}, ts.Indexes...) {
		m := &indexMeta{Index: ix, id: fieldPos(ts.Type, "ID")}
		for _, name := range ix.Fields {
			m.fields = append(m.fields, fieldPos(ts.Type, name))
		}
		t.indexes[ix.Name] = m
	}
	return t
}

func fieldPos(t reflect.Type, name string) int {
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 {
		panic("memstore: " + t.String() + " has no top-level field " + name)
	}
	return f.Index[0]
}

// indexer returns the go-memdb indexer of m.
func (m *indexMeta) indexer() memdb.Indexer {
	if m.Multi {
		return sliceIndexer{m}
	}
	return fieldsIndexer{m}
}

func norm(s string, lower bool) string {
	if lower {
		return strings.ToLower(s)
	}
	return s
}

// fieldsIndexer indexes one or more string fields.
type fieldsIndexer struct{ *indexMeta }

// sliceIndexer indexes each element of one []string field.
type sliceIndexer struct{ *indexMeta }

var (
	_ memdb.SingleIndexer = fieldsIndexer{}
	_ memdb.MultiIndexer  = sliceIndexer{}
)

func (f fieldsIndexer) FromObject(obj any) (bool, []byte, error) {
	v := reflect.ValueOf(obj).Elem()
	size := 0
	if f.Name != "id" {
		size = v.Field(f.id).Len() + 1 // room for the id go-memdb appends
	}
	for _, i := range f.fields {
		n := v.Field(i).Len()
		if n == 0 {
			return false, nil, nil // records with an empty value are not indexed
		}
		size += n + 1
	}
	key := make([]byte, 0, size)
	for _, i := range f.fields {
		key = append(append(key, norm(v.Field(i).String(), f.Lowercase)...), 0)
	}
	return true, key, nil
}

func (f fieldsIndexer) FromArgs(args ...any) ([]byte, error) {
	if k, ok := rawKey(args); ok {
		return k, nil
	}
	if len(args) != len(f.fields) {
		return nil, errors.AssertionFailedf("memstore: index %s takes %d values, got %d", f.Name, len(f.fields), len(args))
	}
	var key []byte
	for _, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, errors.AssertionFailedf("memstore: index value %T is not a string", a)
		}
		key = append(append(key, norm(s, f.Lowercase)...), 0)
	}
	return key, nil
}

func (s sliceIndexer) FromObject(obj any) (bool, [][]byte, error) {
	v := reflect.ValueOf(obj).Elem()
	f := v.Field(s.fields[0])
	idLen := v.Field(s.id).Len() + 1
	var keys [][]byte
	for i := 0; i < f.Len(); i++ {
		e := f.Index(i).String()
		if e == "" {
			continue
		}
		k := make([]byte, 0, len(e)+1+idLen)
		keys = append(keys, append(append(k, norm(e, s.Lowercase)...), 0))
	}
	return len(keys) > 0, keys, nil
}

func (s sliceIndexer) FromArgs(args ...any) ([]byte, error) {
	if k, ok := rawKey(args); ok {
		return k, nil
	}
	if len(args) != 1 {
		return nil, errors.AssertionFailedf("memstore: index %s takes 1 value, got %d", s.Name, len(args))
	}
	a, ok := args[0].(string)
	if !ok {
		return nil, errors.AssertionFailedf("memstore: index value %T is not a string", args[0])
	}
	return append([]byte(norm(a, s.Lowercase)), 0), nil
}

func rawKey(args []any) ([]byte, bool) {
	if len(args) != 1 {
		return nil, false
	}
	k, ok := args[0].(seekKey)
	return k, ok
}

// argsKey returns the key prefix of the records whose index holds args (see the encoding above)
// and args normalized, or ok=false when no record can hold them: an empty value is never indexed.
func (m *indexMeta) argsKey(args []string) (key []byte, normed []string, ok bool) {
	normed = make([]string, len(args))
	for i, a := range args {
		if a == "" {
			return nil, nil, false
		}
		normed[i] = norm(a, m.Lowercase)
		key = append(append(key, normed[i]...), 0)
	}
	return key, normed, true
}

// holds reports whether rec is indexed under the normalized values args.
func (m *indexMeta) holds(rec any, args []string) bool {
	v := reflect.ValueOf(rec).Elem()
	if m.Multi {
		f := v.Field(m.fields[0])
		for i := 0; i < f.Len(); i++ {
			if e := f.Index(i).String(); e != "" && norm(e, m.Lowercase) == args[0] {
				return true
			}
		}
		return false
	}
	for i, pos := range m.fields {
		if norm(v.Field(pos).String(), m.Lowercase) != args[i] {
			return false
		}
	}
	return true
}
