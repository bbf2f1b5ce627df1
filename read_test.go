package bpfbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// walk reads the whole map with LookupBatch in buffers of per elements and
// returns what it read, failing on a repeated key.
func walk(t testing.TB, m *Map, per int, flags Flags) (keys, values [][]byte) {
	t.Helper()
	ks, stride := int(m.Info().KeySize), m.strideFor(flags)
	kb, vb := make([]byte, per*ks), make([]byte, per*stride)
	var c Cursor
	seen := map[string]bool{}
	for calls := 0; ; calls++ {
		n, err := m.LookupBatch(&c, kb, vb, flags)
		if err != nil {
			t.Fatalf("LookupBatch after %d elements: %v", len(keys), err)
		}
		if n == 0 {
			break
		}
		if n > per {
			t.Fatalf("LookupBatch returned %d elements into buffers for %d", n, per)
		}
		for i := range n {
			k := bytes.Clone(kb[i*ks : (i+1)*ks])
			if seen[string(k)] {
				t.Fatalf("key %x returned twice", k)
			}
			seen[string(k)] = true
			keys = append(keys, k)
			values = append(values, bytes.Clone(vb[i*stride:(i+1)*stride]))
		}
		if calls > 10*len(seen)+10 {
			t.Fatal("walk does not end")
		}
	}
	if n, err := m.LookupBatch(&c, kb, vb, flags); n != 0 || err != nil || !c.Done() {
		t.Fatalf("LookupBatch after the end = %d, %v (Done %v); want 0, nil", n, err, c.Done())
	}
	return keys, values
}

// checkWalk asserts that a walk returned exactly the keys written, each with
// the value a raw BPF_MAP_LOOKUP_ELEM reads.
func checkWalk(t testing.TB, m *Map, written []byte, gotKeys, gotValues [][]byte) {
	t.Helper()
	ks := int(m.Info().KeySize)
	want := map[string]bool{}
	for i := range len(written) / ks {
		want[string(written[i*ks:(i+1)*ks])] = true
	}
	if len(gotKeys) != len(want) {
		t.Fatalf("walk returned %d elements, the map holds %d", len(gotKeys), len(want))
	}
	for i, k := range gotKeys {
		if !want[string(k)] {
			t.Fatalf("walk returned key %x, which was never written", k)
		}
		raw, err := testutil.Lookup(m.FD(), k, len(gotValues[i]))
		if err != nil || !bytes.Equal(raw, gotValues[i]) {
			t.Fatalf("key %x: walk read %x, raw lookup %x (%v)", k, gotValues[i], raw, err)
		}
	}
}

// Every element of an unmodified map is returned exactly once, whatever the
// buffer size, with the value a raw lookup reads (per-CPU maps: every CPU's
// slot, in UpdateBatch's layout), through the batch command and through the
// per-element walk the library uses where the kernel has none.
func TestLookupBatchReturnsEveryElementOnce(t *testing.T) {
	const n = 1000
	for _, spec := range batchMapSpecs(n) {
		for _, path := range pathsOf(spec.Type) {
			t.Run(specName(spec)+"/"+path.String(), func(t *testing.T) {
				inner := needsInner(t, &spec)
				m := createMap(t, spec)
				rng := rand.New(rand.NewPCG(7, uint64(spec.Type)))
				keys := testKeys(m, n, rng)
				if _, err := m.UpdateBatch(keys, testValues(t, m, n, rng, true, inner), UpdateAny); err != nil {
					t.Fatal(err)
				}
				wantPath := PerElementPath
				if hasBatchOps(spec.Type) {
					wantPath = BatchPath
				}
				if got, errno := m.probeBatch(m.fd, &m.readPath, sys.MapLookupBatch); errno != 0 || got != wantPath {
					t.Fatalf("kernel %s: read path %v (%v), want %v", testutil.KernelRelease(), got, errno, wantPath)
				}
				m.readPath.Store(uint32(path))
				for _, per := range []int{1, 7, 64, n + 10} {
					gotKeys, gotValues := walk(t, m, per, UpdateAny)
					checkWalk(t, m, keys, gotKeys, gotValues)
				}
			})
		}
	}
}

// pathsOf lists the read and delete paths the kernel has for a map type:
// per element always, the batch commands where they exist.
func pathsOf(t MapType) []UpdatePath {
	if hasBatchOps(t) {
		return []UpdatePath{BatchPath, PerElementPath}
	}
	return []UpdatePath{PerElementPath}
}

// A hash bucket is copied whole or not at all: with buffers smaller than a
// bucket the kernel answers ENOSPC (having copied nothing), and with larger
// ones it may return fewer elements than fit without being at the end.
// LookupBatch hides both.
func TestLookupBatchHidesENOSPCAndShortCounts(t *testing.T) {
	// 512 keys in 512 buckets (max_entries rounded up to a power of two):
	// many buckets hold two or more.
	const n = 512
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	keys := indexKeys(n)
	if _, err := m.UpdateBatch(keys, make([]byte, n*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	// The kernel facts, through raw calls.
	sawENOSPC, sawShort := false, false
	for _, per := range []uint32{1, 10} {
		var cursor [4]byte
		kb, vb := make([]byte, per*4), make([]byte, per*8)
		for started := false; ; started = true {
			in := cursor[:]
			if !started {
				in = nil
			}
			count, errno := testutil.LookupBatch(m.FD(), in, cursor[:], kb, vb, per)
			if errno == unix.ENOSPC {
				if count != 0 {
					t.Fatalf("ENOSPC with %d elements copied", count)
				}
				sawENOSPC = true
				break
			}
			if errno == unix.ENOENT {
				break
			}
			if errno != 0 {
				t.Fatal(errno)
			}
			if count < per {
				sawShort = true
			}
		}
	}
	if !sawENOSPC || !sawShort {
		t.Fatalf("kernel %s: ENOSPC seen %v, short count before the end seen %v; the test's map no longer shows them", testutil.KernelRelease(), sawENOSPC, sawShort)
	}
	for _, per := range []int{1, 2, 3, 10} {
		gotKeys, gotValues := walk(t, m, per, UpdateAny)
		checkWalk(t, m, keys, gotKeys, gotValues)
	}
}

// LookupAndDeleteBatch drains a hash map: every element is returned once
// and gone afterwards, also when the buffers are smaller than a bucket.
func TestLookupAndDeleteBatchDrains(t *testing.T) {
	const n = 700
	for _, typ := range []MapType{Hash, PerCPUHash, LRUHash, LRUPerCPUHash} {
		for _, per := range []int{1, 64} {
			t.Run(fmt.Sprintf("%s/%d", typ, per), func(t *testing.T) {
				m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 4 * n})
				keys := indexKeys(n)
				values := make([]byte, n*m.ValueStride())
				for i := range values {
					values[i] = byte(i)
				}
				if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
					t.Fatal(err)
				}
				stride := m.ValueStride()
				kb, vb := make([]byte, per*4), make([]byte, per*stride)
				var c Cursor
				got := map[uint32][]byte{}
				for {
					k, err := m.LookupAndDeleteBatch(&c, kb, vb, UpdateAny)
					if err != nil {
						t.Fatal(err)
					}
					if k == 0 {
						break
					}
					for i := range k {
						key := binary.NativeEndian.Uint32(kb[4*i:])
						if _, dup := got[key]; dup {
							t.Fatalf("key %d returned twice", key)
						}
						got[key] = bytes.Clone(vb[i*stride : (i+1)*stride])
					}
				}
				if len(got) != n {
					t.Fatalf("returned %d elements, want %d", len(got), n)
				}
				for key, v := range got {
					if want := values[int(key)*stride : int(key+1)*stride]; !bytes.Equal(v, want) {
						t.Fatalf("key %d: %x, want %x", key, v, want)
					}
				}
				if left, err := testutil.Keys(m.FD(), 4); err != nil || len(left) != 0 {
					t.Fatalf("map holds %d keys after the drain (%v)", len(left), err)
				}
			})
		}
	}
}

// Misuse is refused before any syscall.
func TestReadsRefuseMisuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		info MapType
		call func(m, other *Map) error
		want error
		msg  string
	}{
		{"lookup and delete on an array", Array, func(m, _ *Map) error {
			_, err := m.LookupAndDeleteBatch(&Cursor{}, make([]byte, 4), make([]byte, 8), UpdateAny)
			return err
		}, ErrNotSupported, "hash maps only"},
		{"delete from an array", Array, func(m, _ *Map) error {
			_, err := m.DeleteBatch(make([]byte, 4), UpdateAny)
			return err
		}, ErrNotSupported, "always exist"},
		{"walk a queue", Queue, func(m, _ *Map) error {
			_, err := m.LookupBatch(&Cursor{}, nil, make([]byte, 8), UpdateAny)
			return err
		}, ErrNotSupported, "no keys"},
		{"nil cursor", Hash, func(m, _ *Map) error {
			_, err := m.LookupBatch(nil, make([]byte, 4), make([]byte, 8), UpdateAny)
			return err
		}, nil, "nil *Cursor"},
		{"empty buffers", Hash, func(m, _ *Map) error {
			_, err := m.LookupBatch(&Cursor{}, nil, nil, UpdateAny)
			return err
		}, nil, "keys: got none"},
		{"values for fewer elements", Hash, func(m, _ *Map) error {
			_, err := m.LookupBatch(&Cursor{}, make([]byte, 8), make([]byte, 8), UpdateAny)
			return err
		}, nil, "want 16"},
		{"a cursor of another map", Hash, func(m, other *Map) error {
			var c Cursor
			c.m = other
			_, err := m.LookupBatch(&c, make([]byte, 4), make([]byte, 8), UpdateAny)
			return err
		}, nil, "use a Cursor per map"},
		{"delete flags", Hash, func(m, _ *Map) error {
			_, err := m.DeleteBatch(make([]byte, 4), UpdateExist)
			return err
		}, ErrInvalidFlags, "deletes take no flags"},
		{"lookup and delete with OnCPU", PerCPUHash, func(m, _ *Map) error {
			_, err := m.LookupAndDeleteBatch(&Cursor{}, make([]byte, 4), make([]byte, 8), OnCPU(0))
			return err
		}, ErrNotSupported, "reads every CPU's value"},
		{"lookup with UpdateExist", Hash, func(m, _ *Map) error {
			_, err := m.LookupBatch(&Cursor{}, make([]byte, 4), make([]byte, 8), UpdateExist)
			return err
		}, ErrInvalidFlags, "lookups take"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKernel{}
			ks := uint32(4)
			if tc.info == Queue {
				ks = 0
			}
			m := newFakeMap(t, fakeInfo(tc.info, ks, 8, 8), f)
			other := newFakeMap(t, fakeInfo(Hash, 4, 8, 8), &fakeKernel{})
			err := tc.call(m, other)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("= %v; want %v saying %q", err, tc.want, tc.msg)
			}
			if f.total() != 0 {
				t.Fatalf("%d syscalls before the refusal", f.total())
			}
		})
	}
}

// OnCPU reads one CPU's value of each element: Linux 7.0 and later.
func TestLookupBatchOnCPU(t *testing.T) {
	cpus, _ := PossibleCPUs()
	m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	values := make([]byte, 4*m.ValueStride())
	for i := range values {
		values[i] = byte(i + 1)
	}
	if _, err := m.UpdateBatch(indexKeys(4), values, UpdateAny); err != nil {
		t.Fatal(err)
	}
	cpu := cpus - 1
	n, err := m.LookupBatch(&Cursor{}, make([]byte, 4*4), make([]byte, 4*8), OnCPU(cpu))
	if !cpuFlagsKernel {
		if n != 0 || !errors.Is(err, ErrNotSupported) {
			t.Fatalf("kernel %s: LookupBatch(OnCPU) = %d, %v; want ErrNotSupported", testutil.KernelRelease(), n, err)
		}
		return
	}
	gotKeys, gotValues := walk(t, m, 3, OnCPU(cpu))
	if len(gotKeys) != 4 {
		t.Fatalf("walk returned %d elements", len(gotKeys))
	}
	for i, k := range gotKeys {
		e := int(binary.NativeEndian.Uint32(k))
		want := values[e*m.ValueStride()+cpu*8 : e*m.ValueStride()+cpu*8+8]
		if !bytes.Equal(gotValues[i], want) {
			t.Fatalf("element %d CPU %d: %x, want %x", e, cpu, gotValues[i], want)
		}
	}
}

// DeleteBatch has UpdateBatch's contract: keys [0, n) are gone, key n
// failed (a missing key: ErrKeyNotExist), nothing after it was deleted; on
// the batch command and on the per-element path.
func TestDeleteBatchStopsAtTheFirstMissingKey(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 64},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 256},
		{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 64, Flags: noPrealloc},
	} {
		for _, path := range pathsOf(spec.Type) {
			t.Run(specName(spec)+"/"+path.String(), func(t *testing.T) {
				m := createMap(t, spec)
				keys := testKeys(m, 10, rand.New(rand.NewPCG(1, 2)))
				if _, err := m.UpdateBatch(keys, make([]byte, 10*m.ValueStride()), UpdateAny); err != nil {
					t.Fatal(err)
				}
				wantPath := PerElementPath
				if hasBatchOps(spec.Type) {
					wantPath = BatchPath
				}
				if got, errno := m.probeBatch(m.fd, &m.deletePath, sys.MapDeleteBatch); errno != 0 || got != wantPath {
					t.Fatalf("kernel %s: delete path %v (%v), want %v", testutil.KernelRelease(), got, errno, wantPath)
				}
				m.deletePath.Store(uint32(path))
				ks := int(spec.KeySize)
				if n, err := m.DeleteBatch(keys[:3*ks], UpdateAny); n != 3 || err != nil {
					t.Fatalf("DeleteBatch = %d, %v", n, err)
				}
				checkMissing(t, m, keys[:3*ks])
				// keys 3, 4, then 1 (gone), then 5: stops at the third.
				again := append(append(bytes.Clone(keys[3*ks:5*ks]), keys[ks:2*ks]...), keys[5*ks:6*ks]...)
				n, err := m.DeleteBatch(again, UpdateAny)
				wantBatchError(t, n, err, unix.ENOENT, ErrKeyNotExist, 2, 2, "element 2", "2 of 4 elements deleted")
				checkMissing(t, m, keys[:5*ks])
				checkWritten(t, m, keys[5*ks:], make([]byte, 5*m.ValueStride()), nil)
				if c, err := m.Count(); c != 5 || err != nil {
					t.Fatalf("Count = %d, %v; want 5", c, err)
				}
			})
		}
	}
}

// Steady-state reads and deletes allocate nothing.
func TestReadAndDeleteAllocateNothing(t *testing.T) {
	const n = 256
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2 * n})
	arr := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: n})
	keys, values := indexKeys(n), make([]byte, n*8)
	kb, vb, pb := make([]byte, 64*4), make([]byte, 64*8), make([]byte, 64*arr.ValueStride())
	var c, pc Cursor
	walkAll := func(m *Map, c *Cursor, vb []byte) {
		c.Reset()
		for {
			k, err := m.LookupBatch(c, kb, vb, UpdateAny)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				return
			}
		}
	}
	for name, f := range map[string]func(){
		"LookupBatch/Hash":        func() { walkAll(m, &c, vb) },
		"LookupBatch/PerCPUArray": func() { walkAll(arr, &pc, pb) },
		"DeleteBatch": func() {
			if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
				t.Fatal(err)
			}
			if k, err := m.DeleteBatch(keys, UpdateAny); k != n || err != nil {
				t.Fatal(k, err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f() // warm up: probes, the cursor's buffer
			if a := testing.AllocsPerRun(20, f); a != 0 {
				t.Fatalf("%v allocations per run, want 0", a)
			}
		})
	}
}

// Count walks the map.
func TestCount(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 5000},
		{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 5000, Flags: noPrealloc},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 16, MaxEntries: 5000},
	} {
		m := createMap(t, spec)
		if c, err := m.Count(); c != 0 || err != nil {
			t.Fatalf("%s: empty Count = %d, %v", spec.Type, c, err)
		}
		keys := testKeys(m, 4321, rand.New(rand.NewPCG(3, 4)))
		if _, err := m.UpdateBatchWith(context.Background(), keys, make([]byte, 4321*m.ValueStride()), BatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if c, err := m.Count(); c != 4321 || err != nil {
			t.Fatalf("%s: Count = %d, %v; want 4321", spec.Type, c, err)
		}
	}
	arr := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 77})
	if c, err := arr.Count(); c != 77 || err != nil {
		t.Fatalf("array Count = %d, %v; want max_entries 77 (every index exists)", c, err)
	}
	var closed Map
	if _, err := closed.Count(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Count on the zero Map = %v", err)
	}
}

// A map type without BPF_MAP_LOOKUP_BATCH or BPF_MAP_DELETE_BATCH (a
// program array) is walked and deleted element by element, under the same
// contract: the set slots, once each, with the program IDs user space reads.
func TestReadAndDeleteOnATypeWithoutBatch(t *testing.T) {
	m := createMap(t, MapSpec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 8})
	var values []byte
	var ids []uint32
	for range 3 {
		fd, err := testutil.LoadReturnZeroProg(1)
		if err != nil {
			t.Fatal(err)
		}
		closeLater(t, fd)
		id, _ := testutil.ObjID(fd)
		ids = append(ids, id)
		values = binary.NativeEndian.AppendUint32(values, uint32(fd))
	}
	if _, err := m.UpdateBatch(u32s(1, 4, 6), values, UpdateAny); err != nil {
		t.Fatal(err)
	}
	for cmd, cached := range map[string]*atomic.Uint32{"lookup": &m.readPath, "delete": &m.deletePath} {
		probe := map[string]func(*sys.MapBatchAttr) unix.Errno{"lookup": sys.MapLookupBatch, "delete": sys.MapDeleteBatch}[cmd]
		if p, errno := m.probeBatch(m.fd, cached, probe); errno != 0 || p != PerElementPath {
			t.Fatalf("kernel %s: %s path of a program array = %v (%v), want per-element", testutil.KernelRelease(), cmd, p, errno)
		}
	}
	for _, per := range []int{1, 2, 8} {
		keys, vals := walk(t, m, per, UpdateAny)
		if len(keys) != 3 {
			t.Fatalf("walk returned %d slots, want the 3 set ones", len(keys))
		}
		for i, k := range keys {
			slot := binary.NativeEndian.Uint32(k)
			want := ids[map[uint32]int{1: 0, 4: 1, 6: 2}[slot]]
			if got := binary.NativeEndian.Uint32(vals[i]); got != want {
				t.Fatalf("slot %d: %d, want program ID %d", slot, got, want)
			}
		}
	}
	n, err := m.DeleteBatch(u32s(4, 6, 4), UpdateAny)
	wantBatchError(t, n, err, unix.ENOENT, ErrKeyNotExist, 2, 2, "BPF_MAP_DELETE_ELEM")
	if c, err := m.Count(); c != 1 || err != nil {
		t.Fatalf("Count = %d, %v; want 1", c, err)
	}
}

// A Cursor Reset after a walk of a map with small keys walks a map with
// bigger keys: its kernel cursor (out_batch, which the kernel writes with
// key_size bytes for an LPM trie) is sized for the map it walks now.
func TestCursorResetWalksAMapWithBiggerKeys(t *testing.T) {
	small := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if _, err := UpdateBatchOf(small, []uint32{1, 2, 3}, []uint64{1, 2, 3}, UpdateAny); err != nil {
		t.Fatal(err)
	}
	trie := createMap(t, MapSpec{Type: LPMTrie, KeySize: 20, ValueSize: 8, MaxEntries: 256, Flags: noPrealloc})
	const n = 100
	keys := make([]byte, n*20)
	for i := range n {
		k := keys[i*20 : (i+1)*20]
		binary.NativeEndian.PutUint32(k, 128)
		binary.BigEndian.PutUint64(k[4:], 0x20010db8_00000000)
		binary.BigEndian.PutUint64(k[12:], uint64(i)*0x9e3779b97f4a7c15)
	}
	if _, err := trie.UpdateBatch(keys, make([]byte, n*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	var c Cursor
	if _, err := small.LookupBatch(&c, make([]byte, 64*4), make([]byte, 64*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	kb, vb := make([]byte, 7*20), make([]byte, 7*8)
	var gotKeys, gotValues [][]byte
	for {
		got, err := trie.LookupBatch(&c, kb, vb, UpdateAny)
		if err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			break
		}
		if len(gotKeys) > n {
			t.Fatalf("the walk returned more than the %d prefixes the trie holds", n)
		}
		for i := range got {
			gotKeys = append(gotKeys, bytes.Clone(kb[i*20:(i+1)*20]))
			gotValues = append(gotValues, bytes.Clone(vb[i*8:(i+1)*8]))
		}
	}
	checkWalk(t, trie, keys, gotKeys, gotValues)
}
