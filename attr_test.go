package bpfbatch

import (
	"testing"
	"unsafe"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// attrBytes returns the bytes bpf(2) would read for a.
func attrBytes(a *sys.MapBatchAttr) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(a)), unsafe.Sizeof(*a))...)
}

// testFD wraps a descriptor number for attr tests that never use it.
func testFD(t testing.TB, raw int) *sys.FD {
	t.Helper()
	fd, err := sys.NewFD(raw)
	if err != nil || fd.Int() != raw {
		t.Fatalf("NewFD(%d) = %v, %v", raw, fd, err)
	}
	return fd
}

func TestNewBatchAttrEncodesEveryField(t *testing.T) {
	keys := make([]byte, 12)
	values := make([]byte, 24)
	a := newBatchAttr(testFD(t, 7), keys, values, 3, UpdateLock)
	got := decodeBatch(attrBytes(&a))
	want := decodedBatch{
		Keys:      uint64(uintptr(unsafe.Pointer(&keys[0]))),
		Values:    uint64(uintptr(unsafe.Pointer(&values[0]))),
		Count:     3,
		MapFD:     7,
		ElemFlags: uint64(UpdateLock),
	}
	if got != want {
		t.Fatalf("decoded attr = %+v, want %+v", got, want)
	}
	if len(attrBytes(&a)) != uapiBatchSize {
		t.Fatalf("attr is %d bytes, want %d", len(attrBytes(&a)), uapiBatchSize)
	}
}

// On 32-bit architectures a pointer is 4 bytes but the kernel reads a u64:
// the upper half must be zero, not whatever follows the pointer.
func TestBatchAttrPointersAreZeroExtendedU64(t *testing.T) {
	keys := []byte{1, 2, 3, 4}
	values := []byte{5, 6, 7, 8}
	a := newBatchAttr(testFD(t, 3), keys, values, 1, UpdateAny)
	b := attrBytes(&a)
	got := decodeBatch(b)
	if got.Keys != uint64(uintptr(unsafe.Pointer(&keys[0]))) || got.Values != uint64(uintptr(unsafe.Pointer(&values[0]))) {
		t.Fatalf("pointers decode as %#x, %#x; want %p, %p", got.Keys, got.Values, &keys[0], &values[0])
	}
	if unsafe.Sizeof(uintptr(0)) == 4 && (got.Keys>>32 != 0 || got.Values>>32 != 0) {
		t.Fatalf("32-bit pointers not zero-extended: keys %#x values %#x", got.Keys, got.Values)
	}
	if got.InBatch != 0 || got.OutBatch != 0 || got.Flags != 0 {
		t.Fatalf("in_batch/out_batch/flags must be zero, got %+v", got)
	}
	t.Logf("GOARCH pointer size %d, keys at %#x", unsafe.Sizeof(uintptr(0)), got.Keys)
}
