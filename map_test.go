package bpfbatch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

func TestNewMapDupsAndReadsInfo(t *testing.T) {
	testutil.RequireKernel(t)
	attr := mapCreateAttr(PerCPUArray, 4, 12, 16)
	copy(attr.MapName[:], "from_raw")
	fd, err := testutil.CreateMap(attr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMap(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.FD() == fd {
		t.Fatal("NewMap must duplicate the fd, not take it")
	}
	if flags, err := unix.FcntlInt(uintptr(m.FD()), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("duplicated fd lacks FD_CLOEXEC: %#x, %v", flags, err)
	}
	id, err := testutil.ObjID(fd)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Type != PerCPUArray || info.KeySize != 4 || info.ValueSize != 12 || info.MaxEntries != 16 || info.Name != "from_raw" || info.ID != id {
		t.Fatalf("Info() = %+v", info)
	}
	cpus, _ := PossibleCPUs()
	if m.ValueStride() != 16*cpus {
		t.Fatalf("ValueStride() = %d, want %d", m.ValueStride(), 16*cpus)
	}
	unix.Close(fd) // the caller's fd is the caller's; the Map keeps working
	values := make([]byte, m.ValueStride())
	values[0] = 42
	if n, err := m.UpdateBatch(u32s(3), values, UpdateAny); n != 1 || err != nil {
		t.Fatalf("UpdateBatch after closing the original fd = %d, %v", n, err)
	}
	checkWritten(t, m, u32s(3), values, nil)
}

func TestNewMapRejectsBadFDs(t *testing.T) {
	testutil.RequireKernel(t)
	if _, err := NewMap(-1); err == nil {
		t.Fatal("NewMap(-1) succeeded")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	f.Close()
	if _, err := NewMap(fd); err == nil {
		t.Fatal("NewMap(closed fd) succeeded")
	}
	prog, err := testutil.LoadReturnZeroProg(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)
	if _, err := NewMap(prog); err == nil || !strings.Contains(err.Error(), "not a BPF map") {
		t.Fatalf("NewMap(program fd) = %v", err)
	}
}

func TestOpenPinned(t *testing.T) {
	testutil.RequireKernel(t)
	dir := testutil.MountBPFFS(t)
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8, Name: "pinned"})
	path := filepath.Join(dir, "conns")
	if err := m.Pin(path); err != nil {
		t.Fatal(err)
	}
	if err := m.Pin(path); !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "already pinned") {
		t.Fatalf("second Pin at the same path = %v, want EEXIST", err)
	}
	p, err := OpenPinned(path)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Info().ID != m.Info().ID || p.Info().Name != "pinned" {
		t.Fatalf("OpenPinned info = %+v, want the pinned map's", p.Info())
	}
	if n, err := p.UpdateBatch(u32s(1, 2), u64s(10, 20), UpdateAny); n != 2 || err != nil {
		t.Fatal(n, err)
	}
	checkWritten(t, m, u32s(1, 2), u64s(10, 20), nil) // through the other fd

	if _, err := OpenPinned(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nothing is pinned there") {
		t.Fatalf("OpenPinned(missing) = %v, want fs.ErrNotExist", err)
	}
	prog, err := testutil.LoadReturnZeroProg(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)
	if err := testutil.Pin(prog, filepath.Join(dir, "prog")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPinned(filepath.Join(dir, "prog")); err == nil || !strings.Contains(err.Error(), "not a BPF map") {
		t.Fatalf("OpenPinned(program pin) = %v", err)
	}
}

func TestCreateMapErrors(t *testing.T) {
	testutil.RequireKernel(t)
	for _, tc := range []struct {
		spec MapSpec
		msg  string
	}{
		{MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "sixteen_bytes_xx"}, "at most 15"},
		{MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "no-dash"}, "only letters"},
		{MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 1}, "BPF_F_NO_PREALLOC"},
		{MapSpec{Type: Hash, KeySize: 0, ValueSize: 8, MaxEntries: 1}, "key/value sizes"},
		{MapSpec{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMapFD: -1}, "InnerMapFD"},
	} {
		m, err := CreateMap(tc.spec)
		if err == nil {
			m.Close()
			t.Errorf("CreateMap(%+v) succeeded", tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("CreateMap(%+v) = %v; want it to mention %q", tc.spec, err, tc.msg)
		}
	}
}

func TestMapTypeString(t *testing.T) {
	for typ, want := range map[MapType]string{Hash: "Hash", LRUPerCPUHash: "LRUPerCPUHash", Arena: "Arena", 200: "MapType(200)"} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint32(typ), got, want)
		}
	}
	// The constants follow enum bpf_map_type.
	for typ, kernel := range map[MapType]uint32{Hash: 1, LPMTrie: 11, HashOfMaps: 13, Queue: 22, BloomFilter: 30, CgrpStorage: 32, Arena: 33} {
		if uint32(typ) != kernel {
			t.Errorf("%s = %d, want %d", typ, uint32(typ), kernel)
		}
	}
	var perCPU []MapType
	for typ := range MapType(40) {
		if typ.PerCPU() {
			perCPU = append(perCPU, typ)
		}
	}
	if len(perCPU) != 4 {
		t.Errorf("PerCPU types = %v", perCPU)
	}
}
