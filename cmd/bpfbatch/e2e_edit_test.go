package main

// End-to-end tests of the commands that change maps besides load (delete,
// sync, replace), of info's entry count, load's dry-run capacity report
// and per-CPU flags, and of RLIMIT_MEMLOCK. Every map is read back with
// raw bpf(2) calls (rawContents), independently of the library.

import (
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
	"golang.org/x/sys/unix"
)

// filledHash pins a u32 -> u64 hash map holding keys 1..n with values
// key*10, written with the library, and returns the pin and its entries.
func filledHash(t *testing.T, dir, name string, n int, maxEntries uint32) (string, map[string][]byte) {
	t.Helper()
	pin := createPinned(t, dir, name, bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: maxEntries})
	_, entries := hashLines(n)
	prefill(t, pin, entries...)
	return pin, contentsOf(entries)
}

// contentsOf turns entries into rawContents' shape.
func contentsOf(entries []entry) map[string][]byte {
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		out[string(e.key)] = e.value
	}
	return out
}

// without returns c less the u32 keys given.
func without(c map[string][]byte, keys ...uint32) map[string][]byte {
	out := make(map[string][]byte, len(c))
	for k, v := range c {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, string(u32(k)))
	}
	return out
}

// keyLines writes the u32 keys from..to as lines.
func keyLines(from, to int) string {
	var b strings.Builder
	for k := from; k <= to; k++ {
		fmt.Fprintf(&b, "%d\n", k)
	}
	return b.String()
}

func seq(from, to int) []uint32 {
	var s []uint32
	for k := from; k <= to; k++ {
		s = append(s, uint32(k))
	}
	return s
}

func TestDeleteKeys(t *testing.T) {
	dir := pinDir(t)
	t.Run("all present", func(t *testing.T) {
		pin, all := filledHash(t, dir, "del", 10000, 10000)
		// Comments, blank lines, a repeated key: deleted once.
		in := "# stale keys\n" + keyLines(1, 2500) + "\n" + keyLines(2501, 5000) + "17\n"
		r := mustRun(t, 0, in, "delete", pin, "-", "--key-format", "u32")
		if !strings.HasPrefix(r.stdout, "deleted 5000 entries from Hash map") || !strings.Contains(r.stdout, "dropped 1 line whose key a later line repeats (each key is deleted once)") {
			t.Errorf("stdout = %q", r.stdout)
		}
		sameContents(t, "after delete", pinnedContents(t, pin), without(all, seq(1, 5000)...))
	})
	t.Run("missing key stops there", func(t *testing.T) {
		pin, all := filledHash(t, dir, "del-missing", 100, 100)
		r := mustRun(t, 1, "1\n2\n3\n500\n4\n5\n", "delete", pin, "-", "--key-format", "u32", "--chunk", "2")
		if w := "deleted 3 of 6 keys, then the key at stdin:4 is not in the map (--ignore-missing skips such keys), so nothing from stdin:4 on was deleted"; !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
		sameContents(t, "after a stopped delete", pinnedContents(t, pin), without(all, 1, 2, 3))
	})
	t.Run("ignore missing", func(t *testing.T) {
		pin, all := filledHash(t, dir, "del-ignore", 100, 100)
		r := mustRun(t, 0, "1\n500\n2\n501\n3\n", "delete", pin, "-", "--key-format", "u32", "--ignore-missing")
		if !strings.HasPrefix(r.stdout, "deleted 3 entries from ") || !strings.Contains(r.stdout, "2 keys were not in the map, skipped (lines 2, 4)") {
			t.Errorf("stdout = %q", r.stdout)
		}
		sameContents(t, "after --ignore-missing", pinnedContents(t, pin), without(all, 1, 2, 3))
	})
	t.Run("bad line deletes nothing", func(t *testing.T) {
		pin, all := filledHash(t, dir, "del-bad", 100, 100)
		r := mustRun(t, 2, keyLines(1, 50)+"x1\n1 2\n", "delete", pin, "-", "--key-format", "u32")
		for _, w := range []string{"stdin:51: key x1: ", "stdin:52: want 1 column: KEY (one key per line); got 2", "2 bad lines in stdin; nothing deleted: the whole input is checked before the first delete"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		sameContents(t, "after bad input", pinnedContents(t, pin), all)
	})
	t.Run("lpm trie json cidr", func(t *testing.T) {
		pin := createPinned(t, dir, "del-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10, Flags: 1})
		keep := entry{lpmKey(16, hx("0a010000")), u32(2)}
		prefill(t, pin, entry{lpmKey(8, hx("0a000000")), u32(1)}, keep, entry{lpmKey(24, hx("c0000200")), u32(3)})
		mustRun(t, 0, `{"key": "10.0.0.0/8"}`+"\n"+`{"key": "192.0.2.0/24"}`+"\n", "delete", pin, "-", "--key-format", "cidr")
		sameContents(t, "trie after delete", pinnedContents(t, pin), contentsOf([]entry{keep}))
	})
	t.Run("arrays refused", func(t *testing.T) {
		pin := createPinned(t, dir, "del-array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		prefill(t, pin, entry{u32(1), u64(5)})
		r := mustRun(t, 2, "1\n", "delete", pin, "-", "--key-format", "u32")
		if !strings.Contains(r.stderr, "the elements of Array maps always exist and cannot be deleted") {
			t.Errorf("stderr = %q", r.stderr)
		}
		if v, err := testutil.Lookup(openPinned(t, pin).FD(), u32(1), 8); err != nil || binary.NativeEndian.Uint64(v) != 5 {
			t.Errorf("array element 1 = %x, %v; want 5", v, err)
		}
	})
}

// A signal stops a delete between two chunks: the message says how many
// keys were deleted and the first line not deleted, and the map holds
// exactly the keys from that line on.
func TestDeleteInterruptedSaysWhatWasDeleted(t *testing.T) {
	dir := pinDir(t)
	const n = 300_000
	pin, _ := filledHash(t, dir, "del-interrupt", n, n)
	file := writeFile(t, keyLines(1, n))
	// One key per syscall: slow enough to be caught mid-way.
	p := start(t, "delete", pin, file, "--key-format", "u32", "--chunk", "1")
	m := openPinned(t, pin)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := testutil.Lookup(m.FD(), u32(1), 8); err != nil {
			break // key 1 is gone: the delete is under way
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing deleted after 10s; stderr: %s", p.stderr.String())
		}
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.waitExit(t, 5*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, p.stdout.String(), p.stderr.String())
	}
	match := regexp.MustCompile(`interrupted: deleted (\d+) of 300000 keys; nothing from ` + regexp.QuoteMeta(file) + `:(\d+) on was deleted`).FindStringSubmatch(p.stderr.String())
	if match == nil {
		t.Fatalf("stderr:\n%s", p.stderr.String())
	}
	deleted, _ := strconv.Atoi(match[1])
	line, _ := strconv.Atoi(match[2])
	if line != deleted+1 || deleted == n {
		t.Errorf("deleted %d, first line not deleted %d", deleted, line)
	}
	keys, err := testutil.Keys(m.FD(), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n-deleted {
		t.Errorf("map holds %d keys, the message says %d of %d were deleted", len(keys), deleted, n)
	}
	for _, k := range keys {
		if binary.NativeEndian.Uint32(k) <= uint32(deleted) {
			t.Fatalf("key %d (line %d) is still there", binary.NativeEndian.Uint32(k), binary.NativeEndian.Uint32(k))
		}
	}
}

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
		pin := createPinned(t, dir, "sync-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 3, Flags: 1})
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

func repeat(v []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// slotID reads an outer map's slot with a raw lookup: the inner map's ID,
// or 0 for an empty slot.
func slotID(t *testing.T, pin string, key []byte) uint32 {
	t.Helper()
	v, err := testutil.Lookup(openPinned(t, pin).FD(), key, 4)
	if err != nil {
		return 0
	}
	return binary.NativeEndian.Uint32(v)
}

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
	innerSpec := bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10, Flags: 1}
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
	if info := rawInfo(t, fd); info.Type != uint32(bpfbatch.LPMTrie) || info.MapFlags&1 == 0 {
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

func hexU32(v uint32) string { return fmt.Sprintf("%x", u32(v)) }

// info counts the entries with one batch walk.
func TestInfoEntries(t *testing.T) {
	dir := pinDir(t)
	pin, _ := filledHash(t, dir, "info-count", 37, 100)
	arr := createPinned(t, dir, "info-count-array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 12})
	queue := createPinned(t, dir, "info-count-queue", bpfbatch.MapSpec{Type: bpfbatch.Queue, ValueSize: 4, MaxEntries: 12})
	for pin, want := range map[string]string{
		pin:   `37`,
		arr:   `12 \(every index of an array exists\)`,
		queue: `unknown: Queue maps have no keys to walk`,
	} {
		r := mustRun(t, 0, "", "info", pin)
		if !regexp.MustCompile(`(?m)^max entries: +\d+\nentries: +` + want + `$`).MatchString(r.stdout) {
			t.Errorf("info %s:\n%s\nwant an entries line %q after max entries", pin, r.stdout, want)
		}
	}
}

// load --dry-run compares the input with the map: how many keys are new,
// whether they fit, whether --flags noexist would stop; a load that would
// fail exits 2. Nothing is written either way.
func TestLoadDryRunCountsNewKeys(t *testing.T) {
	dir := pinDir(t)
	pin, before := filledHash(t, dir, "dry-fit", 9900, 10000)
	// 750 keys the map holds (9151-9900), 250 new ones (9901-10150).
	var in strings.Builder
	for k := 9151; k <= 10150; k++ {
		fmt.Fprintf(&in, "%d 1\n", k)
	}
	args := append([]string{"load", pin, "-", "--dry-run"}, u32u64...)
	r := mustRun(t, 2, in.String(), args...)
	if w := "dry run: 1000 entries in stdin (text), valid for Hash map (id "; !strings.HasPrefix(r.stdout, w) ||
		!strings.Contains(r.stdout, "; 250 keys are new, 750 exist; the map holds 9900 of max_entries 10000: the new keys do NOT fit (100 free); nothing written") {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "a real load would fail: 250 new keys, but Hash map") {
		t.Errorf("stderr = %q", r.stderr)
	}
	// A real load fails as the dry run said, after writing what fits.
	fits := mustRun(t, 0, strings.Join(strings.SplitAfter(in.String(), "\n")[:850], ""), args...)
	if !strings.Contains(fits.stdout, "; 100 keys are new, 750 exist; the map holds 9900 of max_entries 10000: the new keys fit (0 free after the load)") {
		t.Errorf("fitting input: stdout = %q", fits.stdout)
	}
	r = mustRun(t, 2, "9151 1\n1 1\n", append(args, "--flags", "noexist")...)
	if !strings.Contains(r.stderr, "--flags noexist, but the key of stdin:1 is in the map already: the load would stop there (EEXIST) after writing 0 entries") {
		t.Errorf("noexist: stderr = %q", r.stderr)
	}
	sameContents(t, "after dry runs", pinnedContents(t, pin), before)

	lru := createPinned(t, dir, "dry-lru", bpfbatch.MapSpec{Type: bpfbatch.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 100})
	prefill(t, lru, entry{u32(1), u64(1)})
	r = mustRun(t, 0, keyValueLines(1, 150), append([]string{"load", lru, "-", "--dry-run"}, u32u64...)...)
	if !strings.Contains(r.stdout, "; 149 keys are new, 1 exists; the map holds 1 of max_entries 100: an LRU map makes room by evicting its least recently used elements, about 50 here") {
		t.Errorf("LRU: stdout = %q", r.stdout)
	}
	arr := createPinned(t, dir, "dry-array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 100})
	r = mustRun(t, 0, keyValueLines(0, 9), append([]string{"load", arr, "-", "--dry-run"}, u32u64...)...)
	if !strings.Contains(r.stdout, "; every index of an array exists: the load overwrites 10 elements of its max_entries 100") {
		t.Errorf("array: stdout = %q", r.stdout)
	}
}

// keyValueLines writes "K K" lines for keys from..to.
func keyValueLines(from, to int) string {
	var b strings.Builder
	for k := from; k <= to; k++ {
		fmt.Fprintf(&b, "%d %d\n", k, k)
	}
	return b.String()
}

// load --cpu N writes CPU N's value alone (BPF_F_CPU, Linux 7.0); before
// that the library refuses with ErrNotSupported and nothing is written
// (exit 1). --all-cpus writes one value to every CPU (UpdateAllCPUs: the
// library lays it out itself before 7.0).
func TestLoadPerCPUFlags(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)
	spec := bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 10}
	pin := createPinned(t, dir, "percpu-flags", spec)
	v := "0102030405060708090a0b0c"
	mustRun(t, 0, "1 "+v+"\n2 "+v+"\n", "load", pin, "-", "--key-format", "u32", "--all-cpus")
	all := perCPU(12, repeat(hx(v), cpus)...)
	sameContents(t, "--all-cpus", pinnedContents(t, pin), contentsOf([]entry{{u32(1), all}, {u32(2), all}}))

	cpu := cpus - 1
	args := []string{"load", pin, "-", "--key-format", "u32", "--cpu", strconv.Itoa(cpu)}
	if testutil.KernelAtLeast(7, 0) {
		mustRun(t, 0, "1 ffffffffffffffffffffffff\n", args...)
		one := make([][]byte, cpus)
		for c := range one {
			one[c] = hx(v)
		}
		one[cpu] = hx("ffffffffffffffffffffffff")
		sameContents(t, "--cpu", pinnedContents(t, pin), contentsOf([]entry{{u32(1), perCPU(12, one...)}, {u32(2), all}}))
	} else {
		r := mustRun(t, 1, "1 ffffffffffffffffffffffff\n", args...)
		if !strings.Contains(r.stderr, "--cpu needs BPF_F_CPU, which came with Linux 7.0") || !strings.Contains(r.stderr, "nothing was written") {
			t.Errorf("--cpu on %s: stderr %q", testutil.KernelRelease(), r.stderr)
		}
		sameContents(t, "after a refused --cpu", pinnedContents(t, pin), contentsOf([]entry{{u32(1), all}, {u32(2), all}}))
	}
	for _, bad := range [][]string{
		{"--cpu", strconv.Itoa(cpus)},
		{"--cpu", "0", "--all-cpus"},
	} {
		if r := mustRun(t, 2, "1 "+v+"\n", append([]string{"load", pin, "-", "--key-format", "u32"}, bad...)...); r.stdout != "" {
			t.Errorf("%v: stdout %q", bad, r.stdout)
		}
	}
	hash := createPinned(t, dir, "percpu-flags-hash", hashSpec)
	if r := mustRun(t, 2, "", "load", hash, "-", "--cpu", "0"); !strings.Contains(r.stderr, "--cpu applies to per-CPU maps only") {
		t.Errorf("--cpu on a hash: %q", r.stderr)
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
