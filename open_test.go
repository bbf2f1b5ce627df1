package bpfbatch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

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

// A pin the user may only read opens read-only, reads, and refuses writes
// and deletes before any syscall; a write-only open refuses every read; a
// Map from a read-only fd learns its mode.
func TestOpenReadOnlyAndWriteOnly(t *testing.T) {
	dir := testutil.MountBPFFS(t)
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if _, err := m.UpdateBatch(u32s(1), u64s(7), UpdateAny); err != nil {
		t.Fatal(err)
	}
	pin := dir + "/ro"
	if err := m.Pin(pin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pin, 0o444); err != nil {
		t.Fatal(err)
	}
	refusedWrites := func(t *testing.T, ro *Map) {
		t.Helper()
		var c Cursor
		for name, err := range map[string]error{
			"UpdateBatch":          second(ro.UpdateBatch(u32s(2), u64s(2), UpdateAny)),
			"DeleteBatch":          second(ro.DeleteBatch(u32s(1), UpdateAny)),
			"LookupAndDeleteBatch": second(ro.LookupAndDeleteBatch(&c, make([]byte, 4), make([]byte, 8), UpdateAny)),
			"Sync":                 second(ro.Sync(context.Background(), u32s(1), u64s(8), SyncOptions{})),
		} {
			if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "opened read-only") {
				t.Errorf("%s on a read-only map = %v", name, err)
			}
		}
		if n, err := ro.Count(); n != 1 || err != nil {
			t.Errorf("Count on a read-only map = %d, %v", n, err)
		}
		if stats, err := ro.Sync(context.Background(), u32s(1), u64s(8), SyncOptions{DryRun: true}); err != nil || stats.Changed != 1 {
			t.Errorf("dry-run Sync on a read-only map = %v, %v", stats, err)
		}
	}
	var ro *Map
	var openErr error
	onThreadAs(t, 65534, 65534, func() {
		if ro, openErr = OpenPinnedWith(pin, OpenOptions{ReadOnly: true}); openErr == nil {
			t.Run("as nobody", func(t *testing.T) { refusedWrites(t, ro) })
			ro.Close()
		}
	})
	if openErr != nil && !testutil.UnprivilegedBPFRefusesAll() {
		t.Fatalf("kernel %s: OpenPinnedWith(ReadOnly) as nobody of a 0444 pin = %v", testutil.KernelRelease(), openErr)
	}
	ro, err := OpenPinnedWith(pin, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	refusedWrites(t, ro)
	// A Map from the read-only fd of another learns the mode.
	fromFD, err := NewMap(ro.FD())
	if err != nil {
		t.Fatal(err)
	}
	defer fromFD.Close()
	refusedWrites(t, fromFD)

	wo, err := OpenPinnedWith(pin, OpenOptions{WriteOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer wo.Close()
	var c Cursor
	for name, err := range map[string]error{
		"Lookup":      wo.Lookup(u32s(1), make([]byte, 8)),
		"LookupBatch": second(wo.LookupBatch(&c, make([]byte, 4), make([]byte, 8), UpdateAny)),
		"Count":       second(wo.Count()),
		"Walk":        wo.Walk(context.Background(), WalkOptions{}, func([]byte, []byte, int) error { return nil }),
		"Iterate": func() error {
			it := Iterate[uint32, uint64](wo, UpdateAny)
			for range it.All() {
			}
			return it.Err()
		}(),
	} {
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "opened write-only") {
			t.Errorf("%s on a write-only map = %v", name, err)
		}
	}
	if _, err := wo.UpdateBatch(u32s(2), u64s(2), UpdateAny); err != nil {
		t.Fatalf("UpdateBatch on a write-only map = %v", err)
	}
	if _, err := OpenPinnedWith(pin, OpenOptions{ReadOnly: true, WriteOnly: true}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ReadOnly and WriteOnly = %v", err)
	}
}

// MapIDs lists the maps of the system, among them one that no one pinned,
// which OpenByID then opens.
func TestMapIDsFindsUnpinnedMaps(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "unpinned"})
	found, prev := false, uint32(0)
	for id, err := range MapIDs() {
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Fatalf("ID %d after %d: not increasing", id, prev)
		}
		prev = id
		found = found || id == m.Info().ID
	}
	if !found {
		t.Fatalf("MapIDs did not list map %d", m.Info().ID)
	}
	byID, err := OpenByID(m.Info().ID)
	if err != nil {
		t.Fatal(err)
	}
	defer byID.Close()
	if byID.Info().Name != "unpinned" {
		t.Fatalf("OpenByID opened %v", byID)
	}
}
