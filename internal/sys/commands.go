package sys

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// One wrapper per bpf(2) command. Each passes exactly its attr's size (the
// kernel zero-fills the rest of its union bpf_attr), and keeps attr, and
// with it every buffer its Pointers reference, alive until the kernel has
// returned. An errno of 0 means success.

// call issues cmd with attr; fd is the object it acts on (noFD for none).
func call[A any](cmd, fd int, attr *A) (uintptr, unix.Errno) {
	r, errno := bpf(cmd, fd, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	return r, errno
}

// errnoOf drops call's result.
func errnoOf(_ uintptr, errno unix.Errno) unix.Errno { return errno }

// MapCreate creates a map (BPF_MAP_CREATE).
func MapCreate(attr *MapCreateAttr) (*FD, unix.Errno) {
	return newObject(call(unix.BPF_MAP_CREATE, noFD, attr))
}

// MapLookupElem reads one value (BPF_MAP_LOOKUP_ELEM).
func MapLookupElem(attr *MapElemAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_LOOKUP_ELEM, int(attr.MapFD), attr))
}

// MapUpdateElem writes one element (BPF_MAP_UPDATE_ELEM).
func MapUpdateElem(attr *MapElemAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_UPDATE_ELEM, int(attr.MapFD), attr))
}

// MapDeleteElem deletes one key (BPF_MAP_DELETE_ELEM).
func MapDeleteElem(attr *MapElemAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_DELETE_ELEM, int(attr.MapFD), attr))
}

// MapGetNextKey writes the key after attr.Key (the first key when Key is
// nil) to attr.Value (BPF_MAP_GET_NEXT_KEY).
func MapGetNextKey(attr *MapElemAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_GET_NEXT_KEY, int(attr.MapFD), attr))
}

// MapLookupAndDeleteElem pops one value (BPF_MAP_LOOKUP_AND_DELETE_ELEM).
func MapLookupAndDeleteElem(attr *MapElemAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, int(attr.MapFD), attr))
}

// MapUpdateBatch writes attr.Count elements (BPF_MAP_UPDATE_BATCH, 5.6+).
func MapUpdateBatch(attr *MapBatchAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_UPDATE_BATCH, int(attr.MapFD), attr))
}

// MapLookupBatch reads up to attr.Count elements after attr.InBatch
// (BPF_MAP_LOOKUP_BATCH, 5.6+).
func MapLookupBatch(attr *MapBatchAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_LOOKUP_BATCH, int(attr.MapFD), attr))
}

// MapLookupAndDeleteBatch reads and deletes up to attr.Count elements
// (BPF_MAP_LOOKUP_AND_DELETE_BATCH, 5.6+).
func MapLookupAndDeleteBatch(attr *MapBatchAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH, int(attr.MapFD), attr))
}

// MapDeleteBatch deletes attr.Count keys (BPF_MAP_DELETE_BATCH, 5.6+).
func MapDeleteBatch(attr *MapBatchAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_DELETE_BATCH, int(attr.MapFD), attr))
}

// MapFreeze makes a map read-only to user space (BPF_MAP_FREEZE).
func MapFreeze(attr *MapFDAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_FREEZE, int(attr.MapFD), attr))
}

// MapGetFDByID opens the map with attr.ID (BPF_MAP_GET_FD_BY_ID).
func MapGetFDByID(attr *MapGetFDByIDAttr) (*FD, unix.Errno) {
	return newObject(call(unix.BPF_MAP_GET_FD_BY_ID, noFD, attr))
}

// MapGetNextID writes the ID of the map after attr.ID (its start_id) to
// attr.NextID (BPF_MAP_GET_NEXT_ID).
func MapGetNextID(attr *MapGetFDByIDAttr) unix.Errno {
	return errnoOf(call(unix.BPF_MAP_GET_NEXT_ID, noFD, attr))
}

// ObjPin pins attr.BPFFD at attr.Pathname (BPF_OBJ_PIN).
func ObjPin(attr *ObjAttr) unix.Errno {
	return errnoOf(call(unix.BPF_OBJ_PIN, int(attr.BPFFD), attr))
}

// ObjGet opens the object pinned at attr.Pathname (BPF_OBJ_GET).
func ObjGet(attr *ObjAttr) (*FD, unix.Errno) {
	return newObject(call(unix.BPF_OBJ_GET, noFD, attr))
}

// ObjGetInfoByFD fills attr.Info with up to attr.InfoLen bytes of the
// object's info struct (BPF_OBJ_GET_INFO_BY_FD).
func ObjGetInfoByFD(attr *InfoAttr) unix.Errno {
	return errnoOf(call(unix.BPF_OBJ_GET_INFO_BY_FD, int(attr.BPFFD), attr))
}

// MapGetInfo reads the map's struct bpf_map_info into info
// (BPF_OBJ_GET_INFO_BY_FD with info_len = sizeof(MapInfo): the kernel
// copies no more, so newer kernels' longer struct stays compatible).
func MapGetInfo(fd *FD, info *MapInfo) unix.Errno {
	attr := InfoAttr{BPFFD: fd.Uint(), InfoLen: uint32(unsafe.Sizeof(*info)), Info: NewPointer(unsafe.Pointer(info))}
	return ObjGetInfoByFD(&attr)
}

// BTFLoad loads type information (BPF_BTF_LOAD).
func BTFLoad(attr *BTFLoadAttr) (*FD, unix.Errno) {
	return newObject(call(unix.BPF_BTF_LOAD, noFD, attr))
}

// ProgLoad loads a program (BPF_PROG_LOAD).
func ProgLoad(attr *ProgLoadAttr) (*FD, unix.Errno) {
	return newObject(call(unix.BPF_PROG_LOAD, noFD, attr))
}

// newObject wraps the fd a creating command returned.
func newObject(r uintptr, errno unix.Errno) (*FD, unix.Errno) {
	if errno != 0 {
		return nil, errno
	}
	fd, err := NewFD(int(r))
	if err != nil {
		// Only a failed dup of fd 0 gets here: out of descriptors.
		return nil, unix.EMFILE
	}
	return fd, 0
}
