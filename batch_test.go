package bpfbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// A kernel before 5.6 does not know BPF_MAP_UPDATE_BATCH and answers EINVAL
// even for count 0; UpdateBatch then writes element by element.
func TestPre56KernelFallsBackToPerElement(t *testing.T) {
	f := &fakeKernel{batch: func(decodedBatch) (uint32, unix.Errno) { return 0, unix.EINVAL }}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	if p, err := m.UpdatePath(); err != nil || p != PerElementPath {
		t.Fatalf("UpdatePath = %v, %v; want per-element", p, err)
	}
	n, err := m.UpdateBatch(make([]byte, 5*4), make([]byte, 5*8), UpdateAny)
	if n != 5 || err != nil {
		t.Fatalf("UpdateBatch = %d, %v", n, err)
	}
	if b, e := f.count(unix.BPF_MAP_UPDATE_BATCH), f.count(unix.BPF_MAP_UPDATE_ELEM); b != 1 || e != 5 {
		t.Fatalf("%d batch and %d elem calls; want 1 probe and 5 elem", b, e)
	}
	// Same contract on failure: stop at the failing element.
	f.nelem = 0
	f.elem = func(i int) unix.Errno { return map[bool]unix.Errno{true: unix.E2BIG}[i == 2] }
	n, err = m.UpdateBatch(make([]byte, 5*4), make([]byte, 5*8), UpdateAny)
	var be *BatchError
	if n != 2 || !errors.As(err, &be) || be.Index != 2 || be.Cmd != "BPF_MAP_UPDATE_ELEM" || !errors.Is(err, ErrMapFull) {
		t.Fatalf("UpdateBatch = %d, %v", n, err)
	}
	if f.nelem != 3 {
		t.Fatalf("%d elem calls; want 3 (none after the failure)", f.nelem)
	}
}

// An EPERM from the probe is not cached as an answer: the update itself
// reports it, and a later call probes again.
func TestProbeErrorIsNotCached(t *testing.T) {
	errno := unix.EPERM
	f := &fakeKernel{batch: func(a decodedBatch) (uint32, unix.Errno) { return a.Count, errno }}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	if _, err := m.UpdatePath(); !errors.Is(err, ErrPermission) {
		t.Fatalf("UpdatePath = %v", err)
	}
	if n, err := m.UpdateBatch(make([]byte, 4), make([]byte, 8), UpdateAny); n != 0 || !errors.Is(err, ErrPermission) {
		t.Fatalf("UpdateBatch = %d, %v", n, err)
	}
	errno = 0
	if p, err := m.UpdatePath(); err != nil || p != BatchPath {
		t.Fatalf("UpdatePath after the permission came back = %v, %v", p, err)
	}
}

// perElementCase is a map type without BPF_MAP_UPDATE_BATCH, a way to make
// valid elements for it, and an independent way to check they arrived.
type perElementCase struct {
	// since is the kernel release that brought the map type, if it is newer
	// than the oldest kernel the tests run on.
	since [2]int
	// needsLSM: the type keeps its values only with the bpf LSM active.
	needsLSM bool
	spec     MapSpec
	// setup returns keys and values for n elements.
	setup func(t *testing.T, m *Map, n int) (keys, values []byte)
	// check reads the elements back without the library.
	check func(t *testing.T, m *Map, keys, values []byte)
}

// lookupEquals checks every element's raw lookup against want(i).
func lookupEquals(want func(i int, value []byte) []byte) func(t *testing.T, m *Map, keys, values []byte) {
	return func(t *testing.T, m *Map, keys, values []byte) {
		t.Helper()
		ks, vs := int(m.Info().KeySize), m.ValueStride()
		for i := range len(values) / vs {
			w := want(i, values[i*vs:(i+1)*vs])
			got, err := testutil.Lookup(m.FD(), keys[i*ks:(i+1)*ks], len(w))
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("element %d: lookup = %x, %v; want %x", i, got, err, w)
			}
		}
	}
}

func sameValue(_ int, v []byte) []byte { return v }

func listeningSocket(t *testing.T) (fd int, cookie uint64) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
	if err != nil {
		t.Fatal(err)
	}
	return fd, c
}

func perElementCases(t *testing.T) map[string]perElementCase {
	cpus, _ := PossibleCPUs()
	return map[string]perElementCase{
		"ProgramArray": {
			spec: MapSpec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				var values []byte
				for range n {
					fd, err := testutil.LoadReturnZeroProg(1) // BPF_PROG_TYPE_SOCKET_FILTER
					if err != nil {
						t.Fatal(err)
					}
					closeLater(t, fd)
					values = binary.NativeEndian.AppendUint32(values, uint32(fd))
				}
				return indexKeys(n), values
			},
			// A program array reads back the program's ID.
			check: lookupEquals(func(_ int, v []byte) []byte {
				id, _ := testutil.ObjID(int(binary.NativeEndian.Uint32(v)))
				return binary.NativeEndian.AppendUint32(nil, id)
			}),
		},
		"PerfEventArray": {
			spec: MapSpec{Type: PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				var values []byte
				for range n {
					attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_BPF_OUTPUT,
						Sample_type: unix.PERF_SAMPLE_RAW, Wakeup: 1}
					attr.Size = uint32(binary.Size(attr))
					fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
					if err != nil {
						t.Skipf("perf_event_open: %v", err)
					}
					closeLater(t, fd)
					values = binary.NativeEndian.AppendUint32(values, uint32(fd))
				}
				return indexKeys(n), values
			},
			// Not readable from user space: a delete succeeds only on a set slot.
			check: func(t *testing.T, m *Map, keys, values []byte) {
				for i := range len(keys) / 4 {
					if err := testutil.Delete(m.FD(), keys[4*i:4*i+4]); err != nil {
						t.Fatalf("slot %d not set: delete = %v", i, err)
					}
				}
				if err := testutil.Delete(m.FD(), u32s(7)); !errors.Is(err, unix.ENOENT) {
					t.Fatalf("unset slot 7: delete = %v, want ENOENT", err)
				}
			},
		},
		"DevMap": {
			spec: MapSpec{Type: DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				return indexKeys(n), bytes.Repeat(u32s(1), n) // ifindex 1: lo
			},
			check: lookupEquals(sameValue),
		},
		"DevMapHash": {
			spec: MapSpec{Type: DevMapHash, KeySize: 4, ValueSize: 4, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				var keys []byte
				for i := range n {
					keys = binary.NativeEndian.AppendUint32(keys, uint32(1000+i*17))
				}
				return keys, bytes.Repeat(u32s(1), n)
			},
			check: lookupEquals(sameValue),
		},
		"CPUMap": {
			spec: MapSpec{Type: CPUMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(cpus)},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				n = min(n, cpus) // one entry per CPU at most
				var values []byte
				for i := range n {
					values = binary.NativeEndian.AppendUint32(values, uint32(64+i)) // queue size
				}
				return indexKeys(n), values
			},
			check: lookupEquals(sameValue),
		},
		"SockMap": {
			spec:  MapSpec{Type: SockMap, KeySize: 4, ValueSize: 8, MaxEntries: 8},
			setup: socketValues(indexKeys),
			check: lookupEquals(socketCookie),
		},
		"SockHash": {
			spec: MapSpec{Type: SockHash, KeySize: 4, ValueSize: 8, MaxEntries: 8},
			setup: socketValues(func(n int) []byte {
				var keys []byte
				for i := range n {
					keys = binary.NativeEndian.AppendUint32(keys, uint32(7*i+3))
				}
				return keys
			}),
			check: lookupEquals(socketCookie),
		},
		"Queue": {
			spec: MapSpec{Type: Queue, ValueSize: 8, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				return nil, u64s(11, 22, 33, 44, 55)[:8*n]
			},
			check: popOrder(false),
		},
		"Stack": {
			spec: MapSpec{Type: Stack, ValueSize: 8, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				return nil, u64s(11, 22, 33, 44, 55)[:8*n]
			},
			check: popOrder(true),
		},
		"BloomFilter": {
			since: [2]int{5, 16},
			spec:  MapSpec{Type: BloomFilter, ValueSize: 4, MaxEntries: 100},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				return nil, u32s(0xdead, 0xbeef, 0xf00d, 0xcafe, 0xface)[:4*n]
			},
			// A bloom filter "lookup" is a membership test of the value.
			check: func(t *testing.T, m *Map, _, values []byte) {
				for i := range len(values) / 4 {
					if err := testutil.BloomPeek(m.FD(), values[4*i:4*i+4]); err != nil {
						t.Fatalf("value %d not in the filter: %v", i, err)
					}
				}
				if err := testutil.BloomPeek(m.FD(), u32s(0x1234567)); !errors.Is(err, unix.ENOENT) {
					t.Logf("a value never added tests positive (%v): bloom filters may", err)
				}
			},
		},
		"SkStorage": {
			spec: storageSpec(t, SkStorage),
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				var keys []byte
				for range n {
					fd, _ := listeningSocket(t)
					keys = binary.NativeEndian.AppendUint32(keys, uint32(fd))
				}
				return keys, u32s(1, 2, 3, 4, 5)[:4*n]
			},
			check: lookupEquals(sameValue),
		},
		"TaskStorage": {
			since: [2]int{5, 11},
			spec:  storageSpec(t, TaskStorage),
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				var keys []byte
				for range n { // several pidfds of this process: the same task each time
					fd, err := unix.PidfdOpen(os.Getpid(), 0)
					if err != nil {
						t.Skipf("pidfd_open: %v", err)
					}
					closeLater(t, fd)
					keys = binary.NativeEndian.AppendUint32(keys, uint32(fd))
				}
				return keys, u32s(1, 2, 3, 4, 5)[:4*n]
			},
			// Same task for every key: the last value wins.
			check: lookupEquals(func(_ int, _ []byte) []byte { return u32s(3) }),
		},
		"InodeStorage": {
			spec:     storageSpec(t, InodeStorage),
			needsLSM: true,
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				var keys []byte
				for range n {
					f, err := os.Create(t.TempDir() + "/f")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { f.Close() })
					keys = binary.NativeEndian.AppendUint32(keys, uint32(f.Fd()))
				}
				return keys, u32s(1, 2, 3, 4, 5)[:4*n]
			},
			check: lookupEquals(sameValue),
		},
		"CgroupArray": {
			spec: MapSpec{Type: CgroupArray, KeySize: 4, ValueSize: 4, MaxEntries: 8},
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				return indexKeys(n), bytes.Repeat(u32s(uint32(cgroupFD(t))), n)
			},
			check: func(t *testing.T, m *Map, keys, _ []byte) {
				for i := range len(keys) / 4 {
					if err := testutil.Delete(m.FD(), keys[4*i:4*i+4]); err != nil {
						t.Fatalf("slot %d not set: delete = %v", i, err)
					}
				}
			},
		},
		"CgrpStorage": {
			since: [2]int{6, 2},
			spec:  storageSpec(t, CgrpStorage),
			setup: func(t *testing.T, m *Map, n int) ([]byte, []byte) {
				return u32s(uint32(cgroupFD(t))), u32s(77)
			},
			check: lookupEquals(sameValue),
		},
	}
}

// storageSpec describes a local-storage map, which needs BTF for its key
// (int) and value (int here).
func storageSpec(t *testing.T, typ MapType) MapSpec {
	testutil.RequireKernel(t)
	btf, err := testutil.LoadSpinLockBTF()
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, btf)
	return MapSpec{Type: typ, KeySize: 4, ValueSize: 4, Flags: noPrealloc,
		BTFFD: btf, BTFKeyTypeID: testutil.BTFInt, BTFValueTypeID: testutil.BTFInt}
}

func cgroupFD(t *testing.T) int {
	dir := testutil.MountCgroup2(t)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fd)
	return fd
}

func socketValues(keys func(n int) []byte) func(t *testing.T, m *Map, n int) ([]byte, []byte) {
	return func(t *testing.T, m *Map, n int) ([]byte, []byte) {
		var values []byte
		for range n {
			fd, _ := listeningSocket(t)
			values = binary.NativeEndian.AppendUint64(values, uint64(fd))
		}
		return keys(n), values
	}
}

// socketCookie: a sockmap with 8-byte values reads back the socket cookie.
func socketCookie(_ int, v []byte) []byte {
	c, _ := unix.GetsockoptUint64(int(binary.NativeEndian.Uint64(v)), unix.SOL_SOCKET, unix.SO_COOKIE)
	return binary.NativeEndian.AppendUint64(nil, c)
}

func popOrder(lifo bool) func(t *testing.T, m *Map, _, values []byte) {
	return func(t *testing.T, m *Map, _, values []byte) {
		n := len(values) / 8
		for i := range n {
			want := i
			if lifo {
				want = n - 1 - i
			}
			got, err := testutil.Pop(m.FD(), 8)
			if err != nil || !bytes.Equal(got, values[8*want:8*want+8]) {
				t.Fatalf("pop %d = %x, %v; want %x", i, got, err, values[8*want:8*want+8])
			}
		}
		if _, err := testutil.Pop(m.FD(), 8); !errors.Is(err, unix.ENOENT) {
			t.Fatalf("pop past the end = %v, want ENOENT", err)
		}
	}
}

// Map types without BPF_MAP_UPDATE_BATCH (errno 524) are written element by
// element through BPF_MAP_UPDATE_ELEM, with the same contract.
func TestPerElementPathOnTypesWithoutBatch(t *testing.T) {
	for name, tc := range perElementCases(t) {
		t.Run(name, func(t *testing.T) {
			if tc.since != [2]int{} && !testutil.KernelAtLeast(tc.since[0], tc.since[1]) {
				// What this kernel does instead: it does not know the type.
				m, err := CreateMap(tc.spec)
				if err == nil {
					m.Close()
				}
				if !errors.Is(err, unix.EINVAL) {
					t.Fatalf("kernel %s, before %d.%d: CreateMap(%s) = %v; want EINVAL, an unknown map type", testutil.KernelRelease(), tc.since[0], tc.since[1], name, err)
				}
				return
			}
			m := createMap(t, tc.spec)
			if tc.needsLSM && !slices.Contains(testutil.LSMs(t), "bpf") {
				// Without the bpf LSM (lsm= at boot) the kernel keeps no
				// inode storage: the map exists, its updates fail.
				keys, values := tc.setup(t, m, 1)
				n, err := m.UpdateBatch(keys, values, UpdateAny)
				wantBatchError(t, n, err, unix.EBADF, nil, 0, 0)
				return
			}
			if p, err := m.UpdatePath(); err != nil || p != PerElementPath {
				t.Fatalf("UpdatePath = %v, %v; want per-element", p, err)
			}
			keys, values := tc.setup(t, m, 3)
			keysBefore, valuesBefore := bytes.Clone(keys), bytes.Clone(values)
			count := len(values) / m.ValueStride()
			n, err := m.UpdateBatch(keys, values, UpdateAny)
			if err != nil || n != count {
				t.Fatalf("UpdateBatch = %d, %v; want %d", n, err, count)
			}
			if !bytes.Equal(keys, keysBefore) || !bytes.Equal(values, valuesBefore) {
				t.Fatal("UpdateBatch modified the caller's buffers")
			}
			tc.check(t, m, keys, values)
		})
	}
}

// On the per-element path a failure stops the load at the failing element,
// which is reported like the batch command reports it.
func TestPerElementPathStopsAtFailure(t *testing.T) {
	t.Run("Queue full", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Queue, ValueSize: 8, MaxEntries: 3})
		n, err := m.UpdateBatch(nil, u64s(1, 2, 3, 4, 5), UpdateAny)
		wantBatchError(t, n, err, unix.E2BIG, ErrMapFull, 3, 3, "BPF_MAP_UPDATE_ELEM", "element 3")
		popOrder(false)(t, m, nil, u64s(1, 2, 3))
	})
	t.Run("DevMap bad ifindex", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 8})
		n, err := m.UpdateBatch(indexKeys(3), u32s(1, 999999, 1), UpdateAny)
		var be *BatchError
		if n != 1 || !errors.As(err, &be) || be.Index != 1 {
			t.Fatalf("UpdateBatch = %d, %v; want 1 written, element 1 failed", n, err)
		}
		if _, err := testutil.Lookup(m.FD(), u32s(2), 4); !errors.Is(err, unix.ENOENT) {
			t.Fatalf("element after the failure: lookup = %v, want ENOENT", err)
		}
		t.Log(err)
	})
	t.Run("Queue BPF_EXIST replaces oldest", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Queue, ValueSize: 8, MaxEntries: 3})
		if n, err := m.UpdateBatch(nil, u64s(1, 2, 3, 4, 5), UpdateExist); n != 5 || err != nil {
			t.Fatalf("UpdateBatch(UpdateExist) on a queue = %d, %v", n, err)
		}
		popOrder(false)(t, m, nil, u64s(3, 4, 5))
	})
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

// UpdatePath writes nothing, so its error counts nothing.
func TestUpdatePathErrorCountsNothing(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_RDONLY})
	_, err := m.UpdatePath()
	if !errors.Is(err, ErrPermission) || strings.Contains(err.Error(), "of 0") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("UpdatePath on a read-only map = %v", err)
	}
}
