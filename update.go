package bpfbatch

import (
	"math"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

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
	return withFD(m, opUpdate, func(fd *sys.FD) (int, error) {
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
	return n, m.batchError(opUpdate, f, nil, flags, count, n, nil)
}

// checkWrite validates an update before any syscall and returns the element
// count. This is the security boundary: the kernel reads count x key_size
// and count x stride bytes without knowing the buffers' lengths.
func (m *Map) checkWrite(fd *sys.FD, keys, values []byte, flags Flags, lay layout) (int, error) {
	if err := m.checkWritable(opUpdate); err != nil {
		return 0, err
	}
	return m.checkElements(fd, opUpdate, keys, values, flags, lay)
}

// checkElements checks keys and values for op (an update, or what Sync
// compares) against the map's layout and returns the element count.
func (m *Map) checkElements(fd *sys.FD, op string, keys, values []byte, flags Flags, lay layout) (int, error) {
	if err := m.checkFlags(op, flags, false); err != nil {
		return 0, err
	}
	stride := m.srcStride(flags, lay)
	count, err := m.checkKeys(op, keys, values, stride, flags, lay)
	if err != nil || count == 0 && len(values) == 0 {
		return 0, err
	}
	want := math.MaxInt
	if stride == 0 || count <= math.MaxInt/stride {
		want = count * stride
	}
	if len(values) != want {
		return 0, m.valuesSizeError(op, len(values), want, count, flags, lay)
	}
	if err := m.checkCount(op, count); err != nil {
		return 0, err
	}
	return count, m.checkOnCPU(fd, op, flags)
}

// checkCount refuses a call for more elements than the kernel's u32 count.
func (m *Map) checkCount(op string, count int) error {
	if uint64(count) > math.MaxUint32 {
		return m.refuse(op, ErrInvalidArgument, "%d elements exceed the kernel's u32 count; split the batch", count)
	}
	return nil
}

// option is a numeric option of a call, for checkNotNegative.
type option struct {
	name  string
	value int
}

// checkNotNegative refuses negative options.
func (m *Map) checkNotNegative(op string, opts ...option) error {
	for _, o := range opts {
		if o.value < 0 {
			return m.refuse(op, ErrInvalidArgument, "%s is %d; it must not be negative", o.name, o.value)
		}
	}
	return nil
}

// checkKeys returns the element count keys give, or for keyless maps the
// count values give (stride bytes each).
func (m *Map) checkKeys(op string, keys, values []byte, stride int, flags Flags, lay layout) (int, error) {
	ks := int(m.info.KeySize)
	switch {
	case ks > 0:
		if len(keys)%ks != 0 {
			return 0, m.sizeError(SizeError{Op: op, Buffer: "keys", Got: len(keys), Want: ks, Flags: flags})
		}
		return len(keys) / ks, nil
	case len(keys) != 0:
		return 0, m.sizeError(SizeError{Op: op, Buffer: "keys", Got: len(keys), Flags: flags})
	case stride == 0:
		// Neither keys nor values (RingBuf): nothing can be written.
		if len(values) != 0 {
			return 0, m.valuesSizeError(op, len(values), 0, 0, flags, lay)
		}
		return 0, nil
	case len(values)%stride != 0:
		return 0, m.valuesSizeError(op, len(values), stride, 0, flags, lay)
	}
	return len(values) / stride, nil
}

// valuesSizeError is the SizeError of a values buffer of got bytes where
// want were needed for elements elements in lay.
func (m *Map) valuesSizeError(op string, got, want, elements int, flags Flags, lay layout) *SizeError {
	e := SizeError{Op: op, Buffer: "values", Got: got, Want: want, Elements: elements, Flags: flags}
	if lay == unpaddedPerCPU {
		e.Entry = int(m.info.ValueSize)
	}
	return m.sizeError(e)
}

// enomemRetries bounds the pauses (1 ms, doubling: 255 ms in all) before
// a write the kernel refused with ENOMEM is reported. Maps that allocate
// per element (BPF_F_NO_PREALLOC, LPM tries) take memory without sleeping
// from caches the kernel refills in the background (the per-CPU
// allocator's balance work, bpf_mem_alloc's irq_work), and a fast batch
// can outrun the refill. A pause lets it run. Progress starts the pauses
// afresh.
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
	if flags&perElementFlags != 0 || m.perElement(fd, &m.updatePath, sys.MapUpdateBatch) {
		return m.writeElems(fd, keys, values, count, base, flags)
	}
	attr := newBatchAttr(fd, keys, values, count, flags)
	errno := sys.MapUpdateBatch(&attr)
	if errno == 0 {
		return int(attr.Count), fault{}
	}
	// The kernel writes count back only after its loop; a failure before
	// it (flags, permission, map type) leaves the requested count in place.
	if attr.Count >= uint32(count) {
		return 0, m.newFault(fd, cmdUpdateBatch, errno, flags, -1)
	}
	return int(attr.Count), m.newFault(fd, cmdUpdateBatch, errno, flags, base+int(attr.Count))
}

// writeElems applies elements one by one with BPF_MAP_UPDATE_ELEM, in
// order, stopping at the first failure: the same contract as the batch
// command, for what the batch command cannot do.
func (m *Map) writeElems(fd *sys.FD, keys, values []byte, count, base int, flags Flags) (int, fault) {
	ks, vs := int(m.info.KeySize), m.strideFor(flags)
	for i := range count {
		attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], values[i*vs:(i+1)*vs], flags)
		if errno := sys.MapUpdateElem(&attr); errno != 0 {
			return i, m.newFault(fd, cmdUpdateElem, errno, flags, base+i)
		}
	}
	return count, fault{}
}

// writeRelaid writes values that must be laid out anew first (relay turns n
// source elements into n elements of the kernel's per-CPU layout): chunk by
// chunk through a scratch buffer reused across calls.
func (m *Map) writeRelaid(fd *sys.FD, keys, values []byte, count, base int, flags Flags, relay func(dst, src []byte, n int)) (int, fault) {
	src := len(values) / count
	chunk := count
	if m.stride > 0 { // 0 only for a value_size the kernel refuses, but never divide by it
		chunk = max(1, min(count, scratchLimit/m.stride))
	}
	buf, owned := m.takeScratch(chunk * m.stride)
	defer m.giveScratch(owned)
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
