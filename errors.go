package bpfbatch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Sentinel errors. A *BatchError unwraps to one of these and to the raw
// unix.Errno, so errors.Is(err, ErrKeyExist) and errors.Is(err, unix.EEXIST)
// both hold.
var (
	// ErrKeyExist: UpdateNoExist hit a key that is already in the map
	// (EEXIST). On array maps every index exists, so it always fails there.
	ErrKeyExist = errors.New("key already exists")

	// ErrKeyNotExist: UpdateExist hit a missing key, or Lookup found none
	// (ENOENT).
	ErrKeyNotExist = errors.New("key does not exist")

	// ErrMapFull: a hash map reached max_entries or an array index is
	// >= max_entries (E2BIG), or an LPM trie is full (ENOSPC).
	ErrMapFull = errors.New("map full or index out of range")

	// ErrNotSupported: the map type or kernel lacks the operation
	// (ENOTSUPP 524, which leaks from the kernel, or EOPNOTSUPP).
	ErrNotSupported = errors.New("operation not supported by this map type or kernel")

	// ErrPermission: bpf(2) needs CAP_BPF (or root), or the map is
	// read-only or frozen (EPERM, EACCES).
	ErrPermission = errors.New("permission denied")

	// ErrClosed: the Map was closed.
	ErrClosed = errors.New("map closed")

	// ErrInvalidFlags: unknown flag bits, or UpdateNoExist|UpdateExist.
	// Returned before any syscall.
	ErrInvalidFlags = errors.New("invalid update flags")

	// ErrInvalidType: UpdateBatchOf was given a key or value type the
	// kernel cannot copy as raw bytes (it contains pointers). Returned
	// before any syscall.
	ErrInvalidType = errors.New("type cannot be copied to a BPF map")
)

// sentinelFor maps an errno from a map element operation to its sentinel,
// or nil when no sentinel fits (the errno still unwraps).
func sentinelFor(errno unix.Errno) error {
	switch errno {
	case unix.EEXIST:
		return ErrKeyExist
	case unix.ENOENT:
		return ErrKeyNotExist
	case unix.E2BIG, unix.ENOSPC:
		return ErrMapFull
	case sys.ENOTSUPP, unix.EOPNOTSUPP:
		return ErrNotSupported
	case unix.EPERM, unix.EACCES:
		return ErrPermission
	}
	return nil
}

// errnoName is the errno's C name, e.g. "E2BIG"; 524 has none in x/sys/unix.
func errnoName(errno unix.Errno) string {
	switch errno {
	case sys.ENOTSUPP:
		return "ENOTSUPP"
	case unix.EOPNOTSUPP:
		return "EOPNOTSUPP" // x/sys/unix calls it by its alias ENOTSUP
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(int(errno))
}

// Range is a half-open range [Start, End) of element indices.
type Range struct{ Start, End int }

// BatchError is the error of a failed bpf(2) call on a map element
// operation. It unwraps to the matching sentinel (ErrMapFull, ...) and to
// Errno.
type BatchError struct {
	// Op is the bpf(2) command that failed: "BPF_MAP_UPDATE_BATCH",
	// "BPF_MAP_UPDATE_ELEM" (the per-element path) or "BPF_MAP_LOOKUP_ELEM".
	Op string
	// Map describes the map the call was for.
	Map MapInfo
	// Flags are the update flags of the call.
	Flags Flags
	// Requested is the number of elements the call was asked to write.
	Requested int
	// Processed is the number of elements written before the failure. For a
	// sequential update they are exactly elements [0, Processed).
	Processed int
	// Index is the element that failed, or -1 when the kernel refused the
	// call as a whole before touching any element.
	Index int
	// Errno is the raw errno from bpf(2).
	Errno unix.Errno
	// Written lists the element ranges written when updates ran in
	// parallel (UpdateBatchWith with Workers > 1); nil otherwise, where
	// [0, Processed) says the same.
	Written []Range
	// Cause is set instead of Errno when UpdateBatchWith stopped without a
	// kernel error: ctx.Err(), or ErrClosed.
	Cause error

	// Hint says what the errno means for this map and what to do, e.g.
	// "the trie already holds max_entries (2) prefixes". Error includes it.
	Hint string
}

// Error names the map, the operation, the failing element and the cause,
// e.g. `bpfbatch: BPF_MAP_UPDATE_BATCH on Hash map "conns" (id 7): element
// 2: E2BIG: map full or index out of range: the hash map holds max_entries
// (2) elements; 2 of 3 elements written`.
func (e *BatchError) Error() string {
	var b strings.Builder
	b.WriteString("bpfbatch: ")
	b.WriteString(e.Op)
	b.WriteString(" on ")
	b.WriteString(e.Map.describe())
	if e.Index >= 0 {
		fmt.Fprintf(&b, ": element %d", e.Index)
	}
	if e.Cause != nil {
		b.WriteString(": stopped: ")
		b.WriteString(e.Cause.Error())
		e.writeWritten(&b)
		return b.String()
	}
	b.WriteString(": ")
	b.WriteString(errnoName(e.Errno))
	b.WriteString(": ")
	if s := sentinelFor(e.Errno); s != nil {
		b.WriteString(s.Error())
	} else {
		b.WriteString(e.Errno.Error())
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	if e.Op != opLookup {
		e.writeWritten(&b)
	}
	return b.String()
}

func (e *BatchError) writeWritten(b *strings.Builder) {
	fmt.Fprintf(b, "; %d of %d elements written", e.Processed, e.Requested)
	if len(e.Written) > 0 {
		b.WriteString(" (")
		for i, r := range e.Written {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "[%d,%d)", r.Start, r.End)
		}
		b.WriteString(")")
	}
}

// Unwrap returns the sentinel matching Errno (if any) and Errno itself, or
// Cause.
func (e *BatchError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Cause}
	}
	if s := sentinelFor(e.Errno); s != nil {
		return []error{s, e.Errno}
	}
	return []error{e.Errno}
}

// SizeError is returned before any syscall when a buffer does not match the
// map's layout. Nothing is written.
type SizeError struct {
	// Buffer is "keys" or "values".
	Buffer string
	// Got is the number of bytes given.
	Got int
	// Want is the number of bytes required; for keys, the length must be a
	// multiple of Want (the key size).
	Want int

	// Op is the operation, e.g. "update batch".
	Op string
	// Map describes the map.
	Map MapInfo
	// Elements is the element count the keys imply (for values errors).
	Elements int
	// CPUs is the number of possible CPUs for per-CPU maps, else 0.
	CPUs int
	// Type is the Go type given to UpdateBatchOf, when the error is about
	// its size; Got and Want are then the type's size and the map's.
	Type string
	// Entry is the size of one typed value (UpdateBatchOf on a per-CPU map,
	// one entry per CPU per element), when the count of entries is wrong.
	Entry int
}

// Error states the layout the map needs, e.g. `values: got 32 bytes, want
// 64 = 4 elements x 2 possible CPUs x 8`.
func (e *SizeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bpfbatch: %s on %s: %s: ", e.Op, e.Map.describe(), e.Buffer)
	switch {
	case e.Type != "":
		what := "key_size"
		if e.Buffer == "values" {
			what = "value_size"
			if e.CPUs > 0 {
				what = "value_size (or its 8-byte-rounded per-CPU slot)"
			}
		}
		fmt.Fprintf(&b, "type %s is %d bytes, map %s is %d", e.Type, e.Got, what, e.Want)
	case e.Entry > 0 && e.Elements > 0:
		fmt.Fprintf(&b, "got %d entries, want %d = %d elements x %d possible CPUs (one %d-byte value per CPU per element, element-major)",
			e.Got/e.Entry, e.Want/e.Entry, e.Elements, e.CPUs, e.Entry)
	case e.Entry > 0:
		fmt.Fprintf(&b, "got %d entries, want a multiple of %d possible CPUs (one value per CPU per element)", e.Got/e.Entry, e.CPUs)
	case e.Buffer == "keys" && e.Map.KeySize == 0:
		fmt.Fprintf(&b, "got %d bytes, want none: %s maps have no keys (key_size 0); pass nil keys and the count comes from values", e.Got, e.Map.Type)
	case e.Buffer == "keys":
		fmt.Fprintf(&b, "got %d bytes, want a multiple of key_size %d (%d whole keys and %d bytes left over)", e.Got, e.Want, e.Got/e.Want, e.Got%e.Want)
	case e.Map.KeySize == 0:
		fmt.Fprintf(&b, "got %d bytes, want a multiple of %d (one value per element", e.Got, e.Want)
		if e.CPUs > 0 {
			fmt.Fprintf(&b, ": %d possible CPUs x %d", e.CPUs, slotSize(e.Map.ValueSize))
		}
		b.WriteString(")")
	case e.CPUs > 0:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d elements x %d possible CPUs x %d (value_size %d rounded up to 8 per CPU slot, element-major: all CPUs of element 0, then element 1, ...)",
			e.Got, e.Want, e.Elements, e.CPUs, slotSize(e.Map.ValueSize), e.Map.ValueSize)
	default:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d elements x value_size %d", e.Got, e.Want, e.Elements, e.Map.ValueSize)
	}
	return b.String()
}

// hint explains errno for this map in words a user can act on. index is the
// failing element, or -1 when the kernel refused the whole call.
func (m *Map) hint(errno unix.Errno, flags Flags, index int) string {
	t := m.info.Type
	switch errno {
	case unix.EPERM, unix.EACCES:
		return m.permissionHint()
	case unix.E2BIG:
		switch t {
		case Array, PerCPUArray, ArrayOfMaps, ProgramArray, PerfEventArray, CgroupArray, DevMap, CPUMap, XSKMap, SockMap:
			return fmt.Sprintf("the key is an index >= max_entries (%d)", m.info.MaxEntries)
		}
		return fmt.Sprintf("the map already holds max_entries (%d) elements; delete some, use an LRU map, or create it larger", m.info.MaxEntries)
	case unix.ENOSPC:
		return fmt.Sprintf("the trie already holds max_entries (%d) prefixes", m.info.MaxEntries)
	case unix.EEXIST:
		if t == Array || t == PerCPUArray || t == ArrayOfMaps {
			return "UpdateNoExist: every index of an array map exists"
		}
		return "UpdateNoExist: the key is already in the map"
	case unix.ENOENT:
		if flags&UpdateExist != 0 {
			return "UpdateExist: the key is not in the map"
		}
		return "the key is not in the map"
	case sys.ENOTSUPP, unix.EOPNOTSUPP:
		return fmt.Sprintf("%s maps do not support this operation from user space", t)
	case unix.EBADF:
		if t == ArrayOfMaps || t == HashOfMaps {
			return "the value must be the fd (u32) of an open inner map"
		}
		return "the file descriptor is not open"
	case unix.EINVAL:
		switch {
		case index < 0 && flags&UpdateLock != 0:
			return "UpdateLock needs a struct bpf_spin_lock in the map's value type, described by BTF; this map's value has none"
		case index < 0:
			return "the kernel refused the call (flags this kernel does not know?)"
		case t == LPMTrie:
			return fmt.Sprintf("the key's prefixlen (first 4 bytes) exceeds the %d data bits of key_size %d", 8*(int(m.info.KeySize)-4), m.info.KeySize)
		case t == ArrayOfMaps || t == HashOfMaps:
			return "the value must be the fd of a map compatible with the inner map (same type, key and value size)"
		}
		return "the kernel rejected the element"
	case unix.EFAULT:
		return "the kernel could not read the keys or values"
	case unix.EBUSY, unix.EAGAIN:
		return "a BPF program held the bucket lock on this CPU; retry"
	case unix.ENOMEM:
		return "the kernel ran out of memory for the element"
	}
	return ""
}

// permissionHint says which privilege an EPERM/EACCES lacked. bpf(2) cannot
// tell us, so it looks at what it can: the fd's access mode and the map's
// flags, then names the remaining causes.
func (m *Map) permissionHint() string {
	// BPF_F_RDONLY is an fd flag, not kept in map_flags: the fd mode tells.
	if fl, err := unix.FcntlInt(uintptr(m.fd), unix.F_GETFL, 0); err == nil && fl&unix.O_ACCMODE == unix.O_RDONLY {
		return "this map fd is read-only: the map was created with BPF_F_RDONLY, or a pinned map was opened read-only; user space cannot write through it"
	}
	if !hasBPFCapability() {
		return "the process lacks CAP_BPF (and CAP_SYS_ADMIN): run as root or grant CAP_BPF"
	}
	return "the map is frozen (BPF_MAP_FREEZE) and read-only to user space, or a security module (LSM) denied bpf(2)"
}

// hasBPFCapability reports whether the calling thread has CAP_BPF or
// CAP_SYS_ADMIN in its effective set: what bpf(2) asks for when unprivileged
// BPF is disabled (kernel.unprivileged_bpf_disabled).
func hasBPFCapability() bool {
	const capSysAdmin, capBPF = 21, 39
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return true // unknown: do not blame capabilities
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return has(capBPF) || has(capSysAdmin)
}
