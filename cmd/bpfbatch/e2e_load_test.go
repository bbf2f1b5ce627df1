package main

// End-to-end tests of load: formats, bad input, capacity, --stream,
// --dry-run, per-CPU flags, repeated keys, kernel failures and signals,
// each map read back through the library or raw bpf(2) calls.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestLoadFormats(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)

	// Per-CPU input: CPU c of key k gets k*100+c.
	var perCPUText, perCPUJSON strings.Builder
	var perCPUWant []entry
	for k := uint32(1); k <= 3; k++ {
		fmt.Fprintf(&perCPUText, "%d", k)
		fmt.Fprintf(&perCPUJSON, `{"key": %d, "value": [`, k)
		var vals [][]byte
		for c := range cpus {
			v := k*100 + uint32(c)
			fmt.Fprintf(&perCPUText, " %d", v)
			if c > 0 {
				perCPUJSON.WriteString(", ")
			}
			fmt.Fprintf(&perCPUJSON, "%d", v)
			vals = append(vals, u32(v))
		}
		perCPUText.WriteString("\n")
		perCPUJSON.WriteString("]}\n")
		perCPUWant = append(perCPUWant, entry{u32(k), perCPU(4, vals...)})
	}
	allCPUs := func(valueSize int, v []byte) []byte {
		return perCPU(valueSize, slices.Repeat([][]byte{v}, cpus)...)
	}

	tests := []struct {
		name  string
		spec  bpfbatch.MapSpec
		input string
		args  []string
		want  []entry
	}{
		{
			name: "hex lines",
			spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16},
			input: "# key value\n0a000001 0100000000000000\n\n" +
				"0x0a000002 ffffffffffffffff # comment\r\n",
			want: []entry{{hx("0a000001"), hx("0100000000000000")}, {hx("0a000002"), hx("ffffffffffffffff")}},
		},
		{
			name: "json hex strings",
			spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16},
			input: `{"key": "0a000001", "value": "0100000000000000"}
{"key": "0a000002", "value": "0x0200000000000000"}
`,
			want: []entry{{hx("0a000001"), hx("0100000000000000")}, {hx("0a000002"), hx("0200000000000000")}},
		},
		{
			name: "json byte arrays",
			spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16},
			input: `{"key": [10, 0, 0, 1], "value": [1, 2, 3, 4, 5, 6, 7, 8]}
{"key": [10, 0, 0, 2], "value": [255, 0, 0, 0, 0, 0, 0, 0]}
`,
			want: []entry{{hx("0a000001"), hx("0102030405060708")}, {hx("0a000002"), hx("ff00000000000000")}},
		},
		{
			name:  "u32 u64 decimal",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16},
			input: "1 100\n4294967295 18446744073709551615\n0x10 0x20\n",
			args:  []string{"--key-format", "u32", "--value-format", "u64"},
			want:  []entry{{u32(1), u64(100)}, {u32(0xffffffff), u64(1<<64 - 1)}, {u32(16), u64(32)}},
		},
		{
			name:  "u32 u64 json numbers",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16},
			input: `{"key": 7, "value": 18446744073709551615}` + "\n",
			args:  []string{"--key-format=u32", "--value-format=u64"},
			want:  []entry{{u32(7), u64(1<<64 - 1)}},
		},
		{
			name:  "array u32 index",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 8},
			input: "0 10\n7 70\n",
			args:  []string{"--key-format", "u32", "--value-format", "u64"},
			want:  []entry{{u32(0), u64(10)}, {u32(7), u64(70)}, {u32(3), u64(0)}},
		},
		{
			name:  "per-CPU columns",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 16},
			input: perCPUText.String(),
			args:  []string{"--key-format", "u32", "--value-format", "u32"},
			want:  perCPUWant,
		},
		{
			name:  "per-CPU json arrays",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 16},
			input: perCPUJSON.String(),
			args:  []string{"--key-format", "u32", "--value-format", "u32"},
			want:  perCPUWant,
		},
		{
			name:  "per-CPU all-cpus",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 16},
			input: "1 7\n2 0xffffffff\n",
			args:  []string{"--key-format", "u32", "--value-format", "u32", "--all-cpus"},
			want:  []entry{{u32(1), allCPUs(4, u32(7))}, {u32(2), allCPUs(4, u32(0xffffffff))}},
		},
		{
			// value_size 12: each CPU slot is 16 bytes, the last 4 zero.
			name:  "per-CPU array padded slots",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: 4},
			input: "2 0102030405060708090a0b0c\n",
			args:  []string{"--key-format", "u32", "--all-cpus"},
			want:  []entry{{u32(2), allCPUs(12, hx("0102030405060708090a0b0c"))}},
		},
		{
			name:  "cidr ipv4",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC},
			input: "10.0.0.0/8 1\n10.1.0.0/16 2\n192.0.2.7 3\n0.0.0.0/0 4\n",
			args:  []string{"--key-format", "cidr", "--value-format", "u32"},
			want: []entry{
				{lpmKey(8, hx("0a000000")), u32(1)},
				{lpmKey(16, hx("0a010000")), u32(2)},
				{lpmKey(32, hx("c0000207")), u32(3)},
				{lpmKey(0, hx("00000000")), u32(4)},
			},
		},
		{
			name:  "cidr ipv4 masked host bits",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC},
			input: "10.0.0.1/8 1\n",
			args:  []string{"--key-format", "cidr", "--value-format", "u32", "--mask-host-bits"},
			want:  []entry{{lpmKey(8, hx("0a000000")), u32(1)}},
		},
		{
			name:  "cidr ipv6",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 4, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC},
			input: "2001:db8::/32 1\n2001:db8:1::/48 2\n::1 3\n::ffff:10.0.0.0/104 4\n",
			args:  []string{"--key-format", "cidr", "--value-format", "u32"},
			want: []entry{
				{lpmKey(32, hx("20010db8000000000000000000000000")), u32(1)},
				{lpmKey(48, hx("20010db8000100000000000000000000")), u32(2)},
				{lpmKey(128, hx("00000000000000000000000000000001")), u32(3)},
				{lpmKey(104, hx("00000000000000000000ffff0a000000")), u32(4)},
			},
		},
		{
			name:  "cidr ipv6 json",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 4, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC},
			input: `{"key": "2001:db8::/32", "value": 1}` + "\n",
			args:  []string{"--key-format", "cidr", "--value-format", "u32"},
			want:  []entry{{lpmKey(32, hx("20010db8000000000000000000000000")), u32(1)}},
		},
		{
			name:  "ip keys",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 16, ValueSize: 4, MaxEntries: 16},
			input: "2001:db8::1 1\n",
			args:  []string{"--key-format", "ip", "--value-format", "u32"},
			want:  []entry{{hx("20010db8000000000000000000000001"), u32(1)}},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pin := createPinned(t, dir, fmt.Sprintf("formats%d", i), tt.spec)
			for _, viaFile := range []bool{true, false} {
				args := []string{"load", pin}
				stdin := ""
				if viaFile {
					args = append(args, writeFile(t, tt.input))
				} else {
					args, stdin = append(args, "-"), tt.input
				}
				r := mustRun(t, 0, stdin, append(args, tt.args...)...)
				if !strings.HasPrefix(r.stdout, "loaded "+plural(entryLines(tt.input), "entry", "entries")+" into ") {
					t.Errorf("summary = %q", r.stdout)
				}
				if r.stderr != "" {
					t.Errorf("stderr not empty without a terminal: %q", r.stderr)
				}
				checkMap(t, pin, tt.want)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "dry", hashSpec)
	in, _ := hashLines(5000)
	r := mustRun(t, 0, "", append([]string{"load", pin, writeFile(t, in), "--dry-run"}, u32u64...)...)
	if !strings.HasPrefix(r.stdout, "dry run: 5000 entries in ") || !strings.Contains(r.stdout, "nothing written") {
		t.Errorf("stdout = %q", r.stdout)
	}
	checkMap(t, pin, nil)

	// A bad line is reported with its number, in dry-run too.
	r = mustRun(t, 2, "", append([]string{"load", pin, writeFile(t, in+"7 x\n"), "--dry-run"}, u32u64...)...)
	if !strings.Contains(r.stderr, ":5001: value x: ") {
		t.Errorf("stderr = %q", r.stderr)
	}
	checkMap(t, pin, nil)
}

// The whole input is checked before the first write: a typo on the last
// line leaves the map empty, and every bad line is listed.
func TestBadLineLeavesMapEmpty(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "validate", hashSpec)
	in, _ := hashLines(50000)
	file := writeFile(t, in+"# trailer\n50001 1x0\n4294967296 1\n")
	r := mustRun(t, 2, "", append([]string{"load", pin, file}, u32u64...)...)
	for _, want := range []string{
		file + `:50002: value 1x0: not an unsigned decimal or 0x-hex number`,
		file + `:50003: key 4294967296: out of range for u32 (max 4294967295)`,
		"2 bad lines in " + file + "; nothing written: the whole input is checked before the first write",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q", r.stdout)
	}
	checkMap(t, pin, nil)

	// Bounds the kernel would only enforce mid-load count as bad input:
	// an array index past max_entries.
	arr := createPinned(t, dir, "validate-array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 10})
	r = mustRun(t, 2, "0 1\n9 1\n10 1\n", append([]string{"load", arr, "-"}, u32u64...)...)
	if !strings.Contains(r.stderr, "stdin:3: key: index 10 is out of range for an array of max_entries 10") {
		t.Errorf("stderr = %q", r.stderr)
	}
	checkMap(t, arr, []entry{{u32(0), u64(0)}, {u32(9), u64(0)}})

	// Every map type whose keys are indices (the library's
	// MapType.IsArray) gets the same check: a device map's too.
	devmap := createPinned(t, dir, "validate-devmap", bpfbatch.MapSpec{Type: bpfbatch.DevMap, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	r = mustRun(t, 2, "3 1\n4 1\n", "load", devmap, "-", "--key-format", "u32", "--value-format", "u32")
	if !strings.Contains(r.stderr, "stdin:2: key: index 4 is out of range for an array of max_entries 4") {
		t.Errorf("devmap: stderr = %q", r.stderr)
	}
}

func TestStream(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "stream", hashSpec)
	in, want := hashLines(10000)
	r := mustRun(t, 0, in, append([]string{"load", pin, "-", "--stream", "--chunk", "100"}, u32u64...)...)
	if !strings.HasPrefix(r.stdout, "loaded 10000 entries into ") || !strings.Contains(r.stdout, "streamed") {
		t.Errorf("stdout = %q", r.stdout)
	}
	checkMap(t, pin, want)

	// A bad line stops a streamed load; everything before it is written,
	// nothing after it.
	pin2 := createPinned(t, dir, "stream-bad", hashSpec)
	lines := strings.SplitAfter(in, "\n")
	bad := strings.Join(lines[:5432], "") + "oops 1\n" + strings.Join(lines[5432:], "")
	r = mustRun(t, 2, bad, append([]string{"load", pin2, "-", "--stream", "--chunk", "100"}, u32u64...)...)
	for _, w := range []string{"stdin:5433: key oops: ", "--stream load of stdin stopped at bad line 5433; the 5432 entries before it are written"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	checkMap(t, pin2, want[:5432])
}

// A kernel error mid-load names the input line, and says how many entries
// were written; those stay written, nothing after them is. The maps are
// partly full already, so the input alone fits (the capacity check passes)
// and only the kernel can tell.
func TestKernelFailureReportsLine(t *testing.T) {
	dir := pinDir(t)
	in := "# header\n1 10\n2 20\n\n3 30\n4 40\n5 50\n6 60\n"
	old := []entry{{u32(100), u64(1)}, {u32(200), u64(2)}}
	all := append(slices.Clone(old), entry{u32(1), u64(10)}, entry{u32(2), u64(20)}, entry{u32(3), u64(30)}, entry{u32(4), u64(40)})
	spec := bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 6}

	t.Run("hash full", func(t *testing.T) {
		pin := createPinned(t, dir, "full", spec)
		prefill(t, pin, old...)
		file := writeFile(t, in)
		r := mustRun(t, 1, "", append([]string{"load", pin, file, "--chunk", "3"}, u32u64...)...)
		for _, w := range []string{
			"wrote 4 of 6 entries, then the entry at " + file + ":7 failed; nothing from that line on was written",
			"E2BIG", "max_entries (6)",
		} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		checkMap(t, pin, all)
	})
	t.Run("hash full streamed", func(t *testing.T) {
		pin := createPinned(t, dir, "full-stream", spec)
		prefill(t, pin, old...)
		r := mustRun(t, 1, in, append([]string{"load", pin, "-", "--stream", "--chunk", "3"}, u32u64...)...)
		// The library's error is quoted as it is: it counts the elements
		// of the failing block, which starts at line 6.
		for _, w := range []string{
			"wrote 4 entries, then the entry at stdin:7 failed; nothing from that line on was written",
			"; the error below counts elements from the block starting at stdin:6\nbpfbatch: update Hash map",
			"element 1: E2BIG", "; 1 of 3 elements written",
		} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		checkMap(t, pin, all)
	})
	t.Run("hash full parallel", func(t *testing.T) {
		pin := createPinned(t, dir, "full-parallel", spec)
		prefill(t, pin, old...)
		r := mustRun(t, 1, in, append([]string{"load", pin, "-", "--chunk", "2", "--workers", "2"}, u32u64...)...)
		if !regexp.MustCompile(`wrote 4 of 6 entries \(input lines .*\), then the entry at stdin:\d failed; no chunk started after the failure`).MatchString(r.stderr) {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		if n := countKeys(t, openPinned(t, pin)); n != 6 {
			t.Errorf("map holds %d keys, want 6", n)
		}
	})
	t.Run("noexist per element", func(t *testing.T) {
		pin := createPinned(t, dir, "noexist", hashSpec)
		prefill(t, pin, entry{u32(3), u64(300)})
		r := mustRun(t, 1, in, append([]string{"load", pin, "-", "--flags", "noexist"}, u32u64...)...)
		for _, w := range []string{"wrote 2 of 6 entries, then the entry at stdin:5 failed", "BPF_MAP_UPDATE_ELEM", "EEXIST"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		checkMap(t, pin, []entry{{u32(1), u64(10)}, {u32(2), u64(20)}, {u32(3), u64(300)}})
	})
	t.Run("lpm trie full", func(t *testing.T) {
		pin := createPinned(t, dir, "trie-full", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 3, Flags: unix.BPF_F_NO_PREALLOC})
		prefill(t, pin, entry{lpmKey(8, hx("c0000000")), u32(9)})
		r := mustRun(t, 1, "10.0.0.0/8 1\n10.1.0.0/16 2\n10.2.0.0/16 3\n", "load", pin, "-", "--key-format", "cidr", "--value-format", "u32")
		for _, w := range []string{"wrote 2 of 3 entries, then the entry at stdin:3 failed", "ENOSPC"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
	})
}

func TestExitCodes(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "codes", hashSpec)
	tests := []struct {
		args   []string
		code   int
		stdout string // substring, or ""
		stderr string
	}{
		{nil, 2, "", "Usage:"},
		{[]string{"-h"}, 0, "Usage:", ""},
		{[]string{"help", "load"}, 0, "Usage: bpfbatch load", ""},
		{[]string{"frob"}, 2, "", `unknown command "frob"`},
		{[]string{"load", "-h"}, 0, "--key-format", ""},
		{[]string{"load", pin}, 2, "", "missing FILE"},
		{[]string{"load", pin, "-", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"load", pin, "-", "--flags", "sometimes"}, 2, "", `unknown flag "sometimes"`},
		{[]string{"load", pin, "-", "--flags", "noexist,exist"}, 2, "", "exclude each other"},
		{[]string{"load", pin, "-", "--key-format", "u64"}, 2, "", "--key-format u64 does not fit Hash map"},
		{[]string{"load", pin, "-", "--all-cpus"}, 2, "", "--all-cpus applies to per-CPU maps only"},
		{[]string{"load", pin, "-", "--flags", "lock"}, 2, "", "--flags lock needs a struct bpf_spin_lock"},
		{[]string{"load", pin, "-", "--chunk", "-1"}, 2, "", "--chunk and --workers must not be negative"},
		{[]string{"load", pin, "-", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"load", filepath.Join(dir, "none"), "-"}, 1, "", "nothing is pinned there"},
		{[]string{"load", pin, filepath.Join(dir, "no-such-file")}, 1, "", "no such file"},
		{[]string{"load", pin, "-"}, 0, "no entries in stdin; nothing written", ""},
	}
	for _, tt := range tests {
		r := run(t, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("bpfbatch %s: exit %d, want %d\nstdout: %s\nstderr: %s\nwant %q in stdout and %q in stderr",
				strings.Join(tt.args, " "), r.code, tt.code, r.stdout, r.stderr, tt.stdout, tt.stderr)
		}
	}
}

// cidrLines writes n distinct /24 prefixes (1.0.0.0/24, 1.0.1.0/24, ...),
// line i+1 with value i, to a file and returns its path.
func cidrLines(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	b.Grow(n * 20)
	for i := range n {
		a := uint32(1<<24 + i<<8)
		fmt.Fprintf(&b, "%d.%d.%d.0/24 %d\n", a>>24, a>>16&0xff, a>>8&0xff, i)
	}
	path := filepath.Join(t.TempDir(), "cidrs.txt")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func cidrKey(i int) []byte {
	a := uint32(1<<24 + i<<8)
	return lpmKey(24, binary.BigEndian.AppendUint32(nil, a))
}

// A million CIDRs into an LPM trie, read back in full; and the same load
// element by element (--flags noexist, one BPF_MAP_UPDATE_ELEM per entry,
// which is what a loop over bpftool map update costs at best) for the
// README's comparison.
func TestLoadMillionCIDRs(t *testing.T) {
	dir := pinDir(t)
	const n = 1_000_000
	file := cidrLines(t, n)
	spec := bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: n, Flags: unix.BPF_F_NO_PREALLOC}
	args := []string{"--key-format", "cidr", "--value-format", "u32"}

	pin := createPinned(t, dir, "million", spec)
	batch := mustRun(t, 0, "", append([]string{"load", pin, file}, args...)...)
	t.Logf("batch load, %s: %s", batch.elapsed.Round(time.Millisecond), strings.TrimSpace(batch.stdout))
	if !strings.HasPrefix(batch.stdout, "loaded 1000000 entries into LPMTrie map") {
		t.Errorf("stdout = %q", batch.stdout)
	}

	m := openPinned(t, pin)
	value := make([]byte, 4)
	for i := range n {
		if err := m.Lookup(cidrKey(i), value); err != nil {
			t.Fatalf("Lookup(%x) (line %d): %v", cidrKey(i), i+1, err)
		}
		if got := binary.NativeEndian.Uint32(value); got != uint32(i) {
			t.Fatalf("Lookup(%x) (line %d) = %d, want %d", cidrKey(i), i+1, got, i)
		}
	}
	// All n distinct prefixes are there and max_entries is n, so the trie
	// holds exactly them: one more must not fit.
	extra := lpmKey(32, hx("c0000201"))
	if _, err := m.UpdateBatch(extra, u32(1), bpfbatch.UpdateAny); !errors.Is(err, bpfbatch.ErrMapFull) {
		t.Errorf("insert into the full trie: %v, want ErrMapFull", err)
	}

	if testing.Short() {
		return
	}
	pin2 := createPinned(t, dir, "million-per-elem", spec)
	perElem := mustRun(t, 0, "", append([]string{"load", pin2, file, "--flags", "noexist"}, args...)...)
	t.Logf("per-element load, %s: %s", perElem.elapsed.Round(time.Millisecond), strings.TrimSpace(perElem.stdout))
	if !strings.Contains(perElem.stdout, "1000000 BPF_MAP_UPDATE_ELEM calls") {
		t.Errorf("stdout = %q", perElem.stdout)
	}
	m2 := openPinned(t, pin2)
	for i := 0; i < n; i += 997 {
		if err := m2.Lookup(cidrKey(i), value); err != nil || binary.NativeEndian.Uint32(value) != uint32(i) {
			t.Fatalf("per-element trie: Lookup(%x) = %x, %v", cidrKey(i), value, err)
		}
	}
	t.Logf("write time: batch %s, per element %s", writeTime(batch.stdout), writeTime(perElem.stdout))
}

// writeTime extracts "write 0.5s: 2M entries/s" from a summary line.
func writeTime(summary string) string {
	if m := regexp.MustCompile(`write ([^:]+): ([^ ]+ entries/s)`).FindStringSubmatch(summary); m != nil {
		return m[1] + " (" + m[2] + ")"
	}
	return "?"
}

// Ctrl-C stops a --stream load between chunks: the message says what was
// written, and that is exactly a prefix of the input; what arrives after
// the signal is not written.
func TestInterruptStopsBetweenChunks(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "interrupt", hashSpec)
	cmd := exec.Command(buildCommand(t), append([]string{"load", pin, "-", "--stream", "--chunk", "100"}, u32u64...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	in, want := hashLines(200)
	lines := strings.SplitAfter(in, "\n")
	if _, err := io.WriteString(stdin, strings.Join(lines[:100], "")); err != nil {
		t.Fatal(err)
	}
	// The first chunk is written once it is read in full; wait for it.
	m := openPinned(t, pin)
	for deadline := time.Now().Add(10 * time.Second); countKeys(t, m) < 100; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("first chunk not written after 10s; stderr: %s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// The signal cancels the load's context on a goroutine of its own;
	// give it time to run before the next chunk arrives (the load stops
	// at once: it is waiting for input).
	time.Sleep(200 * time.Millisecond)
	io.WriteString(stdin, strings.Join(lines[100:], ""))
	stdin.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; stderr: %s", err, stderr.String())
	}
	if w := "wrote 100 entries, the input up to line 100; nothing after stdin:100 was written"; !strings.Contains(stderr.String(), w) {
		t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
	}
	checkMap(t, pin, want[:100])
}

// More distinct keys than a hash map or trie can hold is refused before
// the first write, with the line where the map would have filled up; keys
// repeated, or LPM keys differing only in host bits, count once.
func TestCapacityCheckedBeforeWrite(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "cap", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 3})
	r := mustRun(t, 2, "# h\n1 1\n2 2\n1 3\n3 3\n4 4\n", append([]string{"load", pin, "-"}, u32u64...)...)
	if w := "stdin:6: distinct key number 4, but Hash map (id "; !strings.Contains(r.stderr, w) || !strings.Contains(r.stderr, "holds at most max_entries 3; the kernel would fail here after writing 3 entries; nothing written") {
		t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
	}
	checkMap(t, pin, nil)
	r = mustRun(t, 2, "1 1\n2 2\n3 3\n4 4\n", append([]string{"load", pin, "-", "--dry-run"}, u32u64...)...)
	if !strings.Contains(r.stderr, "stdin:4: distinct key number 4") {
		t.Errorf("dry run: stderr %s", r.stderr)
	}
	// Duplicates fit.
	mustRun(t, 0, "1 1\n2 2\n1 3\n3 3\n", append([]string{"load", pin, "-"}, u32u64...)...)
	checkMap(t, pin, []entry{{u32(1), u64(3)}, {u32(2), u64(2)}, {u32(3), u64(3)}})

	// Hex LPM keys with host bits are the same prefix to the trie.
	trie := createPinned(t, dir, "cap-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: unix.BPF_F_NO_PREALLOC})
	mustRun(t, 0, "080000000a000000 01000000\n080000000aff0000 02000000\n", "load", trie, "-", "--key-format", "hex")
	checkMap(t, trie, []entry{{lpmKey(8, hx("0a000000")), u32(2)}})
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

// --stream reads --chunk x --workers entries per block. A product beyond
// int once wrapped to zero or less: the load then spun at 100% CPU without
// reading, and ignored SIGTERM. The block is capped instead, on 32-bit
// builds too (GOARCH=386 runs this test with a 386 binary).
func TestStreamHugeChunkTimesWorkersLoads(t *testing.T) {
	dir := pinDir(t)
	in, want := hashLines(3000)
	for i, tt := range []struct{ chunk, workers string }{
		{strconv.Itoa(math.MaxInt/4 + 1), "4"}, // the product is MaxInt+1
		{"1073741824", "4"},                    // 2^32: zero as a 32-bit int
		{strconv.Itoa(math.MaxInt), "2"},
	} {
		pin := createPinned(t, dir, fmt.Sprintf("huge-block%d", i), hashSpec)
		args := append([]string{"load", pin, "-", "--stream", "--chunk", tt.chunk, "--workers", tt.workers}, u32u64...)
		r := runWithin(t, 30*time.Second, in, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "loaded 3000 entries into ") || !strings.Contains(r.stdout, ", 1 BPF_MAP_UPDATE_BATCH call)") {
			t.Errorf("--chunk %s --workers %s: exit %d\nstdout: %s\nstderr: %s", tt.chunk, tt.workers, r.code, r.stdout, r.stderr)
		}
		checkMap(t, pin, want)
	}
}

// The summary's count of calls once computed (n + chunk - 1) / chunk,
// which overflows for a chunk near MaxInt and printed a negative count.
func TestSummaryCountsCallsWithHugeChunk(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "huge-chunk", hashSpec)
	in, want := hashLines(3000)
	r := mustRun(t, 0, in, append([]string{"load", pin, "-", "--chunk", strconv.Itoa(math.MaxInt)}, u32u64...)...)
	if !strings.Contains(r.stdout, ", 1 BPF_MAP_UPDATE_BATCH call)") {
		t.Errorf("stdout = %q", r.stdout)
	}
	checkMap(t, pin, want)
}

// --chunk 0 and --workers 0 mean what the library's BatchOptions say: an
// even split over the workers (none below 2048 entries), and one call at a
// time.
func TestLoadChunkZeroSplitsEvenly(t *testing.T) {
	dir := pinDir(t)
	in, want := hashLines(10000)
	tests := []struct {
		args  []string
		calls string
	}{
		{[]string{"--chunk", "0", "--workers", "2"}, "2 BPF_MAP_UPDATE_BATCH calls of up to 5000 entries)"},
		{[]string{"--chunk", "0"}, "1 BPF_MAP_UPDATE_BATCH call)"},
		{[]string{"--workers", "0"}, "3 BPF_MAP_UPDATE_BATCH calls of up to 4096 entries)"},
		// Blocks of 4096 x 2: 8192 split in two, then 1808 in one call.
		{[]string{"--chunk", "0", "--workers", "2", "--stream"}, "3 BPF_MAP_UPDATE_BATCH calls of up to 4096 entries)"},
	}
	for i, tt := range tests {
		pin := createPinned(t, dir, fmt.Sprintf("chunk0-%d", i), hashSpec)
		r := mustRun(t, 0, in, append(append([]string{"load", pin, "-"}, tt.args...), u32u64...)...)
		if !strings.HasPrefix(r.stdout, "loaded 10000 entries into ") || !strings.Contains(r.stdout, tt.calls) {
			t.Errorf("%v: stdout = %q, want %q", tt.args, r.stdout, tt.calls)
		}
		checkMap(t, pin, want)
	}
}

// One entry is "1 entry", in every line that counts them.
func TestOneEntryIsSingular(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "singular", hashSpec)
	r := mustRun(t, 0, "1 10\n", append([]string{"load", pin, "-"}, u32u64...)...)
	if !strings.HasPrefix(r.stdout, "loaded 1 entry into ") || !strings.Contains(r.stdout, ", 1 BPF_MAP_UPDATE_BATCH call)") {
		t.Errorf("stdout = %q", r.stdout)
	}
	r = mustRun(t, 0, "1 10\n", append([]string{"load", pin, "-", "--dry-run"}, u32u64...)...)
	if !strings.HasPrefix(r.stdout, "dry run: 1 entry in ") {
		t.Errorf("dry run: stdout = %q", r.stdout)
	}
	r = mustRun(t, 0, "2 20\n", append([]string{"load", pin, "-", "--flags", "noexist"}, u32u64...)...)
	if !strings.Contains(r.stdout, "1 BPF_MAP_UPDATE_ELEM call, one per entry") {
		t.Errorf("per element: stdout = %q", r.stdout)
	}
	r = mustRun(t, 1, "3 30\n", append([]string{"load", pin, "-", "--flags", "exist"}, u32u64...)...)
	if !strings.Contains(r.stderr, "wrote 0 of 1 entry, then the entry at stdin:1 failed") {
		t.Errorf("failure: stderr = %q", r.stderr)
	}
	checkMap(t, pin, []entry{{u32(1), u64(10)}, {u32(2), u64(20)}})
}

// dupLines is 40000 lines for a u32 -> u64 hash map with 1000 keys
// repeated: lines 19001-20000 give keys 500000-500999 the value 1, lines
// 20001-21000 give them 2. With --chunk 20000 the first occurrences end
// chunk 0 and the second ones start chunk 1; two workers write both chunks
// at once, so the second occurrences reach the kernel first and an older
// line would win. The other 38000 keys are 1-19000 and 20001-39000, value
// key*10.
func dupLines() (string, []entry) {
	var b strings.Builder
	var want []entry
	filler := func(from, n int) {
		for k := from; k < from+n; k++ {
			fmt.Fprintf(&b, "%d %d\n", k, k*10)
			want = append(want, entry{u32(uint32(k)), u64(uint64(k) * 10)})
		}
	}
	filler(1, 19000)
	for i := range 1000 {
		fmt.Fprintf(&b, "%d 1\n", 500000+i)
	}
	for i := range 1000 {
		fmt.Fprintf(&b, "%d 2\n", 500000+i)
		want = append(want, entry{u32(uint32(500000 + i)), u64(2)})
	}
	filler(20001, 19000)
	return b.String(), want
}

// A key repeated in the input keeps its last line's value, whatever the
// workers: the command writes each key once, from its last line, and the
// summary counts the distinct entries written and the lines dropped.
func TestLoadDuplicateKeysLastWins(t *testing.T) {
	dir := pinDir(t)
	in, want := dupLines()
	for _, workers := range []string{"1", "2"} {
		pin := createPinned(t, dir, "dups-w"+workers, hashSpec)
		r := mustRun(t, 0, in, append([]string{"load", pin, "-", "--chunk", "20000", "--workers", workers}, u32u64...)...)
		if !strings.HasPrefix(r.stdout, "loaded 39000 entries into ") || !strings.Contains(r.stdout, "dropped 1000 lines whose key a later line repeats") {
			t.Errorf("--workers %s: stdout = %q", workers, r.stdout)
		}
		checkMap(t, pin, want)
	}
	// --flags noexist too: the key is new to the map, written once.
	pin := createPinned(t, dir, "dups-noexist", hashSpec)
	r := mustRun(t, 0, "7 70\n8 80\n7 71\n", append([]string{"load", pin, "-", "--flags", "noexist"}, u32u64...)...)
	if !strings.HasPrefix(r.stdout, "loaded 2 entries into ") || !strings.Contains(r.stdout, "dropped 1 line whose key a later line repeats") {
		t.Errorf("--flags noexist: stdout = %q", r.stdout)
	}
	checkMap(t, pin, []entry{{u32(7), u64(71)}, {u32(8), u64(80)}})

	// A dry run counts the same.
	pin = createPinned(t, dir, "dups-dry", hashSpec)
	r = mustRun(t, 0, in, append([]string{"load", pin, "-", "--dry-run"}, u32u64...)...)
	if !strings.HasPrefix(r.stdout, "dry run: 39000 entries in stdin") || !strings.Contains(r.stdout, "1000 lines whose key a later line repeats") {
		t.Errorf("dry run: stdout = %q", r.stdout)
	}
}

// With --stream the input is deduplicated within each block (chunk x
// workers entries), so parallel chunks of one block cannot reorder a
// repeated key; blocks are written one after the other, so a key repeated
// in a later block is written again and the later line wins too.
func TestStreamDuplicateKeysLastWins(t *testing.T) {
	dir := pinDir(t)
	in, want := dupLines()
	args := append([]string{"--stream", "--chunk", "20000", "--workers", "2"}, u32u64...)

	pin := createPinned(t, dir, "stream-dups", hashSpec)
	r := mustRun(t, 0, in, append([]string{"load", pin, "-"}, args...)...)
	if !strings.HasPrefix(r.stdout, "loaded 39000 entries into ") || !strings.Contains(r.stdout, "dropped 1000 lines whose key a later line of the same block repeats") {
		t.Errorf("stdout = %q", r.stdout)
	}
	checkMap(t, pin, want)

	// A second block (lines 40001-41000) sets the repeated keys to 3.
	var more strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&more, "%d 3\n", 500000+i)
	}
	pin2 := createPinned(t, dir, "stream-dups-blocks", hashSpec)
	r = mustRun(t, 0, in+more.String(), append([]string{"load", pin2, "-"}, args...)...)
	if !strings.HasPrefix(r.stdout, "loaded 40000 entries into ") || !strings.Contains(r.stdout, "a key repeated in a later block is written again") {
		t.Errorf("two blocks: stdout = %q", r.stdout)
	}
	m := openPinned(t, pin2)
	value := make([]byte, 8)
	for i := range 1000 {
		if err := m.Lookup(u32(uint32(500000+i)), value); err != nil || !bytes.Equal(value, u64(3)) {
			t.Fatalf("key %d = %x, %v; want 3 (the later block's line)", 500000+i, value, err)
		}
	}
	if n := countKeys(t, m); n != 39000 {
		t.Errorf("map holds %d keys, want 39000", n)
	}
}

// LPM trie keys that differ only in host bits are one prefix: the trie
// replaces the node. They are duplicates for the command too, so the last
// line wins with two workers, as for any repeated key.
func TestLoadLPMHostBitsDuplicatesLastWins(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "lpm-dups", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 40000, Flags: unix.BPF_F_NO_PREALLOC})
	addr := func(a uint32) []byte { return []byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)} }
	var b strings.Builder
	line := func(key []byte, v uint32) {
		fmt.Fprintf(&b, "%s %s\n", hex.EncodeToString(key), hex.EncodeToString(u32(v)))
	}
	// 10.i/256.i%256.0/24, host bits set on the first occurrence.
	dup := func(i int, host uint32) []byte { return lpmKey(24, addr(0x0a000000|uint32(i)<<8|host)) }
	for i := range 19000 {
		line(lpmKey(32, addr(0x0b000000+uint32(i))), 7)
	}
	for i := range 1000 {
		line(dup(i, 0x01), 1)
	}
	for i := range 1000 {
		line(dup(i, 0), 2)
	}
	for i := range 19000 {
		line(lpmKey(32, addr(0x0c000000+uint32(i))), 7)
	}
	r := mustRun(t, 0, b.String(), "load", pin, "-", "--chunk", "20000", "--workers", "2", "--key-format", "hex")
	if !strings.HasPrefix(r.stdout, "loaded 39000 entries into ") || !strings.Contains(r.stdout, "dropped 1000 lines") {
		t.Errorf("stdout = %q", r.stdout)
	}
	m := openPinned(t, pin)
	value := make([]byte, 4)
	wrong := 0
	for i := range 1000 {
		if err := m.Lookup(dup(i, 0), value); err != nil {
			t.Fatalf("Lookup(%x): %v", dup(i, 0), err)
		}
		if !bytes.Equal(value, u32(2)) {
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of 1000 prefixes repeated with host bits keep an older line's value", wrong)
	}
}

// Queue and stack maps keep the order of the writes, which parallel chunks
// would scramble: --workers above 1 is refused for them, and one worker
// loads them in input order.
func TestLoadQueueAndStackKeepInputOrder(t *testing.T) {
	dir := pinDir(t)
	var in strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&in, "%d\n", i)
	}
	for _, typ := range []bpfbatch.MapType{bpfbatch.Queue, bpfbatch.Stack} {
		t.Run(typ.String(), func(t *testing.T) {
			pin := createPinned(t, dir, "order-"+typ.String(), bpfbatch.MapSpec{Type: typ, ValueSize: 4, MaxEntries: 100})
			r := mustRun(t, 2, in.String(), "load", pin, "-", "--value-format", "u32", "--chunk", "10", "--workers", "2")
			if w := typ.String() + " maps keep the order of the writes"; !strings.Contains(r.stderr, w) || !strings.Contains(r.stderr, "--workers 1") {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
			m := openPinned(t, pin)
			if _, err := testutil.Pop(m.FD(), 4); err == nil {
				t.Fatalf("a refused load wrote to the %s", typ)
			}
			mustRun(t, 0, in.String(), "load", pin, "-", "--value-format", "u32", "--chunk", "10")
			for i := 1; i <= 50; i++ {
				want := uint32(i)
				if typ == bpfbatch.Stack {
					want = uint32(51 - i)
				}
				got, err := testutil.Pop(m.FD(), 4)
				if err != nil || !bytes.Equal(got, u32(want)) {
					t.Fatalf("pop %d = %x, %v; want %d", i, got, err, want)
				}
			}
		})
	}
}

// A signal while --stream waits for stdin stops the load at once, not at
// the end of the input: the message says what was written, exactly the
// blocks read before, and the exit status is 1.
func TestInterruptWhileStreamWaitsForInput(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := pinDir(t)
			pin := createPinned(t, dir, "wait-stdin", hashSpec)
			p := start(t, append([]string{"load", pin, "-", "--stream", "--chunk", "100"}, u32u64...)...)
			in, want := hashLines(150)
			io.WriteString(p.stdin, in)
			waitKeys(t, openPinned(t, pin), 100)
			time.Sleep(100 * time.Millisecond) // lines 101-150 are read; the reader waits for more
			p.cmd.Process.Signal(sig)
			if code := p.waitExit(t, 5*time.Second); code != 1 {
				t.Errorf("exit %d, want 1\nstderr: %s", code, p.stderr.String())
			}
			for _, w := range []string{"interrupted while reading stdin after line 150", "wrote 100 entries, the input up to line 100; nothing after stdin:100 was written"} {
				if !strings.Contains(p.stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, p.stderr.String())
				}
			}
			if p.stdout.Len() != 0 {
				t.Errorf("stdout = %q", p.stdout.String())
			}
			checkMap(t, pin, want[:100])
		})
	}
}

// Ctrl-C reaches the whole pipeline: the producer of stdin dies too, and
// the load sees the end of its input. That is not a successful load.
func TestInterruptAtEndOfStreamIsNotSuccess(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "end-of-stream", hashSpec)
	p := start(t, append([]string{"load", pin, "-", "--stream", "--chunk", "100"}, u32u64...)...)
	in, want := hashLines(100)
	io.WriteString(p.stdin, in)
	waitKeys(t, openPinned(t, pin), 100)
	p.cmd.Process.Signal(os.Interrupt)
	time.Sleep(200 * time.Millisecond)
	p.stdin.Close() // the producer died of the same Ctrl-C
	if code := p.waitExit(t, 5*time.Second); code != 1 {
		t.Errorf("exit %d, want 1\nstdout: %s\nstderr: %s", code, p.stdout.String(), p.stderr.String())
	}
	if strings.Contains(p.stdout.String(), "loaded") || !strings.Contains(p.stderr.String(), "interrupted") || !strings.Contains(p.stderr.String(), "wrote 100 entries") {
		t.Errorf("stdout: %s\nstderr: %s", p.stdout.String(), p.stderr.String())
	}
	checkMap(t, pin, want)
}

// A signal during the write stops it between chunks: the message gives the
// count and the first line not written, and the map holds exactly the
// entries before it.
func TestInterruptWhileWritingSaysWhatWasWritten(t *testing.T) {
	dir := pinDir(t)
	const n = 400000
	pin := createPinned(t, dir, "write-interrupt", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	in, _ := hashLines(n)
	file := writeFile(t, in)
	// --flags noexist writes one element per syscall: slow enough to be
	// caught mid-way.
	p := start(t, append([]string{"load", pin, file, "--chunk", "1000", "--flags", "noexist"}, u32u64...)...)
	m := openPinned(t, pin)
	value := make([]byte, 8)
	for deadline := time.Now().Add(10 * time.Second); m.Lookup(u32(1), value) != nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing written after 10s; stderr: %s", p.stderr.String())
		}
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.waitExit(t, 5*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, p.stdout.String(), p.stderr.String())
	}
	re := regexp.MustCompile(`interrupted: wrote (\d+) of 400000 entries; nothing from ` + regexp.QuoteMeta(file) + `:(\d+) on was written`)
	match := re.FindStringSubmatch(p.stderr.String())
	if match == nil {
		t.Fatalf("stderr:\n%s", p.stderr.String())
	}
	written, _ := strconv.Atoi(match[1])
	line, _ := strconv.Atoi(match[2])
	if line != written+1 || written%1000 != 0 {
		t.Errorf("wrote %d, first line not written %d: want whole chunks and the next line", written, line)
	}
	if got := countKeys(t, m); got != written {
		t.Errorf("map holds %d keys, the message says %d", got, written)
	}
	if err := m.Lookup(u32(uint32(written)), value); err != nil {
		t.Errorf("key %d (line %d) not written: %v", written, written, err)
	}
}

// A kernel that refuses a whole call (here: a frozen map, EPERM) fails no
// input line in particular, with one worker or several; the message must
// not blame one. (With --workers 2 this needs the library to report
// BatchError.Index -1 for a refused call in a parallel load.)
func TestLoadFrozenMapBlamesNoLine(t *testing.T) {
	dir := pinDir(t)
	in, _ := hashLines(10000)
	for _, workers := range []string{"1", "2"} {
		t.Run("workers="+workers, func(t *testing.T) {
			pin := createPinned(t, dir, "frozen-w"+workers, hashSpec)
			if err := testutil.Freeze(openPinned(t, pin).FD()); err != nil {
				t.Fatal(err)
			}
			r := mustRun(t, 1, in, append([]string{"load", pin, "-", "--chunk", "1000", "--workers", workers}, u32u64...)...)
			if regexp.MustCompile(`entry at stdin:\d+ failed|element \d+:`).MatchString(r.stderr) {
				t.Errorf("the message blames an input line:\n%s", r.stderr)
			}
			for _, w := range []string{"wrote 0 of 10000 entries", "the kernel refused a whole call", "EPERM"} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			checkMap(t, pin, nil)
		})
	}
}

// load --dry-run on a map the process cannot write (frozen) says that a
// real load would fail (exit 1), as sync --dry-run does, instead of
// reporting that the new keys fit.
func TestLoadDryRunOnFrozenMapSaysItCannotWrite(t *testing.T) {
	dir := pinDir(t)
	pin := createPinned(t, dir, "dry-frozen", hashSpec)
	if err := testutil.Freeze(openPinned(t, pin).FD()); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []bool{false, true} {
		args := append([]string{"load", pin, "-", "--dry-run"}, u32u64...)
		if stream {
			args = append(args, "--stream")
		}
		r := mustRun(t, 1, "1 10\n", args...)
		if want := "a real load would fail: the map cannot be written; nothing written (dry run)\n"; r.stdout != "" || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "EPERM") {
			t.Errorf("--stream %v: stdout %q, stderr %q; want nothing on stdout and %q", stream, r.stdout, r.stderr, want)
		}
	}
	checkMap(t, pin, nil)
}

// A load into an LRU map says how many of the entries it wrote are present
// afterwards when the kernel evicted some, which LRU maps do before they
// are full, and exits 1: the map does not hold what was asked (issue 14,
// item 2: it said "loaded 1000 entries", exit 0, and 976 were there). The
// count is checked against a raw walk of the map.
func TestLoadLRUSaysHowManyArePresent(t *testing.T) {
	dir := pinDir(t)
	in, _ := hashLines(1000)
	for _, typ := range []bpfbatch.MapType{bpfbatch.LRUHash, bpfbatch.LRUPerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			pin := createPinned(t, dir, "lru-"+typ.String(), bpfbatch.MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 1000})
			args := append([]string{"load", pin, "-"}, u32u64...)
			if typ.PerCPU() {
				args = append(args, "--all-cpus")
			}
			r := run(t, in, args...)
			m := openPinned(t, pin)
			held := countKeys(t, m)
			if held == 1000 { // nothing evicted on this machine
				if r.code != 0 || !strings.Contains(r.stdout, "; all present afterwards, checked in ") {
					t.Errorf("nothing evicted: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
				}
				return
			}
			want := fmt.Sprintf("bpfbatch: load %s: loaded 1000 entries into %s from stdin; %d present afterwards: the LRU map evicted %d (LRU maps evict before they are full; make max_entries larger)\n",
				pin, m, held, 1000-held)
			if r.code != 1 || r.stdout != "" || r.stderr != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", r.code, r.stdout, r.stderr, want)
			}
		})
	}
	pin := createPinned(t, dir, "lru-roomy", bpfbatch.MapSpec{Type: bpfbatch.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 1000})
	r := mustRun(t, 0, "1 10\n2 20\n", append([]string{"load", pin, "-"}, u32u64...)...)
	if !strings.Contains(r.stdout, "1 BPF_MAP_UPDATE_BATCH call; all present afterwards, checked in ") {
		t.Errorf("stdout %q", r.stdout)
	}
}
