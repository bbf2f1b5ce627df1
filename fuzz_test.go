package bpfbatch

import (
	"encoding/binary"
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

// FuzzReadValidation feeds arbitrary map shapes, buffer lengths, flags and
// kernel answers (counts past the request, ENOENT, ENOSPC, EINVAL) to
// LookupBatch, LookupAndDeleteBatch and DeleteBatch against a fake kernel.
// Whatever the input: no panic, invalid input reaches no read or delete
// command, every command is handed buffers at least as long as the kernel
// will write, and no call reports more elements than the buffers hold.
func FuzzReadValidation(f *testing.F) {
	f.Add(uint8(0), uint16(4), uint16(8), uint16(64), uint32(128), uint64(0), uint8(0), uint64(0))
	f.Add(uint8(2), uint16(4), uint16(8), uint16(8), uint32(32), uint64(8), uint8(1), uint64(0x9a))
	f.Add(uint8(5), uint16(8), uint16(4), uint16(16), uint32(8), uint64(0), uint8(0), uint64(0x2222))
	f.Add(uint8(1), uint16(4), uint16(4), uint16(12), uint32(12), uint64(0), uint8(2), uint64(1))
	f.Add(uint8(7), uint16(0), uint16(4), uint16(0), uint32(12), uint64(0), uint8(0), uint64(3))
	f.Fuzz(func(t *testing.T, typIdx uint8, keySize, valueSize, keysLen uint16, valuesLen uint32, flags uint64, op uint8, answers uint64) {
		valuesLen %= 1 << 18
		typ := fuzzMapTypes[int(typIdx)%len(fuzzMapTypes)]
		keys, values := make([]byte, keysLen), make([]byte, valuesLen)
		fk := &fakeKernel{}
		m := newFakeMap(t, fakeInfo(typ, uint32(keySize), uint32(valueSize), 1000), fk)
		ks, stride := int(keySize), m.ValueStrideFor(Flags(flags))
		// The Cursor first walks a hash map with 4-byte keys (its buffers
		// then fit that map), and is Reset for m: nothing the kernel writes
		// for m may land in memory sized for the other map.
		var c Cursor
		prev := newFakeMap(t, fakeInfo(Hash, 4, 8, 1000), &fakeKernel{})
		if _, err := prev.LookupBatch(&c, make([]byte, 4), make([]byte, 8), UpdateAny); err != nil {
			t.Fatal(err)
		}
		c.Reset()
		// next takes the fake's next answer from answers, 8 bits a call:
		// 2 for the errno, 6 for the count it writes back.
		next := func() (uint32, unix.Errno) {
			a := answers & 0xff
			answers = answers>>8 | a<<56
			return uint32(a >> 2), [...]unix.Errno{0, unix.ENOENT, unix.ENOSPC, unix.EINVAL}[a&3]
		}
		within := func(what string, ptr uint64, n int, bufs ...[]byte) {
			if ptr == 0 || n == 0 {
				return
			}
			for _, b := range bufs {
				if len(b) > 0 && ptr == addr(b) {
					if n > len(b) {
						t.Fatalf("%s: kernel may write %d bytes to a %d-byte buffer", what, n, len(b))
					}
					return
				}
			}
			t.Fatalf("%s: attr points at no buffer of the caller's or the Cursor's", what)
		}
		fk.other = func(cmd int, attr []byte) unix.Errno {
			switch cmd {
			case unix.BPF_MAP_LOOKUP_BATCH, unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH, unix.BPF_MAP_DELETE_BATCH:
				a := decodeBatch(attr)
				n := int(a.Count)
				within("keys", a.Keys, n*ks, keys, c.pendKeys)
				if cmd != unix.BPF_MAP_DELETE_BATCH {
					within("values", a.Values, n*stride, values, c.pendValues)
					within("out_batch", a.OutBatch, max(4, ks), c.batch)
					within("in_batch", a.InBatch, max(4, ks), c.batch)
				}
				if n == 0 { // the library's probe for the command
					return 0
				}
				count, errno := next()
				binary.NativeEndian.PutUint32(attr[uapiCount:], count)
				return errno
			case unix.BPF_MAP_GET_NEXT_KEY:
				_, errno := next()
				return errno
			}
			return 0
		}
		maxElems := 0
		if ks > 0 {
			maxElems = len(keys) / ks
		}
		for range 3 {
			var n int
			var err error
			switch op % 3 {
			case 0:
				n, err = m.LookupBatch(&c, keys, values, Flags(flags))
			case 1:
				n, err = m.LookupAndDeleteBatch(&c, keys, values, Flags(flags))
			case 2:
				n, err = m.DeleteBatch(keys, Flags(flags))
			}
			var se *SizeError
			if errors.As(err, &se) || errors.Is(err, ErrInvalidFlags) || errors.Is(err, ErrNotSupported) {
				for _, cmd := range []int{unix.BPF_MAP_LOOKUP_ELEM, unix.BPF_MAP_GET_NEXT_KEY, unix.BPF_MAP_DELETE_ELEM} {
					if fk.count(cmd) != 0 {
						t.Fatalf("invalid input (%v) reached command %d", err, cmd)
					}
				}
				if n != 0 {
					t.Fatalf("invalid input (%v), n=%d", err, n)
				}
				return
			}
			if n < 0 || n > maxElems {
				t.Fatalf("%d elements reported from buffers for %d", n, maxElems)
			}
			if err != nil || n == 0 {
				return
			}
		}
	})
}
