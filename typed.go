package bpfbatch

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// The typed forms: Go slices of fixed-size keys and values, viewed as the
// bytes the kernel copies. This file holds every use of unsafe outside
// internal/sys.

// UpdateBatchOf is the typed form of UpdateBatch. K and V are fixed-size
// types without pointers (integers, arrays, structs of those) laid out as
// the kernel expects: unsafe.Sizeof(K) must equal key_size, and
// unsafe.Sizeof(V) value_size. For per-CPU maps values holds
// len(keys) x PossibleCPUs() entries, element-major: all CPUs of element 0,
// then element 1, ...; there V may also be the 8-byte-rounded slot size.
// With OnCPU or UpdateAllCPUs values holds one V per key. Maps without keys
// take nil keys.
//
// The slices are reinterpreted in place, with no copy and no per-element
// encoding, wherever the Go layout is the kernel's. Two exceptions copy.
// A type with padding (struct{A uint8; B uint32} has 3 bytes after A) is
// copied with the padding zeroed, since Go leaves padding as it finds it and
// the kernel would store it as part of the key or value: one Go key could
// become two map entries. Declare the padding as a blank field (_ [3]byte)
// to keep the zero-copy path. And a per-CPU map whose value_size is not a
// multiple of 8 wants each CPU's value padded to 8 bytes, so values are
// copied, in bounded chunks, into a scratch buffer reused across calls, with
// the padding zeroed; that path may issue several BPF_MAP_UPDATE_BATCH
// calls, with the same contract.
func UpdateBatchOf[K, V any](m *Map, keys []K, values []V, flags Flags) (int, error) {
	return withFD(m, opUpdate, func(fd *sys.FD) (int, error) {
		v, err := viewTyped(m, opUpdate, keys, values, flags)
		if err != nil {
			return 0, err
		}
		kb, vb := v.forWrite()
		return m.update(fd, kb, vb, flags, v.lay)
	})
}

// UpdateBatchOfWith is UpdateBatchOf for big loads: the typed form of
// Map.UpdateBatchWith, with the same chunking, parallelism, cancellation and
// error contract.
func UpdateBatchOfWith[K, V any](ctx context.Context, m *Map, keys []K, values []V, opts BatchOptions) (int, error) {
	v, err := withFD(m, opUpdate, func(*sys.FD) (typedView, error) {
		return viewTyped(m, opUpdate, keys, values, opts.Flags)
	})
	if err != nil {
		return 0, err
	}
	kb, vb := v.forWrite()
	return m.updateWith(ctx, kb, vb, opts, v.lay)
}

// typedView is a typed call's keys and values seen as bytes, without a
// copy, and the layout of the values.
type typedView struct {
	keys, values       []byte
	keySize, valueSize int
	lay                layout
	pair               *typePair
}

// viewTyped checks K and V against m's layout for a call with flags and
// views the slices as bytes.
func viewTyped[K, V any](m *Map, op string, keys []K, values []V, flags Flags) (typedView, error) {
	var k K
	var v V
	tv := typedView{keySize: int(unsafe.Sizeof(k)), valueSize: int(unsafe.Sizeof(v))}
	pair, err := checkPair[K, V](m, op)
	if err != nil {
		return tv, err
	}
	tv.pair = pair
	if tv.keySize != int(m.info.KeySize) {
		return tv, m.sizeError(SizeError{Op: op, Buffer: "keys", Type: typeName[K](), Got: tv.keySize, Want: int(m.info.KeySize)})
	}
	if m.info.KeySize == 0 && len(keys) != 0 {
		return tv, m.sizeError(SizeError{Op: op, Buffer: "keys", Got: len(keys), Flags: flags})
	}
	tv.keys, tv.values = asBytes(keys), asBytes(values)
	switch {
	case m.cpus == 0 || flags.onePerElement():
		if tv.valueSize == int(m.info.ValueSize) {
			return tv, nil
		}
	case tv.valueSize == slotSize(m.info.ValueSize):
		return tv, nil // V is a whole per-CPU slot
	case tv.valueSize == int(m.info.ValueSize):
		tv.lay = unpaddedPerCPU
		return tv, nil
	}
	return tv, m.sizeError(SizeError{Op: op, Buffer: "values", Type: typeName[V](), Got: tv.valueSize, Want: int(m.info.ValueSize)})
}

// forWrite returns the bytes to write: the views themselves, or for types
// with padding copies with the padding zeroed (Go leaves padding as it
// finds it, and the kernel would store it).
func (v typedView) forWrite() (keys, values []byte) {
	return withoutPadding(v.keys, v.keySize, v.pair.keyPad), withoutPadding(v.values, v.valueSize, v.pair.valuePad)
}

// clearPadding zeroes the padding of the first nk keys and nv values the
// kernel wrote into the views, so that padded types read back hold zeros
// there, as a write from them would.
func (v typedView) clearPadding(nk, nv int) {
	clearPaddingIn(v.keys[:nk*v.keySize], v.keySize, v.pair.keyPad)
	clearPaddingIn(v.values[:nv*v.valueSize], v.valueSize, v.pair.valuePad)
}

// keyView checks K against m's key_size and views keys as bytes, padding
// zeroed in a copy where K has padding.
func keyView[K any](m *Map, op string, keys []K) ([]byte, error) {
	var k K
	l, err := layoutOf(m, op, reflect.TypeFor[K](), "keys")
	if err != nil {
		return nil, err
	}
	if size := int(unsafe.Sizeof(k)); size != int(m.info.KeySize) {
		return nil, m.sizeError(SizeError{Op: op, Buffer: "keys", Type: typeName[K](), Got: size, Want: int(m.info.KeySize)})
	}
	return withoutPadding(asBytes(keys), int(unsafe.Sizeof(k)), l.padding), nil
}

// asBytes reinterprets a slice of plain values as its bytes, without a copy.
func asBytes[T any](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}

// typeLayout is what UpdateBatchOf needs to know of a key or value type.
type typeLayout struct {
	// problem refuses the type: it holds a pointer, which would be copied
	// into the map as a meaningless address (and hide memory from the
	// garbage collector's view of the map).
	problem string
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
func checkPair[K, V any](m *Map, op string) (*typePair, error) {
	tk, tv := reflect.TypeFor[K](), reflect.TypeFor[V]()
	if p := m.plainPair.Load(); p != nil && p.key == tk && p.value == tv {
		return p, nil
	}
	kl, err := layoutOf(m, op, tk, "keys")
	if err != nil {
		return nil, err
	}
	vl, err := layoutOf(m, op, tv, "values")
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

func layoutOf(m *Map, op string, t reflect.Type, buffer string) (*typeLayout, error) {
	v, ok := typeLayouts.Load(t)
	if !ok {
		l := &typeLayout{}
		if bad := pointerPath(t, t.String()); bad != "" {
			l.problem = fmt.Sprintf("%s holds a pointer (%s); use fixed-size fields only: integers, arrays, structs of those", t, bad)
		} else {
			l.padding = paddingIn(t, 0, nil)
		}
		v, _ = typeLayouts.LoadOrStore(t, l)
	}
	l := v.(*typeLayout)
	if l.problem != "" {
		return nil, m.refuse(op, ErrInvalidType, "%s: %s", buffer, l.problem)
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
	clearPaddingIn(out, size, pad)
	return out
}

// clearPaddingIn zeroes the padding bytes of b's elements of size bytes.
func clearPaddingIn(b []byte, size int, pad []byteRange) {
	if len(pad) == 0 {
		return
	}
	for off := 0; off+size <= len(b); off += size {
		for _, r := range pad {
			clear(b[off+r.start : off+r.end])
		}
	}
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }
