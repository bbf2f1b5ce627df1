package bpfbatch

import (
	"encoding/binary"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// ReplaceInner builds a new inner map from spec, fills it with keys and
// values (UpdateBatch's layout and contract), then points slot key of the
// map-in-map outer (ArrayOfMaps or HashOfMaps) at it with one
// BPF_MAP_UPDATE_ELEM. BPF programs that look the slot up see the old
// contents or the new, never a mix: the swap is one pointer. It returns the
// new inner map, which the caller closes (the outer map keeps it alive);
// the old one lives on while programs or pins hold it.
//
// spec must be compatible with the outer map's inner map template (same
// type, key and value size, and flags), or the kernel refuses the swap with
// EINVAL. On any error the slot is unchanged and the new map is closed.
func ReplaceInner(outer *Map, key []byte, spec MapSpec, keys, values []byte) (*Map, error) {
	return withFD(outer, opReplaceInner, func(fd *sys.FD) (*Map, error) {
		if outer.info.Type != ArrayOfMaps && outer.info.Type != HashOfMaps {
			return nil, outer.refuse(opReplaceInner, ErrNotSupported, "the outer map must be an ArrayOfMaps or HashOfMaps")
		}
		if err := outer.checkWritable(opReplaceInner); err != nil {
			return nil, err
		}
		if len(key) != int(outer.info.KeySize) {
			return nil, outer.sizeError(SizeError{Op: opReplaceInner, Buffer: "keys", Got: len(key), Want: int(outer.info.KeySize), Elements: 1, single: true})
		}
		inner, err := CreateMap(spec)
		if err != nil {
			return nil, newMapError(opReplaceInner, outer.info.describe(), "", err, "creating the new inner map")
		}
		if _, err := inner.UpdateBatch(keys, values, UpdateAny); err != nil {
			inner.Close()
			return nil, newMapError(opReplaceInner, outer.info.describe(), "", err, "filling the new inner map, the slot is unchanged")
		}
		value := binary.NativeEndian.AppendUint32(nil, uint32(inner.FD()))
		attr := newElemAttr(fd, key, value, UpdateAny)
		if errno := sys.MapUpdateElem(&attr); errno != 0 {
			inner.Close()
			return nil, outer.singleError(opReplaceInner, outer.newFault(fd, cmdUpdateElem, errno, UpdateAny, 0), UpdateAny)
		}
		return inner, nil
	})
}
