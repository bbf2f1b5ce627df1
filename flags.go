package bpfbatch

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Flags selects how an update treats keys that do or do not exist yet, and
// which CPUs' values of a per-CPU map a call touches. The values are the
// kernel's BPF_* element flags; OnCPU carries a CPU number in the upper 32
// bits, as the kernel takes it.
type Flags uint64

const (
	// UpdateAny creates new elements and overwrites existing ones (BPF_ANY).
	// This is the flag that goes through the kernel's batch command.
	UpdateAny Flags = unix.BPF_ANY

	// UpdateNoExist writes only keys that are not in the map yet
	// (BPF_NOEXIST); an existing key fails with ErrKeyExist, and on array
	// maps every key exists, so it always fails there.
	//
	// The kernel's BPF_MAP_UPDATE_BATCH refuses BPF_NOEXIST (EINVAL before
	// any element, whatever bpf.h says), so bpfbatch applies the elements in
	// order with one BPF_MAP_UPDATE_ELEM each and stops at the first failure:
	// same result and Processed count as a batch would give, but one syscall
	// per element.
	UpdateNoExist Flags = unix.BPF_NOEXIST

	// UpdateExist writes only keys that are already in the map (BPF_EXIST);
	// a missing key fails with ErrKeyNotExist. Like UpdateNoExist it costs
	// one BPF_MAP_UPDATE_ELEM per element, because the kernel's batch
	// command refuses it. On a Queue or Stack it makes a push into a full
	// map replace the oldest value.
	UpdateExist Flags = unix.BPF_EXIST

	// UpdateLock takes the bpf_spin_lock embedded in each value while the
	// value is copied (BPF_F_LOCK), for updates and lookups. The map's value
	// type must contain a struct bpf_spin_lock described by BTF, otherwise
	// the kernel answers EINVAL. The lock word of the values you pass is
	// ignored. It combines with any of the other flags.
	UpdateLock Flags = unix.BPF_F_LOCK

	// UpdateAllCPUs (BPF_F_ALL_CPUS, Linux 7.0) writes one value per element
	// to every possible CPU of a per-CPU map: values then hold one
	// value_size value per element, with no per-CPU slots and no padding.
	// Before Linux 7.0 bpfbatch lays each value out into every CPU's slot
	// itself (padding zeroed) and writes that: the same result. Updates
	// only; a map without per-CPU values refuses it before any syscall.
	UpdateAllCPUs Flags = 16
)

// flagCPU is BPF_F_CPU (Linux 7.0): the call touches only the CPU whose
// number is in the upper 32 bits of the flags. x/sys/unix lacks it.
const flagCPU Flags = 8

// OnCPU returns flags that make an update (UpdateBatch, UpdateBatchOf,
// UpdateBatchWith) or a lookup (LookupWith, LookupBatch) of a per-CPU map
// touch only CPU cpu's value (BPF_F_CPU, Linux 7.0+). Values then hold one
// value_size value per element: no per-CPU slots, no padding. Combine it
// with other flags using |, e.g. OnCPU(1)|UpdateNoExist.
//
// Before Linux 7.0 a call with OnCPU fails with ErrNotSupported and writes
// nothing: emulating it would be a read-modify-write of every CPU's value,
// racing the BPF programs that update the others. A CPU >= PossibleCPUs(),
// a map without per-CPU values, or OnCPU together with UpdateAllCPUs are
// refused before any syscall.
func OnCPU(cpu int) Flags {
	n := uint64(0xffffffff) // no CPU: refused by every check
	if cpu >= 0 && uint64(cpu) < n {
		n = uint64(cpu)
	}
	return flagCPU | Flags(n)<<32
}

// Bits of Flags.
const (
	perElementFlags = UpdateNoExist | UpdateExist // only BPF_MAP_UPDATE_ELEM honours them
	perCPUFlags     = flagCPU | UpdateAllCPUs
	knownFlags      = perElementFlags | UpdateLock | perCPUFlags
	cpuMask         = Flags(0xffffffff) << 32
)

// cpu returns the CPU of OnCPU flags.
func (f Flags) cpu() uint32 { return uint32(f >> 32) }

// onePerElement reports whether f makes a per-CPU map take one value_size
// value per element instead of one slot per CPU.
func (f Flags) onePerElement() bool { return f&perCPUFlags != 0 }

var flagNames = []struct {
	bit  Flags
	name string
}{
	{UpdateNoExist, "UpdateNoExist"},
	{UpdateExist, "UpdateExist"},
	{UpdateLock, "UpdateLock"},
	{UpdateAllCPUs, "UpdateAllCPUs"},
}

// String lists the set flags by their Go names, e.g.
// "UpdateExist|UpdateLock" or "OnCPU(3)"; unknown bits print in hex. The
// zero value prints "UpdateAny".
func (f Flags) String() string {
	if f == UpdateAny {
		return "UpdateAny"
	}
	var parts []string
	for _, fn := range flagNames {
		if f&fn.bit != 0 {
			parts = append(parts, fn.name)
		}
	}
	rest := f &^ (knownFlags | cpuMask)
	if f&flagCPU != 0 {
		parts = append(parts, "OnCPU("+strconv.FormatUint(uint64(f.cpu()), 10)+")")
	} else {
		rest |= f & cpuMask
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// Validate reports whether f is a combination the kernel could honour: no
// unknown bits, not UpdateNoExist with UpdateExist, not OnCPU with
// UpdateAllCPUs. Whether a map and an operation take f is checked by each
// call. The error wraps ErrInvalidFlags.
func (f Flags) Validate() error {
	if problem := f.problem(); problem != "" {
		return newMapError(opFlags, f.String(), "", ErrInvalidFlags, problem)
	}
	return nil
}

// problem says what is wrong with f on any map, or "".
func (f Flags) problem() string {
	rest := f &^ knownFlags
	if f&flagCPU != 0 {
		rest &^= cpuMask
	}
	switch {
	case rest != 0:
		return fmt.Sprintf("unknown bits %#x (use UpdateAny, UpdateNoExist, UpdateExist, UpdateLock, UpdateAllCPUs, OnCPU(n))", uint64(rest))
	case f&perElementFlags == perElementFlags:
		return "asks for keys that both must and must not exist; pick one"
	case f&perCPUFlags == perCPUFlags:
		return "OnCPU touches one CPU's value, UpdateAllCPUs every CPU's; pick one"
	}
	return ""
}

// checkFlags checks, before any syscall, that m and the operation op (a
// lookup when lookup is set) can take flags.
func (m *Map) checkFlags(op string, flags Flags, lookup bool) error {
	if problem := flags.problem(); problem != "" {
		return m.refuse(op, ErrInvalidFlags, "%s: %s", flags, problem)
	}
	if lookup && flags&(perElementFlags|UpdateAllCPUs) != 0 {
		return m.refuse(op, ErrInvalidFlags, "%s: lookups take UpdateLock and OnCPU only", flags)
	}
	if flags&perCPUFlags == 0 {
		return nil
	}
	if m.cpus == 0 {
		return m.refuse(op, ErrInvalidFlags, "%s applies to per-CPU maps (PerCPUHash, PerCPUArray, LRUPerCPUHash); this map has one value per element", flags)
	}
	if flags&flagCPU == 0 {
		return nil
	}
	if cpu := flags.cpu(); uint64(cpu) >= uint64(m.cpus) {
		return m.refuse(op, ErrInvalidFlags, "OnCPU(%d): this machine has %d possible CPUs, 0 to %d", cpu, m.cpus, m.cpus-1)
	}
	return nil
}
