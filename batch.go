package bpfbatch

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Whether a map has the kernel's batch commands: each call that has one
// (update, lookup, delete) uses it where the map type and kernel have it,
// and the matching per-element command elsewhere, with the same contract.

// SyscallPath says which bpf(2) commands serve a call on a map: the batch
// command, or one per-element command per element.
type SyscallPath uint32

// UpdatePath is the former name of SyscallPath.
//
// Deprecated: use SyscallPath; reads and deletes have paths too.
type UpdatePath = SyscallPath

const (
	pathUnknown SyscallPath = iota

	// BatchPath: one BPF_MAP_*_BATCH syscall per call.
	BatchPath

	// PerElementPath: one BPF_MAP_*_ELEM syscall per element, in order,
	// stopping at the first failure (reads walk with
	// BPF_MAP_GET_NEXT_KEY). Used for map types without the batch command
	// (ProgramArray, DevMap, Queue, ...; per-CPU arrays and LPM tries
	// before 5.13, map-in-map types before 5.19) and on kernels before 5.6.
	// It has the same contract as BatchPath, at one syscall per element.
	PerElementPath
)

// String returns "batch" or "per-element".
func (p SyscallPath) String() string {
	switch p {
	case BatchPath:
		return "batch"
	case PerElementPath:
		return "per-element"
	}
	return "unknown"
}

// UpdatePath reports how UpdateBatch writes this map with UpdateAny or
// UpdateLock: BatchPath, or PerElementPath where the map type or kernel has
// no BPF_MAP_UPDATE_BATCH. (UpdateNoExist and UpdateExist always go per
// element, because the kernel's batch command refuses them.)
//
// The answer comes from a count-0 BPF_MAP_UPDATE_BATCH on the map itself,
// made once: the kernel checks the fd, write permission and the map type's
// support before its count-0 shortcut, so nothing is written and no
// privilege beyond the map fd is needed. A map the process cannot write
// answers ErrPermission.
func (m *Map) UpdatePath() (SyscallPath, error) {
	return m.syscallPath(&m.updatePath, sys.MapUpdateBatch, cmdUpdateBatch)
}

// ReadPath reports how LookupBatch (and Count, Walk, Sync's walk) reads
// this map: BatchPath (BPF_MAP_LOOKUP_BATCH), or PerElementPath
// (BPF_MAP_GET_NEXT_KEY and BPF_MAP_LOOKUP_ELEM). It probes like
// UpdatePath.
func (m *Map) ReadPath() (SyscallPath, error) {
	return m.syscallPath(&m.readPath, sys.MapLookupBatch, cmdLookupBatch)
}

// DeletePath reports how DeleteBatch deletes from this map: BatchPath
// (BPF_MAP_DELETE_BATCH) or PerElementPath (BPF_MAP_DELETE_ELEM). It probes
// like UpdatePath.
func (m *Map) DeletePath() (SyscallPath, error) {
	return m.syscallPath(&m.deletePath, sys.MapDeleteBatch, cmdDeleteBatch)
}

func (m *Map) syscallPath(cached *atomic.Uint32, call func(*sys.MapBatchAttr) unix.Errno, cmd string) (SyscallPath, error) {
	return withFD(m, opProbe, func(fd *sys.FD) (SyscallPath, error) {
		p, errno := m.probeBatch(fd, cached, call)
		if errno != 0 {
			return pathUnknown, newMapError(opProbe, m.info.describe(), "", errno, m.elemHint(fd, cmd, errno, 0, -1)+" ("+cmd+")")
		}
		return p, nil
	})
}

// probeBatch reports whether the map has the batch command call (BatchPath)
// or must be served element by element, probing once with a count-0 call:
// the kernel checks the fd, permission and the type's support
// (bpf_map_do_batch answers 524 for a type without the command) before its
// count-0 shortcut, so nothing is read or written. A kernel before 5.6
// answers EINVAL (fd, permission and flags are fine: it is a map we opened,
// with flags 0). Another errno (EPERM on a read-only map, say) is returned
// and not cached.
func (m *Map) probeBatch(fd *sys.FD, cached *atomic.Uint32, call func(*sys.MapBatchAttr) unix.Errno) (SyscallPath, unix.Errno) {
	if p := SyscallPath(cached.Load()); p != pathUnknown {
		return p, 0
	}
	attr := newBatchAttr(fd, nil, nil, 0, 0)
	var p SyscallPath
	switch errno := call(&attr); errno {
	case 0:
		p = BatchPath
	case sys.ENOTSUPP, unix.EOPNOTSUPP, unix.EINVAL:
		p = PerElementPath
	default:
		return pathUnknown, errno
	}
	cached.Store(uint32(p))
	return p, 0
}

// perElement reports whether calls of the batch command call go element by
// element on this map. On a probe error (EPERM, ...) it says no, and the
// batch call reports the error in full.
func (m *Map) perElement(fd *sys.FD, cached *atomic.Uint32, call func(*sys.MapBatchAttr) unix.Errno) bool {
	p, errno := m.probeBatch(fd, cached, call)
	return errno == 0 && p == PerElementPath
}
