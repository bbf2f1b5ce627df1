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
	cmdMapUpdateBatch = 26 // BPF_MAP_UPDATE_BATCH
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
