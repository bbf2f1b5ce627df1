package bpfbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

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

// Lookup takes one key: a wrong size is reported as such, not as a batch.
func TestLookupKeySizeErrorIsAboutOneKey(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	err := m.Lookup(make([]byte, 8), make([]byte, 8))
	var se *SizeError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "got 8 bytes, want key_size 4") || strings.Contains(err.Error(), "multiple") || strings.Contains(err.Error(), "whole keys") {
		t.Fatalf("Lookup(8-byte key) = %v", err)
	}
	err = m.Lookup(make([]byte, 4), make([]byte, 4))
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "got 4 bytes, want value_size 8") {
		t.Fatalf("Lookup(4-byte value) = %v", err)
	}
}
