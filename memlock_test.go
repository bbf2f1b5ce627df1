package bpfbatch

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

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

// Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK, even for root:
// a refused CreateMap says so, and RemoveMemlock lifts the limit. Elsewhere
// RemoveMemlock changes nothing.
func TestRemoveMemlock(t *testing.T) {
	testutil.RequireKernel(t)
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_MEMLOCK, &orig) })
	// Maps already held use up the low limit set below (the kernel charges
	// the user, not the call): the probe behind the hint must tell a
	// charging kernel even then. It once concluded "not charged" because
	// its own one-element map did not fit either (seen on 5.10).
	held, err := CreateMap(MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 14})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	memlock.Lock()
	memlock.known = false        // probe afresh, in this state
	memlock.removeCalled = false // as in a program that has not called it
	memlock.Unlock()
	low := unix.Rlimit{Cur: 64 << 10, Max: orig.Max} // 64 KiB: the default at boot
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &low); err != nil {
		t.Fatal(err)
	}
	big := MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 20}
	m, err := CreateMap(big)
	charges := !testutil.KernelAtLeast(5, 11)
	if charges {
		if err == nil || !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "RLIMIT_MEMLOCK (now 64 KiB)") || !strings.Contains(err.Error(), "RemoveMemlock") {
			t.Fatalf("kernel %s: CreateMap over RLIMIT_MEMLOCK = %v; want ErrPermission naming RLIMIT_MEMLOCK and RemoveMemlock", testutil.KernelRelease(), err)
		}
		if strings.Contains(err.Error(), "CAP_BPF") {
			t.Fatalf("root was told to get CAP_BPF: %v", err)
		}
	} else {
		if err != nil {
			t.Fatalf("kernel %s: CreateMap with RLIMIT_MEMLOCK 64 KiB = %v; want success (memcg accounting)", testutil.KernelRelease(), err)
		}
		m.Close()
	}
	if err := RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	var now unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &now); err != nil {
		t.Fatal(err)
	}
	if want := map[bool]uint64{true: unix.RLIM_INFINITY, false: low.Cur}[charges]; now.Cur != want {
		t.Fatalf("kernel %s: RLIMIT_MEMLOCK after RemoveMemlock = %d, want %d", testutil.KernelRelease(), now.Cur, want)
	}
	m, err = CreateMap(big)
	if err != nil {
		t.Fatalf("CreateMap after RemoveMemlock = %v", err)
	}
	m.Close()
}
