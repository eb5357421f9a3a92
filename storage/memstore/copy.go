package memstore

import (
	"reflect"
	"sync"
)

// deepCopy returns a copy of the record pointer rec that shares no slices, maps or pointers with it,
// so neither the caller nor the store can change the other's copy.
func deepCopy(rec any) any {
	v := reflect.ValueOf(rec)
	out := reflect.New(v.Elem().Type())
	copyInto(out.Elem(), v.Elem())
	return out.Interface()
}

func copyInto(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Struct:
		if !hasRefs(src.Type()) {
			dst.Set(src) // time.Time and structs of plain values
			return
		}
		for i := 0; i < src.NumField(); i++ {
			copyInto(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		if hasRefs(src.Type().Elem()) {
			for i := 0; i < src.Len(); i++ {
				copyInto(s.Index(i), src.Index(i))
			}
		} else {
			reflect.Copy(s, src)
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			nv := reflect.New(src.Type().Elem()).Elem()
			copyInto(nv, it.Value())
			m.SetMapIndex(it.Key(), nv)
		}
		dst.Set(m)
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		copyInto(p.Elem(), src.Elem())
		dst.Set(p)
	default:
		dst.Set(src)
	}
}

var refsCache sync.Map // reflect.Type -> bool

// hasRefs reports whether values of t contain slices, maps or pointers that need copying.
// time.Time counts as a plain value.
func hasRefs(t reflect.Type) bool {
	if v, ok := refsCache.Load(t); ok {
		return v.(bool)
	}
	r := computeRefs(t)
	refsCache.Store(t, r)
	return r
}

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
