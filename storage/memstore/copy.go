package memstore

import (
	"reflect"
	"sync"
)

// deepCopy returns a copy of the record pointer rec that shares no slices, maps or pointers with it,
// so neither the caller nor the store can change the other's copy.
//
// Every read and write copies records, so the copy is planned once per type (copierFor): a struct
// is copied whole with one assignment and then only its fields that hold references are replaced
// by copies, instead of walking every field by reflection.
func deepCopy(rec any) any {
	v := reflect.ValueOf(rec)
	out := reflect.New(v.Elem().Type())
	copierFor(v.Elem().Type())(out.Elem(), v.Elem())
	return out.Interface()
}

// copier copies src into the settable dst, both of one type.
type copier func(dst, src reflect.Value)

var copiers sync.Map // reflect.Type -> copier

func copierFor(t reflect.Type) copier { return cached(&copiers, t, planCopy) }

// cached returns compute(t), computing it once per type.
func cached[V any](m *sync.Map, t reflect.Type, compute func(reflect.Type) V) V {
	if v, ok := m.Load(t); ok {
		return v.(V)
	}
	v := compute(t)
	m.Store(t, v)
	return v
}

func setValue(dst, src reflect.Value) { dst.Set(src) }

func planCopy(t reflect.Type) copier {
	if !hasRefs(t) {
		return setValue // plain values, time.Time, structs of them
	}
	switch t.Kind() {
	case reflect.Struct:
		type fieldCopy struct {
			i int
			c copier
		}
		var refs []fieldCopy
		for i := 0; i < t.NumField(); i++ {
			if hasRefs(t.Field(i).Type) {
				refs = append(refs, fieldCopy{i, copierFor(t.Field(i).Type)})
			}
		}
		return func(dst, src reflect.Value) {
			dst.Set(src)
			for _, f := range refs {
				f.c(dst.Field(f.i), src.Field(f.i))
			}
		}
	case reflect.Slice:
		elem := t.Elem()
		deep := hasRefs(elem)
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			s := reflect.MakeSlice(t, src.Len(), src.Len())
			if deep {
				c := copierFor(elem)
				for i := 0; i < src.Len(); i++ {
					c(s.Index(i), src.Index(i))
				}
			} else {
				reflect.Copy(s, src)
			}
			dst.Set(s)
		}
	case reflect.Map:
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			c := copierFor(t.Elem())
			m := reflect.MakeMapWithSize(t, src.Len())
			it := src.MapRange()
			for it.Next() {
				nv := reflect.New(t.Elem()).Elem()
				c(nv, it.Value())
				m.SetMapIndex(it.Key(), nv)
			}
			dst.Set(m)
		}
	case reflect.Pointer:
		return func(dst, src reflect.Value) {
			if src.IsNil() {
				dst.SetZero()
				return
			}
			p := reflect.New(t.Elem())
			copierFor(t.Elem())(p.Elem(), src.Elem())
			dst.Set(p)
		}
	case reflect.Array:
		c := copierFor(t.Elem())
		return func(dst, src reflect.Value) {
			for i := 0; i < src.Len(); i++ {
				c(dst.Index(i), src.Index(i))
			}
		}
	default:
		// Interfaces: records hold none; an interface value is shared as it is.
		return setValue
	}
}

var refsCache sync.Map // reflect.Type -> bool

// hasRefs reports whether values of t contain slices, maps or pointers that need copying.
// time.Time counts as a plain value.
func hasRefs(t reflect.Type) bool { return cached(&refsCache, t, computeRefs) }

func computeRefs(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return true
	case reflect.Struct:
		if t.PkgPath() == "time" && t.Name() == "Time" {
			return false
		}
		for i := 0; i < t.NumField(); i++ {
			if hasRefs(t.Field(i).Type) {
				return true
			}
		}
	case reflect.Array:
		return hasRefs(t.Elem())
	}
	return false
}
