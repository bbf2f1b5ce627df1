package bpfbatch

import (
	"encoding/binary"
	"fmt"

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
	const op = "replace inner map"
	if outer != nil && outer.info.Type != ArrayOfMaps && outer.info.Type != HashOfMaps {
		return nil, fmt.Errorf("bpfbatch: %s of %s: %w: the outer map must be an ArrayOfMaps or HashOfMaps", op, outer.info.describe(), ErrNotSupported)
	}
	if outer != nil && len(key) != int(outer.info.KeySize) {
		return nil, &SizeError{Buffer: "keys", Got: len(key), Want: int(outer.info.KeySize), Op: op, Map: outer.info, Elements: 1, single: true}
	}
	inner, err := CreateMap(spec)
	if err != nil {
		return nil, fmt.Errorf("bpfbatch: %s: creating the new inner map: %w", op, err)
	}
	if _, err := inner.UpdateBatch(keys, values, UpdateAny); err != nil {
		inner.Close()
		return nil, fmt.Errorf("bpfbatch: %s: filling the new inner map, the slot is unchanged: %w", op, err)
	}
	_, err = withFD(outer, op, func(fd *sys.FD) (struct{}, error) {
		value := binary.NativeEndian.AppendUint32(nil, uint32(inner.FD()))
		attr := newElemAttr(fd, key, value, UpdateAny)
		if errno := sys.MapUpdateElem(&attr); errno != 0 {
			f := outer.newFault(fd, opUpdateElem, errno, UpdateAny, 0)
			return struct{}{}, outer.elemError(f, UpdateAny, 1, 0, nil)
		}
		return struct{}{}, nil
	})
	if err != nil {
		inner.Close()
		return nil, err
	}
	return inner, nil
}
