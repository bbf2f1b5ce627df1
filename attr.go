package bpfbatch

import (
	"unsafe"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// batchAttr is the batch member of union bpf_attr (include/uapi/linux/bpf.h):
//
//	struct { /* BPF_MAP_*_BATCH */
//		__aligned_u64 in_batch;   // @0
//		__aligned_u64 out_batch;  // @8
//		__aligned_u64 keys;       // @16
//		__aligned_u64 values;     // @24
//		__u32 count;              // @32, in: elements; out: elements done
//		__u32 map_fd;             // @36
//		__u64 elem_flags;         // @40
//		__u64 flags;              // @48
//	} batch;                      // 56 bytes
//
// Pointers are u64 on every architecture (sys.Pointer zero-extends them on
// 32-bit). bpf(2) is passed exactly these 56 bytes: the kernel zero-fills
// the rest of its 168-byte attr, and would reject non-zero bytes there.
type batchAttr struct {
	inBatch   sys.Pointer // ignored by update; always nil
	outBatch  sys.Pointer // ignored by update; always nil
	keys      sys.Pointer
	values    sys.Pointer
	count     uint32
	mapFD     uint32
	elemFlags uint64
	flags     uint64 // batch.flags: no update flag is defined; always 0
}

// newBatchAttr builds the attr for one BPF_MAP_UPDATE_BATCH of count
// elements. The caller has checked that keys and values hold exactly count
// elements, so the kernel reads no byte outside them.
func newBatchAttr(fd int, keys, values []byte, count uint32, flags Flags) batchAttr {
	return batchAttr{
		keys:      sys.NewPointer(unsafe.Pointer(unsafe.SliceData(keys))),
		values:    sys.NewPointer(unsafe.Pointer(unsafe.SliceData(values))),
		count:     count,
		mapFD:     uint32(fd),
		elemFlags: uint64(flags),
	}
}
