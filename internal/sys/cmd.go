package sys

// Cmd is a bpf(2) command (enum bpf_cmd).
type Cmd uint32

// The commands bpfbatch and its tests issue.
const (
	MapCreate              Cmd = 0  // BPF_MAP_CREATE
	MapLookupElem          Cmd = 1  // BPF_MAP_LOOKUP_ELEM
	MapUpdateElem          Cmd = 2  // BPF_MAP_UPDATE_ELEM
	MapDeleteElem          Cmd = 3  // BPF_MAP_DELETE_ELEM
	ProgLoad               Cmd = 5  // BPF_PROG_LOAD
	ObjPin                 Cmd = 6  // BPF_OBJ_PIN
	ObjGet                 Cmd = 7  // BPF_OBJ_GET
	ObjGetInfoByFD         Cmd = 15 // BPF_OBJ_GET_INFO_BY_FD
	BTFLoad                Cmd = 18 // BPF_BTF_LOAD
	MapLookupAndDeleteElem Cmd = 21 // BPF_MAP_LOOKUP_AND_DELETE_ELEM
	MapFreeze              Cmd = 22 // BPF_MAP_FREEZE
	MapUpdateBatch         Cmd = 26 // BPF_MAP_UPDATE_BATCH, since Linux 5.6
)

// ENOTSUPP is the kernel-internal errno 524 that bpf(2) leaks to user space
// when a map type has no batch operations (bpf_map_do_batch). x/sys/unix has
// no constant for it because it is not part of the UAPI.
const ENOTSUPP = 524
