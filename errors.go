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
	// read-only (or write-only, for reads) or frozen, the pin's file mode
	// denies access, or, before Linux 5.11, the map's memory exceeds
	// RLIMIT_MEMLOCK (EPERM, EACCES).
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
	// input to Sync without AllowEmpty, a bad MapSpec. Nothing was written.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrEvicted: a call that promised a map's contents (Sync) found,
	// verifying afterwards, that the kernel evicted some of what it wrote:
	// LRU maps evict before they are full. The error (a *SyncError) says
	// how many input keys are missing.
	ErrEvicted = errors.New("evicted by the kernel")

	// ErrInvalidType: a typed call (UpdateBatchOf, LookupBatchOf, ...) was
	// given a key or value type the kernel cannot copy as raw bytes (it
	// holds pointers), or a map type the operation does not apply to.
	// Returned before any syscall.
	ErrInvalidType = errors.New("type cannot be copied to a BPF map")
)

// The operations, as errors name them (their Op): one short vocabulary for
// every error type.
const (
	opCreate          = "create"
	opOpen            = "open"
	opList            = "list maps"
	opPin             = "pin"
	opClose           = "close"
	opProbe           = "probe"
	opUpdate          = "update"
	opLookup          = "lookup"
	opLookupAndDelete = "lookup and delete"
	opDelete          = "delete"
	opCount           = "count"
	opWalk            = "walk"
	opSync            = "sync"
	opReplaceInner    = "replace inner map in"
	opFlags           = "check flags"
	opMemlock         = "lift RLIMIT_MEMLOCK"
)

// The bpf(2) commands, as BatchError.Cmd names them.
const (
	cmdUpdateBatch          = "BPF_MAP_UPDATE_BATCH"
	cmdUpdateElem           = "BPF_MAP_UPDATE_ELEM"
	cmdLookupElem           = "BPF_MAP_LOOKUP_ELEM"
	cmdLookupBatch          = "BPF_MAP_LOOKUP_BATCH"
	cmdLookupAndDeleteBatch = "BPF_MAP_LOOKUP_AND_DELETE_BATCH"
	cmdDeleteBatch          = "BPF_MAP_DELETE_BATCH"
	cmdDeleteElem           = "BPF_MAP_DELETE_ELEM"
	cmdGetNextKey           = "BPF_MAP_GET_NEXT_KEY"
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

// messager is implemented by the package's errors: Error() is "bpfbatch: "
// followed by message(""). A wrapping error passes the map it names
// already, so that the wrapped message does not name it again.
type messager interface {
	message(named string) string
}

// messageOf is err's text for a message that says "bpfbatch: " and names
// the map named already.
func messageOf(err error, named string) string {
	if m, ok := err.(messager); ok {
		return m.message(named)
	}
	return err.Error()
}

// writeSubject writes "OP MAP" (the map left out when the message names it
// already) and the colon after them.
func writeSubject(b *strings.Builder, op, name, named string) {
	b.WriteString(op)
	if name != "" && name != named {
		b.WriteString(" ")
		b.WriteString(name)
	}
	b.WriteString(": ")
}

// plural formats "1 element", "3 elements".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// MapError is the error of an operation on a map as a whole (creating,
// opening or pinning it, asking the kernel about it), or of a call refused
// before any syscall for a reason other than a buffer's size: invalid
// arguments or flags, a map type the call does not apply to, a closed Map.
// It unwraps to Err, or to the sentinel matching Errno and Errno itself.
type MapError struct {
	// Op is the operation, e.g. "create", "open", "pin", "lookup", "sync".
	Op string
	// Map names the map or the spec, e.g. `Hash map "conns" (id 7)`; empty
	// when only Path is known.
	Map string
	// Path is the bpffs path of OpenPinned and Pin, else empty.
	Path string
	// Errno is the raw errno from bpf(2), 0 when Err says what failed.
	Errno unix.Errno
	// Err is the cause when it is not (only) an errno: a sentinel such as
	// ErrInvalidArgument for a call refused before any syscall, or the
	// error of a step (ReplaceInner's CreateMap, say).
	Err error
	// Hint says what the failure means here and what to do.
	Hint string

	notPrivilege bool // the hint found the cause: not the errno's sentinel
}

// newMapError is the one constructor of *MapError: op on the map or spec
// called name (and path) failed with cause, an errno from bpf(2) or an
// error, which hint explains.
func newMapError(op, name, path string, cause error, hint string) *MapError {
	e := &MapError{Op: op, Map: name, Path: path, Hint: hint}
	if errno, ok := cause.(unix.Errno); ok {
		e.Errno = errno
	} else {
		e.Err = cause
	}
	return e
}

// refuse returns the error of op on m refused before any syscall: a
// sentinel (ErrInvalidArgument, ErrInvalidFlags, ErrNotSupported, ...) and
// what is wrong.
func (m *Map) refuse(op string, sentinel error, format string, args ...any) error {
	return newMapError(op, m.info.describe(), "", sentinel, fmt.Sprintf(format, args...))
}

// Error reads e.g. `bpfbatch: open "/sys/fs/bpf/x": ENOENT: nothing is
// pinned there` or `bpfbatch: lookup Hash map (id 7): invalid argument:
// nil *Cursor; pass &Cursor{} to start a walk`.
func (e *MapError) Error() string { return "bpfbatch: " + e.message("") }

func (e *MapError) message(named string) string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Map != "" && e.Map != named {
		b.WriteString(" ")
		b.WriteString(e.Map)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " %q", e.Path)
	}
	b.WriteString(": ")
	var step messager
	switch {
	case e.Errno != 0:
		writeErrno(&b, e.Errno, false, e.Hint)
	case errors.As(e.Err, &step) && e.Hint != "":
		// A step of e.Op failed: say which, then its own error.
		b.WriteString(e.Hint)
		b.WriteString(": ")
		b.WriteString(step.message(e.Map))
	case e.Err != nil && e.Hint != "":
		b.WriteString(e.Err.Error())
		b.WriteString(": ")
		b.WriteString(e.Hint)
	case e.Err != nil:
		b.WriteString(messageOf(e.Err, e.Map))
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
