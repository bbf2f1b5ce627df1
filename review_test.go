package bpfbatch

// Failures an adversarial review found, each pinned by a test that failed
// before its fix.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// A parallel load into a map the kernel refuses as a whole (frozen) blames
// no element: Index -1, as the sequential form says.
func TestUpdateBatchWithParallelRefusedWholeHasNoIndex(t *testing.T) {
	const n = 8192
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
			if err := testutil.Freeze(m.FD()); err != nil {
				t.Fatal(err)
			}
			keys := make([]uint32, n)
			for i := range keys {
				keys[i] = uint32(i)
			}
			got, err := UpdateBatchOfWith(context.Background(), m, keys, make([]uint64, n), BatchOptions{Workers: workers, Chunk: 1024})
			be := wantBatchError(t, got, err, unix.EPERM, ErrPermission, 0, -1, "frozen", "0 of 8192 elements written")
			if strings.Contains(err.Error(), "element ") {
				t.Fatalf("error blames an element: %v", err)
			}
			if len(be.Written) != 0 {
				t.Fatalf("Written = %v, want none", be.Written)
			}
		})
	}
}

// Go leaves struct padding as it finds it, so a padded key type would make
// one Go key two map entries: UpdateBatchOf refuses it and says where the
// padding is and how to make it explicit.
func TestUpdateBatchOfRefusesPaddedTypes(t *testing.T) {
	type paddedKey struct {
		A uint8
		B uint32
	}
	type trailingValue struct {
		A uint32
		B uint8
	}
	type nestedKey struct {
		X [2]paddedKey
	}
	type explicitKey struct {
		A uint8
		_ [3]byte
		B uint32
	}
	hash := createMap(t, MapSpec{Type: Hash, KeySize: 8, ValueSize: 16, MaxEntries: 4})
	for _, tc := range []struct {
		name string
		call func() (int, error)
		want string
	}{
		{"padding between fields", func() (int, error) {
			return UpdateBatchOf(hash, []paddedKey{{1, 2}}, []trailingValue{{}}, UpdateAny)
		}, "3 padding bytes after bpfbatch.paddedKey.A, at offset 1"},
		{"trailing padding", func() (int, error) {
			return UpdateBatchOf(hash, []explicitKey{{A: 1, B: 2}}, []trailingValue{{}}, UpdateAny)
		}, "3 padding bytes after bpfbatch.trailingValue.B, at offset 5"},
		{"padding in an array element", func() (int, error) {
			return UpdateBatchOf(createMap(t, MapSpec{Type: Hash, KeySize: 16, ValueSize: 8, MaxEntries: 1}), []nestedKey{{}}, []uint64{1}, UpdateAny)
		}, "3 padding bytes after bpfbatch.nestedKey.X[0].A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.call()
			if n != 0 || !errors.Is(err, ErrInvalidType) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "_ [N]byte") {
				t.Fatalf("= %d, %v; want ErrInvalidType naming %q and the fix", n, err, tc.want)
			}
		})
	}
	// Explicit padding is fine: it is a field, zeroed by composite literals.
	type explicitValue struct {
		A uint64
		B uint8
		_ [7]byte
	}
	if n, err := UpdateBatchOf(hash, []explicitKey{{A: 1, B: 2}}, []explicitValue{{A: 3, B: 4}}, UpdateAny); n != 1 || err != nil {
		t.Fatalf("explicitly padded types = %d, %v", n, err)
	}
	keys, err := testutil.Keys(hash.FD(), 8)
	if err != nil || len(keys) != 1 {
		t.Fatalf("map holds %d keys (%v), want 1", len(keys), err)
	}
}

// Lookup takes one key: a wrong size is reported as such, not as a batch.
func TestLookupKeySizeErrorIsAboutOneKey(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	err := m.Lookup(make([]byte, 8), make([]byte, 8))
	var se *SizeError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "got 8 bytes, want key_size 4") || strings.Contains(err.Error(), "multiple") || strings.Contains(err.Error(), "whole keys") {
		t.Fatalf("Lookup(8-byte key) = %v", err)
	}
	err = m.Lookup(make([]byte, 4), make([]byte, 4))
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "got 4 bytes, want value_size 8") {
		t.Fatalf("Lookup(4-byte value) = %v", err)
	}
}

// A path that is not a pinned map is named for what it is, not blamed on
// privileges, and the error does not claim ErrPermission.
func TestOpenPinnedSaysWhatThePathIs(t *testing.T) {
	testutil.RequireKernel(t)
	bpffs := testutil.MountBPFFS(t)
	tmp := t.TempDir()
	regular := filepath.Join(tmp, "file")
	if err := os.WriteFile(regular, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dirOnBPFFS := filepath.Join(bpffs, "dir")
	if err := os.Mkdir(dirOnBPFFS, 0o700); err != nil {
		t.Fatal(err)
	}
	prog, err := testutil.LoadReturnZeroProg(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)
	progPin := filepath.Join(bpffs, "prog")
	if err := testutil.Pin(prog, progPin); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"regular file outside bpffs", regular, "is not on a bpf filesystem"},
		{"directory outside bpffs", tmp, "is not on a bpf filesystem"},
		{"directory on bpffs", dirOnBPFFS, "it is a directory, not a pinned map"},
		{"missing on bpffs", filepath.Join(bpffs, "missing"), "nothing is pinned there"},
		{"pinned program", progPin, "not a BPF map but a BPF prog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := OpenPinned(tc.path)
			if err == nil {
				m.Close()
				t.Fatal("OpenPinned succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "CAP_BPF") || errors.Is(err, ErrPermission) {
				t.Fatalf("OpenPinned(%s) = %v; want %q, no privilege blamed", tc.path, err, tc.want)
			}
			var me *MapError
			if !errors.As(err, &me) || me.Path != tc.path {
				t.Fatalf("err = %#v, want a *MapError for the path", err)
			}
			t.Log(err)
		})
	}
}

func TestPinSaysWhatThePathIs(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	bpffs := testutil.MountBPFFS(t)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"outside bpffs", filepath.Join(t.TempDir(), "pin"), "is not on a bpf filesystem"},
		{"missing directory", filepath.Join(bpffs, "no", "pin"), "the directory does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Pin(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "CAP_BPF") || errors.Is(err, ErrPermission) {
				t.Fatalf("Pin(%s) = %v; want %q", tc.path, err, tc.want)
			}
		})
	}
	pin := filepath.Join(bpffs, "twice")
	if err := m.Pin(pin); err != nil {
		t.Fatal(err)
	}
	if err := m.Pin(pin); !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "already pinned there") {
		t.Fatalf("second Pin = %v", err)
	}
}

// The caller knows its fd, not the library's duplicate of it.
func TestNewMapErrorNamesTheCallersFD(t *testing.T) {
	testutil.RequireKernel(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	_, err = NewMap(fd)
	if err == nil {
		t.Fatal("NewMap(/dev/null) succeeded")
	}
	fds := regexp.MustCompile(`fd \d+`).FindAllString(err.Error(), -1)
	if len(fds) != 1 || fds[0] != fmt.Sprintf("fd %d", fd) || !strings.Contains(err.Error(), "not a BPF map but /dev/null") {
		t.Fatalf("NewMap(fd %d) = %v; want it to name fd %d only", fd, err, fd)
	}
}

// UpdatePath writes nothing, so its error counts nothing.
func TestUpdatePathErrorCountsNothing(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_RDONLY})
	_, err := m.UpdatePath()
	if !errors.Is(err, ErrPermission) || strings.Contains(err.Error(), "of 0") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("UpdatePath on a read-only map = %v", err)
	}
}

// Hints name the cause that fits the map and the call.
func TestHintsFitTheCall(t *testing.T) {
	t.Run("full queue", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Queue, ValueSize: 4, MaxEntries: 2})
		n, err := m.UpdateBatch(nil, u32s(1, 2, 3), UpdateAny)
		wantBatchError(t, n, err, unix.E2BIG, ErrMapFull, 2, 2, "pop some first", "UpdateExist")
		if strings.Contains(err.Error(), "LRU") {
			t.Fatalf("a full queue is not helped by an LRU map: %v", err)
		}
	})
	t.Run("lock with a per-element flag, no spin lock", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateNoExist|UpdateLock)
		wantBatchError(t, n, err, unix.EINVAL, nil, 0, 0, "needs a struct bpf_spin_lock")
	})
	t.Run("lookup through a write-only fd", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4, Flags: unix.BPF_F_WRONLY})
		if n, err := m.UpdateBatch(u32s(1), u64s(1), UpdateAny); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		err := m.Lookup(u32s(1), make([]byte, 8))
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "write-only") || strings.Contains(err.Error(), "1 element") {
			t.Fatalf("Lookup through a write-only fd = %v", err)
		}
	})
}

// Every error message says each fact once: no segment repeats, and counts
// agree in number ("1 element").
func TestErrorMessagesSayEachFactOnce(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: unix.BPF_F_RDONLY})
	_, err := m.UpdateBatch(u32s(1), u64s(1), UpdateAny)
	checkSaysEachFactOnce(t, err)
	if !strings.Contains(err.Error(), "0 of 1 element written") {
		t.Fatalf("%v: want a singular count", err)
	}
	_, err = CreateMap(MapSpec{Type: Hash, KeySize: 0, ValueSize: 8, MaxEntries: 1})
	checkSaysEachFactOnce(t, err)
	_, err = OpenPinned(filepath.Join(testutil.MountBPFFS(t), "missing"))
	checkSaysEachFactOnce(t, err)
}

func checkSaysEachFactOnce(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(err.Error(), ": ") {
		if seen[part] {
			t.Fatalf("%q says %q twice", err, part)
		}
		seen[part] = true
	}
	for _, twice := range []string{"permission denied", "no such file or directory"} {
		if strings.Count(err.Error(), twice) > 1 {
			t.Fatalf("%q says %q twice", err, twice)
		}
	}
}
