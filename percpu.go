package bpfbatch

import (
	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Per-CPU values. A per-CPU map (PerCPUHash, PerCPUArray, LRUPerCPUHash)
// holds one value per possible CPU for each element; a values buffer holds
// them element-major in slots of value_size rounded up to 8 bytes
// (bpf_percpu_*_copy), or, with OnCPU or UpdateAllCPUs, one value_size
// value per element.

// slotSize is the bytes one CPU's copy of a value takes in a per-CPU buffer.
func slotSize(valueSize uint32) int { return (int(valueSize) + 7) &^ 7 }

// strideFor is the bytes per element of a values buffer for a call with
// flags: computed once, when the map is opened (m.stride), and value_size
// for a per-CPU map with OnCPU or UpdateAllCPUs.
func (m *Map) strideFor(flags Flags) int {
	if m.cpus > 0 && flags.onePerElement() {
		return int(m.info.ValueSize)
	}
	return m.stride
}

// layout is how a values buffer lays out its elements.
type layout uint8

const (
	// kernelLayout: as the kernel takes them for the call's flags.
	kernelLayout layout = iota
	// unpaddedPerCPU: one value_size value per CPU per element, which
	// typed values of a per-CPU map with value_size not a multiple of 8
	// give; they are copied into 8-byte slots before the kernel sees them.
	unpaddedPerCPU
)

// srcStride is the bytes per element of a values buffer in lay for flags.
func (m *Map) srcStride(flags Flags, lay layout) int {
	if lay == unpaddedPerCPU {
		return m.cpus * int(m.info.ValueSize)
	}
	return m.strideFor(flags)
}

// padInto lays n elements of unpadded per-CPU values (value_size bytes per
// CPU) out in dst with 8-byte slots, zeroing the padding: the kernel stores
// padding bytes too, so stale scratch bytes must never reach a map.
func (m *Map) padInto(dst, src []byte, n int) {
	vs, slot := int(m.info.ValueSize), slotSize(m.info.ValueSize)
	for e := range n * m.cpus {
		copy(dst[e*slot:e*slot+vs], src[e*vs:(e+1)*vs])
		clear(dst[e*slot+vs : (e+1)*slot])
	}
}

// spreadInto lays n values (value_size bytes each) out in dst, each into
// every CPU's slot of its element, padding zeroed: what BPF_F_ALL_CPUS does
// in the kernel.
func (m *Map) spreadInto(dst, src []byte, n int) {
	vs, slot := int(m.info.ValueSize), slotSize(m.info.ValueSize)
	for i := range n {
		v := src[i*vs : (i+1)*vs]
		for c := range m.cpus {
			e := i*m.cpus + c
			copy(dst[e*slot:e*slot+vs], v)
			clear(dst[e*slot+vs : (e+1)*slot])
		}
	}
}

// unpadInto copies n elements of per-CPU values in the kernel's layout
// (src) into dst with one value_size value per CPU, dropping the padding:
// what typed values of a per-CPU map with value_size not a multiple of 8
// hold.
func (m *Map) unpadInto(dst, src []byte, n int) {
	vs, slot := int(m.info.ValueSize), slotSize(m.info.ValueSize)
	for e := range n * m.cpus {
		copy(dst[e*vs:(e+1)*vs], src[e*slot:e*slot+vs])
	}
}

// scratchLimit bounds the scratch buffer a Map keeps for re-laid-out
// values. Batches of 64 elements and more already get nearly all of the
// batch command's gain, so working in chunks of this size costs nothing
// measurable.
const scratchLimit = 1 << 20

// takeScratch returns a buffer of n bytes for re-laid-out values: the Map's
// own, reused across calls, or, while another call uses that one, a buffer
// of its own rather than serialise the callers. Pass owned to giveScratch.
func (m *Map) takeScratch(n int) (buf []byte, owned bool) {
	if !m.scratchMu.TryLock() {
		return make([]byte, n), false
	}
	if len(m.scratch) < n {
		m.scratch = make([]byte, n)
	}
	return m.scratch[:n], true
}

// giveScratch ends the use of a buffer from takeScratch.
func (m *Map) giveScratch(owned bool) {
	if owned {
		m.scratchMu.Unlock()
	}
}

// cpuFlags states.
const (
	cpuFlagsNative = 1 // BPF_F_CPU and BPF_F_ALL_CPUS work (Linux 7.0+)
	cpuFlagsAbsent = 2
)

// nativeCPUFlags reports whether the kernel takes BPF_F_CPU and
// BPF_F_ALL_CPUS for this per-CPU map, probing once with count-0 batch
// calls that write nothing: the kernel checks the flags before its count-0
// shortcut (check_map_flags in generic_map_update_batch). A read-only fd
// cannot probe with an update, so it probes with a lookup. A map type with
// no batch command (524) predates the flags too: Linux 7.0 has batch
// commands for every per-CPU map type that takes them.
func (m *Map) nativeCPUFlags(fd *sys.FD) bool {
	switch m.cpuFlags.Load() {
	case cpuFlagsNative:
		return true
	case cpuFlagsAbsent:
		return false
	}
	attr := newBatchAttr(fd, nil, nil, 0, UpdateAllCPUs)
	errno := sys.MapUpdateBatch(&attr)
	if errno == unix.EPERM || errno == unix.EACCES {
		attr = newBatchAttr(fd, nil, nil, 0, OnCPU(0))
		errno = sys.MapLookupBatch(&attr)
	}
	switch errno {
	case 0:
		m.cpuFlags.Store(cpuFlagsNative)
		return true
	case unix.EINVAL, sys.ENOTSUPP, unix.EOPNOTSUPP:
		m.cpuFlags.Store(cpuFlagsAbsent)
	}
	return false
}

// checkOnCPU refuses OnCPU on a kernel without BPF_F_CPU. It is the last
// check before a call's syscalls, as it may probe the kernel.
func (m *Map) checkOnCPU(fd *sys.FD, op string, flags Flags) error {
	if flags&flagCPU == 0 || m.nativeCPUFlags(fd) {
		return nil
	}
	return m.refuse(op, ErrNotSupported, "OnCPU needs BPF_F_CPU (Linux 7.0), which this kernel lacks; nothing was done. Pass every CPU's value instead (ValueStride bytes per element), or UpdateAllCPUs for one value on every CPU")
}
