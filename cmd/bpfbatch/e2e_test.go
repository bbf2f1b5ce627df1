package main

// End-to-end tests: they build the command, run it against maps pinned on a
// real bpf filesystem, and read every map back through the library.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildCommand builds the command once per test run, the way a user's go build
// or go install would (same GOOS/GOARCH as the tests), on first use, so
// that tests without the kernel do not pay for it. BPFBATCH_BIN names a
// prebuilt command to use instead: the VM runner (.ci/vm/run) sets it, as
// there is no Go toolchain inside its VMs.
func buildCommand(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("BPFBATCH_BIN"); bin != "" {
			binPath = bin
			return
		}
		binDir, buildErr = os.MkdirTemp("", "bpfbatch-e2e-")
		if buildErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(build.Default.GOROOT, "bin", "go")
		}
		binPath = filepath.Join(binDir, "bpfbatch")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// result is one run of the command.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// run runs the command with stdin (which may be empty) and args.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runWithin(t, 10*time.Minute, stdin, args...)
}

// runWithin is run with a deadline: a command still running after d is
// killed and the test fails, instead of hanging the test binary.
func runWithin(t *testing.T, d time.Duration, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildCommand(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("bpfbatch %s: still running after %s; killed\nstdout: %s\nstderr: %s", strings.Join(args, " "), d, r.stdout, r.stderr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run bpfbatch %v: %v", args, err)
	}
	checkMessages(t, r.stderr)
	return r
}

// checkMessages fails a message line that says "bpfbatch: " twice: the
// library's errors begin with it, and the command prints them as they
// are, on a line of their own, instead of wrapping them.
func checkMessages(t *testing.T, stderr string) {
	t.Helper()
	for line := range strings.Lines(stderr) {
		if strings.Count(line, "bpfbatch: ") > 1 {
			t.Errorf("a message line repeats the prefix: %q", line)
		}
	}
}

// mustRun runs the command and fails unless it exits with want.
func mustRun(t *testing.T, want int, stdin string, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.code != want {
		t.Fatalf("bpfbatch %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// pinDir is a directory on a bpf filesystem, skipping (or failing, with
// BPFBATCH_REQUIRE_KERNEL=1) without bpf(2).
func pinDir(t *testing.T) string {
	t.Helper()
	testutil.RequireKernel(t)
	return testutil.MountBPFFS(t)
}

// createPinned creates a map with the library and pins it with a raw
// BPF_OBJ_PIN, independently of the command under test.
func createPinned(t *testing.T, dir, name string, spec bpfbatch.MapSpec) string {
	t.Helper()
	m, err := bpfbatch.CreateMap(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(dir, name)
	if err := testutil.Pin(m.FD(), path); err != nil {
		t.Fatalf("pin %s: %v", path, err)
	}
	return path
}

func openPinned(t *testing.T, path string) *bpfbatch.Map {
	t.Helper()
	m, err := bpfbatch.OpenPinned(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// entry is a key and its whole value as Lookup returns it: ValueStride()
// bytes, every CPU's slot for per-CPU maps.
type entry struct{ key, value []byte }

// checkMap reads every wanted entry back with Map.Lookup and, for maps that
// are not arrays, checks that the map holds nothing else.
func checkMap(t *testing.T, path string, want []entry) {
	t.Helper()
	m := openPinned(t, path)
	value := make([]byte, m.ValueStride())
	for _, e := range want {
		if err := m.Lookup(e.key, value); err != nil {
			t.Errorf("Lookup(%x): %v", e.key, err)
			continue
		}
		if !bytes.Equal(value, e.value) {
			t.Errorf("Lookup(%x) = %x, want %x", e.key, value, e.value)
		}
	}
	if t := m.Info().Type; t == bpfbatch.Array || t == bpfbatch.PerCPUArray {
		return
	}
	if n := countKeys(t, m); n != len(want) {
		t.Errorf("map holds %d keys, want %d", n, len(want))
	}
}

// countKeys walks the map with raw BPF_MAP_GET_NEXT_KEY calls,
// independently of the library.
func countKeys(t *testing.T, m *bpfbatch.Map) int {
	t.Helper()
	keys, err := testutil.Keys(m.FD(), int(m.Info().KeySize))
	if err != nil {
		t.Fatalf("BPF_MAP_GET_NEXT_KEY: %v", err)
	}
	return len(keys)
}

func possibleCPUs(t *testing.T) int {
	t.Helper()
	n, err := bpfbatch.PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// entryLines counts the lines of in that hold an entry.
func entryLines(in string) int {
	n := 0
	for line := range strings.Lines(in) {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			n++
		}
	}
	return n
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Byte builders for expected map contents, written out independently of
// the parser: native-order integers, LPM keys, per-CPU slots.
func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }
func hx(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
func lpmKey(prefixlen uint32, addr []byte) []byte { return append(u32(prefixlen), addr...) }

// perCPU lays out one value per CPU in 8-byte-rounded slots, padding zero.
func perCPU(valueSize int, vals ...[]byte) []byte {
	slot := (valueSize + 7) &^ 7
	out := make([]byte, slot*len(vals))
	for c, v := range vals {
		copy(out[c*slot:], v)
	}
	return out
}

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
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: 1},
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
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: 1},
			input: "10.0.0.1/8 1\n",
			args:  []string{"--key-format", "cidr", "--value-format", "u32", "--mask-host-bits"},
			want:  []entry{{lpmKey(8, hx("0a000000")), u32(1)}},
		},
		{
			name:  "cidr ipv6",
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 4, MaxEntries: 16, Flags: 1},
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
			spec:  bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 4, MaxEntries: 16, Flags: 1},
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

func TestInfo(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)
	tests := []struct {
		spec bpfbatch.MapSpec
		want []string // lines of the output, in order
	}{
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1000, Name: "conns"},
			want: []string{
				`map: +Hash map "conns" \(id \d+\)`,
				`type: +Hash`,
				`key size: +4 bytes`,
				`value size: +8 bytes`,
				`max entries: +1000`,
				`map flags: +0`,
				fmt.Sprintf(`possible CPUs: +%d`, cpus),
				`value stride: +8 bytes per element \(one value, not per-CPU\)`,
				`update path: +batch: one BPF_MAP_UPDATE_BATCH per chunk`,
				`key formats: +hex, u32, ip`,
				`value formats: +hex, u64, cidr`,
			},
		},
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: 4},
			want: []string{
				`type: +PerCPUArray`,
				fmt.Sprintf(`value stride: +%d bytes per element \(%d possible CPUs x value size 12 rounded up to 16, element-major\)`, 16*cpus, cpus),
				// Per-CPU arrays have batch commands from 5.13 on.
				map[bool]string{true: `update path: +batch`, false: `update path: +per-element`}[testutil.KernelAtLeast(5, 13)],
			},
		},
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 4, MaxEntries: 10, Flags: 1},
			want: []string{`map flags: +0x1 \(BPF_F_NO_PREALLOC\)`, `key formats: +hex, cidr`},
		},
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.Queue, ValueSize: 4, MaxEntries: 10},
			want: []string{`update path: +per-element: one BPF_MAP_UPDATE_ELEM per entry \(Queue maps`, `key formats: +none`},
		},
	}
	for i, tt := range tests {
		t.Run(tt.spec.Type.String(), func(t *testing.T) {
			pin := createPinned(t, dir, fmt.Sprintf("info%d", i), tt.spec)
			r := mustRun(t, 0, "", "info", pin)
			// Each pattern must match a whole line, in order.
			lines := strings.Split(r.stdout, "\n")
			for _, w := range tt.want {
				re := regexp.MustCompile(`^` + w)
				i := slices.IndexFunc(lines, re.MatchString)
				if i < 0 {
					t.Errorf("info output:\n%s\nhas no line matching %q after the previous one", r.stdout, w)
					break
				}
				lines = lines[i+1:]
			}
		})
	}
	r := mustRun(t, 1, "", "info", filepath.Join(dir, "nothing"))
	if !strings.Contains(r.stderr, "nothing is pinned there") {
		t.Errorf("info on a missing pin: stderr %q", r.stderr)
	}
}

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
	if info := openPinned(t, trie).Info(); info.Type != bpfbatch.LPMTrie || info.Flags&1 == 0 {
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

// hashLines returns n "KEY VALUE" lines for u32 keys 1..n and u64 values
// key*10, and the entries they make.
func hashLines(n int) (string, []entry) {
	var b strings.Builder
	want := make([]entry, n)
	for i := range n {
		k := uint32(i + 1)
		fmt.Fprintf(&b, "%d %d\n", k, uint64(k)*10)
		want[i] = entry{u32(k), u64(uint64(k) * 10)}
	}
	return b.String(), want
}

var hashSpec = bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 100000}
var u32u64 = []string{"--key-format", "u32", "--value-format", "u64"}

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

// prefill writes entries with the library, for maps that must hold
// something before the command runs.
func prefill(t *testing.T, pin string, entries ...entry) {
	t.Helper()
	m := openPinned(t, pin)
	for _, e := range entries {
		if _, err := m.UpdateBatch(e.key, e.value, bpfbatch.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
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
			"; the error below counts elements from the block starting at stdin:6\nbpfbatch: BPF_MAP_UPDATE_BATCH on Hash map",
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
		pin := createPinned(t, dir, "trie-full", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 3, Flags: 1})
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
	spec := bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: n, Flags: 1}
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
	trie := createPinned(t, dir, "cap-trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1, Flags: 1})
	mustRun(t, 0, "080000000a000000 01000000\n080000000aff0000 02000000\n", "load", trie, "-")
	checkMap(t, trie, []entry{{lpmKey(8, hx("0a000000")), u32(2)}})
}
