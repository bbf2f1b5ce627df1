package bpfbatch

import (
	"fmt"
	"reflect"
	"sync"
)

// typePair is a key and value type that passed checkPlain.
type typePair struct{ key, value reflect.Type }

// checkPlainPair checks K and V with checkPlain, remembering the last pair
// that passed on m.
func checkPlainPair[K, V any](m *Map) error {
	tk, tv := reflect.TypeFor[K](), reflect.TypeFor[V]()
	if p := m.plainPair.Load(); p != nil && p.key == tk && p.value == tv {
		return nil
	}
	if err := checkPlain[K](m, "keys"); err != nil {
		return err
	}
	if err := checkPlain[V](m, "values"); err != nil {
		return err
	}
	m.plainPair.Store(&typePair{tk, tv})
	return nil
}

// plainTypes caches checkPlain's verdict per type (reflect.Type -> error or
// nil), so the typed path walks each type once and allocates nothing after.
var plainTypes sync.Map

// checkPlain rejects types the kernel cannot take as raw bytes: anything
// holding a pointer would be copied into the map as a meaningless address
// (and hide memory from the garbage collector's view of the map).
func checkPlain[T any](m *Map, buffer string) error {
	t := reflect.TypeFor[T]()
	v, ok := plainTypes.Load(t)
	if !ok {
		var err error
		if bad := pointerPath(t, t.String()); bad != "" {
			err = fmt.Errorf("%w: %s holds a pointer (%s); use fixed-size fields only: integers, arrays, structs of those", ErrInvalidType, t, bad)
		}
		v, _ = plainTypes.LoadOrStore(t, err)
	}
	if v == nil {
		return nil
	}
	return fmt.Errorf("bpfbatch: update batch on %s: %s: %w", m.info.describe(), buffer, v.(error))
}

// pointerPath returns where t holds a pointer ("Key.Name string"), or "".
func pointerPath(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return ""
	case reflect.Array:
		return pointerPath(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if bad := pointerPath(f.Type, path+"."+f.Name); bad != "" {
				return bad
			}
		}
		return ""
	}
	return path + " " + t.String()
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }
