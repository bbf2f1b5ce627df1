package bpfbatch

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Every errno the kernel can answer an update with maps to the right
// sentinel, keeps the raw errno for errors.Is, and says something useful.
func TestErrnoMapping(t *testing.T) {
	for _, tc := range []struct {
		typ      MapType
		errno    unix.Errno
		flags    Flags
		sentinel error
		hint     string
	}{
		{Hash, unix.EEXIST, UpdateNoExist, ErrKeyExist, "already in the map"},
		{Array, unix.EEXIST, UpdateNoExist, ErrKeyExist, "every index of an array map exists"},
		{Hash, unix.ENOENT, UpdateExist, ErrKeyNotExist, "not in the map"},
		{Hash, unix.E2BIG, UpdateAny, ErrMapFull, "max_entries (10)"},
		{Array, unix.E2BIG, UpdateAny, ErrMapFull, "index >= max_entries"},
		{LPMTrie, unix.ENOSPC, UpdateAny, ErrMapFull, "trie"},
		{Hash, sys.ENOTSUPP, UpdateAny, ErrNotSupported, "do not support"},
		{Hash, unix.EOPNOTSUPP, UpdateAny, ErrNotSupported, "do not support"},
		{Hash, unix.EPERM, UpdateAny, ErrPermission, ""},
		{Hash, unix.EACCES, UpdateAny, ErrPermission, ""},
		{Hash, unix.EINVAL, UpdateAny, nil, "rejected"},
		{LPMTrie, unix.EINVAL, UpdateAny, nil, "prefixlen"},
		{HashOfMaps, unix.EBADF, UpdateAny, nil, "open inner map"},
		{Hash, unix.EFAULT, UpdateAny, nil, "could not read"},
		{Hash, unix.EBUSY, UpdateAny, nil, "retry"},
		{Hash, unix.ENOMEM, UpdateAny, nil, "out of memory"},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.typ, errnoName(tc.errno)), func(t *testing.T) {
			// Element 1 fails, however often it is written again (ENOMEM
			// is retried).
			calls := 0
			f := &fakeKernel{
				batch: func(a decodedBatch) (uint32, unix.Errno) {
					if a.Count == 0 { // the library's probe for the command
						return 0, 0
					}
					calls++
					return map[bool]uint32{true: 1}[calls == 1], tc.errno
				},
				elem: func(i int) unix.Errno { return map[bool]unix.Errno{true: tc.errno}[i >= 1] },
			}
			m := newFakeMap(t, fakeInfo(tc.typ, 4, 4, 10), f)
			n, err := m.UpdateBatch(make([]byte, 12), make([]byte, 12), tc.flags)
			if n != 1 {
				t.Fatalf("n = %d, want 1 (err %v)", n, err)
			}
			var be *BatchError
			if !errors.As(err, &be) || be.Errno != tc.errno || be.Processed != 1 || be.Index != 1 || be.Requested != 3 {
				t.Fatalf("err = %#v", err)
			}
			if !errors.Is(err, tc.errno) {
				t.Fatalf("errors.Is(err, %v) = false", tc.errno)
			}
			for _, s := range []error{ErrKeyExist, ErrKeyNotExist, ErrMapFull, ErrNotSupported, ErrPermission, ErrClosed, ErrInvalidFlags} {
				if got := errors.Is(err, s); got != (s == tc.sentinel) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
			msg := err.Error()
			for _, want := range []string{errnoName(tc.errno), `"fake" (id 42)`, "element 1", "1 of 3 elements written", tc.hint} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
		})
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

// addr is the address the kernel would be given for b.
func addr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
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
