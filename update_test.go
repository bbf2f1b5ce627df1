package bpfbatch

import (
	"bytes"
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

// The count write-back decides Processed: unchanged (the kernel failed before
// its loop) means 0, anything smaller is the index of the failing element.
func TestProcessedFromCountWriteBack(t *testing.T) {
	for _, tc := range []struct {
		writeBack      uint32
		processed, idx int
	}{
		{5, 0, -1},
		{0, 0, 0},
		{3, 3, 3},
		{4, 4, 4},
	} {
		f := &fakeKernel{batch: func(a decodedBatch) (uint32, unix.Errno) { return tc.writeBack, unix.E2BIG }}
		m := newFakeMap(t, fakeInfo(Hash, 4, 4, 10), f)
		n, err := m.UpdateBatch(make([]byte, 20), make([]byte, 20), UpdateAny)
		var be *BatchError
		if !errors.As(err, &be) || n != tc.processed || be.Processed != tc.processed || be.Index != tc.idx {
			t.Errorf("count written back %d of 5: n=%d err=%v; want Processed %d, Index %d", tc.writeBack, n, err, tc.processed, tc.idx)
		}
	}
}

// UpdateBatch with UpdateAny issues exactly one BPF_MAP_UPDATE_BATCH (after
// the once-per-map support probe) whose attr points at the caller's buffers.
func TestUpdateBatchIssuesOneSyscall(t *testing.T) {
	var got []decodedBatch
	f := &fakeKernel{batch: func(a decodedBatch) (uint32, unix.Errno) { got = append(got, a); return a.Count, 0 }}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	// On the heap, so that their addresses stay put while the stack grows.
	keys, values := heapBytes(3*4), heapBytes(3*8)
	for range 2 {
		if n, err := m.UpdateBatch(keys, values, UpdateLock); n != 3 || err != nil {
			t.Fatalf("UpdateBatch = %d, %v", n, err)
		}
	}
	if len(got) != 3 || got[0].Count != 0 {
		t.Fatalf("batch calls = %+v; want the count-0 probe and one call per UpdateBatch", got)
	}
	for _, a := range got[1:] {
		want := decodedBatch{Keys: addr(keys), Values: addr(values), Count: 3, MapFD: m.fd.Uint(), ElemFlags: uint64(UpdateLock)}
		if a != want {
			t.Fatalf("attr = %+v, want %+v", a, want)
		}
	}
	for _, c := range f.calls {
		if c.Size != uapiBatchSize && c.Cmd == unix.BPF_MAP_UPDATE_BATCH {
			t.Fatalf("attr size %d, want %d", c.Size, uapiBatchSize)
		}
	}
}

var heapSink [][]byte

// heapBytes returns n zero bytes that live on the heap.
func heapBytes(n int) []byte {
	b := make([]byte, n)
	heapSink = append(heapSink, b)
	return b
}

// ENOMEM from a map that allocates per element can be the kernel's
// allocator caches running dry for a moment: the rest of the batch is
// written again after a pause, and only a lasting ENOMEM is reported, with
// the count of what was written.
func TestENOMEMIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int // answers of ENOMEM before the kernel accepts the rest
		n        int
		retries  int
	}{
		{"passing", 3, 4, 3},
		{"lasting", 1 << 30, 1, enomemRetries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var starts []uint64
			f := &fakeKernel{batch: func(a decodedBatch) (uint32, unix.Errno) {
				if a.Count == 0 { // the library's probe for the command
					return 0, 0
				}
				starts = append(starts, a.Keys)
				if len(starts) == 1 {
					return 1, unix.ENOMEM // element 0 written, element 1 refused
				}
				if len(starts) <= tc.failures {
					return 0, unix.ENOMEM
				}
				return a.Count, 0
			}}
			m := newFakeMap(t, fakeInfo(Hash, 4, 4, 10), f)
			keys := make([]byte, 16)
			heapKeys = keys // on the heap: a stack copy would move its address between calls
			n, err := m.UpdateBatch(keys, make([]byte, 16), UpdateAny)
			if n != tc.n || len(starts) != tc.retries+1 {
				t.Fatalf("n = %d after %d calls (err %v); want %d after %d", n, len(starts), err, tc.n, tc.retries+1)
			}
			for _, start := range starts[1:] {
				if start != addr(keys[4:]) {
					t.Fatalf("a retry started at key offset %d, want 4 (the refused element)", start-addr(keys))
				}
			}
			var be *BatchError
			switch {
			case tc.n == 4 && err != nil:
				t.Fatalf("err = %v after the kernel accepted the rest", err)
			case tc.n < 4 && (!errors.As(err, &be) || be.Errno != unix.ENOMEM || be.Index != 1 || !strings.Contains(err.Error(), "still after 255ms of pauses")):
				t.Fatalf("err = %v; want ENOMEM at element 1 saying it was retried", err)
			}
		})
	}
}

var heapKeys []byte

// The kernel's batch command refuses BPF_NOEXIST; UpdateBatch keeps its
// meaning per element and stops at the first existing key.
func TestUpdateNoExistStopsAtExistingKey(t *testing.T) {
	for _, typ := range []MapType{Hash, LRUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 64})
			if err := testutil.Update(m.FD(), u32s(3), u64s(300), 0); err != nil {
				t.Fatal(err)
			}
			keys := u32s(1, 2, 3, 4, 5)
			n, err := m.UpdateBatch(keys, u64s(10, 20, 30, 40, 50), UpdateNoExist)
			var be *BatchError
			if n != 2 || !errors.Is(err, ErrKeyExist) || !errors.Is(err, unix.EEXIST) || !errors.As(err, &be) {
				t.Fatalf("UpdateBatch(NoExist) = %d, %v; want 2, ErrKeyExist", n, err)
			}
			if be.Processed != 2 || be.Index != 2 || be.Requested != 5 || be.Cmd != "BPF_MAP_UPDATE_ELEM" {
				t.Fatalf("BatchError = %+v", be)
			}
			for k, want := range map[uint32]uint64{1: 10, 2: 20, 3: 300} {
				if got, err := lookupU64(t, m, k); err != nil || got != want {
					t.Fatalf("key %d = %d, %v; want %d", k, got, err, want)
				}
			}
			checkMissing(t, m, u32s(4, 5))

			n, err = m.UpdateBatch(u32s(6, 7), u64s(60, 70), UpdateNoExist)
			if n != 2 || err != nil {
				t.Fatalf("UpdateBatch(NoExist) of new keys = %d, %v", n, err)
			}
		})
	}
}

func TestUpdateNoExistOnArrayAlwaysFails(t *testing.T) {
	m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	n, err := m.UpdateBatch(u32s(0, 1), u64s(1, 2), UpdateNoExist)
	if n != 0 || !errors.Is(err, ErrKeyExist) {
		t.Fatalf("UpdateBatch(NoExist) on an array = %d, %v; want 0, ErrKeyExist", n, err)
	}
	if got, _ := lookupU64(t, m, 0); got != 0 {
		t.Fatalf("index 0 = %d, want untouched 0", got)
	}
}

func TestUpdateExistStopsAtMissingKey(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if _, err := m.UpdateBatch(u32s(1, 2, 4), u64s(1, 2, 4), UpdateAny); err != nil {
		t.Fatal(err)
	}
	n, err := m.UpdateBatch(u32s(1, 2, 3, 4), u64s(10, 20, 30, 40), UpdateExist)
	var be *BatchError
	if n != 2 || !errors.Is(err, ErrKeyNotExist) || !errors.Is(err, unix.ENOENT) || !errors.As(err, &be) || be.Index != 2 {
		t.Fatalf("UpdateBatch(Exist) = %d, %v; want 2, ErrKeyNotExist at element 2", n, err)
	}
	for k, want := range map[uint32]uint64{1: 10, 2: 20, 4: 4} {
		if got, err := lookupU64(t, m, k); err != nil || got != want {
			t.Fatalf("key %d = %d, %v; want %d (nothing after the failure written)", k, got, err, want)
		}
	}
	checkMissing(t, m, u32s(3))
}

func TestUpdateExistOnArray(t *testing.T) {
	m := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	values := make([]byte, 2*m.ValueStride())
	for i := range values {
		values[i] = byte(i + 1)
	}
	if n, err := m.UpdateBatch(u32s(3, 1), values, UpdateExist); n != 2 || err != nil {
		t.Fatalf("UpdateBatch(Exist) on a per-CPU array = %d, %v", n, err)
	}
	checkWritten(t, m, u32s(3, 1), values, nil)
	if n, err := m.UpdateBatch(u32s(2, 4), values, UpdateExist); n != 1 || !errors.Is(err, ErrMapFull) {
		t.Fatalf("UpdateBatch(Exist) past the array end = %d, %v; want 1, ErrMapFull", n, err)
	}
}

// UpdateLock on a map whose value holds a struct bpf_spin_lock: the batch
// command accepts it, and the lock word is not copied in.
func TestUpdateLockOnSpinLockedMap(t *testing.T) {
	testutil.RequireKernel(t)
	btf, err := testutil.LoadSpinLockBTF()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(btf)
	for _, typ := range []MapType{Hash, Array} {
		t.Run(typ.String(), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 16,
				BTFFD: btf, BTFKeyTypeID: testutil.BTFInt, BTFValueTypeID: testutil.BTFLockVal})
			if p, err := m.UpdatePath(); err != nil || p != BatchPath {
				t.Fatalf("UpdatePath = %v, %v", p, err)
			}
			keys := u32s(0, 5, 9)
			values := u32s(0xffffffff, 100, 0xffffffff, 105, 0xffffffff, 109) // {lock, v} each
			n, err := m.UpdateBatch(keys, values, UpdateLock)
			if err != nil || n != 3 {
				t.Fatalf("UpdateBatch(UpdateLock) = %d, %v", n, err)
			}
			for i, k := range []uint32{0, 5, 9} {
				got, err := testutil.Lookup(m.FD(), u32s(k), 8)
				if want := u32s(0, 100+k); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("element %d: read back %x, %v; want %x (lock word not copied)", i, got, err, want)
				}
			}
			// With UpdateExist the per-element path passes BPF_F_LOCK too.
			n, err = m.UpdateBatch(u32s(5), u32s(0, 555), UpdateLock|UpdateExist)
			if err != nil || n != 1 {
				t.Fatalf("UpdateBatch(UpdateLock|UpdateExist) = %d, %v", n, err)
			}
			if got, _ := testutil.Lookup(m.FD(), u32s(5), 8); !bytes.Equal(got, u32s(0, 555)) {
				t.Fatalf("read back %x", got)
			}
		})
	}
}

func TestUpdateLockWithoutSpinLockSaysSo(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	n, err := m.UpdateBatch(u32s(1, 2), u64s(1, 2), UpdateLock)
	var be *BatchError
	if n != 0 || !errors.As(err, &be) || be.Errno != unix.EINVAL || be.Processed != 0 || be.Index != -1 {
		t.Fatalf("UpdateBatch(UpdateLock) on a plain hash = %d, %v; want 0 processed, EINVAL", n, err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("bpf_spin_lock")) {
		t.Fatalf("error %q should say the value needs a bpf_spin_lock", err)
	}
	checkMissing(t, m, u32s(1, 2))
}

// Bad input is refused before any syscall: the fake kernel counts calls.
func TestUpdateBatchRejectsBadInputBeforeSyscall(t *testing.T) {
	cpus, err := PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	hash := fakeInfo(Hash, 4, 8, 100)
	perCPU := fakeInfo(PerCPUHash, 4, 4, 100)
	queue := fakeInfo(Queue, 0, 4, 100)
	stride := 8 * cpus
	for _, tc := range []struct {
		name         string
		info         MapInfoRaw
		keys, values int
		flags        Flags
		want         func(error) bool
		msg          string
	}{
		{"keys not a multiple of key_size", hash, 10, 16, 0, isSizeError("keys"), "want a multiple of key_size 4"},
		{"values too short", hash, 8, 15, 0, isSizeError("values"), "got 15 bytes, want 16 = 2 elements x value_size 8"},
		{"values too long", hash, 8, 17, 0, isSizeError("values"), "want 16"},
		{"values without keys", hash, 0, 8, 0, isSizeError("values"), "want 0"},
		{"per-CPU values one slot per element", perCPU, 16, 4 * 8, 0, isSizeError("values"), "possible CPUs x 8"},
		{"per-CPU values unrounded", perCPU, 16, 4 * 4 * cpus, 0, isSizeError("values"), "rounded up to 8"},
		{"per-CPU values one too many", perCPU, 8, 3 * stride, 0, isSizeError("values"), "element-major"},
		{"keys for a keyless map", queue, 4, 4, 0, isSizeError("keys"), "pass nil keys"},
		{"keyless values not whole", queue, 0, 6, 0, isSizeError("values"), "multiple of 4"},
		{"unknown flag bit", hash, 4, 8, 0x20, isErr(ErrInvalidFlags), "unknown bits 0x20"},
		{"per-CPU flag on a hash", hash, 4, 8, UpdateAllCPUs, isErr(ErrInvalidFlags), "applies to per-CPU maps"},
		{"high flag bit", hash, 4, 8, 1 << 40, isErr(ErrInvalidFlags), "unknown bits"},
		{"NoExist and Exist", hash, 4, 8, UpdateNoExist | UpdateExist, isErr(ErrInvalidFlags), "pick one"},
		{"flags checked even for bad sizes", hash, 3, 8, 64, isErr(ErrInvalidFlags), "unknown bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKernel{}
			m := newFakeMap(t, sys.MapInfo(tc.info), f)
			n, err := m.UpdateBatch(make([]byte, tc.keys), make([]byte, tc.values), tc.flags)
			if n != 0 || !tc.want(err) {
				t.Fatalf("UpdateBatch = %d, %v", n, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), `"fake" (id 42)`) {
				t.Errorf("error %q should name the map and contain %q", err, tc.msg)
			}
			if f.total() != 0 {
				t.Fatalf("%d syscalls made for invalid input", f.total())
			}
		})
	}
}

// MapInfoRaw is the kernel's struct bpf_map_info, for table tests.
type MapInfoRaw = sys.MapInfo

func TestUpdateBatchEmptyMakesNoSyscall(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	for _, flags := range []Flags{UpdateAny, UpdateExist, UpdateLock} {
		if n, err := m.UpdateBatch(nil, nil, flags); n != 0 || err != nil {
			t.Fatalf("UpdateBatch(nil, nil, %s) = %d, %v; want 0, nil", flags, n, err)
		}
		if n, err := m.UpdateBatch([]byte{}, []byte{}, flags); n != 0 || err != nil {
			t.Fatalf("UpdateBatch(empty, %s) = %d, %v", flags, n, err)
		}
	}
	if f.total() != 0 {
		t.Fatalf("empty batches made %d syscalls", f.total())
	}
}
