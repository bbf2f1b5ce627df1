package bpfbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// wantBatchError checks err is a *BatchError for errno with the given
// Processed/Index, unwrapping to sentinel (if any) and errno, and that its
// message contains every hint.
func wantBatchError(t testing.TB, n int, err error, errno unix.Errno, sentinel error, processed, index int, hints ...string) *BatchError {
	t.Helper()
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BatchError", err, err)
	}
	if be.Errno != errno || !errors.Is(err, errno) {
		t.Fatalf("errno = %v, want %v (err %v)", be.Errno, errno, err)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%v, %v) = false", err, sentinel)
	}
	if n != processed || be.Processed != processed || be.Index != index {
		t.Fatalf("n=%d Processed=%d Index=%d, want %d, %d, %d (err %v)", n, be.Processed, be.Index, processed, processed, index, err)
	}
	for _, h := range hints {
		if !strings.Contains(err.Error(), h) {
			t.Fatalf("error %q does not contain %q", err, h)
		}
	}
	t.Log(err)
	return be
}

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

func lpmKeys(prefixes ...[2]uint32) []byte {
	var b []byte
	for _, p := range prefixes {
		b = binary.NativeEndian.AppendUint32(b, p[0])
		b = append(b, byte(p[1]>>24), byte(p[1]>>16), byte(p[1]>>8), byte(p[1]))
	}
	return b
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
	wantBatchError(t, n, err, unix.EPERM, ErrPermission, 0, -1, "frozen")
	n, err = m.UpdateBatch(u32s(1), u64s(1), UpdateExist)
	wantBatchError(t, n, err, unix.EPERM, ErrPermission, 0, 0, "frozen")
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

// Without CAP_BPF (and with kernel.unprivileged_bpf_disabled set, as on
// every distribution today) creating a map fails with EPERM and the error
// names the missing capability. Writing through an fd the process already
// holds needs no capability on current kernels, so UpdateBatch must still
// work there; older ones refuse it with EPERM, which must say so.
// Capabilities are dropped on one locked OS thread only.
func TestErrnoWithoutCapBPF(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Skipf("unprivileged BPF is enabled here (%q, %v): bpf(2) does not need CAP_BPF", b, err)
	}
	type result struct {
		createErr, updateErr error
		n                    int
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- result{createErr: err}
			return
		}
		data[0].Effective, data[1].Effective = 0, 0
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- result{createErr: err}
			return
		}
		var r result
		m2, err := CreateMap(MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
		if err == nil {
			m2.Close()
		}
		r.createErr = err
		r.n, r.updateErr = m.UpdateBatch(u32s(1), u64s(7), UpdateAny)
		done <- r
	}()
	r := <-done
	if !errors.Is(r.createErr, ErrPermission) || !errors.Is(r.createErr, unix.EPERM) || !strings.Contains(r.createErr.Error(), "CAP_BPF") {
		t.Fatalf("CreateMap without CAP_BPF = %v; want ErrPermission naming CAP_BPF", r.createErr)
	}
	t.Log(r.createErr)
	if !testutil.KernelAtLeast(6, 1) {
		// Older kernels refuse every bpf(2) command without CAP_BPF when
		// unprivileged BPF is disabled (seen on 5.10; 6.1 allows writes
		// through a held fd, as every later kernel the VMs run).
		wantBatchError(t, r.n, r.updateErr, unix.EPERM, ErrPermission, 0, -1, "CAP_BPF")
		return
	}
	if v, err := lookupU64(t, m, 1); r.n != 1 || err != nil || v != 7 {
		t.Fatalf("UpdateBatch without CAP_BPF through an existing fd = %d, lookup %d, %v", r.n, v, err)
	}
}

// onThreadAs runs f on an OS thread of its own whose credentials are uid
// and gid, with no capabilities (setresuid from root drops them): what a
// process run as that user can do. The thread is never given back to the
// runtime.
func onThreadAs(t *testing.T, uid, gid int, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		// Raw syscalls change this thread only (syscall.Setuid changes all).
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); errno != 0 {
			done <- errno
			return
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); errno != 0 {
			done <- errno
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A user without write permission on a pin is told the pin's mode and
// owner, not that it lacks CAP_BPF; with the mode opened up (0666) the same
// user opens the map and, from Linux 6.1, writes it without any capability.
func TestOpenPinnedBlamesThePinsMode(t *testing.T) {
	testutil.RequireKernel(t)
	dir, err := os.MkdirTemp("", "bpfbatch-mode-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	pin := dir + "/conns"
	if err := m.Pin(pin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pin, 0o644); err != nil {
		t.Fatal(err)
	}
	var openErr error
	onThreadAs(t, 65534, 65534, func() { _, openErr = OpenPinned(pin) })
	for _, want := range []string{"the pin is mode 0644, owned by uid 0 gid 0", "this process (uid 65534, gid 65534) may not open it for reading and writing"} {
		if !strings.Contains(fmt.Sprint(openErr), want) || !errors.Is(openErr, ErrPermission) {
			t.Fatalf("OpenPinned as nobody of a 0644 pin = %v; want ErrPermission saying %q", openErr, want)
		}
	}
	if strings.Contains(openErr.Error(), "CAP_BPF") {
		t.Fatalf("the error blames CAP_BPF: %v", openErr)
	}
	if err := os.Chmod(pin, 0o666); err != nil {
		t.Fatal(err)
	}
	var n int
	var writeErr error
	onThreadAs(t, 65534, 65534, func() {
		var pinned *Map
		if pinned, openErr = OpenPinned(pin); openErr == nil {
			n, writeErr = pinned.UpdateBatch(u32s(1), u64s(2), UpdateAny)
			pinned.Close()
		}
	})
	disabled, _ := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	switch {
	case strings.TrimSpace(string(disabled)) != "0" && !testutil.KernelAtLeast(5, 11):
		// 5.10 refuses every bpf(2) command without CAP_BPF when
		// unprivileged BPF is disabled: then the capability is the cause.
		if !strings.Contains(fmt.Sprint(openErr), "lacks CAP_BPF") {
			t.Fatalf("kernel %s: OpenPinned as nobody of a 0666 pin = %v; want it to blame CAP_BPF", testutil.KernelRelease(), openErr)
		}
	case openErr != nil || writeErr != nil || n != 1:
		t.Fatalf("kernel %s: as nobody, a 0666 pin: OpenPinned = %v, UpdateBatch = %d, %v", testutil.KernelRelease(), openErr, n, writeErr)
	default:
		checkWritten(t, m, u32s(1), u64s(2), nil)
	}
}

// A process without CAP_BPF is not told anything about RLIMIT_MEMLOCK by
// RemoveMemlock: its probe cannot tell whether the kernel charges it.
func TestRemoveMemlockWithoutCapBPFSaysNothing(t *testing.T) {
	testutil.RequireKernel(t)
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_MEMLOCK, &orig) })
	memlock.Lock()
	memlock.known = false
	memlock.Unlock()
	var err error
	onThreadAs(t, 65534, 65534, func() { err = RemoveMemlock() })
	if err != nil {
		t.Fatalf("RemoveMemlock without CAP_BPF = %v; want nil (the probe cannot tell)", err)
	}
}

// A process whose capabilities are only those of a user namespace (unshare
// -U -r) is told so when it creates a map, not about RLIMIT_MEMLOCK: bpf(2)
// asks for CAP_BPF in the initial namespace. The child process runs this
// test again, in the namespace.
func TestCreateMapInAUserNamespaceBlamesTheNamespace(t *testing.T) {
	if os.Getenv("BPFBATCH_TEST_USERNS") == "1" {
		_, err := CreateMap(MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
		fmt.Println("CreateMap:", err)
		return
	}
	testutil.RequireKernel(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCreateMapInAUserNamespaceBlamesTheNamespace$")
	cmd.Env = append(os.Environ(), "BPFBATCH_TEST_USERNS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child in a user namespace: %v\n%s", err, out)
	}
	for _, want := range []string{"EPERM", "only inside a user namespace", `uid_map "0 65534 1"`} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("CreateMap in a user namespace said:\n%s\nwant %q", out, want)
		}
	}
	for _, wrong := range []string{"RLIMIT_MEMLOCK", "RemoveMemlock"} {
		if strings.Contains(string(out), wrong) {
			t.Fatalf("CreateMap in a user namespace blames %s:\n%s", wrong, out)
		}
	}
}
