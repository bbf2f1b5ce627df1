package main

// End-to-end tests of create, and of RLIMIT_MEMLOCK.

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
	"golang.org/x/sys/unix"
)

func TestCreate(t *testing.T) {
	dir := pinDir(t)
	pin := filepath.Join(dir, "created")
	r := mustRun(t, 0, "", "create", pin, "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "100", "--name", "demo")
	if !strings.Contains(r.stdout, `created Hash map "demo"`) {
		t.Errorf("stdout = %q", r.stdout)
	}
	info := openPinned(t, pin).Info()
	if info.Type != bpfbatch.Hash || info.KeySize != 4 || info.ValueSize != 8 || info.MaxEntries != 100 || info.Name != "demo" {
		t.Errorf("created map: %+v", info)
	}

	// LPM tries get BPF_F_NO_PREALLOC, which the kernel requires; type
	// names in the kernel's spelling work.
	trie := filepath.Join(dir, "trie")
	mustRun(t, 0, "", "create", "--type=BPF_MAP_TYPE_LPM_TRIE", "--key-size=8", "--value-size=4", "--max-entries=10", trie)
	if info := openPinned(t, trie).Info(); info.Type != bpfbatch.LPMTrie || info.Flags&unix.BPF_F_NO_PREALLOC == 0 {
		t.Errorf("created trie: %+v", info)
	}

	r = mustRun(t, 1, "", "create", pin, "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "100")
	if !strings.Contains(r.stderr, "already pinned") {
		t.Errorf("create over an existing pin: stderr %q", r.stderr)
	}
	r = mustRun(t, 2, "", "create", filepath.Join(dir, "x"), "--type", "hashh", "--key-size", "4", "--value-size", "8", "--max-entries", "1")
	if !strings.Contains(r.stderr, `unknown map type "hashh"`) {
		t.Errorf("bad type: stderr %q", r.stderr)
	}
	r = mustRun(t, 1, "", "create", filepath.Join(t.TempDir(), "x"), "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "1")
	if !strings.Contains(r.stderr, "not on a bpf filesystem") {
		t.Errorf("pin outside bpffs: stderr %q", r.stderr)
	}
}

// Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK (64 KiB by
// default): create and load lift it first (bpfbatch.RemoveMemlock). Run
// under a 64 KiB soft limit, a 100000-entry map is created and filled. On
// newer kernels the limit does not matter and this passes either way; the
// VM runner's older kernels are where it can fail.
func TestMemlockLiftedBeforeCreate(t *testing.T) {
	dir := pinDir(t)
	pin := dir + "/memlock"
	// The commands inherit this process's limits: lower the soft limit for
	// them (no shell: the VMs have none), and restore it afterwards.
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &orig); err != nil {
		t.Fatal(err)
	}
	low := unix.Rlimit{Cur: 64 << 10, Max: orig.Max}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &low); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &orig)
	in, want := hashLines(100000)
	mustRun(t, 0, "", "create", pin, "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "100000")
	mustRun(t, 0, in, "load", pin, "-", "--key-format", "u32", "--value-format", "u64")
	unix.Setrlimit(unix.RLIMIT_MEMLOCK, &orig)
	checkMap(t, pin, want)
}
