package bpfbatch

import (
	"fmt"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// MapSpec describes a map for CreateMap.
type MapSpec struct {
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// Flags are BPF_F_* map flags, e.g. BPF_F_NO_PREALLOC (1), which LPM
	// tries require. (BPF_F_RDONLY and BPF_F_WRONLY here restrict the
	// returned fd, not the map.)
	Flags uint32
	// Name is up to 15 bytes of letters, digits, '_' and '.'.
	Name string
	// InnerMapFD is a map of the inner type, for ArrayOfMaps and
	// HashOfMaps; ignored for other types.
	InnerMapFD int

	// BTFFD, BTFKeyTypeID and BTFValueTypeID describe key and value with
	// BTF, which spin-locked values (UpdateLock) need. BTFFD is used only
	// when a type ID is non-zero.
	BTFFD          int
	BTFKeyTypeID   uint32
	BTFValueTypeID uint32
	// MapExtra is map_extra, e.g. the number of hash functions of a
	// BloomFilter.
	MapExtra uint64
}

// CreateMap creates a map with BPF_MAP_CREATE. Close it when done; the map
// lives on while a BPF program or a pin still refers to it. On kernels
// before 5.11, call RemoveMemlock first (see there).
func CreateMap(spec MapSpec) (*Map, error) {
	what := spec.describe()
	attr, problem := newCreateAttr(spec)
	if problem != "" {
		return nil, newMapError(opCreate, what, "", ErrInvalidArgument, problem)
	}
	fd, errno := sys.MapCreate(&attr)
	if errno != 0 {
		return nil, newMapError(opCreate, what, "", errno, createHint(errno))
	}
	return open(fd, opCreate, what, "")
}

func (s MapSpec) describe() string {
	if s.Name == "" {
		return s.Type.String() + " map"
	}
	return fmt.Sprintf("%s map %q", s.Type, s.Name)
}
