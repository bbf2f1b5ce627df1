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
	access int // the fd's access mode: unix.O_RDWR, O_RDONLY or O_WRONLY

	updatePath atomic.Uint32 // SyscallPath of updates once probed, 0 before
	readPath   atomic.Uint32 // the same for BPF_MAP_LOOKUP_BATCH
	deletePath atomic.Uint32 // and for BPF_MAP_DELETE_BATCH
	cpuFlags   atomic.Uint32 // cpuFlagsNative or cpuFlagsAbsent once probed

	// plainPair remembers the last K, V that a typed call checked, so a
	// loop of typed calls skips the type-cache lookups.
	plainPair atomic.Pointer[typePair]

	// scratch is reused by writes that must re-lay values out (padded
	// typed values, UpdateAllCPUs before Linux 7.0).
	scratchMu sync.Mutex
	scratch   []byte
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

	// BTFID, BTFKeyTypeID and BTFValueTypeID are non-zero when the map's
	// key and value are described by BTF (as every map of a libbpf or
	// cilium/ebpf program is; spin locks need it).
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
		return zero, newMapError(op, "a nil *Map", "", ErrClosed, "")
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.fd == nil {
		return zero, newMapError(op, m.info.describe(), "", ErrClosed, "")
	}
	return f(m.fd)
}

// checkWritable refuses op, which writes or deletes, on a map opened
// read-only, before any syscall.
func (m *Map) checkWritable(op string) error {
	if m.access == unix.O_RDONLY {
		return m.refuse(op, ErrPermission, "the map was opened read-only (OpenOptions.ReadOnly, a read-only fd, or a map created with BPF_F_RDONLY): user space cannot write or delete through it")
	}
	return nil
}

// checkReadable refuses op, which reads, on a map opened write-only.
func (m *Map) checkReadable(op string) error {
	if m.access == unix.O_WRONLY {
		return m.refuse(op, ErrPermission, "the map was opened write-only (OpenOptions.WriteOnly, a write-only fd, or a map created with BPF_F_WRONLY): user space cannot read through it")
	}
	return nil
}

// NewMap returns a Map for the BPF map behind fd. It duplicates fd (with
// O_CLOEXEC), so the caller keeps ownership of fd and may close it; close
// the Map too. The map's type, sizes, flags and name are read once with
// BPF_OBJ_GET_INFO_BY_FD, and the fd's access mode with fcntl: a read-only
// fd makes a Map that refuses writes before any syscall, a write-only one
// a Map that refuses reads.
func NewMap(fd int) (*Map, error) {
	name := "fd " + strconv.Itoa(fd)
	if fd < 0 {
		return nil, newMapError(opOpen, name, "", ErrInvalidArgument, "not a file descriptor")
	}
	dup, err := sys.DupRaw(fd)
	if err != nil {
		return nil, newMapError(opOpen, name, "", err, "")
	}
	return open(dup, opOpen, name, "")
}

// open takes ownership of fd, checks that it is a map, and reads its info.
// Errors name the object as the caller knows it: name or path.
func open(fd *sys.FD, op, name, path string) (*Map, error) {
	fail := func(cause error, hint string) (*Map, error) {
		fd.Close()
		return nil, newMapError(op, name, path, cause, hint)
	}
	if what := objectKind(fd); what != "" {
		return fail(ErrInvalidArgument, "not a BPF map but "+what)
	}
	var raw sys.MapInfo
	if errno := sys.MapGetInfo(fd, &raw); errno != 0 {
		return fail(errno, "reading the map's description (BPF_OBJ_GET_INFO_BY_FD)")
	}
	fl, err := unix.FcntlInt(uintptr(fd.Int()), unix.F_GETFL, 0)
	if err != nil {
		return fail(err, "reading the fd's access mode")
	}
	m, err := mapFromInfo(fd, &raw, fl&unix.O_ACCMODE)
	if err != nil {
		return fail(err, m.info.describe()+" is per-CPU")
	}
	return m, nil
}

// mapFromInfo builds the Map for fd, whose access mode is access, from the
// kernel's description of it.
func mapFromInfo(fd *sys.FD, raw *sys.MapInfo, access int) (*Map, error) {
	m := &Map{fd: fd, access: access}
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
	// The stride is worked out here, once: every call takes it from m
	// (strideFor), so that no two places can disagree on it.
	stride, err := m.info.Type.ValueStride(raw.ValueSize)
	if err != nil {
		return m, err
	}
	m.stride = stride
	if m.info.Type.PerCPU() {
		m.cpus, _ = cpus.Possible() // read already, by ValueStride
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
		return newMapError(opClose, m.info.describe(), "", err, "")
	}
	return nil
}

// FD returns the map's file descriptor, or -1 once the Map is closed. The
// fd stays owned by m: do not close it, and do not use it after Close.
func (m *Map) FD() int {
	fd, err := withFD(m, opOpen, func(fd *sys.FD) (int, error) { return fd.Int(), nil })
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
