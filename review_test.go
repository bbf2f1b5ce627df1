package bpfbatch

// Failures an adversarial review found, each pinned by a test that failed
// before its fix.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
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

// Go leaves struct padding as it finds it, so passing a padded key type
// through would make one Go key two map entries: UpdateBatchOf copies
// padded types with the padding zeroed (between fields, at the tail, inside
// array elements), and keeps the zero-copy path for explicit padding.
func TestUpdateBatchOfZeroesPadding(t *testing.T) {
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
	if got := paddingIn(reflect.TypeFor[nestedKey](), 0, nil); !slices.Equal(got, []byteRange{{1, 4}, {9, 12}}) {
		t.Fatalf("padding of nestedKey = %v", got)
	}
	if got := paddingIn(reflect.TypeFor[trailingValue](), 0, nil); !slices.Equal(got, []byteRange{{5, 8}}) {
		t.Fatalf("padding of trailingValue = %v", got)
	}
	if got := paddingIn(reflect.TypeFor[explicitKey](), 0, nil); len(got) != 0 {
		t.Fatalf("explicit padding reported as padding: %v", got)
	}
	m := createMap(t, MapSpec{Type: Hash, KeySize: 8, ValueSize: 8, MaxEntries: 8})
	// The same Go key and value twice, with different garbage in the padding.
	for _, garbage := range []byte{0xaa, 0x55} {
		keys := []paddedKey{{A: 1, B: 2}}
		values := []trailingValue{{A: 3, B: 4}}
		kb, vb := asBytes(keys), asBytes(values)
		for _, b := range []int{1, 2, 3} {
			kb[b] = garbage
		}
		for _, b := range []int{5, 6, 7} {
			vb[b] = garbage
		}
		if n, err := UpdateBatchOf(m, keys, values, UpdateAny); n != 1 || err != nil {
			t.Fatalf("UpdateBatchOf = %d, %v", n, err)
		}
		if kb[1] != garbage || vb[5] != garbage {
			t.Fatal("UpdateBatchOf changed the caller's slices")
		}
	}
	keys, err := testutil.Keys(m.FD(), 8)
	if err != nil || len(keys) != 1 {
		t.Fatalf("map holds %d keys (%v), want 1: padding reached the kernel", len(keys), err)
	}
	want := []byte{1, 0, 0, 0, 2, 0, 0, 0}
	if !bytes.Equal(keys[0], want) {
		t.Fatalf("stored key %x, want %x", keys[0], want)
	}
	checkWritten(t, m, want, []byte{3, 0, 0, 0, 4, 0, 0, 0}, nil)

	// Explicit padding is a field: passed in place.
	if n, err := UpdateBatchOf(m, []explicitKey{{A: 9, B: 9}}, []uint64{1}, UpdateAny); n != 1 || err != nil {
		t.Fatalf("explicitly padded key = %d, %v", n, err)
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
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err := testutil.Freeze(m.FD()); err != nil {
		t.Fatal(err)
	}
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
