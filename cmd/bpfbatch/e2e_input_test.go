package main

// End-to-end tests of what every command that reads entries shares: the
// reading of FILE or stdin (source.go).

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
)

// Without --stream nothing is written before the input ends; a signal
// while stdin is still open stops the read at once. So for delete, sync
// and replace, which read the whole input before any change.
func TestInterruptWhileReadingStopsAtOnce(t *testing.T) {
	dir := pinDir(t)
	pin, all := filledHash(t, dir, "read-stdin", 100, 100)
	outer, _ := outerWithInner(t, dir, "read-stdin-outer", bpfbatch.ArrayOfMaps, bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4}, u32(0))
	slot := slotID(t, outer, u32(0))
	keys, entries := keyLines(1001, 1010), keyValueLines(1001, 1010)
	for _, tt := range []struct {
		args    []string
		in      string
		nothing string
	}{
		{[]string{"load", pin, "-"}, entries, "nothing written"},
		{[]string{"delete", pin, "-"}, keys, "nothing deleted"},
		{[]string{"sync", pin, "-"}, entries, "nothing changed"},
		{[]string{"replace", outer, "0", "-"}, entries, "nothing changed"},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			formats := u32u64
			if tt.args[0] == "delete" {
				formats = formats[:2] // keys only
			}
			p := start(t, append(tt.args, formats...)...)
			io.WriteString(p.stdin, tt.in)
			time.Sleep(200 * time.Millisecond)
			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.waitExit(t, 5*time.Second); code != 1 {
				t.Errorf("exit %d, want 1\nstderr: %s", code, p.stderr.String())
			}
			if w := "interrupted while reading stdin after line 10; " + tt.nothing; !strings.Contains(p.stderr.String(), w) {
				t.Errorf("stderr lacks %q:\n%s", w, p.stderr.String())
			}
			sameContents(t, "the map", pinnedContents(t, pin), all)
			if id := slotID(t, outer, u32(0)); id != slot {
				t.Errorf("slot 0 holds id %d, was %d", id, slot)
			}
		})
	}
}

// A FILE that is a directory is a mistake on the command line (exit 2,
// with the usage), not a map that failed (issue 14, item 6: it was exit 1,
// "read DIR: is a directory"); nothing changes.
func TestFileThatIsADirectoryIsBadInput(t *testing.T) {
	dir := pinDir(t)
	pin, all := filledHash(t, dir, "file-dir", 10, 10)
	outer, _ := outerWithInner(t, dir, "file-dir-outer", bpfbatch.ArrayOfMaps, bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4}, u32(0))
	slot := slotID(t, outer, u32(0))
	input := t.TempDir()
	for _, args := range [][]string{
		append([]string{"load", pin, input}, u32u64...),
		append([]string{"load", pin, input, "--stream"}, u32u64...),
		append([]string{"load", pin, input, "--dry-run"}, u32u64...),
		{"delete", pin, input, "--key-format", "u32"},
		append([]string{"sync", pin, input}, u32u64...),
		append([]string{"replace", outer, "0", input}, u32u64...),
	} {
		r := mustRun(t, 2, "", args...)
		if want := fmt.Sprintf("bpfbatch %s: FILE %s is a directory; give a file of entries, or - for stdin\nUsage: bpfbatch %s ", args[0], input, args[0]); !strings.HasPrefix(r.stderr, want) {
			t.Errorf("%v: stderr %q, want %q", args, r.stderr, want)
		}
	}
	sameContents(t, "the map", pinnedContents(t, pin), all)
	if id := slotID(t, outer, u32(0)); id != slot {
		t.Errorf("slot 0 holds id %d, was %d", id, slot)
	}
}
