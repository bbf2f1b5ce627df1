package btfjson

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
)

// ErrNoBTF is returned by MapTypes for a map created without BTF for its
// value: its bytes can be shown only in the other formats (hex always
// works).
var ErrNoBTF = errors.New("the map has no BTF type for its value (it was created without btf_value_type_id); use another format, such as hex")

// MapTypes returns the BTF types of a map's key and value, which libbpf
// and cilium/ebpf programs give their maps: from the map's BTF object
// (bpf_map_info's btf_id, btf_key_type_id and btf_value_type_id). key is
// nil when the map has BTF for its value only (global data sections:
// .data, .bss, .rodata), and the error wraps ErrNoBTF when it has none.
// Reading BTF by ID needs CAP_SYS_ADMIN.
func MapTypes(info bpfbatch.MapInfo) (key, value btf.Type, err error) {
	if info.BTFID == 0 || info.BTFValueTypeID == 0 {
		return nil, nil, ErrNoBTF
	}
	h, err := btf.NewHandleFromID(btf.ID(info.BTFID))
	if err != nil {
		return nil, nil, fmt.Errorf("open the map's BTF (id %d): %w", info.BTFID, err)
	}
	defer h.Close()
	spec, err := h.Spec(nil)
	if err != nil {
		// A kernel module's BTF is split BTF on top of the kernel's.
		base, kerr := btf.LoadKernelSpec()
		if kerr != nil {
			return nil, nil, fmt.Errorf("read the map's BTF (id %d): %w", info.BTFID, err)
		}
		if spec, err = h.Spec(base); err != nil {
			return nil, nil, fmt.Errorf("read the map's BTF (id %d): %w", info.BTFID, err)
		}
	}
	value, err = typeOfSize(spec, info.BTFValueTypeID, info.ValueSize, "value")
	if err != nil {
		return nil, nil, err
	}
	if info.BTFKeyTypeID != 0 {
		if key, err = typeOfSize(spec, info.BTFKeyTypeID, info.KeySize, "key"); err != nil {
			return nil, nil, err
		}
	}
	return key, value, nil
}

// typeOfSize returns type id of spec, checking that it has size bytes,
// as the kernel checked when the map was created (map_check_btf).
func typeOfSize(spec *btf.Spec, id, size uint32, what string) (btf.Type, error) {
	t, err := spec.TypeByID(btf.TypeID(id))
	if err != nil {
		return nil, fmt.Errorf("the map's %s type (BTF type %d): %w", what, id, err)
	}
	n, err := btf.Sizeof(t)
	if err != nil {
		return nil, fmt.Errorf("the map's %s type %v: %w", what, t, err)
	}
	if n != int(size) {
		return nil, fmt.Errorf("the map's %s type %v has %d bytes, the map's %s %d", what, t, n, what, size)
	}
	return t, nil
}
