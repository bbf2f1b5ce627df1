package bpfbatch

import (
	"fmt"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// The one place where Go values become the kernel's attr structs. Callers
// have checked every buffer against the map's layout: the kernel trusts the
// count and reads count x key_size and count x stride bytes.

// newBatchAttr builds the attr of a BPF_MAP_*_BATCH call on count elements.
func newBatchAttr(fd *sys.FD, keys, values []byte, count int, flags Flags) sys.MapBatchAttr {
	return sys.MapBatchAttr{
		Keys:      sys.SlicePointer(keys),
		Values:    sys.SlicePointer(values),
		Count:     uint32(count),
		MapFD:     fd.Uint(),
		ElemFlags: uint64(flags),
	}
}

// newElemAttr builds the attr of a BPF_MAP_*_ELEM call. An empty key or
// value is passed as NULL, which keyless maps (Queue, Stack) want.
func newElemAttr(fd *sys.FD, key, value []byte, flags Flags) sys.MapElemAttr {
	attr := sys.MapElemAttr{MapFD: fd.Uint(), Flags: uint64(flags)}
	if len(key) > 0 {
		attr.Key = sys.SlicePointer(key)
	}
	if len(value) > 0 {
		attr.Value = sys.SlicePointer(value)
	}
	return attr
}

// newCreateAttr builds the attr of BPF_MAP_CREATE, and says what is wrong
// with spec where the kernel would refuse it with a bare EINVAL.
func newCreateAttr(spec MapSpec) (attr sys.MapCreateAttr, problem string) {
	attr = sys.MapCreateAttr{
		MapType:        uint32(spec.Type),
		KeySize:        spec.KeySize,
		ValueSize:      spec.ValueSize,
		MaxEntries:     spec.MaxEntries,
		MapFlags:       spec.Flags,
		BTFKeyTypeID:   spec.BTFKeyTypeID,
		BTFValueTypeID: spec.BTFValueTypeID,
		MapExtra:       spec.MapExtra,
	}
	if problem := mapNameProblem(spec.Name); problem != "" {
		return attr, problem
	}
	copy(attr.MapName[:], spec.Name)
	if spec.Type == ArrayOfMaps || spec.Type == HashOfMaps {
		if spec.InnerMapFD <= 0 {
			return attr, fmt.Sprintf("InnerMapFD %d is not the file descriptor of an inner map", spec.InnerMapFD)
		}
		attr.InnerMapFD = uint32(spec.InnerMapFD)
	}
	if spec.BTFKeyTypeID != 0 || spec.BTFValueTypeID != 0 {
		if spec.BTFFD <= 0 {
			return attr, fmt.Sprintf("BTFFD %d is not the file descriptor of loaded BTF", spec.BTFFD)
		}
		attr.BTFFD = uint32(spec.BTFFD)
	}
	return attr, ""
}

// mapNameProblem applies the kernel's rule (bpf_obj_name_cpy) before the
// syscall, so a bad name gets a message instead of a bare EINVAL.
func mapNameProblem(name string) string {
	if len(name) >= sys.ObjNameLen {
		return fmt.Sprintf("name %q is %d bytes; the kernel keeps at most %d", name, len(name), sys.ObjNameLen-1)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return fmt.Sprintf("name %q: the kernel accepts only letters, digits, '_' and '.'", name)
		}
	}
	return ""
}
