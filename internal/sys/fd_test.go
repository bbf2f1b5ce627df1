package sys

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// The bpf API reads fd 0 as "none" (inner_map_fd, btf_fd), so an FD is
// never 0: NewFD moves a descriptor that landed on 0 (stdin closed) up.
func TestNewFDMovesOffZero(t *testing.T) {
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Dup2(saved, 0)
		unix.Close(saved)
	}()
	devnull, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup2(devnull, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(devnull)

	fd, err := NewFD(0)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if fd.Int() == 0 {
		t.Fatal("NewFD(0) kept fd 0")
	}
	if _, err := unix.FcntlInt(0, unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("fd 0 after NewFD(0): %v, want closed (EBADF)", err)
	}
	if fl, err := unix.FcntlInt(uintptr(fd.Int()), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		t.Fatalf("moved fd flags %#x, %v; want FD_CLOEXEC", fl, err)
	}
}

func TestFDCloseOnce(t *testing.T) {
	raw, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := NewFD(raw)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := fd.Dup()
	if err != nil || dup.Int() == raw || dup.Int() == 0 {
		t.Fatalf("Dup = %v, %v", dup, err)
	}
	defer dup.Close()
	if err := fd.Close(); err != nil {
		t.Fatal(err)
	}
	// A second Close must not close whatever reuses the number.
	reuse, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(reuse)
	if err := fd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(reuse), unix.F_GETFD, 0); err != nil {
		t.Fatalf("second Close closed fd %d: %v", reuse, err)
	}
	if _, err := NewFD(-1); err == nil {
		t.Fatal("NewFD(-1) succeeded")
	}
}

// A Fake answers only for its fd, sees the attr bytes, and can write back.
func TestInjectFakeRoutesByFD(t *testing.T) {
	const fakeFD = 1 << 20 // a number no real descriptor has here
	var seen []int
	remove := InjectFake(fakeFD, func(cmd int, attr []byte) (uintptr, unix.Errno) {
		seen = append(seen, cmd)
		binary.NativeEndian.PutUint32(attr[32:], 7) // count write-back
		return 0, unix.E2BIG
	})
	attr := MapBatchAttr{MapFD: fakeFD, Count: 9}
	if errno := MapUpdateBatch(&attr); errno != unix.E2BIG || attr.Count != 7 {
		t.Fatalf("faked call = %v, count %d", errno, attr.Count)
	}
	remove()
	// Now the kernel answers (EBADF; ENOSYS under qemu-user), not the fake.
	if errno := MapUpdateBatch(&attr); errno == unix.E2BIG || errno == 0 {
		t.Fatalf("call after remove = %v, want the kernel's answer for a closed fd", errno)
	}
	if len(seen) != 1 || seen[0] != unix.BPF_MAP_UPDATE_BATCH {
		t.Fatalf("fake saw %v", seen)
	}
	remove() // idempotent
	if faking.Load() != 0 {
		t.Fatalf("faking = %d after removal", faking.Load())
	}
}
