package main

// End-to-end tests of replace.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
	"golang.org/x/sys/unix"
)

// replace swaps a new inner map into a slot: the slot (read raw) holds a
// new ID, the map of that ID (opened raw) has the old one's shape and the
// input's contents, and the old inner map is untouched.
func TestReplaceInnerMap(t *testing.T) {
	dir := pinDir(t)
	innerSpec := bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 100, Name: "rules"}
	oldEntries := []entry{{u32(1), u64(10)}, {u32(2), u64(20)}}
	pin, oldInner := outerWithInner(t, dir, "outer", bpfbatch.ArrayOfMaps, innerSpec, u32(3), oldEntries...)
	oldID := slotID(t, pin, u32(3))

	in, want := hashLines(50)
	r := mustRun(t, 0, in+"7 1\n7 71\n", append([]string{"replace", pin, "3", "-"}, u32u64...)...)
	newID := slotID(t, pin, u32(3))
	if newID == 0 || newID == oldID {
		t.Fatalf("slot 3 holds id %d (was %d)", newID, oldID)
	}
	if w := fmt.Sprintf(`: inner map id %d -> id %d (Hash map "rules" (id %d), 50 entries from stdin) in `, oldID, newID, newID); !strings.HasPrefix(r.stdout, "replaced slot 3 of ArrayOfMaps map") || !strings.Contains(r.stdout, w) {
		t.Errorf("stdout = %q, want %q", r.stdout, w)
	}
	fd := rawOpenByID(t, newID)
	info := rawInfo(t, fd)
	if info.Type != uint32(bpfbatch.Hash) || info.KeySize != 4 || info.ValueSize != 8 || info.MaxEntries != 100 || strings.TrimRight(string(info.Name[:]), "\x00") != "rules" {
		t.Errorf("new inner map: %+v", info)
	}
	want[6] = entry{u32(7), u64(71)} // the last line of key 7
	if !strings.HasSuffix(r.stdout, "; dropped 2 lines whose key a later line repeats (each key is written once, from its last line)\n") {
		t.Errorf("stdout = %q", r.stdout)
	}
	sameContents(t, "new inner map", rawContents(t, fd, 4, 8), contentsOf(want))
	sameContents(t, "old inner map", rawContents(t, oldInner.FD(), 4, 8), contentsOf(oldEntries))

	// Bad input leaves the slot alone.
	r = mustRun(t, 2, "1 1\nz 2\n", append([]string{"replace", pin, "3", "-"}, u32u64...)...)
	if !strings.Contains(r.stderr, "1 bad line in stdin; nothing changed") || slotID(t, pin, u32(3)) != newID {
		t.Errorf("bad input: slot %d, stderr %q", slotID(t, pin, u32(3)), r.stderr)
	}
	// A shape the outer map's template refuses (other map flags; a hash
	// inner map may have another max_entries): the kernel says EINVAL,
	// the slot is unchanged.
	r = mustRun(t, 1, "1 1\n", append([]string{"replace", pin, "3", "-", "--map-flags", "no-prealloc"}, u32u64...)...)
	t.Logf("refused shape: %s", r.stderr)
	if !strings.Contains(r.stderr, "slot 3 is unchanged") || slotID(t, pin, u32(3)) != newID {
		t.Errorf("refused shape: slot %d, stderr %q", slotID(t, pin, u32(3)), r.stderr)
	}
	// A slot past the array.
	if r := mustRun(t, 2, "", "replace", pin, "8", "-"); !strings.Contains(r.stderr, "has slots 0 to 7") {
		t.Errorf("slot 8: %q", r.stderr)
	}
}

// An empty slot has no inner map to copy: replace says the shape is
// unknown and changes nothing, until the shape flags give it.
func TestReplaceEmptySlotNeedsShape(t *testing.T) {
	dir := pinDir(t)
	innerSpec := bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10, Flags: unix.BPF_F_NO_PREALLOC}
	pin, _ := outerWithInner(t, dir, "outer-hash", bpfbatch.HashOfMaps, innerSpec, nil)
	in := "10.0.0.0/8 1\n192.0.2.0/24 2\n"
	args := []string{"replace", pin, "42", "-", "--key-format", "cidr", "--value-format", "u32"}
	r := mustRun(t, 2, in, args...)
	if !strings.Contains(r.stderr, "slot 42 of HashOfMaps map") || !strings.Contains(r.stderr, "is empty, so the shape of its inner map is unknown") || slotID(t, pin, u32(42)) != 0 {
		t.Errorf("empty slot: stderr %q", r.stderr)
	}
	r = mustRun(t, 0, in, append(args, "--type", "lpm_trie", "--key-size", "8", "--value-size", "4", "--max-entries", "10")...)
	id := slotID(t, pin, u32(42))
	if id == 0 || !strings.Contains(r.stdout, fmt.Sprintf("replaced slot 42 of HashOfMaps map (id %d): empty -> id %d", openPinned(t, pin).Info().ID, id)) {
		t.Fatalf("slot 42 = %d; stdout %q", id, r.stdout)
	}
	fd := rawOpenByID(t, id)
	if info := rawInfo(t, fd); info.Type != uint32(bpfbatch.LPMTrie) || info.MapFlags&unix.BPF_F_NO_PREALLOC == 0 {
		t.Errorf("new inner map: %+v", info)
	}
	sameContents(t, "new inner trie", rawContents(t, fd, 8, 4), contentsOf([]entry{{lpmKey(8, hx("0a000000")), u32(1)}, {lpmKey(24, hx("c0000200")), u32(2)}}))
	// --slot-format hex names the same slot.
	r = mustRun(t, 0, "10.0.0.0/8 3\n", "replace", pin, hexU32(42), "-", "--slot-format", "hex", "--key-format", "cidr", "--value-format", "u32", "--dry-run")
	if !strings.Contains(r.stdout, fmt.Sprintf("slot %s of HashOfMaps map (id %d) is inner map id %d; nothing changed", hexU32(42), openPinned(t, pin).Info().ID, id)) || slotID(t, pin, u32(42)) != id {
		t.Errorf("dry run: %q", r.stdout)
	}
	// Not a map-in-map.
	hash := createPinned(t, dir, "not-outer", hashSpec)
	if r := mustRun(t, 2, "", "replace", hash, "0", "-"); !strings.Contains(r.stderr, "Hash maps are no map-in-map") {
		t.Errorf("replace on a hash: %q", r.stderr)
	}
}
