package bpfbatch

import (
	"fmt"
	"strconv"
	"strings"
)

// Flags selects how UpdateBatch treats keys that do or do not exist yet. The
// values are the kernel's BPF_* update flags.
type Flags uint64

const (
	// UpdateAny creates new elements and overwrites existing ones (BPF_ANY).
	// This is the flag that goes through the kernel's batch command.
	UpdateAny Flags = 0

	// UpdateNoExist writes only keys that are not in the map yet
	// (BPF_NOEXIST); an existing key fails with ErrKeyExist, and on array
	// maps every key exists, so it always fails there.
	//
	// The kernel's BPF_MAP_UPDATE_BATCH refuses BPF_NOEXIST (EINVAL before
	// any element, whatever bpf.h says), so bpfbatch applies the elements in
	// order with one BPF_MAP_UPDATE_ELEM each and stops at the first failure:
	// same result and Processed count as a batch would give, but one syscall
	// (~0.5 µs) per element.
	UpdateNoExist Flags = 1

	// UpdateExist writes only keys that are already in the map (BPF_EXIST);
	// a missing key fails with ErrKeyNotExist. Like UpdateNoExist it costs
	// one BPF_MAP_UPDATE_ELEM per element, because the kernel's batch
	// command refuses it.
	UpdateExist Flags = 2

	// UpdateLock takes the bpf_spin_lock embedded in each value while the
	// value is copied in (BPF_F_LOCK). The map's value type must contain a
	// struct bpf_spin_lock described by BTF, otherwise the kernel answers
	// EINVAL. The lock word of the values you pass is ignored. It combines
	// with any of the flags above.
	UpdateLock Flags = 4
)

// knownFlags are the bits bpfbatch understands; any other bit is rejected
// before the syscall so that a typo never reaches a kernel that might one day
// give the bit a meaning.
const knownFlags = UpdateNoExist | UpdateExist | UpdateLock

// perElementFlags are the flags only BPF_MAP_UPDATE_ELEM honours.
const perElementFlags = UpdateNoExist | UpdateExist

var flagNames = []struct {
	bit  Flags
	name string
}{
	{UpdateNoExist, "UpdateNoExist"},
	{UpdateExist, "UpdateExist"},
	{UpdateLock, "UpdateLock"},
}

// String lists the set flags by their Go names, e.g. "UpdateExist|UpdateLock";
// unknown bits print in hex. The zero value prints "UpdateAny".
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
	if rest := f &^ knownFlags; rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// Validate reports whether the kernel could honour f: no unknown bits, and
// not UpdateNoExist and UpdateExist together. The error wraps ErrInvalidFlags.
func (f Flags) Validate() error {
	if rest := f &^ knownFlags; rest != 0 {
		return fmt.Errorf("%w: unknown bits %#x in %s (use UpdateAny, UpdateNoExist, UpdateExist, UpdateLock)", ErrInvalidFlags, uint64(rest), f)
	}
	if f&perElementFlags == perElementFlags {
		return fmt.Errorf("%w: %s asks for keys that both must and must not exist; pick one", ErrInvalidFlags, f)
	}
	return nil
}
