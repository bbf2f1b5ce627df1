package bpfbatch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/cpus"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Map is an open BPF map. It is safe for concurrent use. Close may race with
// any call: every call holds the file descriptor for its whole syscall and
// Close waits for calls in flight, so the kernel never sees a number that
// has been closed and reused for another file. The zero Map is closed.
type Map struct {
	// mu is read-held around every syscall on fd and write-held by Close.
	mu sync.RWMutex
	fd *sys.FD // nil once closed

	info   MapInfo
	cpus   int // possible CPUs for per-CPU maps, else 0
	stride int // bytes per element in a values buffer, without per-CPU flags

	path       atomic.Uint32 // UpdatePath once probed, 0 before
	readPath   atomic.Uint32 // the same for BPF_MAP_LOOKUP_BATCH
	deletePath atomic.Uint32 // and for BPF_MAP_DELETE_BATCH
	cpuFlags   atomic.Uint32 // cpuFlagsNative or cpuFlagsAbsent once probed

	// plainPair remembers the last K, V that UpdateBatchOf checked, so a
	// loop of typed calls skips the type-cache lookups.
	plainPair atomic.Pointer[typePair]

	// scratch is reused by writes that must re-lay values out (padded
	// typed values, UpdateAllCPUs before Linux 7.0).
	scratchMu sync.Mutex
	scratch   []byte
}

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
	// described by BTF (needed for spin locks); BTFKeyTypeID when its key
	// is (libbpf and cilium/ebpf maps), so tools can print it by field.
	BTFID          uint32
	BTFKeyTypeID   uint32
	BTFValueTypeID uint32
}

// describe names the map for error messages: `Hash map "conns" (id 7)`.
func (i MapInfo) describe() string {
	if i.Name == "" {
		return fmt.Sprintf("%s map (id %d)", i.Type, i.ID)
	}
	return fmt.Sprintf("%s map %q (id %d)", i.Type, i.Name, i.ID)
}

// withFD runs f with m's file descriptor held open: the one prologue of
// every call that issues a syscall. A nil or closed m gives ErrClosed,
// named with op.
func withFD[T any](m *Map, op string, f func(fd *sys.FD) (T, error)) (T, error) {
	var zero T
	if m == nil {
		return zero, fmt.Errorf("bpfbatch: %s on a nil *Map: %w", op, ErrClosed)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.fd == nil {
		return zero, fmt.Errorf("bpfbatch: %s on %s: %w", op, m.info.describe(), ErrClosed)
	}
	return f(m.fd)
}

// NewMap returns a Map for the BPF map behind fd. It duplicates fd (with
// O_CLOEXEC), so the caller keeps ownership of fd and may close it; close
// the Map too. The map's type, sizes, flags and name are read once with
// BPF_OBJ_GET_INFO_BY_FD.
func NewMap(fd int) (*Map, error) {
	name := "fd " + strconv.Itoa(fd)
	if fd < 0 {
		return nil, &MapError{Op: "NewMap", Map: name, Hint: "not a file descriptor"}
	}
	dup, err := sys.DupRaw(fd)
	if err != nil {
		return nil, &MapError{Op: "NewMap", Map: name, Err: err}
	}
	return open(dup, "NewMap", name, "")
}

// OpenPinned opens the map pinned at path on a BPF filesystem (usually under
// /sys/fs/bpf) for reading and writing, with BPF_OBJ_GET.
func OpenPinned(path string) (*Map, error) {
	const op = "open pinned map"
	p, err := sys.PathPointer(path)
	if err != nil {
		return nil, &MapError{Op: op, Path: path, Err: err}
	}
	attr := sys.ObjAttr{Pathname: p}
	fd, errno := sys.ObjGet(&attr)
	if errno != 0 {
		return nil, pathError(op, "", path, false, errno)
	}
	return open(fd, op, "", path)
}

// OpenByID opens the map with the kernel ID id (BPF_MAP_GET_FD_BY_ID, which
// needs CAP_SYS_ADMIN), e.g. the inner map a map-in-map slot holds, whose
// lookups return IDs.
func OpenByID(id uint32) (*Map, error) {
	const op = "open map"
	name := "id " + strconv.FormatUint(uint64(id), 10)
	attr := sys.MapGetFDByIDAttr{ID: id}
	fd, errno := sys.MapGetFDByID(&attr)
	if errno != 0 {
		hint := ""
		if errno == unix.ENOENT {
			hint = "no map has this ID (it was freed, or the ID is of another object)"
		}
		return nil, &MapError{Op: op, Map: name, Errno: errno, Hint: hint}
	}
	return open(fd, op, name, "")
}

// open takes ownership of fd, checks that it is a map, and reads its info.
// Errors name the object as the caller knows it: name or path.
func open(fd *sys.FD, op, name, path string) (*Map, error) {
	fail := func(e MapError) (*Map, error) {
		fd.Close()
		e.Op, e.Map, e.Path = op, name, path
		return nil, &e
	}
	if what := objectKind(fd); what != "" {
		return fail(MapError{Hint: "not a BPF map but " + what})
	}
	var raw sys.MapInfo
	if errno := sys.MapGetInfo(fd, &raw); errno != 0 {
		return fail(MapError{Errno: errno, Hint: "reading the map's description (BPF_OBJ_GET_INFO_BY_FD)"})
	}
	m, err := mapFromInfo(fd, &raw)
	if err != nil {
		return fail(MapError{Err: err})
	}
	return m, nil
}

// mapFromInfo builds the Map for fd from the kernel's description of it.
func mapFromInfo(fd *sys.FD, raw *sys.MapInfo) (*Map, error) {
	m := &Map{fd: fd}
	m.info = MapInfo{
		Type:           MapType(raw.Type),
		ID:             raw.ID,
		KeySize:        raw.KeySize,
		ValueSize:      raw.ValueSize,
		MaxEntries:     raw.MaxEntries,
		Flags:          raw.MapFlags,
		Name:           unix.ByteSliceToString(raw.Name[:]),
		BTFID:          raw.BTFID,
		BTFKeyTypeID:   raw.BTFKeyTypeID,
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

// objectKind returns what fd is when it is not a BPF map ("a BPF program",
// "/dev/null"), or "". Other BPF objects answer BPF_OBJ_GET_INFO_BY_FD with
// another struct, so they must not get that far. /proc may be absent (early
// boot, some containers); then the check is skipped.
func objectKind(fd *sys.FD) string {
	link, err := os.Readlink("/proc/self/fd/" + fd.String())
	if err != nil || link == "anon_inode:bpf-map" {
		return ""
	}
	if kind, ok := strings.CutPrefix(link, "anon_inode:bpf-"); ok {
		return "a BPF " + kind + " (" + link + ")"
	}
	return link
}

// CreateMap creates a map with BPF_MAP_CREATE. Close it when done; the map
// lives on while a BPF program or a pin still refers to it. On kernels
// before 5.11, call RemoveMemlock first (see there).
func CreateMap(spec MapSpec) (*Map, error) {
	const op = "create"
	what := spec.describe()
	attr, err := newCreateAttr(spec)
	if err != nil {
		return nil, &MapError{Op: op, Map: what, Err: err}
	}
	fd, errno := sys.MapCreate(&attr)
	if errno != 0 {
		return nil, &MapError{Op: op, Map: what, Errno: errno, Hint: createHint(errno)}
	}
	return open(fd, op, what, "")
}

func (s MapSpec) describe() string {
	if s.Name == "" {
		return s.Type.String() + " map"
	}
	return fmt.Sprintf("%s map %q", s.Type, s.Name)
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
	if m.fd == nil {
		return nil
	}
	err := m.fd.Close()
	m.fd = nil
	m.scratchMu.Lock()
	m.scratch = nil
	m.scratchMu.Unlock()
	if err != nil {
		return &MapError{Op: "close", Map: m.info.describe(), Err: err}
	}
	return nil
}

// Pin pins the map at path on a BPF filesystem (BPF_OBJ_PIN), so that it
// outlives this process; OpenPinned opens it again. path must not exist.
func (m *Map) Pin(path string) error {
	_, err := withFD(m, "pin", func(fd *sys.FD) (struct{}, error) {
		p, err := sys.PathPointer(path)
		if err != nil {
			return struct{}{}, &MapError{Op: "pin", Map: m.info.describe(), Path: path, Err: err}
		}
		attr := sys.ObjAttr{Pathname: p, BPFFD: fd.Uint()}
		if errno := sys.ObjPin(&attr); errno != 0 {
			return struct{}{}, pathError("pin", m.info.describe(), path, true, errno)
		}
		return struct{}{}, nil
	})
	return err
}

// FD returns the map's file descriptor, or -1 once the Map is closed. The
// fd stays owned by m: do not close it, and do not use it after Close.
func (m *Map) FD() int {
	fd, err := withFD(m, "FD", func(fd *sys.FD) (int, error) { return fd.Int(), nil })
	if err != nil {
		return -1
	}
	return fd
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
// elements is exactly n x ValueStride() bytes. (With OnCPU or
// UpdateAllCPUs a per-CPU map takes value_size bytes per element instead.)
func (m *Map) ValueStride() int {
	if m == nil {
		return 0
	}
	return m.stride
}

// ValueStrideFor is ValueStride for a call with flags: value_size for a
// per-CPU map with OnCPU or UpdateAllCPUs, else ValueStride().
func (m *Map) ValueStrideFor(flags Flags) int {
	if m == nil {
		return 0
	}
	return m.strideFor(flags)
}

// strideFor is the bytes per element of a values buffer for a call with
// flags.
func (m *Map) strideFor(flags Flags) int {
	if m.cpus > 0 && flags.onePerElement() {
		return int(m.info.ValueSize)
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
// the number of CPUs listed in /sys/devices/system/cpu/possible (which the
// kernel's num_possible_cpus() counts, holes skipped). It is read once per
// process. This is neither runtime.NumCPU nor the online CPUs.
func PossibleCPUs() (int, error) { return cpus.Possible() }
