package bpfbatch

import (
	"errors"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Bad input is refused before any syscall: the fake kernel counts calls.
func TestUpdateBatchRejectsBadInputBeforeSyscall(t *testing.T) {
	cpus, err := PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	hash := fakeInfo(Hash, 4, 8, 100)
	perCPU := fakeInfo(PerCPUHash, 4, 4, 100)
	queue := fakeInfo(Queue, 0, 4, 100)
	stride := 8 * cpus
	for _, tc := range []struct {
		name         string
		info         MapInfoRaw
		keys, values int
		flags        Flags
		want         func(error) bool
		msg          string
	}{
		{"keys not a multiple of key_size", hash, 10, 16, 0, isSizeError("keys"), "want a multiple of key_size 4"},
		{"values too short", hash, 8, 15, 0, isSizeError("values"), "got 15 bytes, want 16 = 2 elements x value_size 8"},
		{"values too long", hash, 8, 17, 0, isSizeError("values"), "want 16"},
		{"values without keys", hash, 0, 8, 0, isSizeError("values"), "want 0"},
		{"per-CPU values one slot per element", perCPU, 16, 4 * 8, 0, isSizeError("values"), "possible CPUs x 8"},
		{"per-CPU values unrounded", perCPU, 16, 4 * 4 * cpus, 0, isSizeError("values"), "rounded up to 8"},
		{"per-CPU values one too many", perCPU, 8, 3 * stride, 0, isSizeError("values"), "element-major"},
		{"keys for a keyless map", queue, 4, 4, 0, isSizeError("keys"), "pass nil keys"},
		{"keyless values not whole", queue, 0, 6, 0, isSizeError("values"), "multiple of 4"},
		{"unknown flag bit", hash, 4, 8, 0x20, isErr(ErrInvalidFlags), "unknown bits 0x20"},
		{"per-CPU flag on a hash", hash, 4, 8, UpdateAllCPUs, isErr(ErrInvalidFlags), "applies to per-CPU maps"},
		{"high flag bit", hash, 4, 8, 1 << 40, isErr(ErrInvalidFlags), "unknown bits"},
		{"NoExist and Exist", hash, 4, 8, UpdateNoExist | UpdateExist, isErr(ErrInvalidFlags), "pick one"},
		{"flags checked even for bad sizes", hash, 3, 8, 64, isErr(ErrInvalidFlags), "unknown bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKernel{}
			m := newFakeMap(t, sys.MapInfo(tc.info), f)
			n, err := m.UpdateBatch(make([]byte, tc.keys), make([]byte, tc.values), tc.flags)
			if n != 0 || !tc.want(err) {
				t.Fatalf("UpdateBatch = %d, %v", n, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), `"fake" (id 42)`) {
				t.Errorf("error %q should name the map and contain %q", err, tc.msg)
			}
			if f.total() != 0 {
				t.Fatalf("%d syscalls made for invalid input", f.total())
			}
		})
	}
}

// MapInfoRaw is the kernel's struct bpf_map_info, for table tests.
type MapInfoRaw = sys.MapInfo

func TestUpdateBatchEmptyMakesNoSyscall(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	for _, flags := range []Flags{UpdateAny, UpdateExist, UpdateLock} {
		if n, err := m.UpdateBatch(nil, nil, flags); n != 0 || err != nil {
			t.Fatalf("UpdateBatch(nil, nil, %s) = %d, %v; want 0, nil", flags, n, err)
		}
		if n, err := m.UpdateBatch([]byte{}, []byte{}, flags); n != 0 || err != nil {
			t.Fatalf("UpdateBatch(empty, %s) = %d, %v", flags, n, err)
		}
	}
	if f.total() != 0 {
		t.Fatalf("empty batches made %d syscalls", f.total())
	}
}

func TestClosedMapReturnsErrClosed(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil (idempotent)", err)
	}
	if fd := m.FD(); fd != -1 {
		t.Fatalf("FD() after Close = %d, want -1", fd)
	}
	if n, err := m.UpdateBatch(make([]byte, 4), make([]byte, 8), UpdateAny); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateBatch after Close = %d, %v", n, err)
	}
	if n, err := m.UpdateBatch(nil, nil, UpdateAny); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("empty UpdateBatch after Close = %d, %v", n, err)
	}
	if n, err := UpdateBatchOf(m, []uint32{1}, []uint64{1}, UpdateAny); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateBatchOf after Close = %d, %v", n, err)
	}
	if err := m.Lookup(make([]byte, 4), make([]byte, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close = %v", err)
	}
	if _, err := m.UpdatePath(); !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdatePath after Close = %v", err)
	}
	if f.total() != 0 {
		t.Fatalf("closed map made %d syscalls", f.total())
	}
}

func TestNilAndZeroMapDoNotPanic(t *testing.T) {
	for name, m := range map[string]*Map{"nil": nil, "zero": new(Map)} {
		t.Run(name, func(t *testing.T) {
			if _, err := m.UpdateBatch([]byte{1, 2, 3, 4}, nil, UpdateAny); !errors.Is(err, ErrClosed) {
				t.Errorf("UpdateBatch = %v", err)
			}
			if _, err := UpdateBatchOf(m, []uint32{1}, []uint32{1}, UpdateAny); !errors.Is(err, ErrClosed) {
				t.Errorf("UpdateBatchOf = %v", err)
			}
			if err := m.Lookup(nil, nil); !errors.Is(err, ErrClosed) {
				t.Errorf("Lookup = %v", err)
			}
			if m.FD() != -1 || m.Close() != nil || m.ValueStride() != 0 {
				t.Errorf("FD/Close/ValueStride on a closed map misbehave")
			}
			_ = m.String()
			_ = m.Info()
		})
	}
}
