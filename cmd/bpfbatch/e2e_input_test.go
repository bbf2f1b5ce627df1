package main

// End-to-end tests of what every command that reads entries shares: the
// reading of FILE or stdin (source.go).

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// Input in the btf format that does not fit the map's types is bad input
// (exit 2): the message names the line and the member, for load, sync and
// delete, in JSON and in text, and nothing is written.
func TestBTFInputErrorsNameLineAndMember(t *testing.T) {
	dir := pinDir(t)
	pin := createBTFPinned(t, dir, "btf-bad", bpfbatch.Hash, connKeyBTF, connValueBTF, 0, 16)
	key := `{"saddr":1,"daddr":2,"sport":3,"dport":4,"proto":6}`
	value := `{"packets":1,"bytes":2,"last_seen":-3,"comm":"curl","state":"NEW","flags":0}`
	good := fmt.Sprintf(`{"key": %s, "value": %s}`, key, value)
	mustRun(t, 0, good+"\n", "load", pin, "-")
	before := pinnedContents(t, pin)
	for _, tt := range []struct {
		name, cmd, line, want string
	}{
		{"out of range", "load", strings.Replace(good, `"sport":3`, `"sport":70000`, 1), "stdin:3: key.sport: 70000 is out of range for u16 (0 to 65535)"},
		{"missing member", "load", strings.Replace(good, `"flags":0`, `"flagz":0`, 1), `stdin:3: value: struct conn_value has no member "flagz" (members: packets, bytes, last_seen, comm, state, flags)`},
		{"unknown enum", "sync", strings.Replace(good, `"NEW"`, `"OPEN"`, 1), `stdin:3: value.state: enum conn_state has no value named "OPEN" (names: NEW, ESTABLISHED, CLOSED)`},
		{"wrong type", "load", strings.Replace(good, `"comm":"curl"`, `"comm":7`, 1), "stdin:3: value.comm:"},
		{"negative unsigned", "sync", strings.Replace(good, `"packets":1`, `"packets":-1`, 1), "stdin:3: value.packets: -1 is out of range"},
		{"delete key", "delete", `{"key": {"saddr":1,"daddr":2,"sport":3,"dport":4}}`, "stdin:3: key: missing member proto of struct conn_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := "# comment\n" + good + "\n" + tt.line + "\n"
			if tt.cmd == "delete" {
				in = "# comment\n" + `{"key": ` + key + "}\n" + tt.line + "\n"
			}
			r := mustRun(t, 2, in, tt.cmd, pin, "-")
			if !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "1 bad line in stdin; nothing") {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.want)
			}
			sameContents(t, "after "+tt.name, pinnedContents(t, pin), before)
		})
	}
	// Text lines: one JSON value per column.
	r := mustRun(t, 2, key+" "+strings.Replace(value, `"bytes":2`, `"bytes":"x"`, 1)+"\n", "load", pin, "-", "--format", "text", "--key-format", "btf", "--value-format", "btf")
	if !strings.Contains(r.stderr, "stdin:1: value.bytes:") {
		t.Errorf("text: stderr = %q", r.stderr)
	}
	// A map without BTF has no btf format.
	plain := createPinned(t, dir, "no-btf", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if r := mustRun(t, 2, "", "dump", plain, "--value-format", "btf"); !strings.Contains(r.stderr, "has no BTF type for its value") {
		t.Errorf("dump --value-format btf without BTF: %q", r.stderr)
	}
}

// The migration from bpftool: `bpftool -j map dump pinned P | bpfbatch
// load --format bpftool-json Q -` copies P to Q byte for byte, for maps
// with BTF (whose formatted JSON it skips), per-CPU maps and LPM tries;
// sync and delete read the same input.
func TestLoadBpftoolJSONMigration(t *testing.T) {
	dir := pinDir(t)
	bpftool := bpftoolPath(t)
	for i, bc := range []btfCase{btfCases()[0], btfCases()[4]} {
		t.Run(bc.name, func(t *testing.T) {
			src, want := fillBTF(t, dir, fmt.Sprintf("mig%d", i), bc, 300)
			dst := createBTFPinned(t, dir, fmt.Sprintf("mig%dcopy", i), bc.typ, bc.key, bc.value, 4, 300)
			sh := fmt.Sprintf("%s -j map dump pinned %s | %s load --format bpftool-json %s -", bpftool, src, buildCommand(t), dst)
			out, err := exec.Command("sh", "-c", sh).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "loaded 300 entries into ") {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
			sameContents(t, "copy", pinnedContents(t, dst), want)
		})
	}
	// An LPM trie without BTF, through sync and delete.
	trie := createPinned(t, dir, "mig-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 100, Flags: unix.BPF_F_NO_PREALLOC})
	mustRun(t, 0, "10.0.0.0/8 1\n192.168.0.0/16 2\n10.1.0.0/16 3\n", "load", trie, "-", "--value-format", "u32")
	raw, err := exec.Command(bpftool, "-j", "map", "dump", "pinned", trie).Output()
	if err != nil {
		t.Fatal(err)
	}
	dst := createPinned(t, dir, "mig-trie-copy", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 100, Flags: unix.BPF_F_NO_PREALLOC})
	mustRun(t, 0, "172.16.0.0/12 9\n", "load", dst, "-", "--value-format", "u32")
	r := mustRun(t, 0, string(raw), "sync", dst, "-", "--format", "bpftool-json")
	if !strings.Contains(r.stdout, "added 3, changed 0, deleted 1, unchanged 0") {
		t.Errorf("sync: %q", r.stdout)
	}
	sameContents(t, "synced", pinnedContents(t, dst), pinnedContents(t, trie))
	mustRun(t, 0, string(raw), "delete", dst, "-", "--format", "bpftool-json")
	checkMap(t, dst, nil)
	// Formats do not apply; a bad entry names its index and line.
	if r := mustRun(t, 2, string(raw), "load", dst, "-", "--format", "bpftool-json", "--key-format", "hex"); !strings.Contains(r.stderr, "--key-format and --value-format do not apply") {
		t.Errorf("formats with bpftool-json: %q", r.stderr)
	}
	bad := `[{"key":["0x08","0x00","0x00","0x00","0x0a","0x00","0x00","0x00"],"value":["0x01","0x00","0x00","0x00"]},` + "\n" +
		`{"key":["0x08","0x00","0x00","0x00","0x0b","0x00","0x00"],"value":["0x01","0x00","0x00","0x00"]}]`
	if r := mustRun(t, 2, bad, "load", dst, "-", "--format", "bpftool-json"); !strings.Contains(r.stderr, "stdin:2: entry 1 of the array: ") {
		t.Errorf("bad entry: %q", r.stderr)
	}
	checkMap(t, dst, nil)
	// Given as JSON lines, bpftool's array says which --format reads it.
	if r := mustRun(t, 2, string(raw), "load", dst, "-"); !strings.Contains(r.stderr, "--format bpftool-json reads") {
		t.Errorf("auto: %q", r.stderr)
	}
}
