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
// (and hide memory from the garbage collector's view of the map), and
// padding bytes hold whatever Go left there, so one Go key with two
// paddings would become two map entries.
func checkPlain[T any](m *Map, buffer string) error {
	t := reflect.TypeFor[T]()
	v, ok := plainTypes.Load(t)
	if !ok {
		var err error
		if bad := pointerPath(t, t.String()); bad != "" {
			err = fmt.Errorf("%w: %s holds a pointer (%s); use fixed-size fields only: integers, arrays, structs of those", ErrInvalidType, t, bad)
		} else if pad := paddingIn(t, t.String()); pad != "" {
			err = fmt.Errorf("%w: %s has %s, which Go does not zero and the kernel would store as part of the key or value; make it explicit with a blank field (e.g. _ [N]byte) so it is always zero, or reorder the fields", ErrInvalidType, t, pad)
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

// paddingIn returns where t has padding bytes ("3 padding bytes after
// main.key.A, at offset 1"), or "".
func paddingIn(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.Array:
		if t.Len() == 0 {
			return ""
		}
		return paddingIn(t.Elem(), path+"[0]")
	case reflect.Struct:
		end := uintptr(0) // end of the previous field
		after := "the start"
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Offset > end {
				return fmt.Sprintf("%d padding bytes after %s, at offset %d", f.Offset-end, after, end)
			}
			if pad := paddingIn(f.Type, path+"."+f.Name); pad != "" {
				return pad
			}
			end = f.Offset + f.Type.Size()
			after = path + "." + f.Name
		}
		if t.Size() > end {
			return fmt.Sprintf("%d padding bytes after %s, at offset %d (the struct is rounded up to its alignment)", t.Size()-end, after, end)
		}
	}
	return ""
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }
