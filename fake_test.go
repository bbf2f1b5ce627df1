package bpfbatch

import (
	"encoding/binary"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Offsets of the batch member of union bpf_attr, copied from
// include/uapi/linux/bpf.h (and checked against the header with a C
// compiler in internal/sys). The decoder below uses only these constants, so
// it is independent of batchAttr.
const (
	uapiInBatch   = 0
	uapiOutBatch  = 8
	uapiKeys      = 16
	uapiValues    = 24
	uapiCount     = 32
	uapiMapFD     = 36
	uapiElemFlags = 40
	uapiFlags     = 48
	uapiBatchSize = 56
)

// decodedBatch is the batch attr as the kernel reads it from bytes.
type decodedBatch struct {
	InBatch, OutBatch, Keys, Values uint64
	Count, MapFD                    uint32
	ElemFlags, Flags                uint64
}

func decodeBatch(b []byte) decodedBatch {
	ne := binary.NativeEndian
	return decodedBatch{
		InBatch:   ne.Uint64(b[uapiInBatch:]),
		OutBatch:  ne.Uint64(b[uapiOutBatch:]),
		Keys:      ne.Uint64(b[uapiKeys:]),
		Values:    ne.Uint64(b[uapiValues:]),
		Count:     ne.Uint32(b[uapiCount:]),
		MapFD:     ne.Uint32(b[uapiMapFD:]),
		ElemFlags: ne.Uint64(b[uapiElemFlags:]),
		Flags:     ne.Uint64(b[uapiFlags:]),
	}
}

// fakeCall is one bpf(2) call the fake kernel saw.
type fakeCall struct {
	Cmd  int
	Size int
	Attr []byte
}

// fakeKernel answers bpf(2) for maps that exist only in a test: for what the
// real kernel cannot show (old kernels, injected errnos, other layouts).
type fakeKernel struct {
	mu    sync.Mutex
	calls []fakeCall
	// batch answers BPF_MAP_UPDATE_BATCH: the count to write back and the
	// errno. nil: the batch command exists and succeeds.
	batch func(a decodedBatch) (count uint32, errno unix.Errno)
	// elem answers the i-th BPF_MAP_UPDATE_ELEM. nil: success.
	elem  func(i int) unix.Errno
	nelem int
	// other answers every other command. nil: success.
	other func(cmd int, attr []byte) unix.Errno
}

func (f *fakeKernel) call(cmd int, attr []byte) (uintptr, unix.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{Cmd: cmd, Size: len(attr), Attr: append([]byte(nil), attr...)})
	switch cmd {
	case unix.BPF_MAP_UPDATE_BATCH:
		if f.batch == nil {
			return 0, 0
		}
		a := decodeBatch(attr)
		count, errno := f.batch(a)
		binary.NativeEndian.PutUint32(attr[uapiCount:], count)
		return 0, errno
	case unix.BPF_MAP_UPDATE_ELEM:
		i := f.nelem
		f.nelem++
		if f.elem == nil {
			return 0, 0
		}
		return 0, f.elem(i)
	}
	if f.other != nil {
		return 0, f.other(cmd, attr)
	}
	return 0, 0
}

// count returns how many calls of cmd the fake saw.
func (f *fakeKernel) count(cmd int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Cmd == cmd {
			n++
		}
	}
	return n
}

func (f *fakeKernel) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// newFakeMap returns a Map whose syscalls go to f, described by info as if
// the kernel had reported it. Its fd is a real /dev/null fd, so Close works,
// and the fake is keyed on it, so tests on real maps can run alongside.
func newFakeMap(t testing.TB, info sys.MapInfo, f *fakeKernel) *Map {
	t.Helper()
	raw, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sys.NewFD(raw)
	if err != nil {
		t.Fatal(err)
	}
	remove := sys.InjectFake(fd.Int(), f.call)
	m, err := mapFromInfo(fd, &info, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		remove() // before Close: the fd number may be reused afterwards
		m.Close()
	})
	return m
}

func fakeInfo(typ MapType, keySize, valueSize, maxEntries uint32) sys.MapInfo {
	info := sys.MapInfo{Type: uint32(typ), ID: 42, KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries}
	copy(info.Name[:], "fake")
	return info
}

func mapCreateAttr(typ MapType, keySize, valueSize, maxEntries uint32) sys.MapCreateAttr {
	return sys.MapCreateAttr{MapType: uint32(typ), KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries}
}
