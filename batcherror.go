package bpfbatch

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// fault is a failed syscall inside a call: the command, the failing
// element counted in the caller's whole call (-1: the kernel refused the
// call as a whole), the errno, and its hint. The zero fault is success.
// Chunks and per-element loops return faults; the call's entry point turns
// one into the caller's error once, with every fact known.
type fault struct {
	cmd   string
	index int
	errno unix.Errno
	hint  string
}

func (f fault) failed() bool { return f.errno != 0 }

// newFault records errno from cmd on fd at element index.
func (m *Map) newFault(fd *sys.FD, cmd string, errno unix.Errno, flags Flags, index int) fault {
	return fault{cmd: cmd, index: index, errno: errno, hint: m.elemHint(fd, cmd, errno, flags, index)}
}

// Range is a half-open range [Start, End) of element indices.
type Range struct{ Start, End int }

// BatchError is the error of a failed bpf(2) call on map elements: an
// update, lookup or delete, batched or per element, or of a chunked call
// that stopped between chunks (Cause). It unwraps to the matching sentinel
// (ErrMapFull, ...) and to Errno, or to Cause.
type BatchError struct {
	// Op is the operation: "update", "lookup", "lookup and delete",
	// "delete" (or, for the errors Sync and ReplaceInner wrap, theirs).
	Op string
	// Cmd is the bpf(2) command that failed, e.g. "BPF_MAP_UPDATE_BATCH",
	// "BPF_MAP_UPDATE_ELEM" (the per-element path) or
	// "BPF_MAP_LOOKUP_ELEM"; empty when Cause is set.
	Cmd string
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
	// element (permission, flags, map type), or the call was for one
	// element (Lookup).
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

	single bool // a one-element call (Lookup): no element or count to report
}

// batchError is the one constructor of *BatchError: op on requested
// elements did processed of them and ended with f, or stopped for cause;
// nil when neither failed.
func (m *Map) batchError(op string, f fault, cause error, flags Flags, requested, processed int, written []Range) error {
	if !f.failed() && cause == nil {
		return nil
	}
	e := &BatchError{
		Op:        op,
		Cmd:       f.cmd,
		Map:       m.info,
		Flags:     flags,
		Requested: requested,
		Processed: processed,
		Index:     f.index,
		Errno:     f.errno,
		Written:   written,
		Cause:     cause,
		Hint:      f.hint,
	}
	if cause != nil {
		e.Cmd, e.Index, e.Errno, e.Hint = "", -1, 0, ""
	}
	return e
}

// singleError is the error of a call for one element (Lookup, a slot
// swap): it names no element and counts nothing.
func (m *Map) singleError(op string, f fault, flags Flags) error {
	err := m.batchError(op, f, nil, flags, 1, 0, nil)
	if e, ok := err.(*BatchError); ok {
		e.Index, e.single = -1, true
	}
	return err
}

// Error names the operation, the map, the command, the failing element and
// the cause, e.g. `bpfbatch: update Hash map "conns" (id 7):
// BPF_MAP_UPDATE_BATCH: element 2: E2BIG: the map already holds
// max_entries (2) elements; ...; 2 of 3 elements written`.
func (e *BatchError) Error() string { return "bpfbatch: " + e.message("") }

func (e *BatchError) message(named string) string {
	var b strings.Builder
	writeSubject(&b, e.Op, e.Map.describe(), named)
	e.writeCause(&b)
	if !e.single && e.Requested > 0 {
		fmt.Fprintf(&b, "; %d of %s %s", e.Processed, plural(e.Requested, "element"), doneVerb(e.Op))
		writeRanges(&b, e.Written)
	}
	return b.String()
}

// writeCause writes what failed and why, without the counts, e.g.
// "BPF_MAP_DELETE_BATCH: element 0: EPERM: the map is frozen".
func (e *BatchError) writeCause(b *strings.Builder) {
	if e.Cause != nil {
		b.WriteString("stopped: ")
		b.WriteString(e.Cause.Error())
		return
	}
	b.WriteString(e.Cmd)
	b.WriteString(": ")
	if e.Index >= 0 && !e.single {
		fmt.Fprintf(b, "element %d: ", e.Index)
	}
	writeErrno(b, e.Errno, true, e.Hint)
}

// doneVerb says what Processed counts for op.
func doneVerb(op string) string {
	switch op {
	case opLookup, opCount, opWalk:
		return "read"
	case opLookupAndDelete:
		return "read and deleted"
	case opDelete:
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

// Unwrap returns the sentinel matching Errno (if any) and Errno itself, or
// Cause.
func (e *BatchError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Cause}
	}
	return unwrapErrno(e.Errno, true)
}
