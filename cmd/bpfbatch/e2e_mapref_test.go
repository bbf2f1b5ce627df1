package main

// End-to-end tests of MAP: PATH | pinned PATH | id ID | name NAME, for
// every command that takes a map, and of opening read-only where reading
// is all.

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// Every command reaches a map by PATH, pinned PATH, id ID and name NAME.
func TestMapSelectors(t *testing.T) {
	dir := pinDir(t)
	name := fmt.Sprintf("sel%d", os.Getpid()%1000000) // unique on the machine
	pin := createPinned(t, dir, "sel", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: name})
	id := openPinned(t, pin).Info().ID
	ids := fmt.Sprint(id)
	for _, sel := range [][]string{{pin}, {"pinned", pin}, {"id", ids}, {"name", name}} {
		t.Run(map[int]string{1: "PATH", 2: sel[0]}[len(sel)], func(t *testing.T) {
			with := func(cmd string, rest ...string) []string {
				return append(append([]string{cmd}, sel...), rest...)
			}
			mustRun(t, 0, "1 10\n2 20\n3 30\n", append(with("load", "-"), u32u64...)...)
			if r := mustRun(t, 0, "4 40\n1 10\n2 20\n", append(with("sync", "-"), u32u64...)...); !strings.Contains(r.stdout, "added 1, changed 0, deleted 1, unchanged 2") {
				t.Errorf("sync: %q", r.stdout)
			}
			mustRun(t, 0, "4\n", append(with("delete", "-"), u32u64[:2]...)...)
			if r := mustRun(t, 0, "", append(with("dump"), u32u64...)...); entryLines(r.stdout) != 2 || !strings.Contains(r.stdout, "2 20\n") {
				t.Errorf("dump: %q", r.stdout)
			}
			r := mustRun(t, 0, "", with("info")...)
			if !strings.Contains(r.stdout, fmt.Sprintf(`Hash map %q (id %d)`, name, id)) || !strings.Contains(r.stdout, "entries:        2\n") {
				t.Errorf("info:\n%s", r.stdout)
			}
			if (sel[0] == "pinned" || len(sel) == 1) != strings.Contains(r.stdout, "pin:  ") {
				t.Errorf("info shows a pin only for a pin:\n%s", r.stdout)
			}
			mustRun(t, 0, "", append(with("delete", "-"), "--format", "text")...) // empty: nothing to do
		})
	}

	// A name that several maps have, or none: exit 1, candidates with ids.
	twin := createPinned(t, dir, "sel-twin", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: name})
	twinID := openPinned(t, twin).Info().ID
	r := mustRun(t, 1, "", "dump", "name", name)
	for _, w := range []string{fmt.Sprintf("name %s: 2 maps have this name: ", name), fmt.Sprintf("(id %d)", id), fmt.Sprintf("(id %d)", twinID), "pick one with 'id ID'"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("ambiguous name: stderr lacks %q: %s", w, r.stderr)
		}
	}
	r = mustRun(t, 1, "", "info", "name", name+"x")
	if !strings.Contains(r.stderr, "no map has this name") || !strings.Contains(r.stderr, fmt.Sprintf("(id %d)", id)) {
		t.Errorf("unknown name: %s", r.stderr)
	}
	// The kernel keeps 15 characters of a name: a longer NAME matches them.
	longName := fmt.Sprintf("long_%010d", os.Getpid()) // 15 characters
	long := createPinned(t, dir, "sel-long", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: longName})
	longID := openPinned(t, long).Info().ID
	if r := mustRun(t, 0, "", "info", "name", longName+"_and_more"); !strings.Contains(r.stdout, fmt.Sprintf("(id %d)", longID)) {
		t.Errorf("long name: %s", r.stdout)
	}
	// Bad selectors are command-line mistakes.
	for _, args := range [][]string{{"dump", "id", "x"}, {"dump", "id", "0"}, {"dump", "name"}, {"info", "pinned"}, {"load", "id", "-"}} {
		if r := mustRun(t, 2, "", args...); !strings.Contains(r.stderr, "MAP") {
			t.Errorf("%q: %s", args, r.stderr)
		}
	}
	if r := mustRun(t, 1, "", "dump", "id", "4294967295"); !strings.Contains(r.stderr, "no map has this ID") {
		t.Errorf("missing id: %s", r.stderr)
	}
}

// info and dump open read-only: a user with only read permission on the
// pin (mode 0444, another owner) dumps the map and describes it, and so do
// frozen maps. Writing commands open read-write, and the refusal names the
// pin's mode and owner.
func TestReadOnlyOpens(t *testing.T) {
	dir := pinDir(t)
	const nobody = 65534
	pin := createPinned(t, dir, "ro", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: "ro"})
	mustRun(t, 0, "1 10\n2 20\n", append([]string{"load", pin, "-"}, u32u64...)...)
	if err := os.Chmod(pin, 0o444); err != nil {
		t.Fatal(err)
	}
	r := runAs(t, nobody, nobody, "", append([]string{"dump", pin}, u32u64...)...)
	// Before Linux 5.19 kernel.unprivileged_bpf_disabled refuses every
	// bpf(2) command of a process without CAP_BPF (since, only map and
	// program creation): the message says so.
	disabled, _ := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	if testutil.UnprivilegedBPFRefusesAll() {
		if r.code != 1 || !strings.Contains(r.stderr, "kernel.unprivileged_bpf_disabled = ") {
			t.Errorf("dump as uid %d on Linux %s: exit %d, stderr %q; want exit 1 naming unprivileged_bpf_disabled", nobody, testutil.KernelRelease(), r.code, r.stderr)
		}
		t.Logf("Linux %s, unprivileged_bpf_disabled %s: %s", testutil.KernelRelease(), strings.TrimSpace(string(disabled)), r.stderr)
	} else {
		if r.code != 0 || entryLines(r.stdout) != 2 || !strings.Contains(r.stdout, "1 10\n") {
			t.Fatalf("dump as uid %d: exit %d\nstdout: %s\nstderr: %s", nobody, r.code, r.stdout, r.stderr)
		}
		r = runAs(t, nobody, nobody, "", "info", pin)
		if r.code != 0 || !strings.Contains(r.stdout, "entries:        2\n") || !strings.Contains(r.stdout, "update path:    unknown: the process cannot open the map for writing") {
			t.Errorf("info as uid %d: exit %d\nstdout: %s\nstderr: %s", nobody, r.code, r.stdout, r.stderr)
		}
	}
	// Writing needs write permission on the pin: mode 0644, owned by root.
	if err := os.Chmod(pin, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runAs(t, nobody, nobody, "3 30\n", append([]string{"load", pin, "-"}, u32u64...)...)
	t.Logf("load as uid %d: %s", nobody, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "mode 0644") && !strings.Contains(r.stderr, "unprivileged_bpf_disabled") {
		t.Errorf("load as uid %d: exit %d, stderr %q; want exit 1 naming the mode and owner", nobody, r.code, r.stderr)
	}
	// A frozen map: dump and info work, writes fail with the cause.
	frozen := createPinned(t, dir, "frozen", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	mustRun(t, 0, "5 50\n", append([]string{"load", frozen, "-"}, u32u64...)...)
	m := openPinned(t, frozen)
	if err := testutil.Freeze(m.FD()); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, 0, "", append([]string{"dump", frozen}, u32u64...)...); r.stdout != "5 50\n" {
		t.Errorf("dump of a frozen map: %q", r.stdout)
	}
	mustRun(t, 0, "", "info", frozen)
	if r := mustRun(t, 1, "6 60\n", append([]string{"load", frozen, "-"}, u32u64...)...); !strings.Contains(r.stderr, "frozen") {
		t.Errorf("load into a frozen map: %q", r.stderr)
	}
}
