package bpfbatch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// Each errno the kernel answers an update with, provoked on the real kernel
// through the library.

func TestErrnoArrayIndexOutOfRange(t *testing.T) {
	m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 8, Name: "arr"})
	n, err := m.UpdateBatch(u32s(0, 1, 2, 8, 3), u64s(1, 1, 1, 1, 1), UpdateAny)
	wantBatchError(t, n, err, unix.E2BIG, ErrMapFull, 3, 3, `Array map "arr"`, "element 3", "max_entries (8)", "3 of 5 elements written")
	if v, _ := lookupU64(t, m, 3); v != 0 {
		t.Fatalf("index 3 after the failing element = %d, want untouched 0", v)
	}
}

func TestErrnoHashFull(t *testing.T) {
	for _, typ := range []MapType{Hash, PerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 2})
			n, err := m.UpdateBatch(u32s(1, 2, 3), make([]byte, 3*m.ValueStride()), UpdateAny)
			wantBatchError(t, n, err, unix.E2BIG, ErrMapFull, 2, 2, "max_entries (2)")
			checkMissing(t, m, u32s(3))
		})
	}
}

func TestLRUHashEvictsInsteadOfFailing(t *testing.T) {
	m := createMap(t, MapSpec{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	keys := make([]uint32, 1000)
	for i := range keys {
		keys[i] = uint32(i)
	}
	if n, err := UpdateBatchOf(m, keys, make([]uint64, len(keys)), UpdateAny); n != len(keys) || err != nil {
		t.Fatalf("UpdateBatchOf past max_entries on an LRU hash = %d, %v; want all, nil", n, err)
	}
}

func TestErrnoLPMTrieFull(t *testing.T) {
	m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 2, Flags: noPrealloc})
	n, err := m.UpdateBatch(lpmKeys([2]uint32{32, 1}, [2]uint32{32, 2}, [2]uint32{32, 3}), u64s(1, 2, 3), UpdateAny)
	wantBatchError(t, n, err, unix.ENOSPC, ErrMapFull, 2, 2, "ENOSPC", "trie")
}

func TestErrnoLPMPrefixTooLong(t *testing.T) {
	m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 8, Flags: noPrealloc})
	n, err := m.UpdateBatch(lpmKeys([2]uint32{8, 10 << 24}, [2]uint32{33, 0}), u64s(1, 2), UpdateAny)
	wantBatchError(t, n, err, unix.EINVAL, nil, 1, 1, "prefixlen", "32 data bits")
}

// The kernel refuses every elem_flags bit but BPF_F_LOCK in the batch
// command, before any element and leaving count unchanged. This is why
// UpdateBatch sends UpdateNoExist/UpdateExist per element; the test guards
// that design against a kernel that changes.
func TestKernelBatchCommandRefusesElemFlags(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	keys, values := u32s(1), u64s(1)
	for _, flags := range []uint64{1, 2, 3, 8, 16, 32, 1 << 32} {
		count, errno := testutil.UpdateBatch(m.FD(), keys, values, 1, flags)
		if errno != unix.EINVAL || count != 1 {
			t.Errorf("raw batch with elem_flags %#x = %v, count %d; want EINVAL, count unchanged 1", flags, errno, count)
		}
	}
	checkMissing(t, m, keys)
}

// A failure before the kernel's loop leaves count at the requested number;
// UpdateBatch must report 0 processed, not that number.
func TestErrorBeforeKernelLoopReportsZeroProcessed(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	n, err := m.UpdateBatch(u32s(1, 2, 3), u64s(1, 2, 3), UpdateLock)
	wantBatchError(t, n, err, unix.EINVAL, nil, 0, -1, "0 of 3 elements written")
	checkMissing(t, m, u32s(1, 2, 3))
}

func TestErrnoMapFDClosedUnderneath(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if err := unix.Close(m.FD()); err != nil { // behind the Map's back
		t.Fatal(err)
	}
	n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateAny)
	wantBatchError(t, n, err, unix.EBADF, nil, 0, -1)
	m.mu.Lock()
	m.fd = nil // the fd is gone; keep Cleanup's Close from closing a reused number
	m.mu.Unlock()
}

func TestErrnoNotAMapFD(t *testing.T) {
	testutil.RequireKernel(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := NewMap(int(f.Fd())); err == nil || !strings.Contains(err.Error(), "not a BPF map") {
		t.Fatalf("NewMap(/dev/null) = %v, want a 'not a BPF map' error", err)
	}
	if _, errno := testutil.UpdateBatch(int(f.Fd()), nil, nil, 0, 0); errno != unix.EINVAL {
		t.Fatalf("raw batch on /dev/null = %v, want EINVAL", errno)
	}
	btf, err := testutil.LoadSpinLockBTF()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(btf)
	if _, err := NewMap(btf); err == nil || !strings.Contains(err.Error(), "not a BPF map") {
		t.Fatalf("NewMap(BTF fd) = %v, want a 'not a BPF map' error", err)
	}
}

// A map created read-only (BPF_F_RDONLY: its fd is O_RDONLY) refuses
// writes before any syscall; the kernel refuses the count-0 probe too.
func TestReadOnlyMapRefusesWrites(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8, Flags: unix.BPF_F_RDONLY})
	n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateAny)
	if n != 0 || !errors.Is(err, ErrPermission) || !strings.Contains(fmt.Sprint(err), "opened read-only") {
		t.Fatalf("UpdateBatch on a read-only map = %d, %v; want ErrPermission saying it was opened read-only", n, err)
	}
	if raw := testutil.Update(m.FD(), u32s(1), u64s(1), 0); !errors.Is(raw, unix.EPERM) {
		t.Fatalf("kernel %s: raw update of a read-only map = %v, want EPERM", testutil.KernelRelease(), raw)
	}
	if _, err := m.UpdatePath(); !errors.Is(err, ErrPermission) {
		t.Fatalf("UpdatePath on a read-only map = %v, want ErrPermission (the count-0 probe is refused too)", err)
	}
}

func TestErrnoFrozenMap(t *testing.T) {
	m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if err := testutil.Freeze(m.FD()); err != nil {
		t.Fatal(err)
	}
	n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateAny)
	wantBatchError(t, n, err, unix.EPERM, ErrPermission, 0, -1, "the map is frozen (BPF_MAP_FREEZE)")
	n, err = m.UpdateBatch(u32s(1), u64s(1), UpdateExist)
	wantBatchError(t, n, err, unix.EPERM, ErrPermission, 0, 0, "the map is frozen (BPF_MAP_FREEZE)")
	if strings.Contains(err.Error(), "LSM") {
		t.Fatalf("the frozen map's error also blames an LSM: %v", err)
	}
}

// Map types without a batch update answer 524 (ENOTSUPP, kernel-internal)
// even for count 0; UpdateBatch takes the per-element path for them.
func TestKernelUnsupportedTypeAnswersENOTSUPP(t *testing.T) {
	m := createMap(t, MapSpec{Type: Queue, KeySize: 0, ValueSize: 4, MaxEntries: 8})
	count, errno := testutil.UpdateBatch(m.FD(), nil, u32s(1), 1, 0)
	if errno != sys.ENOTSUPP || count != 1 {
		t.Fatalf("raw batch on a queue = %v (count %d), want errno 524 and count unchanged", errno, count)
	}
	if p, err := m.UpdatePath(); err != nil || p != PerElementPath {
		t.Fatalf("UpdatePath = %v, %v; want per-element", p, err)
	}
}

func TestErrnoMapInMapBadValues(t *testing.T) {
	inner := innerMaps(t, 1)[0]
	other := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	for _, typ := range []MapType{HashOfMaps, ArrayOfMaps} {
		for _, tc := range []struct {
			name  string
			value uint32
			errno unix.Errno
			hint  string
		}{
			{"not an open fd", 12345, unix.EBADF, "fd (u32) of an open inner map"},
			{"not a map", uint32(devnull.Fd()), unix.EINVAL, "compatible with the inner map"},
			{"incompatible inner map", uint32(other.FD()), unix.EINVAL, "compatible with the inner map"},
		} {
			t.Run(typ.String()+"/"+tc.name, func(t *testing.T) {
				m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 8, InnerMapFD: inner.FD()})
				n, err := m.UpdateBatch(u32s(0, 1, 2), u32s(uint32(inner.FD()), tc.value, uint32(inner.FD())), UpdateAny)
				wantBatchError(t, n, err, tc.errno, nil, 1, 1, tc.hint)
			})
		}
	}
}

// The kernel reads keys and values lazily and faults on a NULL pointer
// after checking nothing about their length; the library's length checks
// are what keep it inside the caller's buffers.
func TestKernelNullBuffersFault(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if count, errno := testutil.UpdateBatch(m.FD(), nil, nil, 1, 0); errno != unix.EFAULT || count != 0 {
		t.Fatalf("raw batch with NULL keys = %v, count %d; want EFAULT, 0", errno, count)
	}
}

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

// Every error message says each fact once: no segment repeats, counts
// agree in number ("1 element"), the package prefix and the map are named
// once, also where Sync, ReplaceInner, DeleteBatch and LookupBatch wrap or
// report a kernel error.
func TestErrorMessagesSayEachFactOnce(t *testing.T) {
	frozen := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if _, err := frozen.UpdateBatch(u32s(1), u64s(1), UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Freeze(frozen.FD()); err != nil {
		t.Fatal(err)
	}
	outer := createMap(t, MapSpec{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMapFD: innerMaps(t, 1)[0].FD()})
	var c Cursor
	for name, err := range map[string]error{
		"UpdateBatch":       second(frozen.UpdateBatch(u32s(2), u64s(1), UpdateAny)),
		"DeleteBatch":       second(frozen.DeleteBatch(u32s(1), UpdateAny)),
		"LookupBatch":       second(frozen.LookupBatch(&c, make([]byte, 3), make([]byte, 8), UpdateAny)),
		"Sync delete":       second(frozen.Sync(context.Background(), u32s(2), u64s(1), SyncOptions{})),
		"Sync write":        second(frozen.Sync(context.Background(), u32s(1, 2), u64s(1, 2), SyncOptions{})),
		"Sync size":         second(frozen.Sync(context.Background(), u32s(1), u64s(1)[:7], SyncOptions{})),
		"Sync keys":         second(frozen.Sync(context.Background(), []byte{1, 2, 3, 4, 5}, u64s(1), SyncOptions{})),
		"ReplaceInner":      second(ReplaceInner(outer, u32s(0), MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 0}, nil, nil)),
		"ReplaceInner fill": second(ReplaceInner(outer, u32s(0), MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}, u32s(5), u32s(1))),
		"CreateMap":         second(CreateMap(MapSpec{Type: Hash, KeySize: 0, ValueSize: 8, MaxEntries: 1})),
		"OpenPinned":        second(OpenPinned(filepath.Join(testutil.MountBPFFS(t), "missing"))),
	} {
		t.Run(name, func(t *testing.T) {
			checkSaysEachFactOnce(t, err)
			if strings.Count(err.Error(), "bpfbatch: ") != 1 {
				t.Fatalf("%q names the package twice", err)
			}
			ids := map[string]bool{}
			for _, id := range regexp.MustCompile(`\(id \d+\)`).FindAllString(err.Error(), -1) {
				if ids[id] {
					t.Fatalf("%q names the map %s twice", err, id)
				}
				ids[id] = true
			}
			if strings.Contains(err.Error(), "1 elements") || strings.Contains(err.Error(), "1 whole keys") {
				t.Fatalf("%q: a count disagrees in number", err)
			}
		})
	}
	_, err := frozen.UpdateBatch(u32s(2), u64s(1), UpdateAny)
	if !strings.Contains(err.Error(), "0 of 1 element written") {
		t.Fatalf("%v: want a singular count", err)
	}
}

// Every refusal before a syscall has a sentinel (or is a *SizeError), says
// what to do, and reaches no write, delete or read command.
func TestRefusalsBeforeAnySyscall(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 8), f)
	other := newFakeMap(t, fakeInfo(Hash, 4, 8, 8), &fakeKernel{})
	array := newFakeMap(t, fakeInfo(Array, 4, 8, 4), f)
	trie := newFakeMap(t, fakeInfo(LPMTrie, 8, 8, 4), f)
	bound := Cursor{}
	if _, err := other.LookupBatch(&bound, make([]byte, 4), make([]byte, 8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	walkFn := func([]byte, []byte, int) error { return nil }
	sizeErr := errors.New("*SizeError")
	for _, c := range []struct {
		name string
		want error
		err  error
	}{
		{"nil Cursor", ErrInvalidArgument, second(m.LookupBatch(nil, make([]byte, 4), make([]byte, 8), UpdateAny))},
		{"foreign Cursor", ErrInvalidArgument, second(m.LookupBatch(&bound, make([]byte, 4), make([]byte, 8), UpdateAny))},
		{"negative Workers", ErrInvalidArgument, second(m.UpdateBatchWith(ctx, u32s(1), u64s(1), BatchOptions{Workers: -1}))},
		{"negative Chunk", ErrInvalidArgument, second(m.UpdateBatchWith(ctx, u32s(1), u64s(1), BatchOptions{Chunk: -1}))},
		{"negative Sync Workers", ErrInvalidArgument, second(m.Sync(ctx, u32s(1), u64s(1), SyncOptions{Workers: -1}))},
		{"negative Sync Workers, dry run", ErrInvalidArgument, second(m.Sync(ctx, u32s(1), u64s(1), SyncOptions{Workers: -1, DryRun: true}))},
		{"negative Walk Workers", ErrInvalidArgument, m.Walk(ctx, WalkOptions{Workers: -1}, walkFn)},
		{"negative Walk Batch", ErrInvalidArgument, m.Walk(ctx, WalkOptions{Batch: -1}, walkFn)},
		{"nil Walk fn", ErrInvalidArgument, m.Walk(ctx, WalkOptions{}, nil)},
		{"empty Sync", ErrInvalidArgument, second(m.Sync(ctx, nil, nil, SyncOptions{}))},
		{"array index", ErrInvalidArgument, second(array.Sync(ctx, u32s(9), u64s(1), SyncOptions{}))},
		{"prefix length", ErrInvalidArgument, second(trie.Sync(ctx, lpm4(40, 1, 2, 3, 4), u64s(1), SyncOptions{}))},
		{"ReadOnly and WriteOnly", ErrInvalidArgument, second(OpenPinnedWith("/x", OpenOptions{ReadOnly: true, WriteOnly: true}))},
		{"bad name", ErrInvalidArgument, second(CreateMap(MapSpec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "a-b"}))},
		{"LPM family", ErrInvalidArgument, second(LPMKey4From(netip.MustParsePrefix("::/0")))},
		{"flags", ErrInvalidFlags, second(m.UpdateBatch(u32s(1), u64s(1), UpdateExist|UpdateNoExist))},
		{"lookup flags", ErrInvalidFlags, second(m.LookupBatch(&Cursor{}, make([]byte, 4), make([]byte, 8), UpdateExist))},
		{"delete flags", ErrInvalidFlags, second(m.DeleteBatch(u32s(1), UpdateLock))},
		{"pointer type", ErrInvalidType, second(UpdateBatchOf(m, []uint32{1}, []*int{nil}, UpdateAny))},
		{"array delete", ErrNotSupported, second(array.DeleteBatch(u32s(1), UpdateAny))},
		{"keys size", sizeErr, second(m.UpdateBatch([]byte{1, 2, 3}, u64s(1), UpdateAny))},
		{"values size", sizeErr, second(m.UpdateBatch(u32s(1), u64s(1)[:7], UpdateAny))},
		{"lookup key size", sizeErr, m.Lookup([]byte{1}, make([]byte, 8))},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.want == sizeErr {
				if !isSizeError("")(c.err) {
					t.Fatalf("= %v; want a *SizeError", c.err)
				}
			} else if !errors.Is(c.err, c.want) {
				t.Fatalf("= %v; want %v", c.err, c.want)
			}
			checkSaysEachFactOnce(t, c.err)
		})
	}
	for _, cmd := range []int{unix.BPF_MAP_UPDATE_BATCH, unix.BPF_MAP_UPDATE_ELEM, unix.BPF_MAP_DELETE_BATCH, unix.BPF_MAP_DELETE_ELEM, unix.BPF_MAP_LOOKUP_BATCH, unix.BPF_MAP_LOOKUP_ELEM} {
		if n := f.count(cmd); n != 0 {
			t.Errorf("command %d issued %d times by refused calls", cmd, n)
		}
	}
}
