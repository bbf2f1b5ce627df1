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

// MapCreate creates a map (BPF_MAP_CREATE).
func MapCreate(attr *MapCreateAttr) (*FD, unix.Errno) {
	fd, errno := newObject(bpf(unix.BPF_MAP_CREATE, noFD, unsafe.Pointer(attr), unsafe.Sizeof(*attr)))
	runtime.KeepAlive(attr)
	return fd, errno
}

// MapLookupElem reads one value (BPF_MAP_LOOKUP_ELEM).
func MapLookupElem(attr *MapElemAttr) unix.Errno {
	return elemCmd(unix.BPF_MAP_LOOKUP_ELEM, attr)
}

// MapUpdateElem writes one element (BPF_MAP_UPDATE_ELEM).
func MapUpdateElem(attr *MapElemAttr) unix.Errno {
	return elemCmd(unix.BPF_MAP_UPDATE_ELEM, attr)
}

// MapDeleteElem deletes one key (BPF_MAP_DELETE_ELEM).
func MapDeleteElem(attr *MapElemAttr) unix.Errno {
	return elemCmd(unix.BPF_MAP_DELETE_ELEM, attr)
}

// MapGetNextKey writes the key after attr.Key (the first key when Key is
// nil) to attr.Value (BPF_MAP_GET_NEXT_KEY).
func MapGetNextKey(attr *MapElemAttr) unix.Errno {
	return elemCmd(unix.BPF_MAP_GET_NEXT_KEY, attr)
}

// MapLookupAndDeleteElem pops one value (BPF_MAP_LOOKUP_AND_DELETE_ELEM).
func MapLookupAndDeleteElem(attr *MapElemAttr) unix.Errno {
	return elemCmd(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, attr)
}

func elemCmd(cmd int, attr *MapElemAttr) unix.Errno {
	_, errno := bpf(cmd, int(attr.MapFD), unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	return errno
}

// MapUpdateBatch writes attr.Count elements (BPF_MAP_UPDATE_BATCH, 5.6+).
func MapUpdateBatch(attr *MapBatchAttr) unix.Errno {
	return batchCmd(unix.BPF_MAP_UPDATE_BATCH, attr)
}

// MapLookupBatch reads up to attr.Count elements after attr.InBatch
// (BPF_MAP_LOOKUP_BATCH, 5.6+).
func MapLookupBatch(attr *MapBatchAttr) unix.Errno {
	return batchCmd(unix.BPF_MAP_LOOKUP_BATCH, attr)
}

// MapLookupAndDeleteBatch reads and deletes up to attr.Count elements
// (BPF_MAP_LOOKUP_AND_DELETE_BATCH, 5.6+).
func MapLookupAndDeleteBatch(attr *MapBatchAttr) unix.Errno {
	return batchCmd(unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH, attr)
}

// MapDeleteBatch deletes attr.Count keys (BPF_MAP_DELETE_BATCH, 5.6+).
func MapDeleteBatch(attr *MapBatchAttr) unix.Errno {
	return batchCmd(unix.BPF_MAP_DELETE_BATCH, attr)
}

func batchCmd(cmd int, attr *MapBatchAttr) unix.Errno {
	_, errno := bpf(cmd, int(attr.MapFD), unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	return errno
}

// MapFreeze makes a map read-only to user space (BPF_MAP_FREEZE).
func MapFreeze(attr *MapFDAttr) unix.Errno {
	_, errno := bpf(unix.BPF_MAP_FREEZE, int(attr.MapFD), unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	return errno
}

// MapGetFDByID opens the map with attr.ID (BPF_MAP_GET_FD_BY_ID).
func MapGetFDByID(attr *MapGetFDByIDAttr) (*FD, unix.Errno) {
	fd, errno := newObject(bpf(unix.BPF_MAP_GET_FD_BY_ID, noFD, unsafe.Pointer(attr), unsafe.Sizeof(*attr)))
	runtime.KeepAlive(attr)
	return fd, errno
}

// ObjPin pins attr.BPFFD at attr.Pathname (BPF_OBJ_PIN).
func ObjPin(attr *ObjAttr) unix.Errno {
	_, errno := bpf(unix.BPF_OBJ_PIN, int(attr.BPFFD), unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	return errno
}

// ObjGet opens the object pinned at attr.Pathname (BPF_OBJ_GET).
func ObjGet(attr *ObjAttr) (*FD, unix.Errno) {
	fd, errno := newObject(bpf(unix.BPF_OBJ_GET, noFD, unsafe.Pointer(attr), unsafe.Sizeof(*attr)))
	runtime.KeepAlive(attr)
	return fd, errno
}

// ObjGetInfoByFD fills attr.Info with up to attr.InfoLen bytes of the
// object's info struct (BPF_OBJ_GET_INFO_BY_FD).
func ObjGetInfoByFD(attr *InfoAttr) unix.Errno {
	_, errno := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, int(attr.BPFFD), unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	runtime.KeepAlive(attr)
	return errno
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
	fd, errno := newObject(bpf(unix.BPF_BTF_LOAD, noFD, unsafe.Pointer(attr), unsafe.Sizeof(*attr)))
	runtime.KeepAlive(attr)
	return fd, errno
}

// ProgLoad loads a program (BPF_PROG_LOAD).
func ProgLoad(attr *ProgLoadAttr) (*FD, unix.Errno) {
	fd, errno := newObject(bpf(unix.BPF_PROG_LOAD, noFD, unsafe.Pointer(attr), unsafe.Sizeof(*attr)))
	runtime.KeepAlive(attr)
	return fd, errno
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
