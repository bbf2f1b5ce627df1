package main

// End-to-end tests of delete.

import (
	"encoding/binary"
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
		pin := createPinned(t, dir, "del-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10, Flags: unix.BPF_F_NO_PREALLOC})
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
