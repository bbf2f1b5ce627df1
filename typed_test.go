package bpfbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

func TestUpdateBatchOfHash(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 100})
	keys := make([]uint32, 100)
	values := make([]uint64, 100)
	for i := range keys {
		keys[i] = uint32(i * 3)
		values[i] = uint64(i) << 40
	}
	n, err := UpdateBatchOf(m, keys, values, UpdateAny)
	if err != nil || n != 100 {
		t.Fatalf("UpdateBatchOf = %d, %v", n, err)
	}
	for i, k := range keys {
		got, err := testutil.Lookup(m.FD(), binary.NativeEndian.AppendUint32(nil, k), 8)
		if err != nil || binary.NativeEndian.Uint64(got) != values[i] {
			t.Fatalf("key %d: read back %x, %v; want %#x", k, got, err, values[i])
		}
	}
}

// lpmKey is struct bpf_lpm_trie_key_u8 with 4 data bytes.
type lpmKey struct {
	PrefixLen uint32
	Addr      [4]byte
}

func TestUpdateBatchOfStructKeys(t *testing.T) {
	m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10, Flags: noPrealloc})
	keys := []lpmKey{{8, [4]byte{10}}, {16, [4]byte{192, 168}}, {32, [4]byte{1, 2, 3, 4}}}
	values := []uint32{1, 2, 3}
	if n, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil || n != 3 {
		t.Fatalf("UpdateBatchOf = %d, %v", n, err)
	}
	for i, k := range keys {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&k)), unsafe.Sizeof(k))
		got, err := testutil.Lookup(m.FD(), raw, 4)
		if err != nil || binary.NativeEndian.Uint32(got) != values[i] {
			t.Fatalf("prefix %v: read back %x, %v", k, got, err)
		}
	}
}

// perCPUSlots reads element key of a per-CPU map and returns each CPU's slot.
func perCPUSlots(t testing.TB, m *Map, key []byte) [][]byte {
	t.Helper()
	raw, err := testutil.Lookup(m.FD(), key, m.ValueStride())
	if err != nil {
		t.Fatalf("lookup %x: %v", key, err)
	}
	slot := slotSize(m.Info().ValueSize)
	var slots [][]byte
	for off := 0; off < len(raw); off += slot {
		slots = append(slots, raw[off:off+slot])
	}
	return slots
}

type val12 struct{ A, B, C uint32 }

// val12Load returns n keys 0..n-1 and, for each, one val12 per CPU that
// names element and CPU.
func val12Load(n, cpus int) ([]uint32, []val12) {
	keys := make([]uint32, n)
	values := make([]val12, n*cpus)
	for e := range keys {
		keys[e] = uint32(e)
		for c := range cpus {
			values[e*cpus+c] = val12{uint32(e), uint32(c), 0xffffffff}
		}
	}
	return keys, values
}

// checkPaddedVal12 reads elements back and checks each CPU's slot holds its
// val12 followed by zero padding.
func checkPaddedVal12(t *testing.T, m *Map, values []val12, elems ...int) {
	t.Helper()
	cpus := m.ValueStride() / 16
	for _, e := range elems {
		for c, slot := range perCPUSlots(t, m, binary.NativeEndian.AppendUint32(nil, uint32(e))) {
			want := append(bytes.Clone(asBytes([]val12{values[e*cpus+c]})), 0, 0, 0, 0)
			if !bytes.Equal(slot, want) {
				t.Fatalf("element %d CPU %d: slot %x, want %x (value then zero padding)", e, c, slot, want)
			}
		}
	}
}

// value_size 12 is not a multiple of 8: UpdateBatchOf must copy each CPU's
// value into an 8-byte-rounded slot and zero the padding. 40000 elements x
// 2 CPUs x 16 bytes also spans more than one scratch chunk.
func TestUpdateBatchOfPerCPUPadsSlots(t *testing.T) {
	cpus, _ := PossibleCPUs()
	n := scratchLimit/(cpus*16) + 7000
	for _, typ := range []MapType{PerCPUHash, PerCPUArray, LRUPerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			max := uint32(n)
			if typ == LRUPerCPUHash {
				max *= 4
			}
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 12, MaxEntries: max})
			keys, values := val12Load(n, cpus)
			before := bytes.Clone(asBytes(values))
			got, err := UpdateBatchOf(m, keys, values, UpdateAny)
			if err != nil || got != n {
				t.Fatalf("UpdateBatchOf = %d, %v; want %d", got, err, n)
			}
			if !bytes.Equal(before, asBytes(values)) {
				t.Fatal("UpdateBatchOf modified the caller's values")
			}
			checkPaddedVal12(t, m, values, 0, 1, n/2, n-1)
		})
	}
}

func TestUpdateBatchOfPerCPUValueShapes(t *testing.T) {
	cpus, _ := PossibleCPUs()
	t.Run("u32 values padded", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
		keys := []uint32{0, 3}
		values := make([]uint32, 2*cpus)
		for i := range values {
			values[i] = 0xa0000000 + uint32(i)
		}
		if _, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil {
			t.Fatal(err)
		}
		for e, k := range keys {
			for c, slot := range perCPUSlots(t, m, binary.NativeEndian.AppendUint32(nil, k)) {
				want := binary.NativeEndian.AppendUint32(nil, values[e*cpus+c])
				want = append(want, 0, 0, 0, 0)
				if !bytes.Equal(slot, want) {
					t.Fatalf("element %d CPU %d: %x, want %x", e, c, slot, want)
				}
			}
		}
	})
	t.Run("u64 values in place", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		keys := []uint32{7}
		values := make([]uint64, cpus)
		for i := range values {
			values[i] = uint64(i+1) << 33
		}
		if _, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil {
			t.Fatal(err)
		}
		for c, slot := range perCPUSlots(t, m, binary.NativeEndian.AppendUint32(nil, 7)) {
			if binary.NativeEndian.Uint64(slot) != values[c] {
				t.Fatalf("CPU %d: %x, want %#x", c, slot, values[c])
			}
		}
	})
	t.Run("slot-sized values in place", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 4})
		keys := []uint32{9}
		values := make([][16]byte, cpus)
		for c := range values {
			for b := range values[c] {
				values[c][b] = byte(c*16 + b)
			}
		}
		if _, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil {
			t.Fatal(err)
		}
		for c, slot := range perCPUSlots(t, m, binary.NativeEndian.AppendUint32(nil, 9)) {
			if want := asStored(m, values[c][:]); !bytes.Equal(slot, want) {
				t.Fatalf("kernel %s: CPU %d: %x, want %x", testutil.KernelRelease(), c, slot, want)
			}
		}
	})
}

// A failure in a later scratch chunk reports indices of the whole call.
func TestUpdateBatchOfPaddedChunkErrorCountsTheWholeCall(t *testing.T) {
	cpus, _ := PossibleCPUs()
	chunk := scratchLimit / (cpus * 16)
	full := chunk + 100
	m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: uint32(full)})
	n := chunk + 500
	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = uint32(i)
	}
	values := make([]val12, n*cpus)
	got, err := UpdateBatchOf(m, keys, values, UpdateAny)
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, ErrMapFull) {
		t.Fatalf("UpdateBatchOf past max_entries = %d, %v; want ErrMapFull", got, err)
	}
	if got != full || be.Processed != full || be.Index != full || be.Requested != n {
		t.Fatalf("got n=%d Processed=%d Index=%d Requested=%d; want %d, %d, %d, %d", got, be.Processed, be.Index, be.Requested, full, full, full, n)
	}
	checkMissing(t, m, binary.NativeEndian.AppendUint32(nil, uint32(full)))
}

type withPointer struct {
	A uint32
	P *uint32
}

type withString struct {
	Name string
}

func TestUpdateBatchOfRejectsBadTypes(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	pc := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 4})
	cpus, _ := PossibleCPUs()
	for _, tc := range []struct {
		name string
		call func() (int, error)
		want func(error) bool
	}{
		{"key too big", func() (int, error) { return UpdateBatchOf(m, []uint64{1}, []uint64{1}, UpdateAny) }, isSizeError("keys")},
		{"value too small", func() (int, error) { return UpdateBatchOf(m, []uint32{1}, []uint32{1}, UpdateAny) }, isSizeError("values")},
		{"pointer in value", func() (int, error) {
			return UpdateBatchOf(m, []uint32{1}, []withPointer{{}}, UpdateAny)
		}, isErr(ErrInvalidType)},
		{"string in key", func() (int, error) {
			return UpdateBatchOf(m, []withString{{}}, []uint64{1}, UpdateAny)
		}, isErr(ErrInvalidType)},
		{"value count not keys", func() (int, error) { return UpdateBatchOf(m, []uint32{1, 2}, []uint64{1}, UpdateAny) }, isSizeError("values")},
		{"per-CPU one value per element", func() (int, error) {
			return UpdateBatchOf(pc, []uint32{1, 2}, make([]val12, 2), UpdateAny)
		}, func(err error) bool { return cpus == 1 || isSizeError("values")(err) }},
		{"per-CPU wrong value size", func() (int, error) {
			return UpdateBatchOf(pc, []uint32{1}, make([]uint64, cpus), UpdateAny)
		}, isSizeError("values")},
		{"invalid flags on padded path", func() (int, error) {
			return UpdateBatchOf(pc, []uint32{1}, make([]val12, cpus), UpdateExist|UpdateNoExist)
		}, isErr(ErrInvalidFlags)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.call()
			if n != 0 || !tc.want(err) {
				t.Fatalf("= %d, %v", n, err)
			}
			t.Log(err)
		})
	}
	checkMissing(t, m, []byte{1, 0, 0, 0})
	checkMissing(t, pc, []byte{1, 0, 0, 0})
}

func TestUpdateBatchOfEmptyIsNoop(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	if n, err := UpdateBatchOf[uint32, uint64](m, nil, nil, UpdateAny); n != 0 || err != nil {
		t.Fatalf("= %d, %v", n, err)
	}
	if f.total() != 0 {
		t.Fatalf("empty UpdateBatchOf made %d syscalls", f.total())
	}
}

// Go leaves struct padding as it finds it, so passing a padded key type
// through would make one Go key two map entries: UpdateBatchOf copies
// padded types with the padding zeroed (between fields, at the tail, inside
// array elements), and keeps the zero-copy path for explicit padding.
func TestUpdateBatchOfZeroesPadding(t *testing.T) {
	type paddedKey struct {
		A uint8
		B uint32
	}
	type trailingValue struct {
		A uint32
		B uint8
	}
	type nestedKey struct {
		X [2]paddedKey
	}
	type explicitKey struct {
		A uint8
		_ [3]byte
		B uint32
	}
	if got := paddingIn(reflect.TypeFor[nestedKey](), 0, nil); !slices.Equal(got, []byteRange{{1, 4}, {9, 12}}) {
		t.Fatalf("padding of nestedKey = %v", got)
	}
	if got := paddingIn(reflect.TypeFor[trailingValue](), 0, nil); !slices.Equal(got, []byteRange{{5, 8}}) {
		t.Fatalf("padding of trailingValue = %v", got)
	}
	if got := paddingIn(reflect.TypeFor[explicitKey](), 0, nil); len(got) != 0 {
		t.Fatalf("explicit padding reported as padding: %v", got)
	}
	m := createMap(t, MapSpec{Type: Hash, KeySize: 8, ValueSize: 8, MaxEntries: 8})
	// The same Go key and value twice, with different garbage in the padding.
	for _, garbage := range []byte{0xaa, 0x55} {
		keys := []paddedKey{{A: 1, B: 2}}
		values := []trailingValue{{A: 3, B: 4}}
		kb, vb := asBytes(keys), asBytes(values)
		for _, b := range []int{1, 2, 3} {
			kb[b] = garbage
		}
		for _, b := range []int{5, 6, 7} {
			vb[b] = garbage
		}
		if n, err := UpdateBatchOf(m, keys, values, UpdateAny); n != 1 || err != nil {
			t.Fatalf("UpdateBatchOf = %d, %v", n, err)
		}
		if kb[1] != garbage || vb[5] != garbage {
			t.Fatal("UpdateBatchOf changed the caller's slices")
		}
	}
	keys, err := testutil.Keys(m.FD(), 8)
	if err != nil || len(keys) != 1 {
		t.Fatalf("map holds %d keys (%v), want 1: padding reached the kernel", len(keys), err)
	}
	want := []byte{1, 0, 0, 0, 2, 0, 0, 0}
	if !bytes.Equal(keys[0], want) {
		t.Fatalf("stored key %x, want %x", keys[0], want)
	}
	checkWritten(t, m, want, []byte{3, 0, 0, 0, 4, 0, 0, 0}, nil)

	// Explicit padding is a field: passed in place.
	if n, err := UpdateBatchOf(m, []explicitKey{{A: 9, B: 9}}, []uint64{1}, UpdateAny); n != 1 || err != nil {
		t.Fatalf("explicitly padded key = %d, %v", n, err)
	}
}
