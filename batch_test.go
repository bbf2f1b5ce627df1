package bpfbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

const noPrealloc = unix.BPF_F_NO_PREALLOC

// createMap creates a map for a kernel test and closes it when the test ends.
func createMap(t testing.TB, spec MapSpec) *Map {
	t.Helper()
	testutil.RequireKernel(t)
	m, err := CreateMap(spec)
	if err != nil {
		t.Fatalf("CreateMap(%+v): %v", spec, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// innerMaps creates n ARRAY maps usable as inner maps of a 4/4/1 template.
func innerMaps(t testing.TB, n int) []*Map {
	t.Helper()
	inner := make([]*Map, n)
	for i := range inner {
		inner[i] = createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	}
	return inner
}

// testKeys returns n distinct keys of m's shape: indices for arrays, /32
// prefixes for LPM tries, scattered u32s otherwise.
func testKeys(m *Map, n int, rng *rand.Rand) []byte {
	ks := int(m.Info().KeySize)
	keys := make([]byte, n*ks)
	perm := rng.Perm(n)
	for i := range n {
		k := keys[i*ks : (i+1)*ks]
		switch m.Info().Type {
		case Array, PerCPUArray, ArrayOfMaps:
			binary.NativeEndian.PutUint32(k, uint32(perm[i]))
		case LPMTrie:
			binary.NativeEndian.PutUint32(k, 32) // prefixlen
			binary.BigEndian.PutUint32(k[4:], 0x0a000000+uint32(perm[i])*2654435761%0x00ffffff)
		default:
			binary.NativeEndian.PutUint32(k, uint32(i)*2654435761+1)
		}
	}
	return keys
}

// testValues returns values for n elements: random bytes for every CPU slot
// (padding random too when randomPadding, zero otherwise), or inner map fds
// for map-in-map types.
func testValues(t testing.TB, m *Map, n int, rng *rand.Rand, randomPadding bool, inner []*Map) []byte {
	stride := m.ValueStride()
	values := make([]byte, n*stride)
	switch m.Info().Type {
	case ArrayOfMaps, HashOfMaps:
		for i := range n {
			binary.NativeEndian.PutUint32(values[i*stride:], uint32(inner[i%len(inner)].FD()))
		}
		return values
	}
	for i := range values {
		values[i] = byte(rng.Uint32())
	}
	if m.Info().Type.PerCPU() && !randomPadding {
		vs, slot := int(m.Info().ValueSize), slotSize(m.Info().ValueSize)
		for off := 0; off < len(values); off += slot {
			clear(values[off+vs : off+slot])
		}
	}
	return values
}

// expectedValue is what a lookup of element i must return: its value bytes,
// or for map-in-map types the inner map's ID.
func expectedValue(m *Map, values []byte, i int, inner []*Map) []byte {
	stride := m.ValueStride()
	switch m.Info().Type {
	case ArrayOfMaps, HashOfMaps:
		return binary.NativeEndian.AppendUint32(nil, inner[i%len(inner)].Info().ID)
	}
	return values[i*stride : (i+1)*stride]
}

// checkWritten reads every element back with a raw BPF_MAP_LOOKUP_ELEM and
// compares it byte for byte.
func checkWritten(t testing.TB, m *Map, keys, values []byte, inner []*Map) {
	t.Helper()
	ks := int(m.Info().KeySize)
	for i := range len(keys) / ks {
		key := keys[i*ks : (i+1)*ks]
		want := expectedValue(m, values, i, inner)
		got, err := testutil.Lookup(m.FD(), key, len(want))
		if err != nil {
			t.Fatalf("element %d (key %x): raw lookup: %v", i, key, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("element %d (key %x): read back %x, wrote %x", i, key, got, want)
		}
	}
}

// checkMissing asserts that none of the keys is in the map.
func checkMissing(t testing.TB, m *Map, keys []byte) {
	t.Helper()
	ks := int(m.Info().KeySize)
	for i := range len(keys) / ks {
		key := keys[i*ks : (i+1)*ks]
		if _, err := testutil.Lookup(m.FD(), key, m.ValueStride()); !errors.Is(err, unix.ENOENT) {
			t.Fatalf("element %d (key %x) should not be in the map; lookup: %v", i, key, err)
		}
	}
}

// batchMapSpecs are the map types BPF_MAP_UPDATE_BATCH supports, in the
// shapes worth covering: NO_PREALLOC where it applies, per-CPU values of 4,
// 8 and 12 bytes (12 exercises the 8-byte slot rounding).
func batchMapSpecs(n uint32) []MapSpec {
	return []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: Hash, KeySize: 4, ValueSize: 64, MaxEntries: n, Flags: noPrealloc},
		{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: Array, KeySize: 4, ValueSize: 12, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: n, Flags: noPrealloc},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: n},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: n},
		// LRU maps evict before they are full when CPU-local free lists
		// run dry, so they get headroom.
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4 * n},
		{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4 * n},
		{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 4 * n},
		{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: n, Flags: noPrealloc},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: n},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: n, Flags: noPrealloc},
		{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: n},
	}
}

func specName(s MapSpec) string {
	name := fmt.Sprintf("%s/k%d/v%d", s.Type, s.KeySize, s.ValueSize)
	if s.Flags&noPrealloc != 0 {
		name += "/NoPrealloc"
	}
	return name
}

// needsInner creates inner maps and fills in spec.InnerMapFD for map-in-map
// types; it returns nil for other types.
func needsInner(t testing.TB, spec *MapSpec) []*Map {
	if spec.Type != ArrayOfMaps && spec.Type != HashOfMaps {
		return nil
	}
	inner := innerMaps(t, 3)
	spec.InnerMapFD = inner[0].FD()
	return inner
}

func TestUpdateBatchEveryBatchMapType(t *testing.T) {
	const n = 1000
	for _, spec := range batchMapSpecs(n) {
		t.Run(specName(spec), func(t *testing.T) {
			inner := needsInner(t, &spec)
			m := createMap(t, spec)
			want := PerElementPath
			if hasBatchOps(spec.Type) {
				want = BatchPath
			}
			if p, err := m.UpdatePath(); err != nil || p != want {
				t.Fatalf("kernel %s: UpdatePath() = %v, %v; want %v", testutil.KernelRelease(), p, err, want)
			}
			rng := rand.New(rand.NewPCG(1, uint64(spec.Type)))
			keys := testKeys(m, n, rng)
			values := testValues(t, m, n, rng, false, inner)
			keysBefore, valuesBefore := bytes.Clone(keys), bytes.Clone(values)

			got, err := m.UpdateBatch(keys, values, UpdateAny)
			if err != nil || got != n {
				t.Fatalf("UpdateBatch = %d, %v; want %d, nil", got, err, n)
			}
			if !bytes.Equal(keys, keysBefore) || !bytes.Equal(values, valuesBefore) {
				t.Fatal("UpdateBatch modified the caller's buffers")
			}
			checkWritten(t, m, keys, values, inner)

			// A second batch overwrites every element (LRU, LPM and
			// map-in-map included).
			if inner != nil {
				inner = inner[1:] // every element now points to another inner map
			}
			values2 := testValues(t, m, n, rng, false, inner)
			got, err = m.UpdateBatch(keys, values2, UpdateAny)
			if spec.Type == LPMTrie && !testutil.KernelAtLeast(6, 1) {
				// 5.10's trie_update_elem refuses any update of a full trie,
				// even of a prefix it holds (fixed in 6.13 and in 6.1.y,
				// not in the 5.10.y the VMs boot).
				wantBatchError(t, got, err, unix.ENOSPC, ErrMapFull, 0, 0, "max_entries (1000) prefixes")
				checkWritten(t, m, keys, values, inner)
				return
			}
			if err != nil || got != n {
				t.Fatalf("second UpdateBatch = %d, %v", got, err)
			}
			checkWritten(t, m, keys, values2, inner)
		})
	}
}

// hasBatchOps reports whether this kernel has the batch commands for a map
// type: since 5.6 for hash and array maps, 5.13 for per-CPU arrays and LPM
// tries, 5.19 for map-in-map types (the commits that added them; the VM runs
// see per-element on 5.10 and batch from 6.1 on).
func hasBatchOps(t MapType) bool {
	switch t {
	case PerCPUArray, LPMTrie:
		return testutil.KernelAtLeast(5, 13)
	case ArrayOfMaps, HashOfMaps:
		return testutil.KernelAtLeast(5, 19)
	}
	return testutil.KernelAtLeast(5, 6)
}

// paddingStored: kernels before 7.0 store a per-CPU slot's padding bytes as
// given and return them on lookup; 7.x zeroes them (seen on 6.12 and 7.2).
var paddingStored = !testutil.KernelAtLeast(7, 0)

// asStored is values as a lookup returns them: the padding of each per-CPU
// slot zeroed where the kernel does not store it.
func asStored(m *Map, values []byte) []byte {
	if paddingStored || !m.Info().Type.PerCPU() {
		return values
	}
	out := bytes.Clone(values)
	vs, slot := int(m.Info().ValueSize), slotSize(m.Info().ValueSize)
	for off := 0; off < len(out); off += slot {
		clear(out[off+vs : off+slot])
	}
	return out
}

// A per-CPU slot's padding bytes reach the kernel unchanged; kernels before
// 7.0 store them and return them on lookup, 7.x stores zeros.
func TestUpdateBatchPerCPUPaddingIsStored(t *testing.T) {
	for _, typ := range []MapType{PerCPUHash, PerCPUArray, LRUPerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 12, MaxEntries: 64})
			rng := rand.New(rand.NewPCG(2, 2))
			keys := testKeys(m, 16, rng)
			values := testValues(t, m, 16, rng, true, nil)
			if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
				t.Fatal(err)
			}
			checkWritten(t, m, keys, asStored(m, values), nil)
		})
	}
}

// Each CPU of each element gets its own value, at i*stride + cpu*slot.
func TestUpdateBatchPerCPUStride(t *testing.T) {
	cpus, err := PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range []uint32{4, 8, 12, 20} {
		t.Run(fmt.Sprintf("v%d", vs), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: vs, MaxEntries: 8})
			slot := (int(vs) + 7) / 8 * 8
			if got, want := m.ValueStride(), cpus*slot; got != want {
				t.Fatalf("ValueStride() = %d, want %d CPUs x %d", got, cpus, slot)
			}
			const n = 3
			keys := make([]byte, 4*n)
			values := make([]byte, n*m.ValueStride())
			for e := range n {
				binary.NativeEndian.PutUint32(keys[4*e:], uint32(100+e))
				for c := range cpus {
					// Value bytes spell element and CPU, e.g. 0x21 = element 2, CPU 1.
					for b := range int(vs) {
						values[e*m.ValueStride()+c*slot+b] = byte(e<<4 | c)
					}
				}
			}
			if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
				t.Fatal(err)
			}
			for e := range n {
				got, err := testutil.Lookup(m.FD(), keys[4*e:4*e+4], m.ValueStride())
				if err != nil {
					t.Fatal(err)
				}
				for c := range cpus {
					cpuSlot := got[c*slot : (c+1)*slot]
					want := append(bytes.Repeat([]byte{byte(e<<4 | c)}, int(vs)), make([]byte, slot-int(vs))...)
					if !bytes.Equal(cpuSlot, want) {
						t.Fatalf("element %d CPU %d: slot %x, want %x", e, c, cpuSlot, want)
					}
				}
			}
		})
	}
}

func TestUpdateBatchLastDuplicateWins(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	keys := binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, 5), 5)
	values := binary.NativeEndian.AppendUint64(binary.NativeEndian.AppendUint64(nil, 1), 2)
	if n, err := m.UpdateBatch(keys, values, UpdateAny); err != nil || n != 2 {
		t.Fatalf("UpdateBatch = %d, %v", n, err)
	}
	got, err := testutil.Lookup(m.FD(), keys[:4], 8)
	if err != nil || binary.NativeEndian.Uint64(got) != 2 {
		t.Fatalf("lookup = %x, %v; want the second value 2", got, err)
	}
}

func TestLookupReadsWhatUpdateBatchWrote(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: 8},
	} {
		t.Run(specName(spec), func(t *testing.T) {
			m := createMap(t, spec)
			rng := rand.New(rand.NewPCG(3, 3))
			keys := testKeys(m, 4, rng)
			values := testValues(t, m, 4, rng, false, nil)
			if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, m.ValueStride())
			if err := m.Lookup(keys[:4], got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, values[:m.ValueStride()]) {
				t.Fatalf("Lookup = %x, want %x", got, values[:m.ValueStride()])
			}
			if spec.Type == Hash {
				err := m.Lookup([]byte{0xff, 0xff, 0xff, 0xff}, got)
				if !errors.Is(err, ErrKeyNotExist) || !errors.Is(err, unix.ENOENT) {
					t.Fatalf("Lookup of a missing key = %v, want ErrKeyNotExist", err)
				}
			}
			var se *SizeError
			if err := m.Lookup(keys[:4], got[:1]); !errors.As(err, &se) {
				t.Fatalf("Lookup with a short value buffer = %v, want *SizeError", err)
			}
		})
	}
}
