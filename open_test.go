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
