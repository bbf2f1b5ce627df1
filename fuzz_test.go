package bpfbatch

import (
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

var fuzzMapTypes = []MapType{Hash, Array, PerCPUHash, PerCPUArray, LRUPerCPUHash, LPMTrie, HashOfMaps, Queue, BloomFilter, RingBuf, DevMap}

// FuzzUpdateBatchValidation feeds arbitrary map shapes, buffer lengths and
// flags to UpdateBatch against a fake kernel. Whatever the input: no panic,
// invalid input makes no syscall, and a syscall never asks the kernel to
// read a byte past the caller's buffers.
func FuzzUpdateBatchValidation(f *testing.F) {
	f.Add(uint8(0), uint16(4), uint16(8), uint16(16), uint32(32), uint64(0))
	f.Add(uint8(2), uint16(4), uint16(12), uint16(8), uint32(64), uint64(4))
	f.Add(uint8(7), uint16(0), uint16(4), uint16(0), uint32(12), uint64(2))
	f.Add(uint8(9), uint16(0), uint16(0), uint16(0), uint32(0), uint64(0))
	f.Add(uint8(1), uint16(4), uint16(8), uint16(10), uint32(16), uint64(3))
	f.Fuzz(func(t *testing.T, typIdx uint8, keySize, valueSize, keysLen uint16, valuesLen uint32, flags uint64) {
		valuesLen %= 1 << 18
		typ := fuzzMapTypes[int(typIdx)%len(fuzzMapTypes)]
		keys, values := make([]byte, keysLen), make([]byte, valuesLen)
		fk := &fakeKernel{}
		m := newFakeMap(t, fakeInfo(typ, uint32(keySize), uint32(valueSize), 1000), fk)
		stride := m.ValueStrideFor(Flags(flags)) // value_size per element with OnCPU/UpdateAllCPUs
		withinBuffers := func(count uint64, keysAddr, valuesAddr uint64) {
			if count == 0 {
				return
			}
			if count*uint64(keySize) > uint64(len(keys)) || count*uint64(stride) > uint64(len(values)) {
				t.Fatalf("kernel asked to read %d elements of %d+%d bytes from %d+%d bytes", count, keySize, stride, len(keys), len(values))
			}
			if keySize > 0 && keysAddr != addr(keys) || stride > 0 && valuesAddr != addr(values) {
				t.Fatalf("attr points elsewhere than the caller's buffers")
			}
		}
		fk.batch = func(a decodedBatch) (uint32, unix.Errno) {
			withinBuffers(uint64(a.Count), a.Keys, a.Values)
			return a.Count, 0
		}
		n, err := m.UpdateBatch(keys, values, Flags(flags))
		var se *SizeError
		if errors.As(err, &se) || errors.Is(err, ErrInvalidFlags) {
			if fk.total() != 0 || n != 0 {
				t.Fatalf("invalid input (%v) made %d syscalls, n=%d", err, fk.total(), n)
			}
			return
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		if Flags(flags).Validate() != nil {
			t.Fatalf("flags %#x accepted", flags)
		}
		// Per-element calls: each reads one key and one stride.
		if fk.count(unix.BPF_MAP_UPDATE_ELEM) > 0 {
			withinBuffers(uint64(fk.count(unix.BPF_MAP_UPDATE_ELEM)), addr(keys), addr(values))
		}
		if n > 0 && (keySize > 0 && n*int(keySize) != len(keys) || n*stride != len(values)) {
			t.Fatalf("wrote %d elements from %d key bytes and %d value bytes (key %d, stride %d)", n, len(keys), len(values), keySize, stride)
		}
	})
}

// FuzzBatchAttrRoundTrip checks the attr marshalling against the independent
// UAPI-offset decoder for arbitrary field values.
func FuzzBatchAttrRoundTrip(f *testing.F) {
	f.Add(int32(3), uint32(1), uint64(0), uint16(4), uint16(8))
	f.Add(int32(1<<30), uint32(1<<32-1), uint64(4), uint16(0), uint16(0))
	f.Add(int32(-1), uint32(0), uint64(1<<63), uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, fd int32, count uint32, flags uint64, keysLen, valuesLen uint16) {
		keys, values := make([]byte, keysLen), make([]byte, valuesLen)
		raw := int(fd&0x7fffffff) | 1 // a number only: NewFD moves 0, and this fd is never closed
		a := newBatchAttr(testFD(t, raw), keys, values, int(count), Flags(flags))
		b := unsafe.Slice((*byte)(unsafe.Pointer(&a)), unsafe.Sizeof(a))
		if len(b) != uapiBatchSize {
			t.Fatalf("attr is %d bytes", len(b))
		}
		got := decodeBatch(b)
		want := decodedBatch{Keys: addr(keys), Values: addr(values), Count: count, MapFD: uint32(raw), ElemFlags: flags}
		if keysLen == 0 {
			want.Keys = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(keys))))
		}
		if valuesLen == 0 {
			want.Values = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(values))))
		}
		if got != want {
			t.Fatalf("decoded %+v, want %+v", got, want)
		}
		if unsafe.Sizeof(uintptr(0)) == 4 && (got.Keys>>32 != 0 || got.Values>>32 != 0) {
			t.Fatalf("pointer not zero-extended: %+v", got)
		}
	})
}
