package bpfbatch

import (
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// RemoveMemlock lifts RLIMIT_MEMLOCK where the kernel still charges BPF map
// memory to it, and changes nothing elsewhere. Kernels before 5.11 count
// every map's memory against the locked-memory limit, which is 64 KiB by
// default even for root, so creating a map of a few thousand elements fails
// with EPERM; from 5.11 on, map memory is charged to the memory cgroup and
// the limit does not matter.
//
// Whether the kernel charges RLIMIT_MEMLOCK is probed, not read from the
// version string: once per process, RemoveMemlock (or a CreateMap refused
// with EPERM) lowers the soft limit to 0 for the moment of creating a
// one-element array (and if that is refused, raises it to the hard limit
// for one more) and restores it. When the probe cannot tell, RemoveMemlock
// lifts the limit anyway. A map created by another goroutine in
// that moment could fail, so call RemoveMemlock early, before creating maps.
// Raising the hard limit needs CAP_SYS_RESOURCE; without it RemoveMemlock
// raises the soft limit to the hard one and returns an error that says so.
func RemoveMemlock() error {
	memlock.Lock()
	memlock.removeCalled = true
	memlock.Unlock()
	charged, known, _ := memlockCharged()
	if known && !charged {
		return nil
	}
	unlimited := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unlimited)
	if err == nil {
		return nil
	}
	var cur unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &cur) == nil {
		cur.Cur = cur.Max
		unix.Setrlimit(unix.RLIMIT_MEMLOCK, &cur)
	}
	if !known {
		// Lifted as far as it goes, in case the kernel charges it; the
		// probe could not tell (no CAP_BPF), so there is nothing to report.
		return nil
	}
	return newMapError(opMemlock, "", "", err, fmt.Sprintf("this kernel charges BPF map memory to RLIMIT_MEMLOCK; lifting it needs CAP_SYS_RESOURCE, so it stays at the hard limit (%s)", memlockString(cur.Max)))
}

// memlockRemoveCalled reports whether RemoveMemlock was called.
func memlockRemoveCalled() bool {
	memlock.Lock()
	defer memlock.Unlock()
	return memlock.removeCalled
}

// memlockCharged reports whether this kernel charges map memory to
// RLIMIT_MEMLOCK (known false: the probe could not tell), and the current
// soft limit. Without CAP_BPF (on this thread: capabilities are per thread)
// every map creation fails, so the probe would conclude nothing: it waits
// for a caller that has the capability.
func memlockCharged() (charged, known bool, limit uint64) {
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &cur); err != nil || !hasBPFCapability() {
		return false, false, cur.Cur
	}
	charged, known = memlockProbe()
	return charged, known, cur.Cur
}

var memlock struct {
	sync.Mutex // one probe at a time: each sets and restores the limit
	known      bool
	charged    bool

	removeCalled bool // the caller has been told of RemoveMemlock already
}

// memlockProbe answers memlockCharged once it knows; a probe that could not
// tell is tried again by the next caller.
func memlockProbe() (charged, known bool) {
	memlock.Lock()
	defer memlock.Unlock()
	if !memlock.known {
		memlock.charged, memlock.known = probeMemlock()
	}
	return memlock.charged, memlock.known
}

// probeMemlock creates a one-element array with a soft limit of 0: a kernel
// that charges RLIMIT_MEMLOCK refuses it with EPERM, one that does not
// creates it. An EPERM also means no privilege at all (an LSM), so the
// probe then creates it once more with the soft limit at the hard one: not
// at the current soft limit, which may be the very one used up. EPERM at
// both says nothing.
func probeMemlock() (charged, known bool) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &orig); err != nil {
		return false, false
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &orig)
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: 0, Max: orig.Max}); err != nil {
		return false, false
	}
	switch createProbeMap() {
	case 0:
		return false, true
	case unix.EPERM:
	default:
		return false, false
	}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: orig.Max, Max: orig.Max}); err != nil {
		return false, false
	}
	if createProbeMap() == 0 {
		return true, true
	}
	return false, false
}

// createProbeMap creates and closes the smallest map there is.
func createProbeMap() unix.Errno {
	attr := sys.MapCreateAttr{MapType: uint32(Array), KeySize: 4, ValueSize: 4, MaxEntries: 1}
	fd, errno := sys.MapCreate(&attr)
	if errno == 0 {
		fd.Close()
	}
	return errno
}

// memlockString formats a limit in bytes as "64 KiB" or "unlimited".
func memlockString(limit uint64) string {
	if limit == unix.RLIM_INFINITY {
		return "unlimited"
	}
	if limit%1024 == 0 {
		return strconv.FormatUint(limit/1024, 10) + " KiB"
	}
	return strconv.FormatUint(limit, 10) + " bytes"
}
