package main

// End-to-end tests of what every command that reads entries shares: the
// reading of FILE or stdin (source.go).

import (
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
