package bpfbatch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

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
	if testutil.UnprivilegedBPFRefusesAll() {
		wantBatchError(t, r.n, r.updateErr, unix.EPERM, ErrPermission, 0, -1, "CAP_BPF")
		return
	}
	if v, err := lookupU64(t, m, 1); r.n != 1 || err != nil || v != 7 {
		t.Fatalf("UpdateBatch without CAP_BPF through an existing fd = %d, lookup %d, %v", r.n, v, err)
	}
}

// A user without write permission on a pin is told the pin's mode and
// owner, not that it lacks CAP_BPF; with the mode opened up (0666) the same
// user opens the map and, from Linux 6.1, writes it without any capability.
func TestOpenPinnedBlamesThePinsMode(t *testing.T) {
	testutil.RequireKernel(t)
	dir := testutil.MountBPFFS(t)
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
	// Where the kernel asks for CAP_BPF for every command (before 5.19,
	// with unprivileged BPF disabled), both causes are named; elsewhere the
	// capability is not one.
	if blames := strings.Contains(openErr.Error(), "CAP_BPF"); blames != testutil.UnprivilegedBPFRefusesAll() {
		t.Fatalf("kernel %s: the error names CAP_BPF: %v; want %v", testutil.KernelRelease(), blames, !blames)
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
	switch {
	case testutil.UnprivilegedBPFRefusesAll():
		// Then the capability is the cause.
		if !strings.Contains(fmt.Sprint(openErr), "lacks CAP_BPF") {
			t.Fatalf("kernel %s: OpenPinned as nobody of a 0666 pin = %v; want it to blame CAP_BPF", testutil.KernelRelease(), openErr)
		}
	case openErr != nil || writeErr != nil || n != 1:
		t.Fatalf("kernel %s: as nobody, a 0666 pin: OpenPinned = %v, UpdateBatch = %d, %v", testutil.KernelRelease(), openErr, n, writeErr)
	default:
		checkWritten(t, m, u32s(1), u64s(2), nil)
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

// Hints name the cause that fits the map and the call.
func TestHintsFitTheCall(t *testing.T) {
	t.Run("full queue", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Queue, ValueSize: 4, MaxEntries: 2})
		n, err := m.UpdateBatch(nil, u32s(1, 2, 3), UpdateAny)
		wantBatchError(t, n, err, unix.E2BIG, ErrMapFull, 2, 2, "pop some first", "UpdateExist")
		if strings.Contains(err.Error(), "LRU") {
			t.Fatalf("a full queue is not helped by an LRU map: %v", err)
		}
	})
	t.Run("lock with a per-element flag, no spin lock", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateNoExist|UpdateLock)
		wantBatchError(t, n, err, unix.EINVAL, nil, 0, 0, "needs a struct bpf_spin_lock")
	})
	t.Run("lookup through a write-only fd", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_WRONLY})
		if n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateAny); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		err := m.Lookup(u32s(1), make([]byte, 8))
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "write-only") || strings.Contains(err.Error(), "1 element") {
			t.Fatalf("Lookup through a write-only fd = %v", err)
		}
	})
}
