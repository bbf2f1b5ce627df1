package bpfbatch

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/cpus"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Map is an open BPF map. It is safe for concurrent use. Close may race with
// UpdateBatch: every call holds the file descriptor for the whole syscall and
// Close waits for calls in flight, so the kernel never sees a number that
// has been closed and reused for another file. The zero Map is closed.
type Map struct {
	// mu is read-held around every syscall on fd and write-held by Close.
	mu   sync.RWMutex
	fd   int
	open bool

	info   MapInfo
	cpus   int // possible CPUs for per-CPU maps, else 0
	stride int // bytes per element in a values buffer

	path atomic.Uint32 // UpdatePath once probed, 0 before

	// plainPair remembers the last K, V that UpdateBatchOf checked, so a
	// loop of typed calls skips the type-cache lookups.
	plainPair atomic.Pointer[typePair]

	// scratch is reused by UpdateBatchOf when it must re-lay values out.
	scratchMu sync.Mutex
	scratch   []byte

	fake sys.Fake // unit tests only: stands in for the kernel
}

// MapSpec describes a map for CreateMap.
type MapSpec struct {
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// Flags are BPF_F_* map flags, e.g. BPF_F_NO_PREALLOC (1), which LPM
	// tries require, or BPF_F_RDONLY (8).
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

// MapInfo is what the kernel reports about a map (struct bpf_map_info).
type MapInfo struct {
	Type       MapType
	ID         uint32
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	Name       string

	// BTFID and BTFValueTypeID are non-zero when the map's value is
	// described by BTF (needed for spin locks).
	BTFID          uint32
	BTFValueTypeID uint32
}

// describe names the map for error messages: `Hash map "conns" (id 7)`.
func (i MapInfo) describe() string {
	if i.Name == "" {
		return fmt.Sprintf("%s map (id %d)", i.Type, i.ID)
	}
	return fmt.Sprintf("%s map %q (id %d)", i.Type, i.Name, i.ID)
}

// Map flags the library looks at (BPF_F_* in bpf.h).
const (
	mapFlagNoPrealloc = 1 << 0 // BPF_F_NO_PREALLOC
	mapFlagRdonly     = 1 << 3 // BPF_F_RDONLY, for tests
)

// NewMap returns a Map for the BPF map behind fd. It duplicates fd (with
// O_CLOEXEC), so the caller keeps ownership of fd and may close it; close
// the Map too. The map's type, sizes, flags and name are read once with
// BPF_OBJ_GET_INFO_BY_FD.
func NewMap(fd int) (*Map, error) {
	if fd < 0 {
		return nil, fmt.Errorf("bpfbatch: NewMap: invalid file descriptor %d", fd)
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("bpfbatch: NewMap: duplicate fd %d: %w", fd, err)
	}
	m, err := newMap(dup, nil)
	if err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("bpfbatch: NewMap(fd %d): %w", fd, err)
	}
	return m, nil
}

// OpenPinned opens the map pinned at path on a BPF filesystem (usually under
// /sys/fs/bpf) for reading and writing, with BPF_OBJ_GET.
func OpenPinned(path string) (*Map, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("bpfbatch: open pinned map %q: %w", path, err)
	}
	attr := sys.ObjGetAttr{Pathname: sys.NewPointer(unsafe.Pointer(p))}
	r, errno := sys.BPF(sys.ObjGet, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errno != 0 {
		hint := ""
		switch errno {
		case unix.ENOENT:
			hint = " (nothing pinned there)"
		case unix.EPERM, unix.EACCES:
			hint = " (needs CAP_BPF or root, and write permission on the pin)"
		case unix.EINVAL:
			hint = " (is it on a bpf filesystem?)"
		}
		return nil, fmt.Errorf("bpfbatch: open pinned map %q: %s%s: %w", path, errnoName(errno), hint, wrapErrno(errno))
	}
	m, err := newMap(int(r), nil)
	if err != nil {
		unix.Close(int(r))
		return nil, fmt.Errorf("bpfbatch: open pinned map %q: %w", path, err)
	}
	return m, nil
}

// CreateMap creates a map with BPF_MAP_CREATE. Close it when done; the map
// lives on while a BPF program or a pin still refers to it.
func CreateMap(spec MapSpec) (*Map, error) {
	attr := sys.MapCreateAttr{
		MapType:        uint32(spec.Type),
		KeySize:        spec.KeySize,
		ValueSize:      spec.ValueSize,
		MaxEntries:     spec.MaxEntries,
		MapFlags:       spec.Flags,
		BTFKeyTypeID:   spec.BTFKeyTypeID,
		BTFValueTypeID: spec.BTFValueTypeID,
		MapExtra:       spec.MapExtra,
	}
	what := spec.describe()
	if err := checkMapName(spec.Name); err != nil {
		return nil, fmt.Errorf("bpfbatch: create %s: %w", what, err)
	}
	copy(attr.MapName[:], spec.Name)
	if spec.Type == ArrayOfMaps || spec.Type == HashOfMaps {
		if spec.InnerMapFD < 0 {
			return nil, fmt.Errorf("bpfbatch: create %s: InnerMapFD %d is not a file descriptor", what, spec.InnerMapFD)
		}
		attr.InnerMapFD = uint32(spec.InnerMapFD)
	}
	if spec.BTFKeyTypeID != 0 || spec.BTFValueTypeID != 0 {
		if spec.BTFFD < 0 {
			return nil, fmt.Errorf("bpfbatch: create %s: BTFFD %d is not a file descriptor", what, spec.BTFFD)
		}
		attr.BTFFD = uint32(spec.BTFFD)
	}
	r, errno := sys.BPF(sys.MapCreate, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errno != 0 {
		hint := ""
		switch errno {
		case unix.EPERM, unix.EACCES:
			hint = " (needs CAP_BPF or root)"
		case unix.EINVAL:
			hint = " (the kernel rejected the spec: check key/value sizes, max_entries and flags for this map type; LPM tries need BPF_F_NO_PREALLOC, map-in-map types a valid InnerMapFD)"
		case unix.ENOMEM:
			hint = " (max_entries x value size too large, or memlock limit)"
		}
		return nil, fmt.Errorf("bpfbatch: create %s: %s%s: %w", what, errnoName(errno), hint, wrapErrno(errno))
	}
	m, err := newMap(int(r), nil)
	if err != nil {
		unix.Close(int(r))
		return nil, fmt.Errorf("bpfbatch: create %s: %w", what, err)
	}
	return m, nil
}

func (s MapSpec) describe() string {
	if s.Name == "" {
		return s.Type.String() + " map"
	}
	return fmt.Sprintf("%s map %q", s.Type, s.Name)
}

// checkMapName applies the kernel's rule (bpf_obj_name_cpy) before the
// syscall, so a bad name gets a message instead of a bare EINVAL.
func checkMapName(name string) error {
	if len(name) >= sys.ObjNameLen {
		return fmt.Errorf("name %q is %d bytes; the kernel keeps at most %d", name, len(name), sys.ObjNameLen-1)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return fmt.Errorf("name %q: the kernel accepts only letters, digits, '_' and '.'", name)
		}
	}
	return nil
}

// wrapErrno returns errno joined with its sentinel where one applies to
// whole-map operations (permission, support), for errors.Is.
func wrapErrno(errno unix.Errno) error {
	switch errno {
	case unix.EPERM, unix.EACCES:
		return fmt.Errorf("%w: %w", ErrPermission, errno)
	case sys.ENOTSUPP, unix.EOPNOTSUPP:
		return fmt.Errorf("%w: %w", ErrNotSupported, errno)
	}
	return errno
}

// newMap takes ownership of fd, which must name a BPF map, and reads its
// info. fake is nil except in unit tests.
func newMap(fd int, fake sys.Fake) (*Map, error) {
	if fake == nil {
		if err := checkIsMap(fd); err != nil {
			return nil, err
		}
	}
	var raw sys.MapInfo
	attr := sys.InfoAttr{
		BPFFD:   uint32(fd),
		InfoLen: uint32(unsafe.Sizeof(raw)),
		Info:    sys.NewPointer(unsafe.Pointer(&raw)),
	}
	if _, errno := sys.Call(fake, sys.ObjGetInfoByFD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
		return nil, fmt.Errorf("read map info (BPF_OBJ_GET_INFO_BY_FD): %s: %w", errnoName(errno), wrapErrno(errno))
	}
	return mapFromInfo(fd, &raw, fake)
}

// mapFromInfo builds the Map for fd from the kernel's description of it.
func mapFromInfo(fd int, raw *sys.MapInfo, fake sys.Fake) (*Map, error) {
	m := &Map{fd: fd, open: true, fake: fake}
	m.info = MapInfo{
		Type:           MapType(raw.Type),
		ID:             raw.ID,
		KeySize:        raw.KeySize,
		ValueSize:      raw.ValueSize,
		MaxEntries:     raw.MaxEntries,
		Flags:          raw.MapFlags,
		Name:           unix.ByteSliceToString(raw.Name[:]),
		BTFID:          raw.BTFID,
		BTFValueTypeID: raw.BTFValueTypeID,
	}
	m.stride = int(raw.ValueSize)
	if m.info.Type.PerCPU() {
		n, err := cpus.Possible()
		if err != nil {
			return nil, fmt.Errorf("%s is per-CPU: %w", m.info.describe(), err)
		}
		m.cpus = n
		m.stride = slotSize(raw.ValueSize) * n
	}
	return m, nil
}

// checkIsMap rejects fds of other BPF objects (programs, BTF, links), whose
// BPF_OBJ_GET_INFO_BY_FD answer has a different layout. /proc may be absent
// (early boot, some containers); then the check is skipped.
func checkIsMap(fd int) error {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil
	}
	if link != "anon_inode:bpf-map" {
		return fmt.Errorf("fd %d is not a BPF map but %s", fd, link)
	}
	return nil
}

// slotSize is the bytes one CPU's copy of a value takes in a per-CPU buffer:
// the kernel copies value_size rounded up to 8 per CPU (bpf_percpu_*_copy).
func slotSize(valueSize uint32) int { return (int(valueSize) + 7) &^ 7 }

// Close releases the map's file descriptor, after waiting for calls in
// flight. It is idempotent; later calls on m return ErrClosed.
func (m *Map) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return nil
	}
	fd := m.fd
	m.open, m.fd = false, -1
	m.scratchMu.Lock()
	m.scratch = nil
	m.scratchMu.Unlock()
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("bpfbatch: close %s: %w", m.info.describe(), err)
	}
	return nil
}

// Pin pins the map at path on a BPF filesystem (BPF_OBJ_PIN), so that it
// outlives this process; OpenPinned opens it again. path must not exist.
func (m *Map) Pin(path string) error {
	if m == nil {
		return fmt.Errorf("bpfbatch: Pin on nil *Map: %w", ErrClosed)
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return fmt.Errorf("bpfbatch: pin %s at %q: %w", m.info.describe(), path, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return m.closedError("pin")
	}
	attr := sys.ObjGetAttr{Pathname: sys.NewPointer(unsafe.Pointer(p)), BPFFD: uint32(m.fd)}
	if _, errno := sys.Call(m.fake, sys.ObjPin, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
		hint := ""
		switch errno {
		case unix.EEXIST:
			hint = " (an object is already pinned there; remove it first)"
		case unix.EPERM, unix.EACCES:
			hint = " (needs CAP_BPF or root, and write access to the directory)"
		case unix.EINVAL, unix.EXDEV:
			hint = " (the directory must be on a bpf filesystem: mount -t bpf bpf /sys/fs/bpf)"
		case unix.ENOENT:
			hint = " (the directory does not exist)"
		}
		return fmt.Errorf("bpfbatch: pin %s at %q: %s%s: %w", m.info.describe(), path, errnoName(errno), hint, wrapErrno(errno))
	}
	return nil
}

// FD returns the map's file descriptor, or -1 once the Map is closed. The
// fd stays owned by m: do not close it, and do not use it after Close.
func (m *Map) FD() int {
	if m == nil {
		return -1
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return -1
	}
	return m.fd
}

// Info returns what the kernel reported about the map when it was opened.
func (m *Map) Info() MapInfo {
	if m == nil {
		return MapInfo{}
	}
	return m.info
}

// ValueStride returns the bytes one element occupies in a values buffer:
// value_size for most maps, and for per-CPU maps
// PossibleCPUs() x value_size rounded up to 8. A values buffer for n
// elements is exactly n x ValueStride() bytes.
func (m *Map) ValueStride() int {
	if m == nil {
		return 0
	}
	return m.stride
}

// String describes the map, e.g. `Hash map "conns" (id 7)`.
func (m *Map) String() string {
	if m == nil {
		return "<nil Map>"
	}
	return m.info.describe()
}

// PossibleCPUs returns the number of CPUs per-CPU maps hold a value for:
// the highest index in /sys/devices/system/cpu/possible plus one. It is
// read once per process. This is neither runtime.NumCPU nor the online CPUs.
func PossibleCPUs() (int, error) { return cpus.Possible() }
