package bpfbatch

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// The bpf(2) commands, as errors name them.
const (
	opUpdateBatch          = "BPF_MAP_UPDATE_BATCH"
	opUpdateElem           = "BPF_MAP_UPDATE_ELEM"
	opLookupElem           = "BPF_MAP_LOOKUP_ELEM"
	opLookupBatch          = "BPF_MAP_LOOKUP_BATCH"
	opLookupAndDeleteBatch = "BPF_MAP_LOOKUP_AND_DELETE_BATCH"
	opDeleteBatch          = "BPF_MAP_DELETE_BATCH"
	opDeleteElem           = "BPF_MAP_DELETE_ELEM"
	opGetNextKey           = "BPF_MAP_GET_NEXT_KEY"
)

// fault is a failed syscall inside a call: the command, the failing
// element counted in the caller's whole call (-1: the kernel refused the
// call as a whole), the errno, and its hint. The zero fault is success.
// Chunks and per-element loops return faults; the call's entry point turns
// one into the caller's error once, with every fact known.
type fault struct {
	op    string
	index int
	errno unix.Errno
	hint  string
}

func (f fault) failed() bool { return f.errno != 0 }

// newFault records errno from op on fd at element index.
func (m *Map) newFault(fd *sys.FD, op string, errno unix.Errno, flags Flags, index int) fault {
	return fault{op: op, index: index, errno: errno, hint: m.elemHint(fd, op, errno, flags, index)}
}

// elemError is the error of a call for requested elements that did
// processed of them and ended with f: nil when f is success.
func (m *Map) elemError(f fault, flags Flags, requested, processed int, written []Range) error {
	if !f.failed() {
		return nil
	}
	return &BatchError{
		Op:        f.op,
		Map:       m.info,
		Flags:     flags,
		Requested: requested,
		Processed: processed,
		Index:     f.index,
		Errno:     f.errno,
		Written:   written,
		Hint:      f.hint,
	}
}

// UpdatePath says how UpdateBatch writes a map.
type UpdatePath uint32

const (
	pathUnknown UpdatePath = iota

	// BatchPath: one BPF_MAP_UPDATE_BATCH syscall per UpdateBatch call.
	BatchPath

	// PerElementPath: one BPF_MAP_UPDATE_ELEM syscall per element, in
	// order, stopping at the first failure. Used for map types without
	// batch update (ProgramArray, DevMap, Queue, ...) and on kernels before
	// 5.6. It has the same contract as BatchPath, at one syscall per
	// element.
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
	return withFD(m, "UpdatePath", func(fd *sys.FD) (UpdatePath, error) {
		p, errno := m.probePath(fd)
		if errno != 0 {
			return pathUnknown, &MapError{Op: "probe the update path of", Map: m.info.describe(), Errno: errno, Hint: m.elemHint(fd, opUpdateBatch, errno, 0, -1)}
		}
		return p, nil
	})
}

// probePath returns the map's UpdatePath, probing the kernel the first time.
func (m *Map) probePath(fd *sys.FD) (UpdatePath, unix.Errno) {
	return m.probeBatch(fd, &m.path, sys.MapUpdateBatch)
}

// probeBatch reports whether the map has the batch command cmd (BatchPath)
// or must be served element by element, probing once with a count-0 call:
// the kernel checks the fd, permission and the type's support
// (bpf_map_do_batch answers 524 for a type without the command) before its
// count-0 shortcut, so nothing is read or written. A kernel before 5.6
// answers EINVAL (fd, permission and flags are fine: it is a map we opened,
// with flags 0). Another errno (EPERM on a read-only map, say) is returned
// and not cached.
func (m *Map) probeBatch(fd *sys.FD, cached *atomic.Uint32, cmd func(*sys.MapBatchAttr) unix.Errno) (UpdatePath, unix.Errno) {
	if p := UpdatePath(cached.Load()); p != pathUnknown {
		return p, 0
	}
	attr := newBatchAttr(fd, nil, nil, 0, 0)
	var p UpdatePath
	switch errno := cmd(&attr); errno {
	case 0:
		p = BatchPath
	case sys.ENOTSUPP, unix.EOPNOTSUPP, unix.EINVAL:
		p = PerElementPath
	default:
		return pathUnknown, errno
	}
	cached.Store(uint32(p))
	return p, 0
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

// checkFlags checks that m and the operation op can take flags, before any
// syscall.
func (m *Map) checkFlags(op string, flags Flags, lookup bool) error {
	fail := func(sentinel error, format string, args ...any) error {
		return fmt.Errorf("bpfbatch: %s on %s: %w: %s", op, m.info.describe(), sentinel, fmt.Sprintf(format, args...))
	}
	if err := flags.Validate(); err != nil {
		return fmt.Errorf("bpfbatch: %s on %s: %w", op, m.info.describe(), err)
	}
	if lookup && flags&(perElementFlags|UpdateAllCPUs) != 0 {
		return fail(ErrInvalidFlags, "%s: lookups take UpdateLock and OnCPU only", flags)
	}
	if flags&perCPUFlags == 0 {
		return nil
	}
	if m.cpus == 0 {
		return fail(ErrInvalidFlags, "%s applies to per-CPU maps (PerCPUHash, PerCPUArray, LRUPerCPUHash); this map has one value per element", flags)
	}
	if flags&flagCPU == 0 {
		return nil
	}
	if cpu := flags.cpu(); uint64(cpu) >= uint64(m.cpus) {
		return fail(ErrInvalidFlags, "OnCPU(%d): this machine has %d possible CPUs, 0 to %d", cpu, m.cpus, m.cpus-1)
	}
	return nil
}

// checkOnCPU refuses OnCPU on a kernel without BPF_F_CPU. It is the last
// check before a call's syscalls, as it may probe the kernel.
func (m *Map) checkOnCPU(fd *sys.FD, op string, flags Flags) error {
	if flags&flagCPU == 0 || m.nativeCPUFlags(fd) {
		return nil
	}
	return fmt.Errorf("bpfbatch: %s on %s: %w: OnCPU needs BPF_F_CPU (Linux 7.0), which this kernel lacks; nothing was done. Pass every CPU's value instead (ValueStride bytes per element), or UpdateAllCPUs for one value on every CPU",
		op, m.info.describe(), ErrNotSupported)
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

// UpdateBatch writes len(keys)/key_size elements: element i has key
// keys[i*key_size:(i+1)*key_size] and value
// values[i*ValueStride():(i+1)*ValueStride()]. For per-CPU maps each value
// holds one slot of value_size rounded up to 8 bytes per possible CPU,
// element-major (all CPUs of element 0, then element 1, ...); with OnCPU or
// UpdateAllCPUs one value_size value per element instead. Maps without keys
// (Queue, Stack, BloomFilter) take nil keys; the count comes from values.
//
// With UpdateAny or UpdateLock it issues exactly one BPF_MAP_UPDATE_BATCH
// (or one BPF_MAP_UPDATE_ELEM per element, see UpdatePath); with
// UpdateNoExist or UpdateExist one BPF_MAP_UPDATE_ELEM per element, because
// the kernel's batch command refuses those flags. An element refused with
// ENOMEM is written again, with the rest, after a pause of 1 ms doubling up
// to 255 ms in all: maps that allocate per element (BPF_F_NO_PREALLOC, LPM
// tries) draw on kernel caches that refill in the background, and a fast
// batch can empty them for a moment.
//
// It returns the number of elements written. The kernel applies elements in
// order and does not roll back: on error, elements [0, n) are in the map,
// element n failed (see *BatchError) and nothing after it was written.
// Buffers that do not match the map's layout, invalid flags and a closed Map
// are reported before any syscall, with nothing written. An empty batch
// returns (0, nil) without a syscall. keys and values are only read.
func (m *Map) UpdateBatch(keys, values []byte, flags Flags) (int, error) {
	return withFD(m, "update batch", func(fd *sys.FD) (int, error) {
		return m.update(fd, keys, values, flags, kernelLayout)
	})
}

// update is UpdateBatch and UpdateBatchOf once the fd is held.
func (m *Map) update(fd *sys.FD, keys, values []byte, flags Flags, lay layout) (int, error) {
	count, err := m.checkWrite(fd, keys, values, flags, lay)
	if err != nil || count == 0 {
		return 0, err
	}
	n, f := m.write(fd, keys, values, count, 0, flags, lay)
	return n, m.elemError(f, flags, count, n, nil)
}

// checkWrite validates an update before any syscall and returns the element
// count. This is the security boundary: the kernel reads count x key_size
// and count x stride bytes without knowing the buffers' lengths.
func (m *Map) checkWrite(fd *sys.FD, keys, values []byte, flags Flags, lay layout) (int, error) {
	const op = "update batch"
	if err := m.checkFlags(op, flags, false); err != nil {
		return 0, err
	}
	stride := m.srcStride(flags, lay)
	count, err := m.checkKeys(op, keys, values, stride, flags, lay)
	if err != nil || count == 0 && len(values) == 0 {
		return 0, err
	}
	if stride != 0 && count > math.MaxInt/stride {
		return 0, m.sizeError(op, "values", len(values), math.MaxInt, count, flags, lay)
	}
	if want := count * stride; len(values) != want {
		return 0, m.sizeError(op, "values", len(values), want, count, flags, lay)
	}
	if uint64(count) > math.MaxUint32 {
		return 0, fmt.Errorf("bpfbatch: %s on %s: %d elements exceed the kernel's u32 count; split the batch", op, m.info.describe(), count)
	}
	return count, m.checkOnCPU(fd, op, flags)
}

// checkKeys returns the element count keys give, or for keyless maps the
// count values give (stride bytes each).
func (m *Map) checkKeys(op string, keys, values []byte, stride int, flags Flags, lay layout) (int, error) {
	ks := int(m.info.KeySize)
	switch {
	case ks > 0:
		if len(keys)%ks != 0 {
			return 0, m.sizeError(op, "keys", len(keys), ks, 0, flags, lay)
		}
		return len(keys) / ks, nil
	case len(keys) != 0:
		return 0, m.sizeError(op, "keys", len(keys), 0, 0, flags, lay)
	case stride == 0:
		// Neither keys nor values (RingBuf): nothing can be written.
		if len(values) != 0 {
			return 0, m.sizeError(op, "values", len(values), 0, 0, flags, lay)
		}
		return 0, nil
	case len(values)%stride != 0:
		return 0, m.sizeError(op, "values", len(values), stride, 0, flags, lay)
	}
	return len(values) / stride, nil
}

func (m *Map) sizeError(op, buffer string, got, want, elements int, flags Flags, lay layout) *SizeError {
	e := &SizeError{Buffer: buffer, Got: got, Want: want, Op: op, Map: m.info, Elements: elements, CPUs: m.cpus, Flags: flags}
	if lay == unpaddedPerCPU && buffer == "values" {
		e.Entry = int(m.info.ValueSize)
	}
	return e
}

// enomemRetries bounds the pauses (1 ms, doubling: 255 ms in all) before
// a write the kernel refused with ENOMEM is reported. Maps that allocate
// per element (BPF_F_NO_PREALLOC, LPM tries) take memory without sleeping
// from caches the kernel refills in the background (the per-CPU
// allocator's balance work, bpf_mem_alloc's irq_work), and a fast batch
// can outrun the refill: seen on 6.12 with two writers into a per-CPU hash.
// A pause lets it run. Progress starts the pauses afresh.
const enomemRetries = 8

// enomemPauses is the time write pauses before it reports an ENOMEM.
const enomemPauses = (1<<enomemRetries - 1) * time.Millisecond

// write applies count validated elements. keys and values hold exactly
// those elements, in lay; base is the index of the first in the caller's
// whole call, so that a fault names the element as the caller counts it.
// The elements from one refused with ENOMEM are written again after a
// pause; any other failure ends the write.
func (m *Map) write(fd *sys.FD, keys, values []byte, count, base int, flags Flags, lay layout) (int, fault) {
	if count == 0 {
		return 0, fault{}
	}
	ks, vs := int(m.info.KeySize), len(values)/count
	done, pause, tries := 0, time.Millisecond, 0
	for {
		n, f := m.writeOnce(fd, keys[done*ks:], values[done*vs:], count-done, base+done, flags, lay)
		done += n
		if f.errno != unix.ENOMEM || tries == enomemRetries {
			return done, f
		}
		if n > 0 {
			pause, tries = time.Millisecond, 0
		}
		time.Sleep(pause)
		pause, tries = 2*pause, tries+1
	}
}

// writeOnce is write without retries. It is the single dispatch point
// between the batch command, the per-element path and the re-layout of
// per-CPU values.
func (m *Map) writeOnce(fd *sys.FD, keys, values []byte, count, base int, flags Flags, lay layout) (int, fault) {
	switch {
	case lay == unpaddedPerCPU:
		return m.writeRelaid(fd, keys, values, count, base, flags, m.padInto)
	case m.cpus > 0 && flags&UpdateAllCPUs != 0 && (flags&perElementFlags != 0 || !m.nativeCPUFlags(fd)):
		// Lay the one value out into every CPU's slot: before Linux 7.0,
		// and with UpdateNoExist/UpdateExist, which BPF_MAP_UPDATE_ELEM
		// refuses together with BPF_F_ALL_CPUS (EINVAL, seen on 7.2).
		return m.writeRelaid(fd, keys, values, count, base, flags&^UpdateAllCPUs, m.spreadInto)
	}
	return m.writeDirect(fd, keys, values, count, base, flags)
}

// writeDirect writes values that are in the kernel's layout for flags.
func (m *Map) writeDirect(fd *sys.FD, keys, values []byte, count, base int, flags Flags) (int, fault) {
	if flags&perElementFlags != 0 {
		return m.writeElems(fd, keys, values, count, base, flags)
	}
	if path, errno := m.probePath(fd); errno == 0 && path == PerElementPath {
		return m.writeElems(fd, keys, values, count, base, flags)
	}
	// On a probe error (EPERM, ...) the batch call reports it in full.
	attr := newBatchAttr(fd, keys, values, count, flags)
	errno := sys.MapUpdateBatch(&attr)
	if errno == 0 {
		return int(attr.Count), fault{}
	}
	// The kernel writes count back only after its loop; a failure before
	// it (flags, permission, map type) leaves the requested count in place.
	if attr.Count >= uint32(count) {
		return 0, m.newFault(fd, opUpdateBatch, errno, flags, -1)
	}
	return int(attr.Count), m.newFault(fd, opUpdateBatch, errno, flags, base+int(attr.Count))
}

// writeElems applies elements one by one with BPF_MAP_UPDATE_ELEM, in
// order, stopping at the first failure: the same contract as the batch
// command, for what the batch command cannot do.
func (m *Map) writeElems(fd *sys.FD, keys, values []byte, count, base int, flags Flags) (int, fault) {
	ks, vs := int(m.info.KeySize), m.strideFor(flags)
	for i := range count {
		attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], values[i*vs:(i+1)*vs], flags)
		if errno := sys.MapUpdateElem(&attr); errno != 0 {
			return i, m.newFault(fd, opUpdateElem, errno, flags, base+i)
		}
	}
	return count, fault{}
}

// scratchLimit bounds the scratch buffer a Map keeps for re-laid-out
// values. Batches of 64 elements and more already get nearly all of the
// batch command's gain, so writing in chunks of this size costs nothing
// measurable.
const scratchLimit = 1 << 20

// writeRelaid writes values that must be laid out anew first (relay turns n
// source elements into n elements of the kernel's per-CPU layout): chunk by
// chunk through a scratch buffer reused across calls.
func (m *Map) writeRelaid(fd *sys.FD, keys, values []byte, count, base int, flags Flags, relay func(dst, src []byte, n int)) (int, fault) {
	src := len(values) / count
	chunk := count
	if m.stride > 0 { // 0 only for a value_size the kernel refuses, but never divide by it
		chunk = max(1, min(count, scratchLimit/m.stride))
	}
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
		relay(dst, values[done*src:(done+n)*src], n)
		written, f := m.writeDirect(fd, keys[done*ks:(done+n)*ks], dst, n, base+done, flags)
		if f.failed() {
			return done + written, f
		}
		done += n
	}
	return count, fault{}
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

// Lookup reads the value of key into value (BPF_MAP_LOOKUP_ELEM). value must
// be ValueStride() bytes: for per-CPU maps every possible CPU's slot, in the
// layout UpdateBatch takes. A missing key gives ErrKeyNotExist. For
// map-in-map types the value read back is the inner map's ID, not an fd.
// On a Queue or Stack (nil key) it reads the next value without removing
// it.
func (m *Map) Lookup(key, value []byte) error {
	return m.LookupWith(key, value, UpdateAny)
}

// LookupWith is Lookup with flags: UpdateLock (BPF_F_LOCK: read the value
// under its bpf_spin_lock) or OnCPU(n) (Linux 7.0: read CPU n's value of a
// per-CPU map; value is then value_size bytes). Other flags are refused
// before the syscall.
func (m *Map) LookupWith(key, value []byte, flags Flags) error {
	_, err := withFD(m, "lookup", func(fd *sys.FD) (struct{}, error) {
		const op = "lookup"
		if err := m.checkFlags(op, flags, true); err != nil {
			return struct{}{}, err
		}
		if len(key) != int(m.info.KeySize) {
			return struct{}{}, &SizeError{Buffer: "keys", Got: len(key), Want: int(m.info.KeySize), Op: op, Map: m.info, Elements: 1, CPUs: m.cpus, Flags: flags, single: true}
		}
		if want := m.strideFor(flags); len(value) != want {
			return struct{}{}, &SizeError{Buffer: "values", Got: len(value), Want: want, Op: op, Map: m.info, Elements: 1, CPUs: m.cpus, Flags: flags, single: true}
		}
		if err := m.checkOnCPU(fd, op, flags); err != nil {
			return struct{}{}, err
		}
		attr := newElemAttr(fd, key, value, flags)
		if errno := sys.MapLookupElem(&attr); errno != 0 {
			return struct{}{}, &BatchError{Op: opLookupElem, Map: m.info, Flags: flags, Requested: 1, Index: 0, Errno: errno,
				Hint: m.elemHint(fd, opLookupElem, errno, flags, 0), single: true}
		}
		return struct{}{}, nil
	})
	return err
}

// UpdateBatchOf is the typed form of UpdateBatch. K and V are fixed-size
// types without pointers (integers, arrays, structs of those) laid out as
// the kernel expects: unsafe.Sizeof(K) must equal key_size, and
// unsafe.Sizeof(V) value_size. For per-CPU maps values holds
// len(keys) x PossibleCPUs() entries, element-major: all CPUs of element 0,
// then element 1, ...; there V may also be the 8-byte-rounded slot size.
// With OnCPU or UpdateAllCPUs values holds one V per key. Maps without keys
// take nil keys.
//
// The slices are reinterpreted in place, with no copy and no per-element
// encoding, wherever the Go layout is the kernel's. Two exceptions copy.
// A type with padding (struct{A uint8; B uint32} has 3 bytes after A) is
// copied with the padding zeroed, since Go leaves padding as it finds it and
// the kernel would store it as part of the key or value: one Go key could
// become two map entries. Declare the padding as a blank field (_ [3]byte)
// to keep the zero-copy path. And a per-CPU map whose value_size is not a
// multiple of 8 wants each CPU's value padded to 8 bytes, so values are
// copied, in bounded chunks, into a scratch buffer reused across calls, with
// the padding zeroed; that path may issue several BPF_MAP_UPDATE_BATCH
// calls, with the same contract.
func UpdateBatchOf[K, V any](m *Map, keys []K, values []V, flags Flags) (int, error) {
	return withFD(m, "update batch", func(fd *sys.FD) (int, error) {
		kb, vb, lay, err := typedBytes(m, keys, values, flags)
		if err != nil {
			return 0, err
		}
		return m.update(fd, kb, vb, flags, lay)
	})
}

// typedBytes checks K and V against m's layout and views the slices as
// bytes without copying, in the layout it returns.
func typedBytes[K, V any](m *Map, keys []K, values []V, flags Flags) (kb, vb []byte, lay layout, err error) {
	var k K
	var v V
	keySize, valueSize := int(unsafe.Sizeof(k)), int(unsafe.Sizeof(v))
	pair, err := checkPair[K, V](m)
	if err != nil {
		return nil, nil, 0, err
	}
	if keySize != int(m.info.KeySize) {
		return nil, nil, 0, m.typeSizeError("keys", typeName[K](), keySize, int(m.info.KeySize))
	}
	if m.info.KeySize == 0 && len(keys) != 0 {
		return nil, nil, 0, m.sizeError("update batch", "keys", len(keys), 0, 0, flags, kernelLayout)
	}
	kb = withoutPadding(asBytes(keys), keySize, pair.keyPad)
	vb = withoutPadding(asBytes(values), valueSize, pair.valuePad)
	switch {
	case m.cpus == 0 || flags.onePerElement():
		if valueSize == int(m.info.ValueSize) {
			return kb, vb, kernelLayout, nil
		}
	case valueSize == slotSize(m.info.ValueSize):
		return kb, vb, kernelLayout, nil // V is a whole per-CPU slot
	case valueSize == int(m.info.ValueSize):
		return kb, vb, unpaddedPerCPU, nil
	}
	return nil, nil, 0, m.typeSizeError("values", typeName[V](), valueSize, int(m.info.ValueSize))
}

func (m *Map) typeSizeError(buffer, typ string, got, want int) *SizeError {
	return &SizeError{Buffer: buffer, Got: got, Want: want, Op: "update batch", Map: m.info, CPUs: m.cpus, Type: typ}
}

// asBytes reinterprets a slice of plain values as its bytes, without a copy.
func asBytes[T any](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}
