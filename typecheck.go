package bpfbatch

import (
	"fmt"
	"reflect"
	"sync"
)

// typeLayout is what UpdateBatchOf needs to know of a key or value type.
type typeLayout struct {
	// err refuses the type: it holds a pointer, which would be copied into
	// the map as a meaningless address (and hide memory from the garbage
	// collector's view of the map).
	err error
	// padding lists the byte ranges of one element that Go leaves as it
	// finds them. Passed through, they would make one Go key two map
	// entries, and store garbage in values: such types are copied with the
	// padding zeroed.
	padding []byteRange
}

type byteRange struct{ start, end int }

// typePair is a key and value type that passed the checks, with their
// layouts.
type typePair struct {
	key, value       reflect.Type
	keyPad, valuePad []byteRange
}

// checkPair checks K and V, remembering the last pair that passed on m, so
// that a loop of typed calls skips the type-cache lookups.
func checkPair[K, V any](m *Map) (*typePair, error) {
	tk, tv := reflect.TypeFor[K](), reflect.TypeFor[V]()
	if p := m.plainPair.Load(); p != nil && p.key == tk && p.value == tv {
		return p, nil
	}
	kl, err := layoutOf(m, tk, "keys")
	if err != nil {
		return nil, err
	}
	vl, err := layoutOf(m, tv, "values")
	if err != nil {
		return nil, err
	}
	p := &typePair{key: tk, value: tv, keyPad: kl.padding, valuePad: vl.padding}
	m.plainPair.Store(p)
	return p, nil
}

// typeLayouts caches each type's layout (reflect.Type -> *typeLayout), so
// the typed path walks each type once and allocates nothing after.
var typeLayouts sync.Map

func layoutOf(m *Map, t reflect.Type, buffer string) (*typeLayout, error) {
	v, ok := typeLayouts.Load(t)
	if !ok {
		l := &typeLayout{}
		if bad := pointerPath(t, t.String()); bad != "" {
			l.err = fmt.Errorf("%w: %s holds a pointer (%s); use fixed-size fields only: integers, arrays, structs of those", ErrInvalidType, t, bad)
		} else {
			l.padding = paddingIn(t, 0, nil)
		}
		v, _ = typeLayouts.LoadOrStore(t, l)
	}
	l := v.(*typeLayout)
	if l.err != nil {
		return nil, fmt.Errorf("bpfbatch: update batch on %s: %s: %w", m.info.describe(), buffer, l.err)
	}
	return l, nil
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

// paddingIn appends to pad the padding bytes of a t at offset base: gaps
// between struct fields, and the tail up to the struct's alignment.
func paddingIn(t reflect.Type, base int, pad []byteRange) []byteRange {
	switch t.Kind() {
	case reflect.Array:
		if elem := paddingIn(t.Elem(), 0, nil); len(elem) > 0 {
			size := int(t.Elem().Size())
			for i := range t.Len() {
				for _, r := range elem {
					pad = append(pad, byteRange{base + i*size + r.start, base + i*size + r.end})
				}
			}
		}
	case reflect.Struct:
		end := 0 // end of the previous field
		for i := range t.NumField() {
			f := t.Field(i)
			if off := int(f.Offset); off > end {
				pad = append(pad, byteRange{base + end, base + off})
			}
			pad = paddingIn(f.Type, base+int(f.Offset), pad)
			end = int(f.Offset + f.Type.Size())
		}
		if size := int(t.Size()); size > end {
			pad = append(pad, byteRange{base + end, base + size})
		}
	}
	return pad
}

// withoutPadding returns b (elements of size bytes) as is when the type has
// no padding, else a copy with the padding bytes zeroed.
func withoutPadding(b []byte, size int, pad []byteRange) []byte {
	if len(pad) == 0 || len(b) == 0 {
		return b
	}
	out := make([]byte, len(b))
	copy(out, b)
	for off := 0; off+size <= len(out); off += size {
		for _, r := range pad {
			clear(out[off+r.start : off+r.end])
		}
	}
	return out
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }
