// Package testutil holds bpfbatch's test helpers: the kernel gate, and raw
// bpf(2) calls that read maps back independently of the library under test.
package testutil

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// RequireKernelEnv makes kernel tests fail instead of skip when bpf(2) is not
// permitted; CI sets it so that a green run means the kernel tests ran.
const RequireKernelEnv = "BPFBATCH_REQUIRE_KERNEL"

// RequireKernel skips t unless this process may create BPF maps, or fails
// it when RequireKernelEnv=1. On kernels that charge map memory to
// RLIMIT_MEMLOCK (before 5.11) it lifts the limit first, as a program would
// with bpfbatch.RemoveMemlock; tests of that behaviour lower it themselves.
func RequireKernel(tb testing.TB) {
	tb.Helper()
	liftMemlock()
	if err := kernelAvailable(); err != nil {
		if os.Getenv(RequireKernelEnv) == "1" {
			tb.Fatalf("bpf(2) is not usable here and %s=1: %v", RequireKernelEnv, err)
		}
		tb.Skipf("bpf(2) is not usable here (run as root or with CAP_BPF; set %s=1 to fail instead): %v", RequireKernelEnv, err)
	}
}

// liftMemlock raises RLIMIT_MEMLOCK to unlimited once per test binary. It
// does not probe (that is the library's job, and under test): unlimited is
// harmless on kernels that do not charge it.
var liftMemlock = sync.OnceFunc(func() {
	unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
})

// KernelAtLeast reports whether the running kernel's release (uname -r) is
// major.minor or newer, for tests that assert what each kernel does.
func KernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		panic(err)
	}
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || ma == major && mi >= minor
}

// KernelRelease is uname -r, for test logs.
func KernelRelease() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

func kernelAvailable() error {
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	fd, errno := sys.MapCreate(&attr)
	if errno != 0 {
		return errno
	}
	return fd.Close()
}

// Lookup reads key's value with a raw BPF_MAP_LOOKUP_ELEM into a fresh
// buffer of valueLen bytes, independent of the library's own code.
func Lookup(fd int, key []byte, valueLen int) ([]byte, error) {
	return LookupFlags(fd, key, valueLen, 0)
}

// LookupFlags is Lookup with BPF_MAP_LOOKUP_ELEM flags (BPF_F_LOCK,
// BPF_F_CPU with a CPU number in the upper 32 bits).
func LookupFlags(fd int, key []byte, valueLen int, flags uint64) ([]byte, error) {
	value := make([]byte, valueLen)
	attr := elemAttr(fd, key, value, flags)
	if errno := sys.MapLookupElem(&attr); errno != 0 {
		return nil, errno
	}
	return value, nil
}

// elemAttr builds a BPF_MAP_*_ELEM attr; empty buffers are NULL.
func elemAttr(fd int, key, value []byte, flags uint64) sys.MapElemAttr {
	attr := sys.MapElemAttr{MapFD: uint32(fd), Flags: flags}
	if len(key) > 0 {
		attr.Key = sys.SlicePointer(key)
	}
	if len(value) > 0 {
		attr.Value = sys.SlicePointer(value)
	}
	return attr
}

// Pop removes and returns the next value of a Queue or Stack map
// (BPF_MAP_LOOKUP_AND_DELETE_ELEM with no key).
func Pop(fd int, valueLen int) ([]byte, error) {
	value := make([]byte, valueLen)
	attr := elemAttr(fd, nil, value, 0)
	if errno := sys.MapLookupAndDeleteElem(&attr); errno != 0 {
		return nil, errno
	}
	return value, nil
}

// Update writes one element with a raw BPF_MAP_UPDATE_ELEM.
func Update(fd int, key, value []byte, flags uint64) error {
	attr := elemAttr(fd, key, value, flags)
	if errno := sys.MapUpdateElem(&attr); errno != 0 {
		return errno
	}
	return nil
}

// Freeze makes a map read-only to user space (BPF_MAP_FREEZE).
func Freeze(fd int) error {
	attr := sys.MapFDAttr{MapFD: uint32(fd)}
	if errno := sys.MapFreeze(&attr); errno != 0 {
		return errno
	}
	return nil
}

// CreateMap creates a map with a raw BPF_MAP_CREATE, for tests that must not
// depend on the library's CreateMap.
func CreateMap(attr sys.MapCreateAttr) (int, error) {
	fd, errno := sys.MapCreate(&attr)
	if errno != 0 {
		return -1, errno
	}
	return fd.Int(), nil
}

// Pin pins fd at path on a bpf filesystem (BPF_OBJ_PIN).
func Pin(fd int, path string) error {
	p, err := sys.PathPointer(path)
	if err != nil {
		return err
	}
	attr := sys.ObjAttr{Pathname: p, BPFFD: uint32(fd)}
	if errno := sys.ObjPin(&attr); errno != 0 {
		return errno
	}
	return nil
}

// UnprivilegedBPFRefusesAll reports whether this kernel refuses every
// bpf(2) command of a process without CAP_BPF: kernel.unprivileged_bpf_disabled
// is set and the kernel predates 5.19, which narrowed the sysctl to map
// creation and program loading ("bpf: refine kernel.unprivileged_bpf_disabled
// behaviour"). Seen in the VMs: 5.10 refuses everything, 6.1 and later only
// creation.
func UnprivilegedBPFRefusesAll() bool {
	b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	return err == nil && strings.TrimSpace(string(b)) != "0" && !KernelAtLeast(5, 19)
}

// MountBPFFS mounts a fresh bpf filesystem on a temporary directory for the
// test and returns the directory. The directory is searchable by every
// user (mode 0755), so that tests can open pins as other users.
func MountBPFFS(tb testing.TB) string {
	tb.Helper()
	// A bpffs of the test's own, never the host's /sys/fs/bpf: a test run
	// leaves nothing behind there, and needs no bpffs mounted beforehand.
	dir, err := os.MkdirTemp("", "bpfbatch-bpffs-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.Remove(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=755"); err != nil {
		tb.Fatalf("mount bpffs on %s: %v", dir, err)
	}
	tb.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// Spin-lock BTF type IDs of LoadSpinLockBTF: int, struct bpf_spin_lock
// { int val; }, and struct val { struct bpf_spin_lock l; int v; } (8 bytes,
// the lock at offset 0, v at 4).
const (
	BTFInt      = 1
	BTFSpinLock = 2
	BTFLockVal  = 3
)

// LoadSpinLockBTF loads the smallest BTF that gives a map value a
// bpf_spin_lock, and returns its fd (close it when done).
func LoadSpinLockBTF() (int, error) {
	const (
		kindInt    = 1
		kindStruct = 4
		intSigned  = 1
	)
	strs := []byte("\x00int\x00bpf_spin_lock\x00val\x00l\x00v\x00")
	// Offsets into strs: int=1 bpf_spin_lock=5 val=19 l=23 v=25.
	types := []uint32{
		// [1] int: name, info(kind), size, encoding|bits
		1, kindInt << 24, 4, intSigned<<24 | 32,
		// [2] struct bpf_spin_lock { int val; }
		5, kindStruct<<24 | 1, 4, 19, BTFInt, 0,
		// [3] struct val { struct bpf_spin_lock l; int v; }: members name, type, bit offset
		19, kindStruct<<24 | 2, 8, 23, BTFSpinLock, 0, 25, BTFInt, 32,
	}
	const hdrLen = 24
	blob := make([]byte, hdrLen, hdrLen+4*len(types)+len(strs))
	ne := binary.NativeEndian
	ne.PutUint16(blob[0:], 0xeB9F) // magic
	blob[2] = 1                    // version
	blob[3] = 0                    // flags
	ne.PutUint32(blob[4:], hdrLen)
	ne.PutUint32(blob[8:], 0)                     // type_off
	ne.PutUint32(blob[12:], uint32(4*len(types))) // type_len
	ne.PutUint32(blob[16:], uint32(4*len(types))) // str_off
	ne.PutUint32(blob[20:], uint32(len(strs)))    // str_len
	for _, v := range types {
		blob = ne.AppendUint32(blob, v)
	}
	blob = append(blob, strs...)
	log := make([]byte, 4096)
	attr := sys.BTFLoadAttr{
		BTF:      sys.SlicePointer(blob),
		BTFSize:  uint32(len(blob)),
		LogBuf:   sys.SlicePointer(log),
		LogSize:  uint32(len(log)),
		LogLevel: 1,
	}
	fd, errno := sys.BTFLoad(&attr)
	if errno != 0 {
		return -1, errors.New("BPF_BTF_LOAD: " + errno.Error() + ": " + unix.ByteSliceToString(log))
	}
	return fd.Int(), nil
}

// LoadReturnZeroProg loads "r0 = 0; exit" as a program of progType
// (1 = socket filter), for program arrays. Close the fd when done.
func LoadReturnZeroProg(progType uint32) (int, error) {
	insns := []uint64{
		insn(0xb7, 0, 0, 0, 0), // BPF_ALU64|BPF_MOV|BPF_K r0 = 0
		insn(0x95, 0, 0, 0, 0), // BPF_JMP|BPF_EXIT
	}
	license := []byte("GPL\x00")
	attr := sys.ProgLoadAttr{
		ProgType: progType,
		InsnCnt:  uint32(len(insns)),
		Insns:    sys.NewPointer(unsafe.Pointer(&insns[0])),
		License:  sys.SlicePointer(license),
	}
	fd, errno := sys.ProgLoad(&attr)
	if errno != 0 {
		return -1, errno
	}
	return fd.Int(), nil
}

// insn encodes struct bpf_insn {u8 code; u8 dst:4, src:4; s16 off; s32 imm}
// in native byte order, as the kernel reads it.
func insn(code, dst, src uint8, off int16, imm int32) uint64 {
	var b [8]byte
	b[0] = code
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		b[1] = src<<4 | dst
	} else {
		b[1] = dst<<4 | src
	}
	binary.NativeEndian.PutUint16(b[2:], uint16(off))
	binary.NativeEndian.PutUint32(b[4:], uint32(imm))
	return binary.NativeEndian.Uint64(b[:])
}

// ObjID returns the kernel ID of a BPF object fd (map, program, BTF): the
// second u32 of every bpf_*_info struct.
func ObjID(fd int) (uint32, error) {
	var info [2]uint32 // type, id
	attr := sys.InfoAttr{BPFFD: uint32(fd), InfoLen: uint32(unsafe.Sizeof(info)), Info: sys.NewPointer(unsafe.Pointer(&info))}
	if errno := sys.ObjGetInfoByFD(&attr); errno != 0 {
		return 0, errno
	}
	return info[1], nil
}

// Delete removes key with a raw BPF_MAP_DELETE_ELEM; for fd arrays (perf
// event, cgroup) whose lookups are not readable from user space it tells
// whether the slot was set (nil) or empty (ENOENT).
func Delete(fd int, key []byte) error {
	attr := elemAttr(fd, key, nil, 0)
	if errno := sys.MapDeleteElem(&attr); errno != 0 {
		return errno
	}
	return nil
}

// MountCgroup2 returns the root of a cgroup v2 hierarchy: /sys/fs/cgroup
// when it is one, else a cgroup2 mount on a temporary directory.
func MountCgroup2(tb testing.TB) string {
	tb.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && uint32(st.Type) == unix.CGROUP2_SUPER_MAGIC {
		return "/sys/fs/cgroup"
	}
	dir := tb.TempDir()
	if err := unix.Mount("none", dir, "cgroup2", 0, ""); err != nil {
		tb.Fatalf("mount cgroup2 on %s: %v", dir, err)
	}
	tb.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// BloomPeek tests value's membership in a bloom filter map: the kernel's
// lookup of a keyless map takes the value to look for (bpf_map_peek_elem).
func BloomPeek(fd int, value []byte) error {
	attr := elemAttr(fd, nil, value, 0)
	if errno := sys.MapLookupElem(&attr); errno != 0 {
		return errno
	}
	return nil
}

// UpdateBatch issues a raw BPF_MAP_UPDATE_BATCH of count elements and
// returns the count the kernel wrote back and its errno.
func UpdateBatch(fd int, keys, values []byte, count uint32, flags uint64) (uint32, unix.Errno) {
	attr := sys.MapBatchAttr{
		Keys:      sys.SlicePointer(keys),
		Values:    sys.SlicePointer(values),
		Count:     count,
		MapFD:     uint32(fd),
		ElemFlags: flags,
	}
	errno := sys.MapUpdateBatch(&attr)
	return attr.Count, errno
}

// Keys walks every key of a map with raw BPF_MAP_GET_NEXT_KEY calls, one
// syscall per key, independently of the library's batch walk.
func Keys(fd int, keySize int) ([][]byte, error) {
	var keys [][]byte
	var prev []byte // nil: the first key
	for {
		next := make([]byte, keySize)
		attr := elemAttr(fd, prev, next, 0)
		switch errno := sys.MapGetNextKey(&attr); errno {
		case 0:
		case unix.ENOENT:
			return keys, nil
		default:
			return keys, errno
		}
		keys = append(keys, next)
		prev = next
	}
}

// LookupBatch issues a raw BPF_MAP_LOOKUP_BATCH of up to count elements
// after the cursor in (nil: from the start), writing the next cursor to out.
func LookupBatch(fd int, in, out, keys, values []byte, count uint32) (uint32, unix.Errno) {
	attr := sys.MapBatchAttr{
		Keys:   sys.SlicePointer(keys),
		Values: sys.SlicePointer(values),
		Count:  count,
		MapFD:  uint32(fd),
	}
	if in != nil {
		attr.InBatch = sys.SlicePointer(in)
	}
	attr.OutBatch = sys.SlicePointer(out)
	errno := sys.MapLookupBatch(&attr)
	return attr.Count, errno
}

// LSMs lists the active Linux security modules (/sys/kernel/security/lsm),
// mounting securityfs there if it is not (a minimal VM).
func LSMs(tb testing.TB) []string {
	tb.Helper()
	const dir = "/sys/kernel/security"
	b, err := os.ReadFile(dir + "/lsm")
	if err != nil {
		if err := unix.Mount("securityfs", dir, "securityfs", 0, ""); err != nil {
			tb.Fatalf("mount securityfs on %s: %v", dir, err)
		}
		if b, err = os.ReadFile(dir + "/lsm"); err != nil {
			tb.Fatal(err)
		}
	}
	return strings.Split(strings.TrimSpace(string(b)), ",")
}
