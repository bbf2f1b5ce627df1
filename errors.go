package bpfbatch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Sentinel errors. The errors bpfbatch returns unwrap to one of these and to
// the raw unix.Errno, so errors.Is(err, ErrKeyExist) and
// errors.Is(err, unix.EEXIST) both hold.
var (
	// ErrKeyExist: UpdateNoExist hit a key that is already in the map
	// (EEXIST). On array maps every index exists, so it always fails there.
	ErrKeyExist = errors.New("key already exists")

	// ErrKeyNotExist: UpdateExist or a delete hit a missing key, or a lookup
	// found none (ENOENT).
	ErrKeyNotExist = errors.New("key does not exist")

	// ErrMapFull: a hash map reached max_entries or an array index is
	// >= max_entries (E2BIG), or an LPM trie is full (ENOSPC).
	ErrMapFull = errors.New("map full or index out of range")

	// ErrNotSupported: the map type or kernel lacks the operation
	// (ENOTSUPP 524, which leaks from the kernel, or EOPNOTSUPP), or a
	// per-CPU flag this kernel does not have.
	ErrNotSupported = errors.New("operation not supported by this map type or kernel")

	// ErrPermission: bpf(2) needs CAP_BPF (or root), the map or its fd is
	// read-only (or write-only, for reads) or frozen, or, before Linux 5.11,
	// the map's memory exceeds RLIMIT_MEMLOCK (EPERM, EACCES).
	ErrPermission = errors.New("permission denied")

	// ErrClosed: the Map was closed.
	ErrClosed = errors.New("map closed")

	// ErrInvalidFlags: unknown flag bits, flags that exclude each other, or
	// flags the operation or map cannot take. Returned before any syscall.
	ErrInvalidFlags = errors.New("invalid flags")

	// ErrInvalidArgument: a call refused before any syscall for a reason
	// that is not a size (*SizeError), a flag (ErrInvalidFlags) or a type
	// (ErrInvalidType): a nil or foreign Cursor, a negative Workers, Chunk
	// or Batch, a count above the kernel's u32, duplicate keys given to
	// Sync, an array index or LPM prefix length the map cannot hold, empty
	// input to Sync without AllowEmpty. Nothing was written.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrEvicted: a call that promised a map's contents (Sync) found,
	// verifying afterwards, that the kernel evicted some of what it wrote:
	// LRU maps evict before they are full. The error says how many input
	// keys are missing.
	ErrEvicted = errors.New("evicted by the kernel")

	// ErrInvalidType: UpdateBatchOf was given a key or value type the
	// kernel cannot copy as raw bytes: it holds pointers.
	// Returned before any syscall.
	ErrInvalidType = errors.New("type cannot be copied to a BPF map")
)

// errnoTable is the one mapping from errno to sentinel, for element
// operations (update, lookup, delete) and for operations on a map as a
// whole (create, open, pin). Errnos not listed still unwrap as themselves,
// and a unix.Errno matches fs.ErrNotExist and friends on its own.
var errnoTable = []struct {
	errno        unix.Errno
	name         string // where x/sys/unix has no name, or another one
	elem, object error
}{
	{errno: unix.EEXIST, elem: ErrKeyExist},
	{errno: unix.ENOENT, elem: ErrKeyNotExist},
	{errno: unix.E2BIG, elem: ErrMapFull},
	{errno: unix.ENOSPC, elem: ErrMapFull},
	{errno: sys.ENOTSUPP, name: "ENOTSUPP", elem: ErrNotSupported, object: ErrNotSupported},
	{errno: unix.EOPNOTSUPP, name: "EOPNOTSUPP", elem: ErrNotSupported, object: ErrNotSupported}, // x/sys says ENOTSUP
	{errno: unix.EPERM, elem: ErrPermission, object: ErrPermission},
	{errno: unix.EACCES, elem: ErrPermission, object: ErrPermission},
}

// sentinelFor returns errno's sentinel for element operations (elem) or for
// operations on a whole map, or nil.
func sentinelFor(errno unix.Errno, elem bool) error {
	for _, e := range errnoTable {
		if e.errno == errno {
			if elem {
				return e.elem
			}
			return e.object
		}
	}
	return nil
}

// errnoName is the errno's C name, e.g. "E2BIG".
func errnoName(errno unix.Errno) string {
	for _, e := range errnoTable {
		if e.errno == errno && e.name != "" {
			return e.name
		}
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(int(errno))
}

// writeErrno writes the errno's name and what it means here: the hint,
// which says it for this map and call, else the sentinel's words, else the
// errno's, e.g. "E2BIG: the hash map holds max_entries (2) elements".
func writeErrno(b *strings.Builder, errno unix.Errno, elem bool, hint string) {
	b.WriteString(errnoName(errno))
	b.WriteString(": ")
	switch s := sentinelFor(errno, elem); {
	case hint != "":
		b.WriteString(hint)
	case s != nil:
		b.WriteString(s.Error())
	default:
		b.WriteString(errno.Error())
	}
}

// unwrapErrno is the Unwrap of an errno-carrying error: its sentinel, then
// the errno.
func unwrapErrno(errno unix.Errno, elem bool) []error {
	if s := sentinelFor(errno, elem); s != nil {
		return []error{s, errno}
	}
	return []error{errno}
}

// Range is a half-open range [Start, End) of element indices.
type Range struct{ Start, End int }

// BatchError is the error of a failed bpf(2) call on map elements: an
// update, lookup or delete, batched or per element. It unwraps to the
// matching sentinel (ErrMapFull, ...) and to Errno, or to Cause.
type BatchError struct {
	// Op is the bpf(2) command that failed, e.g. "BPF_MAP_UPDATE_BATCH",
	// "BPF_MAP_UPDATE_ELEM" (the per-element path) or
	// "BPF_MAP_LOOKUP_ELEM"; or the method, when Cause is set.
	Op string
	// Map describes the map the call was for.
	Map MapInfo
	// Flags are the flags of the call.
	Flags Flags
	// Requested is the number of elements the call was asked for.
	Requested int
	// Processed is the number of elements done before the failure. For a
	// sequential call they are exactly elements [0, Processed).
	Processed int
	// Index is the element that failed, counted in the caller's call, or
	// -1 when the kernel refused the call as a whole before touching any
	// element (permission, flags, map type).
	Index int
	// Errno is the raw errno from bpf(2).
	Errno unix.Errno
	// Written lists the element ranges written when updates ran in
	// parallel (UpdateBatchWith with Workers > 1); nil otherwise, where
	// [0, Processed) says the same.
	Written []Range
	// Cause is set instead of Errno when a chunked call stopped without a
	// kernel error: ctx.Err(), or ErrClosed.
	Cause error

	// Hint says what the errno means for this map and what to do, e.g.
	// "the trie already holds max_entries (2) prefixes". Error includes it.
	Hint string

	single bool // a one-element call (Lookup): no count to report
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
	b.WriteString(": ")
	if e.Cause != nil {
		b.WriteString("stopped: ")
		b.WriteString(e.Cause.Error())
	} else {
		writeErrno(&b, e.Errno, true, e.Hint)
	}
	if !e.single && e.Requested > 0 {
		fmt.Fprintf(&b, "; %d of %s %s", e.Processed, plural(e.Requested, "element"), doneVerb(e.Op))
		writeRanges(&b, e.Written)
	}
	return b.String()
}

// doneVerb says what Processed counts for op.
func doneVerb(op string) string {
	switch op {
	case opLookupBatch, opLookupElem, opGetNextKey:
		return "read"
	case opLookupAndDeleteBatch:
		return "read and deleted"
	case opDeleteBatch, opDeleteElem:
		return "deleted"
	}
	return "written"
}

func writeRanges(b *strings.Builder, ranges []Range) {
	if len(ranges) == 0 {
		return
	}
	b.WriteString(" (")
	for i, r := range ranges {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "[%d,%d)", r.Start, r.End)
	}
	b.WriteString(")")
}

// plural formats "1 element", "3 elements".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Unwrap returns the sentinel matching Errno (if any) and Errno itself, or
// Cause.
func (e *BatchError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Cause}
	}
	return unwrapErrno(e.Errno, true)
}

// MapError is the error of an operation on a map as a whole: creating,
// opening or pinning it, or asking the kernel about it. It unwraps to the
// matching sentinel (ErrPermission, ErrNotSupported) and to Errno, or to
// Err when the failure was found without a syscall.
type MapError struct {
	// Op is the operation, e.g. "create", "open pinned map", "pin".
	Op string
	// Map names the map or the spec, e.g. `Hash map "conns" (id 7)`; empty
	// when only Path is known.
	Map string
	// Path is the bpffs path of OpenPinned and Pin, else empty.
	Path string
	// Errno is the raw errno from bpf(2), 0 when Err says what failed.
	Errno unix.Errno
	// Err is the cause when it is not (only) an errno.
	Err error
	// Hint says what the failure means here and what to do.
	Hint string

	notPrivilege bool // the hint found the cause: not the errno's sentinel
}

// Error reads e.g. `bpfbatch: open pinned map "/sys/fs/bpf/x": ENOENT: no
// such file or directory: nothing is pinned there`.
func (e *MapError) Error() string {
	var b strings.Builder
	b.WriteString("bpfbatch: ")
	b.WriteString(e.Op)
	if e.Map != "" {
		b.WriteString(" ")
		b.WriteString(e.Map)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " %q", e.Path)
	}
	b.WriteString(": ")
	switch {
	case e.Errno != 0:
		writeErrno(&b, e.Errno, false, e.Hint)
	case e.Hint != "" && e.Err != nil:
		b.WriteString(e.Err.Error())
		b.WriteString(": ")
		b.WriteString(e.Hint)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns Err, or the sentinel matching Errno and Errno itself.
func (e *MapError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	switch {
	case e.Errno != 0 && e.notPrivilege:
		errs = append(errs, e.Errno)
	case e.Errno != 0:
		errs = append(errs, unwrapErrno(e.Errno, false)...)
	}
	return errs
}

// SizeError is returned before any syscall when a buffer does not match the
// map's layout. Nothing is written.
type SizeError struct {
	// Buffer is "keys" or "values" (also for the single key and value of
	// Lookup).
	Buffer string
	// Got is the number of bytes given.
	Got int
	// Want is the number of bytes required; for the keys of a batch, the
	// length must be a multiple of Want (the key size).
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
	// Flags are the call's flags; with OnCPU or UpdateAllCPUs a per-CPU
	// map takes one value_size value per element.
	Flags Flags

	single bool // a one-element call: the buffer must be exactly Want bytes
}

// Error states the layout the map needs, e.g. `values: got 32 bytes, want
// 64 = 4 elements x 2 possible CPUs x 8`.
func (e *SizeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bpfbatch: %s on %s: %s: ", e.Op, e.Map.describe(), e.Buffer)
	perCPU := e.CPUs > 0 && !e.Flags.onePerElement()
	switch {
	case e.Type != "":
		what := "key_size"
		if e.Buffer == "values" {
			what = "value_size"
			if perCPU {
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
	case e.Buffer == "keys" && e.single:
		fmt.Fprintf(&b, "got %d bytes, want key_size %d", e.Got, e.Want)
	case e.Buffer == "keys":
		fmt.Fprintf(&b, "got %d bytes, want a multiple of key_size %d (%d whole keys and %d bytes left over)", e.Got, e.Want, e.Got/e.Want, e.Got%e.Want)
	case e.single && perCPU:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d possible CPUs x %d (value_size %d rounded up to 8 per CPU slot)",
			e.Got, e.Want, e.CPUs, slotSize(e.Map.ValueSize), e.Map.ValueSize)
	case e.single:
		fmt.Fprintf(&b, "got %d bytes, want value_size %d", e.Got, e.Want)
		if e.CPUs > 0 {
			fmt.Fprintf(&b, " (one CPU's value with %s)", e.Flags)
		}
	case e.Map.KeySize == 0:
		fmt.Fprintf(&b, "got %d bytes, want a multiple of %d (one value per element", e.Got, e.Want)
		if perCPU {
			fmt.Fprintf(&b, ": %d possible CPUs x %d", e.CPUs, slotSize(e.Map.ValueSize))
		}
		b.WriteString(")")
	case perCPU:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d elements x %d possible CPUs x %d (value_size %d rounded up to 8 per CPU slot, element-major: all CPUs of element 0, then element 1, ...)",
			e.Got, e.Want, e.Elements, e.CPUs, slotSize(e.Map.ValueSize), e.Map.ValueSize)
	case e.CPUs > 0:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d elements x value_size %d (%s: one value per element, no per-CPU slots)",
			e.Got, e.Want, e.Elements, e.Map.ValueSize, e.Flags)
	default:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d elements x value_size %d", e.Got, e.Want, e.Elements, e.Map.ValueSize)
	}
	return b.String()
}
