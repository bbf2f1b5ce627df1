package sys

import "golang.org/x/sys/unix"

// ObjNameLen is BPF_OBJ_NAME_LEN: 15 name bytes and a NUL.
const ObjNameLen = unix.BPF_OBJ_NAME_LEN

// MapCreateAttr is the BPF_MAP_CREATE member of union bpf_attr.
type MapCreateAttr struct {
	MapType               uint32
	KeySize               uint32
	ValueSize             uint32
	MaxEntries            uint32
	MapFlags              uint32
	InnerMapFD            uint32
	NumaNode              uint32
	MapName               [ObjNameLen]byte
	MapIfindex            uint32
	BTFFD                 uint32
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	BTFVmlinuxValueTypeID uint32
	MapExtra              uint64
}

// MapElemAttr is the BPF_MAP_*_ELEM member of union bpf_attr; for
// BPF_MAP_GET_NEXT_KEY the Value field is next_key.
type MapElemAttr struct {
	MapFD uint32
	_     uint32
	Key   Pointer
	Value Pointer
	Flags uint64
}

// MapBatchAttr is the batch member of union bpf_attr, shared by
// BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH. The kernel writes
// Count back (elements done) and, for lookups, the cursor to OutBatch.
type MapBatchAttr struct {
	InBatch   Pointer // lookups: the cursor to start after; nil = start
	OutBatch  Pointer // lookups: where the kernel writes the next cursor
	Keys      Pointer
	Values    Pointer
	Count     uint32 // in: elements; out: elements done
	MapFD     uint32
	ElemFlags uint64
	Flags     uint64 // no flag is defined; always 0
}

// ObjAttr is the BPF_OBJ_PIN / BPF_OBJ_GET member of union bpf_attr.
type ObjAttr struct {
	Pathname  Pointer
	BPFFD     uint32
	FileFlags uint32
	PathFD    int32
	_         uint32
}

// MapGetFDByIDAttr is the BPF_MAP_GET_FD_BY_ID member of union bpf_attr,
// and of BPF_MAP_GET_NEXT_ID (ID is start_id there).
type MapGetFDByIDAttr struct {
	ID        uint32
	NextID    uint32
	OpenFlags uint32
}

// InfoAttr is the BPF_OBJ_GET_INFO_BY_FD member of union bpf_attr.
type InfoAttr struct {
	BPFFD   uint32
	InfoLen uint32
	Info    Pointer
}

// MapInfo is struct bpf_map_info as far as bpfbatch reads it (up to
// map_extra); the kernel copies only InfoLen bytes, so a shorter struct
// stays compatible with newer kernels.
type MapInfo struct {
	Type                  uint32
	ID                    uint32
	KeySize               uint32
	ValueSize             uint32
	MaxEntries            uint32
	MapFlags              uint32
	Name                  [ObjNameLen]byte
	Ifindex               uint32
	BTFVmlinuxValueTypeID uint32
	NetnsDev              uint64
	NetnsIno              uint64
	BTFID                 uint32
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	_                     uint32
	MapExtra              uint64
}

// MapFDAttr is the BPF_MAP_FREEZE member of union bpf_attr.
type MapFDAttr struct {
	MapFD uint32
	_     uint32
}

// BTFLoadAttr is the BPF_BTF_LOAD member of union bpf_attr (tests load the
// BTF of spin-locked values with it).
type BTFLoadAttr struct {
	BTF      Pointer
	LogBuf   Pointer
	BTFSize  uint32
	LogSize  uint32
	LogLevel uint32
	_        uint32 // btf_log_true_size, written by the kernel
}

// ProgLoadAttr is the start of the BPF_PROG_LOAD member of union bpf_attr,
// enough to load the tiny programs tests put into program arrays.
type ProgLoadAttr struct {
	ProgType    uint32
	InsnCnt     uint32
	Insns       Pointer
	License     Pointer
	LogLevel    uint32
	LogSize     uint32
	LogBuf      Pointer
	KernVersion uint32
	ProgFlags   uint32
}
