package bpfbatch

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Operation names as they appear in errors.
const (
	opUpdateBatch = "BPF_MAP_UPDATE_BATCH"
	opUpdateElem  = "BPF_MAP_UPDATE_ELEM"
	opLookup      = "BPF_MAP_LOOKUP_ELEM"
)

// UpdatePath says how UpdateBatch writes a map.
type UpdatePath uint32

const (
	pathUnknown UpdatePath = iota

	// BatchPath: one BPF_MAP_UPDATE_BATCH syscall per UpdateBatch call.
	BatchPath

	// PerElementPath: one BPF_MAP_UPDATE_ELEM syscall per element, in
	// order, stopping at the first failure. Used for map types without
	// batch update (ProgramArray, DevMap, Queue, ...) and on kernels before
	// 5.6. It has the same contract as BatchPath and costs about 0.5 µs
	// more per element.
	PerElementPath
)

// String returns "batch" or "per-element".
func (p UpdatePath) String() string {
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
// privilege beyond the map fd is needed.
func (m *Map) UpdatePath() (UpdatePath, error) {
	if m == nil {
		return pathUnknown, fmt.Errorf("bpfbatch: UpdatePath on nil *Map: %w", ErrClosed)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return pathUnknown, m.closedError("UpdatePath")
	}
	p, errno := m.probePath()
	if errno != 0 {
		return pathUnknown, &BatchError{Op: opUpdateBatch, Map: m.info, Index: -1, Errno: errno, Hint: m.hint(errno, 0, -1)}
	}
	return p, nil
}

// probePath returns the map's UpdatePath, probing the kernel the first time.
// An errno other than "supported" or "not supported" (EPERM on a read-only
// map, say) is returned and not cached. Called with m.mu read-held.
func (m *Map) probePath() (UpdatePath, unix.Errno) {
	if p := UpdatePath(m.path.Load()); p != pathUnknown {
		return p, 0
	}
	attr := batchAttr{mapFD: uint32(m.fd)}
	_, errno := sys.Call(m.fake, sys.MapUpdateBatch, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	var p UpdatePath
	switch errno {
	case 0:
		p = BatchPath
	case sys.ENOTSUPP, unix.EOPNOTSUPP:
		p = PerElementPath // the map type has no map_update_batch
	case unix.EINVAL:
		// fd, permission and flags are fine (it is a map we opened, flags
		// are 0), so EINVAL means the kernel predates the command (< 5.6).
		p = PerElementPath
	default:
		return pathUnknown, errno
	}
	m.path.Store(uint32(p))
	return p, 0
}

// UpdateBatch writes len(keys)/key_size elements: element i has key
// keys[i*key_size:(i+1)*key_size] and value
// values[i*ValueStride():(i+1)*ValueStride()]. For per-CPU maps each value
// holds one slot of value_size rounded up to 8 bytes per possible CPU,
// element-major (all CPUs of element 0, then element 1, ...). Maps without
// keys (Queue, Stack, BloomFilter) take nil keys; the count comes from
// values.
//
// With UpdateAny or UpdateLock it issues exactly one BPF_MAP_UPDATE_BATCH
// (or one BPF_MAP_UPDATE_ELEM per element, see UpdatePath); with
// UpdateNoExist or UpdateExist one BPF_MAP_UPDATE_ELEM per element, because
// the kernel's batch command refuses those flags.
//
// It returns the number of elements written. The kernel applies elements in
// order and does not roll back: on error, elements [0, n) are in the map,
// element n failed (see *BatchError) and nothing after it was written.
// Buffers that do not match the map's layout, invalid flags and a closed Map
// are reported before any syscall, with nothing written. An empty batch
// returns (0, nil) without a syscall. keys and values are only read.
func (m *Map) UpdateBatch(keys, values []byte, flags Flags) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("bpfbatch: UpdateBatch on nil *Map: %w", ErrClosed)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return 0, m.closedError("update batch")
	}
	count, err := m.checkUpdate(keys, values, flags)
	if err != nil || count == 0 {
		return 0, err
	}
	return m.update(keys, values, count, flags)
}

// checkUpdate validates an update before any syscall and returns the element
// count. This is the security boundary: the kernel reads count x key_size
// and count x stride bytes without knowing the buffers' lengths.
func (m *Map) checkUpdate(keys, values []byte, flags Flags) (int, error) {
	if err := flags.Validate(); err != nil {
		return 0, fmt.Errorf("bpfbatch: update batch on %s: %w", m.info.describe(), err)
	}
	var count int
	switch ks := int(m.info.KeySize); {
	case ks > 0:
		if len(keys)%ks != 0 {
			return 0, m.sizeError("update batch", "keys", len(keys), ks, 0)
		}
		count = len(keys) / ks
	case len(keys) != 0:
		return 0, m.sizeError("update batch", "keys", len(keys), 0, 0)
	case m.stride == 0:
		// Neither keys nor values (RingBuf): nothing can be written.
		if len(values) != 0 {
			return 0, m.sizeError("update batch", "values", len(values), 0, 0)
		}
		return 0, nil
	default:
		if len(values)%m.stride != 0 {
			return 0, m.sizeError("update batch", "values", len(values), m.stride, 0)
		}
		return len(values) / m.stride, nil
	}
	if m.stride != 0 && count > math.MaxInt/m.stride {
		return 0, m.sizeError("update batch", "values", len(values), math.MaxInt, count)
	}
	if want := count * m.stride; len(values) != want {
		return 0, m.sizeError("update batch", "values", len(values), want, count)
	}
	if uint64(count) > math.MaxUint32 {
		return 0, fmt.Errorf("bpfbatch: update batch on %s: %d elements exceed the kernel's u32 count; split the batch", m.info.describe(), count)
	}
	return count, nil
}

func (m *Map) sizeError(op, buffer string, got, want, elements int) *SizeError {
	return &SizeError{Buffer: buffer, Got: got, Want: want, Op: op, Map: m.info, Elements: elements, CPUs: m.cpus}
}

func (m *Map) closedError(op string) error {
	return fmt.Errorf("bpfbatch: %s on %s: %w", op, m.info.describe(), ErrClosed)
}

// update writes count validated elements. Called with m.mu read-held and m
// open; it is the single dispatch point between the batch command and the
// per-element path.
func (m *Map) update(keys, values []byte, count int, flags Flags) (int, error) {
	if flags&perElementFlags != 0 {
		return m.updateElems(keys, values, count, flags)
	}
	path, errno := m.probePath()
	if errno == 0 && path == PerElementPath {
		return m.updateElems(keys, values, count, flags)
	}
	// On a probe error (EPERM, ...) the batch call reports it in full.
	return m.updateBatch(keys, values, count, flags)
}

// updateBatch issues one BPF_MAP_UPDATE_BATCH.
func (m *Map) updateBatch(keys, values []byte, count int, flags Flags) (int, error) {
	attr := newBatchAttr(m.fd, keys, values, uint32(count), flags)
	_, errno := sys.Call(m.fake, sys.MapUpdateBatch, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	if errno == 0 {
		return int(attr.count), nil
	}
	// The kernel writes count back only after its loop; a failure before
	// it (flags, permission, map type) leaves the requested count in place.
	processed, index := int(attr.count), int(attr.count)
	if attr.count >= uint32(count) {
		processed, index = 0, -1
	}
	return processed, m.updateError(opUpdateBatch, errno, flags, count, processed, index)
}

// updateElems applies elements one by one with BPF_MAP_UPDATE_ELEM, in
// order, stopping at the first failure: the same contract as the batch
// command, for what the batch command cannot do.
func (m *Map) updateElems(keys, values []byte, count int, flags Flags) (int, error) {
	ks := int(m.info.KeySize)
	attr := sys.ElemAttr{MapFD: uint32(m.fd), Flags: uint64(flags)}
	for i := range count {
		if ks > 0 {
			attr.Key = sys.NewPointer(unsafe.Pointer(&keys[i*ks]))
		}
		if m.stride > 0 {
			attr.Value = sys.NewPointer(unsafe.Pointer(&values[i*m.stride]))
		}
		if _, errno := sys.Call(m.fake, sys.MapUpdateElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
			runtime.KeepAlive(keys)
			runtime.KeepAlive(values)
			return i, m.updateError(opUpdateElem, errno, flags, count, i, i)
		}
	}
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	return count, nil
}

func (m *Map) updateError(op string, errno unix.Errno, flags Flags, requested, processed, index int) *BatchError {
	return &BatchError{
		Op:        op,
		Map:       m.info,
		Flags:     flags,
		Requested: requested,
		Processed: processed,
		Index:     index,
		Errno:     errno,
		Hint:      m.hint(errno, flags, index),
	}
}

// Lookup reads the value of key into value (BPF_MAP_LOOKUP_ELEM). value must
// be ValueStride() bytes: for per-CPU maps every possible CPU's slot, in the
// layout UpdateBatch takes. A missing key gives ErrKeyNotExist. For
// map-in-map types the value read back is the inner map's ID, not an fd.
func (m *Map) Lookup(key, value []byte) error {
	if m == nil {
		return fmt.Errorf("bpfbatch: Lookup on nil *Map: %w", ErrClosed)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return m.closedError("lookup")
	}
	if len(key) != int(m.info.KeySize) {
		return &SizeError{Buffer: "keys", Got: len(key), Want: int(m.info.KeySize), Op: "lookup", Map: m.info, Elements: 1, CPUs: m.cpus}
	}
	if len(value) != m.stride {
		return m.sizeError("lookup", "values", len(value), m.stride, 1)
	}
	attr := sys.ElemAttr{MapFD: uint32(m.fd)}
	if len(key) > 0 {
		attr.Key = sys.NewPointer(unsafe.Pointer(&key[0]))
	}
	if len(value) > 0 {
		attr.Value = sys.NewPointer(unsafe.Pointer(&value[0]))
	}
	_, errno := sys.Call(m.fake, sys.MapLookupElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	if errno != 0 {
		return &BatchError{Op: opLookup, Map: m.info, Requested: 1, Index: 0, Errno: errno, Hint: m.hint(errno, 0, 0)}
	}
	return nil
}

// UpdateBatchOf is the typed form of UpdateBatch. K and V are fixed-size
// types without pointers (integers, arrays, structs of those) laid out as
// the kernel expects: unsafe.Sizeof(K) must equal key_size, and
// unsafe.Sizeof(V) value_size. For per-CPU maps values holds
// len(keys) x PossibleCPUs() entries, element-major: all CPUs of element 0,
// then element 1, ...; there V may also be the 8-byte-rounded slot size.
// Maps without keys take nil keys.
//
// The slices are reinterpreted in place, with no copy and no per-element
// encoding, wherever the Go layout is the kernel's. The one exception is a
// per-CPU map whose value_size is not a multiple of 8: the kernel wants each
// CPU's value padded to 8 bytes, so values are copied, in bounded chunks,
// into a scratch buffer reused across calls, with the padding zeroed. That
// path may issue several BPF_MAP_UPDATE_BATCH calls; the contract is the
// same.
func UpdateBatchOf[K, V any](m *Map, keys []K, values []V, flags Flags) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("bpfbatch: UpdateBatchOf on nil *Map: %w", ErrClosed)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return 0, m.closedError("update batch")
	}
	view, err := typedBytes(m, keys, values)
	if err != nil {
		return 0, err
	}
	if !view.padded {
		count, err := m.checkUpdate(view.keys, view.values, flags)
		if err != nil || count == 0 {
			return 0, err
		}
		return m.update(view.keys, view.values, count, flags)
	}
	if err := flags.Validate(); err != nil {
		return 0, fmt.Errorf("bpfbatch: update batch on %s: %w", m.info.describe(), err)
	}
	if view.count == 0 {
		return 0, nil
	}
	return m.updatePadded(view.keys, view.values, view.count, flags)
}

// UpdateBatchOfWith is UpdateBatchOf for big loads: the typed form of
// Map.UpdateBatchWith, with the same chunking, parallelism, cancellation and
// error contract. Where UpdateBatchOf would pad per-CPU values chunk by
// chunk, this copies all values into one padded buffer first.
func UpdateBatchOfWith[K, V any](ctx context.Context, m *Map, keys []K, values []V, opts BatchOptions) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("bpfbatch: UpdateBatchOfWith on nil *Map: %w", ErrClosed)
	}
	m.mu.RLock()
	if !m.open {
		m.mu.RUnlock()
		return 0, m.closedError("update batch")
	}
	view, err := typedBytes(m, keys, values)
	m.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	valueBytes := view.values
	if view.padded {
		if err := opts.Flags.Validate(); err != nil {
			return 0, fmt.Errorf("bpfbatch: update batch on %s: %w", m.info.describe(), err)
		}
		valueBytes = make([]byte, view.count*m.stride)
		m.padInto(valueBytes, view.values, view.count)
	}
	return m.UpdateBatchWith(ctx, view.keys, valueBytes, opts)
}

// typedView is typed slices seen as the byte buffers UpdateBatch takes.
type typedView struct {
	keys, values []byte
	// padded: values hold one unpadded value_size entry per CPU per
	// element and must be copied into 8-byte slots; count is then the
	// element count (already checked). Otherwise values are in the
	// kernel's layout and checkUpdate counts the elements.
	padded bool
	count  int
}

// typedBytes checks K and V against m's layout and views the slices as
// bytes without copying. Called with m.mu read-held and m open.
func typedBytes[K, V any](m *Map, keys []K, values []V) (typedView, error) {
	var k K
	var v V
	keySize, valueSize := int(unsafe.Sizeof(k)), int(unsafe.Sizeof(v))
	if err := checkPlainPair[K, V](m); err != nil {
		return typedView{}, err
	}
	if keySize != int(m.info.KeySize) {
		return typedView{}, m.typeSizeError("keys", typeName[K](), keySize, int(m.info.KeySize))
	}
	view := typedView{keys: asBytes(keys), values: asBytes(values)}
	cpus := max(m.cpus, 1)
	if m.cpus == 0 || valueSize == slotSize(m.info.ValueSize) {
		// The Go layout is the kernel's: value_size, or a whole per-CPU slot.
		if valueSize != m.stride/cpus {
			return typedView{}, m.typeSizeError("values", typeName[V](), valueSize, int(m.info.ValueSize))
		}
		if m.info.KeySize == 0 && len(keys) != 0 && len(values) != len(keys)*cpus {
			return typedView{}, m.sizeError("update batch", "keys", len(keys), 0, 0)
		}
		return view, nil
	}
	if valueSize != int(m.info.ValueSize) {
		return typedView{}, m.typeSizeError("values", typeName[V](), valueSize, int(m.info.ValueSize))
	}
	view.padded, view.count = true, len(keys)
	if m.info.KeySize == 0 {
		if len(values)%cpus != 0 || len(keys) != 0 && len(keys) != len(values)/cpus {
			return typedView{}, &SizeError{Buffer: "values", Got: len(values) * valueSize, Want: cpus * valueSize, Op: "update batch", Map: m.info, CPUs: cpus, Entry: valueSize}
		}
		view.count = len(values) / cpus
	}
	if len(values) != view.count*cpus {
		return typedView{}, &SizeError{Buffer: "values", Got: len(values) * valueSize, Want: view.count * cpus * valueSize, Op: "update batch", Map: m.info, Elements: view.count, CPUs: cpus, Entry: valueSize}
	}
	return view, nil
}

// scratchLimit bounds the scratch buffer UpdateBatchOf keeps per Map. Batches
// of 64 elements and more already get nearly all of the batch command's
// gain, so chunking at this size costs nothing measurable.
const scratchLimit = 1 << 20

// updatePadded writes per-CPU values given unpadded (one value_size entry
// per CPU, element-major) by copying them into 8-byte slots, chunk by chunk.
// Called with m.mu read-held.
func (m *Map) updatePadded(keys, values []byte, count int, flags Flags) (int, error) {
	chunk := max(1, min(count, scratchLimit/m.stride))
	var buf []byte
	if m.scratchMu.TryLock() {
		defer m.scratchMu.Unlock()
		if len(m.scratch) < chunk*m.stride {
			m.scratch = make([]byte, chunk*m.stride)
		}
		buf = m.scratch
	} else {
		// Another call is using the scratch buffer: take a private one
		// rather than serialise the callers.
		buf = make([]byte, chunk*m.stride)
	}
	ks := int(m.info.KeySize)
	for done := 0; done < count; {
		n := min(chunk, count-done)
		dst := buf[:n*m.stride]
		m.padInto(dst, values[done*m.cpus*int(m.info.ValueSize):], n)
		written, err := m.update(keys[done*ks:(done+n)*ks], dst, n, flags)
		if err != nil {
			return done + written, rebase(err, done, count)
		}
		done += n
	}
	return count, nil
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

// rebase shifts a chunk's *BatchError to the indices of the whole call.
func rebase(err error, base, requested int) error {
	be, ok := err.(*BatchError)
	if !ok {
		return err
	}
	be.Processed += base
	if be.Index >= 0 {
		be.Index += base
	}
	be.Requested = requested
	return be
}

func (m *Map) typeSizeError(buffer, typ string, got, want int) *SizeError {
	return &SizeError{Buffer: buffer, Got: got, Want: want, Op: "update batch", Map: m.info, CPUs: m.cpus, Type: typ}
}

// asBytes reinterprets a slice of plain values as its bytes, without a copy.
func asBytes[T any](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}
