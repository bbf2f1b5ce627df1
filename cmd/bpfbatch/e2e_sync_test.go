package main

// End-to-end tests of sync.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
	"golang.org/x/sys/unix"
)

// sync makes the map equal to the input: the exact SyncStats phrase, the
// contents read back raw, the last of a repeated key's lines winning, a
// dry run changing nothing.
func TestSync(t *testing.T) {
	dir := pinDir(t)
	pin, before := filledHash(t, dir, "sync", 1000, 1000)
	// Keys 11-1000 stay, 991-1000 with new values; 1-10 go; 1001-1010
	// come. Key 500 appears twice: its last line (unchanged) wins.
	var in strings.Builder
	in.WriteString("500 1\n")
	want := map[string][]byte{}
	for k := 11; k <= 1010; k++ {
		v := uint64(k) * 10
		if k > 990 {
			v = uint64(k) * 7
		}
		fmt.Fprintf(&in, "%d %d\n", k, v)
		want[string(u32(uint32(k)))] = u64(v)
	}
	args := append([]string{"sync", pin, "-"}, u32u64...)
	r := mustRun(t, 0, in.String(), append(args, "--dry-run")...)
	if !strings.Contains(r.stdout, "would do: added 10, changed 10, deleted 10, unchanged 980; nothing changed") {
		t.Errorf("dry run: stdout = %q", r.stdout)
	}
	sameContents(t, "after the dry run", pinnedContents(t, pin), before)

	r = mustRun(t, 0, in.String(), append(args, "--workers", "2")...)
	if !regexp.MustCompile(`^synced Hash map \(id \d+\) from stdin: added 10, changed 10, deleted 10, unchanged 980 \(in `).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "dropped 1 line whose key a later line repeats") {
		t.Errorf("stdout = %q", r.stdout)
	}
	sameContents(t, "after sync", pinnedContents(t, pin), want)

	// Again: nothing to do.
	r = mustRun(t, 0, in.String(), args...)
	if !strings.Contains(r.stdout, ": added 0, changed 0, deleted 0, unchanged 1000 (") {
		t.Errorf("second sync: stdout = %q", r.stdout)
	}

	// Bad input and an empty input change nothing (exit 2); --allow-empty
	// empties the map.
	r = mustRun(t, 2, "1 1\nx 2\n", args...)
	if !strings.Contains(r.stderr, "1 bad line in stdin; nothing changed: the whole input is checked before the first change") {
		t.Errorf("bad input: stderr = %q", r.stderr)
	}
	r = mustRun(t, 2, "# nothing\n", args...)
	if !strings.Contains(r.stderr, "syncing would delete every entry") || !strings.Contains(r.stderr, "--allow-empty") {
		t.Errorf("empty input: stderr = %q", r.stderr)
	}
	sameContents(t, "after refused syncs", pinnedContents(t, pin), want)
	r = mustRun(t, 0, "", append(args, "--allow-empty")...)
	if !strings.Contains(r.stdout, "added 0, changed 0, deleted 1000, unchanged 0") {
		t.Errorf("--allow-empty: stdout = %q", r.stdout)
	}
	sameContents(t, "after an empty sync", pinnedContents(t, pin), nil)
}

// sync takes load's input forms: per-CPU columns (value_size 12, padded
// slots), --all-cpus, LPM cidr keys; arrays zero what the input lacks.
func TestSyncShapes(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)
	t.Run("percpu columns and all-cpus", func(t *testing.T) {
		pin := createPinned(t, dir, "sync-percpu", bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 10})
		same := hx("0102030405060708090a0b0c")
		prefill(t, pin, entry{u32(1), perCPU(12, repeat(same, cpus)...)}, entry{u32(2), perCPU(12, repeat(same, cpus)...)})
		var cols []string
		var vals [][]byte
		for c := range cpus {
			v := fmt.Sprintf("%024x", c+1)
			cols = append(cols, v)
			vals = append(vals, hx(v))
		}
		// Key 1 unchanged (every CPU the same value), key 2 gone, key 3 new.
		in := "1 " + strings.Repeat("0102030405060708090a0b0c ", cpus) + "\n3 " + strings.Join(cols, " ") + "\n"
		r := mustRun(t, 0, in, "sync", pin, "-", "--key-format", "u32")
		if !strings.Contains(r.stdout, "added 1, changed 0, deleted 1, unchanged 1") {
			t.Errorf("stdout = %q", r.stdout)
		}
		sameContents(t, "per-CPU sync", pinnedContents(t, pin), contentsOf([]entry{{u32(1), perCPU(12, repeat(same, cpus)...)}, {u32(3), perCPU(12, vals...)}}))
		r = mustRun(t, 0, "3 0102030405060708090a0b0c\n", "sync", pin, "-", "--key-format", "u32", "--all-cpus")
		if !strings.Contains(r.stdout, "added 0, changed 1, deleted 1, unchanged 0") {
			t.Errorf("--all-cpus: stdout = %q", r.stdout)
		}
		sameContents(t, "per-CPU --all-cpus sync", pinnedContents(t, pin), contentsOf([]entry{{u32(3), perCPU(12, repeat(same, cpus)...)}}))
	})
	t.Run("lpm cidr", func(t *testing.T) {
		pin := createPinned(t, dir, "sync-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 3, Flags: unix.BPF_F_NO_PREALLOC})
		prefill(t, pin, entry{lpmKey(8, hx("0a000000")), u32(1)}, entry{lpmKey(16, hx("0a010000")), u32(2)}, entry{lpmKey(24, hx("c0000200")), u32(3)})
		// Full map: the stale prefix must go first for the new one to fit.
		r := mustRun(t, 0, "10.0.0.0/8 1\n10.1.0.0/16 5\n198.51.100.0/24 4\n", "sync", pin, "-", "--key-format", "cidr", "--value-format", "u32")
		if !strings.Contains(r.stdout, "added 1, changed 1, deleted 1, unchanged 1") {
			t.Errorf("stdout = %q", r.stdout)
		}
		sameContents(t, "trie sync", pinnedContents(t, pin), contentsOf([]entry{
			{lpmKey(8, hx("0a000000")), u32(1)}, {lpmKey(16, hx("0a010000")), u32(5)}, {lpmKey(24, hx("c6336400")), u32(4)},
		}))
	})
	t.Run("array zeroes", func(t *testing.T) {
		pin := createPinned(t, dir, "sync-array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		prefill(t, pin, entry{u32(0), u64(1)}, entry{u32(1), u64(2)}, entry{u32(2), u64(3)})
		r := mustRun(t, 0, "1 2\n3 9\n", append([]string{"sync", pin, "-"}, u32u64...)...)
		if !strings.Contains(r.stdout, "added 0, changed 1, deleted 2, unchanged 1") {
			t.Errorf("stdout = %q", r.stdout)
		}
		sameContents(t, "array sync", pinnedContents(t, pin), contentsOf([]entry{{u32(0), u64(0)}, {u32(1), u64(2)}, {u32(2), u64(0)}, {u32(3), u64(9)}}))
	})
}

// A dry run on a map the process cannot write (frozen) says that a real
// sync would fail, instead of what it would change (issue 14, item 6: it
// said "would do: ... changed 1"); exit 1, as the real sync's. A dry run
// that finds nothing to change still succeeds.
func TestSyncDryRunOnFrozenMapSaysItCannotWrite(t *testing.T) {
	dir := pinDir(t)
	pin, all := filledHash(t, dir, "sync-frozen", 2, 10)
	if err := testutil.Freeze(openPinned(t, pin).FD()); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"sync", pin, "-", "--dry-run"}, u32u64...)
	r := mustRun(t, 1, "1 10\n2 21\n", args...)
	if want := "a real sync would fail: the map cannot be written; the dry run found: added 0, changed 1, deleted 0, unchanged 1; nothing changed\n"; r.stdout != "" || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "EPERM") {
		t.Errorf("stdout %q, stderr %q; want nothing on stdout and %q", r.stdout, r.stderr, want)
	}
	if r := mustRun(t, 0, "1 10\n2 20\n", args...); !strings.Contains(r.stdout, "would do: added 0, changed 0, deleted 0, unchanged 2") {
		t.Errorf("nothing to change: stdout %q", r.stdout)
	}
	sameContents(t, "the frozen map", pinnedContents(t, pin), all)
}

// sync --dry-run --list prints every change the sync would make, in the
// map's formats: deletions first, then additions and changes in input
// order; --keep-values keeps the values of the keys in both (counters
// survive), and writes only the new keys.
func TestSyncListAndKeepValues(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "sync-list", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	mustRun(t, 0, "1 10\n2 20\n3 30\n4 40\n5 50\n", append([]string{"load", pin, "-"}, u32u64...)...)
	before := pinnedContents(t, pin)
	in := "6 60\n3 999\n2 20\n"
	r := mustRun(t, 0, in, append([]string{"sync", pin, "-", "--dry-run", "--list"}, u32u64...)...)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[5], "dry run: syncing ") || !strings.Contains(lines[5], "would do: added 1, changed 1, deleted 3, unchanged 1") {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	deleted := lines[:3]
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"- 1 10", "- 4 40", "- 5 50"}) || lines[3] != "+ 6 60" || lines[4] != "~ 3 30 -> 999" {
		t.Errorf("changes:\n%s", strings.Join(lines[:5], "\n"))
	}
	sameContents(t, "after the dry run", pinnedContents(t, pin), before)

	r = mustRun(t, 0, in, append([]string{"sync", pin, "-", "--keep-values", "--list"}, u32u64...)...)
	if !strings.Contains(r.stdout, "+ 6 60\n") || strings.Contains(r.stdout, "~ ") || !strings.Contains(r.stdout, "added 1, changed 0, deleted 3, unchanged 2") {
		t.Errorf("--keep-values: %s", r.stdout)
	}
	sameContents(t, "after --keep-values", pinnedContents(t, pin), map[string][]byte{
		string(u32(2)): u64(20), string(u32(3)): u64(30), string(u32(6)): u64(60),
	})

	// A map with BTF, from JSON: the changes in the btf format.
	bpin := createBTFPinned(t, dir, "sync-list-btf", bpfbatch.Hash, btfU32, connValueBTF, 0, 4)
	v := func(p int) string {
		return fmt.Sprintf(`{"packets":%d,"bytes":0,"last_seen":-1,"comm":"sshd","state":"ESTABLISHED","flags":0}`, p)
	}
	mustRun(t, 0, fmt.Sprintf("{\"key\": 1, \"value\": %s}\n", v(1)), "load", bpin, "-")
	r = mustRun(t, 0, fmt.Sprintf("{\"key\": 1, \"value\": %s}\n{\"key\": 2, \"value\": %s}\n", v(5), v(2)), "sync", bpin, "-", "--dry-run", "--list")
	if want := fmt.Sprintf("~ 1 %s -> %s\n+ 2 %s\n", v(1), v(5), v(2)); !strings.HasPrefix(r.stdout, want) {
		t.Errorf("btf changes:\n%s\nwant\n%s", r.stdout, want)
	}
}

// On an LPM trie a prefix the input holds is never deleted, not even for
// a moment: one the trie holds with host bits set (10.0.0.1/8, the same
// prefix to the trie) is changed in place, not deleted and added. The
// change names the input's key.
func TestSyncLPMPrefixNeverDeleted(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "sync-lpm", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC})
	// 10.0.0.1/8 (host bits set) and 192.168.0.0/16, written raw.
	mustRun(t, 0, "080000000a000001 01000000\n10000000c0a80000 02000000\n", "load", pin, "-", "--key-format", "hex")
	r := mustRun(t, 0, "10.0.0.0/8 7\n192.168.0.0/16 2\n", "sync", pin, "-", "--value-format", "u32", "--list")
	if !strings.HasPrefix(r.stdout, "~ 10.0.0.0/8 1 -> 7\nsynced ") || !strings.Contains(r.stdout, "added 0, changed 1, deleted 0, unchanged 1") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	checkMap(t, pin, []entry{{lpmKey(8, hx("0a000001")), u32(7)}, {lpmKey(16, hx("c0a80000")), u32(2)}})
}
