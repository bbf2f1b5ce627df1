package main

// End-to-end tests of create, and of RLIMIT_MEMLOCK.

import (
	"fmt"
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

// create makes map-in-maps from an inner spec or an existing map, so that
// replace needs no other tool: create the outer map, replace a slot, dump
// the slot's new inner map by id.
func TestCreateMapInMapThenReplace(t *testing.T) {
	dir := pinDir(t)
	outer := filepath.Join(dir, "policies")
	r := mustRun(t, 0, "", "create", outer, "--type", "array_of_maps", "--key-size", "4", "--max-entries", "8", "--name", "policies",
		"--inner-type", "hash", "--inner-key-size", "4", "--inner-value-size", "8", "--inner-max-entries", "64")
	if !strings.Contains(r.stdout, `created ArrayOfMaps map "policies"`) || !strings.Contains(r.stdout, "inner maps: Hash, key 4 bytes, value 8 bytes, max_entries 64") {
		t.Errorf("create: %q", r.stdout)
	}
	info := openPinned(t, outer).Info()
	if info.Type != bpfbatch.ArrayOfMaps || info.KeySize != 4 || info.ValueSize != 4 || info.MaxEntries != 8 {
		t.Errorf("outer map: %+v", info)
	}
	mustRun(t, 0, "1 11\n5 50\n", append([]string{"replace", outer, "3", "-", "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "64", "--name", "rules"}, u32u64...)...)
	id := slotID(t, outer, u32(3))
	if r := mustRun(t, 0, "", append([]string{"dump", "id", fmt.Sprint(id)}, u32u64...)...); entryLines(r.stdout) != 2 || !strings.Contains(r.stdout, "5 50\n") {
		t.Errorf("dump of the inner map: %q", r.stdout)
	}
	// The slot's map gives its shape to the next replace.
	mustRun(t, 0, "7 70\n", append([]string{"replace", "pinned", outer, "3", "-"}, u32u64...)...)
	if r := mustRun(t, 0, "", append([]string{"dump", "id", fmt.Sprint(slotID(t, outer, u32(3)))}, u32u64...)...); r.stdout != "7 70\n" {
		t.Errorf("after the second replace: %q", r.stdout)
	}

	// --inner-map: the shape of an existing map; hash_of_maps.
	tmpl := createPinned(t, dir, "tmpl", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 100, Flags: unix.BPF_F_NO_PREALLOC})
	tenants := filepath.Join(dir, "tenants")
	mustRun(t, 0, "", "create", tenants, "--type", "hash_of_maps", "--key-size", "4", "--max-entries", "100", "--inner-map", tmpl)
	mustRun(t, 0, "10.0.0.0/8 1\n", "replace", tenants, "42", "-", "--value-format", "u32",
		"--type", "lpm_trie", "--key-size", "8", "--value-size", "4", "--max-entries", "100")
	if r := mustRun(t, 0, "", "dump", "id", fmt.Sprint(slotID(t, tenants, u32(42))), "--value-format", "u32"); r.stdout != "10.0.0.0/8 1\n" {
		t.Errorf("tenant 42: %q", r.stdout)
	}

	// Mistakes on the command line.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--type", "array_of_maps", "--key-size", "4", "--max-entries", "1"}, "needs the shape of its inner maps"},
		{[]string{"--type", "hash", "--key-size", "4", "--value-size", "4", "--max-entries", "1", "--inner-map", tmpl}, "describe the inner maps of a map-in-map"},
		{[]string{"--type", "array_of_maps", "--key-size", "4", "--max-entries", "1", "--inner-map", tmpl, "--inner-type", "hash"}, "not both"},
		{[]string{"--type", "array_of_maps", "--key-size", "4", "--max-entries", "1", "--inner-type", "hash"}, "are required"},
		{[]string{"--type", "array_of_maps", "--key-size", "4", "--max-entries", "1", "--inner-map", "id x"}, "--inner-map: id"},
	} {
		if r := mustRun(t, 2, "", append([]string{"create", filepath.Join(dir, "bad")}, tt.args...)...); !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: %s", tt.args, r.stderr)
		}
	}
}
