package bench

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The bpf(2) commands the benchmarks issue directly (enum bpf_cmd).
const (
	cmdMapCreate      = 0  // BPF_MAP_CREATE
	cmdMapLookupElem  = 1  // BPF_MAP_LOOKUP_ELEM
	cmdMapUpdateElem  = 2  // BPF_MAP_UPDATE_ELEM
	cmdMapLookupBatch = 24 // BPF_MAP_LOOKUP_BATCH
	cmdMapUpdateBatch = 26 // BPF_MAP_UPDATE_BATCH
	cmdMapDeleteBatch = 27 // BPF_MAP_DELETE_BATCH
)

// createAttr is the start of the BPF_MAP_CREATE member of union bpf_attr, up
// to map_name; the kernel zero-fills the rest.
type createAttr struct {
	mapType    uint32
	keySize    uint32
	valueSize  uint32
	maxEntries uint32
	mapFlags   uint32
	innerMapFD uint32
	numaNode   uint32
	mapName    [16]byte
}

// elemAttr is the BPF_MAP_*_ELEM member of union bpf_attr (32 bytes).
// Addresses are unsafe.Pointer rather than uint64 so the garbage collector
// keeps the buffers alive; this file only builds for 64-bit targets, where
// both are 8 bytes.
type elemAttr struct {
	mapFD uint32
	_     uint32
	key   unsafe.Pointer
	value unsafe.Pointer
	flags uint64
}

// batchAttr is the batch member of union bpf_attr (56 bytes).
type batchAttr struct {
	inBatch   unsafe.Pointer
	outBatch  unsafe.Pointer
	keys      unsafe.Pointer
	values    unsafe.Pointer
	count     uint32
	mapFD     uint32
	elemFlags uint64
	flags     uint64
}

// The attrs above hard-code 8-byte pointers; refuse to compile elsewhere
// rather than hand the kernel a wrong layout.
var (
	_ [unsafe.Sizeof(batchAttr{}) - 56]struct{}
	_ [56 - unsafe.Sizeof(batchAttr{})]struct{}
	_ [unsafe.Sizeof(elemAttr{}) - 32]struct{}
	_ [32 - unsafe.Sizeof(elemAttr{})]struct{}
)

// createMap creates a map with BPF_MAP_CREATE. Every variant's map comes
// from here, so all of them get exactly the same spec.
func createMap(c *mapCase, maxEntries int) (int, error) {
	attr := createAttr{
		mapType:    c.mapType,
		keySize:    c.keySize,
		valueSize:  c.valueSize,
		maxEntries: uint32(maxEntries),
		mapFlags:   c.mapFlags,
	}
	copy(attr.mapName[:], "bench")
	fd, _, errno := unix.Syscall(unix.SYS_BPF, cmdMapCreate, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return -1, fmt.Errorf("BPF_MAP_CREATE %s, %d entries: %w", c.name, maxEntries, errno)
	}
	return int(fd), nil
}

// lookup reads one element with BPF_MAP_LOOKUP_ELEM, independently of the
// libraries under test.
func lookup(fd int, key, value []byte) error {
	attr := elemAttr{
		mapFD: uint32(fd),
		key:   unsafe.Pointer(unsafe.SliceData(key)),
		value: unsafe.Pointer(unsafe.SliceData(value)),
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, cmdMapLookupElem, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	if errno != 0 {
		return fmt.Errorf("BPF_MAP_LOOKUP_ELEM: %w", errno)
	}
	return nil
}

// rawBatch is the floor: one BPF_MAP_UPDATE_BATCH per call, with the attr
// built once, so a call costs the syscall and nothing else.
type rawBatch struct {
	attr  *batchAttr
	count uint32
}

func newRawBatch(fd int, keys, values []byte, count int) *rawBatch {
	return &rawBatch{
		attr: &batchAttr{
			keys:   unsafe.Pointer(unsafe.SliceData(keys)),
			values: unsafe.Pointer(unsafe.SliceData(values)),
			count:  uint32(count),
			mapFD:  uint32(fd),
		},
		count: uint32(count),
	}
}

func (r *rawBatch) update() error {
	// The kernel writes back the count it processed; on success that is
	// the count asked for, so the attr is ready for the next call as is.
	_, _, errno := unix.Syscall(unix.SYS_BPF, cmdMapUpdateBatch, uintptr(unsafe.Pointer(r.attr)), 56)
	if errno != 0 {
		return fmt.Errorf("BPF_MAP_UPDATE_BATCH: %w after %d of %d elements", errno, r.attr.count, r.count)
	}
	return nil
}

// rawElems writes one element per BPF_MAP_UPDATE_ELEM: what a batch call
// replaces.
type rawElems struct {
	attr         *elemAttr
	keys, values []byte
	keySize      int
	stride       int
}

func newRawElems(fd int, keys, values []byte, keySize, stride int) *rawElems {
	return &rawElems{attr: &elemAttr{mapFD: uint32(fd)}, keys: keys, values: values, keySize: keySize, stride: stride}
}

func (r *rawElems) update() error {
	n := len(r.keys) / r.keySize
	for i := range n {
		r.attr.key = unsafe.Pointer(&r.keys[i*r.keySize])
		r.attr.value = unsafe.Pointer(&r.values[i*r.stride])
		_, _, errno := unix.Syscall(unix.SYS_BPF, cmdMapUpdateElem, uintptr(unsafe.Pointer(r.attr)), 32)
		if errno != 0 {
			return fmt.Errorf("BPF_MAP_UPDATE_ELEM element %d: %w", i, errno)
		}
	}
	return nil
}

// walker reads a whole map once and returns the number of elements read.
// sink, if not nil, sees every batch the walk read (n elements: n key_size
// keys and n strides of values, views of the walker's buffers, valid until
// it returns) and may stop the walk early by returning false (a warm-up
// reads one batch); the timed loops pass nil.
type walker func(sink func(keys, values []byte) bool) (int, error)

// warm runs w's first call only: its probes and buffers, without a walk.
func warm(w walker) error {
	_, err := w(func(_, _ []byte) bool { return false })
	return err
}

// rawLookup is the read floor: a walk of BPF_MAP_LOOKUP_BATCH calls of
// chunk elements each, into buffers of chunk elements, the attr built once,
// the kernel's cursor in a buffer of its own (in_batch and out_batch may
// be the same memory: the kernel reads in_batch before it writes
// out_batch). The first call passes in_batch = NULL.
//
// The end of the walk is ENOENT, which comes with the count of the last,
// partial batch. ENOSPC (a hash bucket with more elements than chunk: the
// kernel copies buckets whole) is an error here rather than a reason to
// grow the buffers, because it cannot happen at the chunks measured: a
// 1M-element hash map has 1M buckets, and its largest bucket holds about
// ten elements, far below 4096. LookupBatch handles it; the floor does not
// need to.
type rawLookup struct {
	attr         *batchAttr
	chunk        uint32
	keySize      int
	stride       int
	keys, values []byte
	cursor       []byte
}

func newRawLookup(fd int, keys, values []byte, chunk, keySize, stride int) *rawLookup {
	// A u32 bucket index for hash maps, the last key for the others.
	cursor := make([]byte, max(4, keySize))
	return &rawLookup{
		attr: &batchAttr{
			outBatch: unsafe.Pointer(unsafe.SliceData(cursor)),
			keys:     unsafe.Pointer(unsafe.SliceData(keys)),
			values:   unsafe.Pointer(unsafe.SliceData(values)),
			mapFD:    uint32(fd),
		},
		chunk: uint32(chunk), keySize: keySize, stride: stride,
		keys: keys, values: values, cursor: cursor,
	}
}

func (r *rawLookup) walk(sink func(keys, values []byte) bool) (int, error) {
	a := r.attr
	a.inBatch = nil
	total := 0
	for {
		a.count = r.chunk
		_, _, errno := unix.Syscall(unix.SYS_BPF, cmdMapLookupBatch, uintptr(unsafe.Pointer(a)), 56)
		if errno != 0 && errno != unix.ENOENT {
			return total, fmt.Errorf("BPF_MAP_LOOKUP_BATCH after %d elements: %w", total, errno)
		}
		n := int(a.count)
		total += n
		stop := sink != nil && n > 0 && !sink(r.keys[:n*r.keySize], r.values[:n*r.stride])
		if stop || errno == unix.ENOENT {
			return total, nil
		}
		a.inBatch = a.outBatch
	}
}

// rawDelete deletes keys with one BPF_MAP_DELETE_BATCH, independently of
// the libraries under test (the Sync benchmark's untimed restore).
func rawDelete(fd int, keys []byte, keySize int) error {
	if len(keys) == 0 {
		return nil
	}
	attr := batchAttr{
		keys:  unsafe.Pointer(unsafe.SliceData(keys)),
		count: uint32(len(keys) / keySize),
		mapFD: uint32(fd),
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, cmdMapDeleteBatch, uintptr(unsafe.Pointer(&attr)), 56)
	runtime.KeepAlive(keys)
	if errno != 0 {
		return fmt.Errorf("BPF_MAP_DELETE_BATCH: %w after %d of %d keys", errno, attr.count, len(keys)/keySize)
	}
	return nil
}

// rawUpdate writes keys and values with one BPF_MAP_UPDATE_BATCH.
func rawUpdate(fd int, keys, values []byte, keySize int) error {
	if len(keys) == 0 {
		return nil
	}
	err := newRawBatch(fd, keys, values, len(keys)/keySize).update()
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	return err
}
