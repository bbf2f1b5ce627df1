package main

// End-to-end tests of dump: what it prints is read back through
// independent paths (raw BPF_MAP_GET_NEXT_KEY and BPF_MAP_LOOKUP_ELEM
// calls, and bpftool), and what it prints loads back byte for byte.

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
	"golang.org/x/sys/unix"
)

// dumpCase is a map filled with random entries through the library, and
// the formats to dump it in.
type dumpCase struct {
	name    string
	spec    bpfbatch.MapSpec
	formats []string
	// key makes the key of entry i (nil: random bytes).
	key func(i int) []byte
	n   int
}

func dumpCases() []dumpCase {
	return []dumpCase{
		{name: "hash hex", spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 20000}, n: 10000},
		{name: "hash u32 u64", spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 20000}, n: 10000,
			formats: []string{"--key-format", "u32", "--value-format", "u64"}},
		{name: "percpu hash value 12", spec: bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 5000}, n: 5000},
		{name: "lpm trie cidr", spec: bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10000, Flags: unix.BPF_F_NO_PREALLOC}, n: 8000,
			formats: []string{"--key-format", "cidr", "--value-format", "u32"},
			key: func(i int) []byte {
				// Prefixes of lengths 8 to 32, host bits clear; the
				// repeats of the short ones are skipped.
				bits := []uint32{8, 16, 24, 32}[i%4]
				return lpmKey(bits, binary.BigEndian.AppendUint32(nil, uint32(i/4+1)<<(32-bits)))
			}},
		{name: "lpm trie ipv6 cidr", spec: bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 8, MaxEntries: 1000, Flags: unix.BPF_F_NO_PREALLOC}, n: 500,
			formats: []string{"--key-format", "cidr", "--value-format", "hex"},
			key: func(i int) []byte {
				addr := make([]byte, 16)
				binary.BigEndian.PutUint32(addr[4:], uint32(i))
				addr[0], addr[1] = 0x20, 0x01
				return lpmKey(64, addr) // 2001:0:i::/64
			}},
		{name: "array u32", spec: bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 3000}, n: 3000,
			formats: []string{"--key-format", "u32", "--value-format", "u64"},
			key:     func(i int) []byte { return u32(uint32(i)) }},
		{name: "percpu array ip values", spec: bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 100}, n: 100,
			formats: []string{"--key-format", "u32", "--value-format", "ip"},
			key:     func(i int) []byte { return u32(uint32(i)) }},
	}
}

// fill creates and pins the case's map, writes n random entries with the
// library, and returns the pin and what the map holds, read back raw.
func (dc dumpCase) fill(t *testing.T, dir, name string) (string, map[string][]byte) {
	t.Helper()
	pin := createPinned(t, dir, name, dc.spec)
	m := openPinned(t, pin)
	rng := rand.New(rand.NewPCG(uint64(len(dc.name)), 7))
	ks, stride := int(dc.spec.KeySize), m.ValueStride()
	want := make(map[string][]byte, dc.n)
	keys, values := make([]byte, 0, dc.n*ks), make([]byte, 0, dc.n*stride)
	for i := 0; len(want) < dc.n; i++ {
		var k []byte
		if dc.key != nil {
			k = dc.key(i)
		} else {
			k = make([]byte, ks)
			for j := range k {
				k[j] = byte(rng.Uint32())
			}
		}
		if _, dup := want[string(k)]; dup {
			continue
		}
		v := make([]byte, stride)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		if dc.spec.Type.PerCPU() {
			// Padding of each CPU's slot is zero in the map whatever we
			// pass; write it zero so want is what the map holds.
			slot := (int(dc.spec.ValueSize) + 7) &^ 7
			for c := 0; c < stride; c += slot {
				clear(v[c+int(dc.spec.ValueSize) : c+slot])
			}
		}
		want[string(k)] = v
		keys, values = append(keys, k...), append(values, v...)
	}
	if _, err := m.UpdateBatch(keys, values, bpfbatch.UpdateAny); err != nil {
		t.Fatal(err)
	}
	got := rawContents(t, m.FD(), ks, stride)
	if dc.spec.Type != bpfbatch.Array && dc.spec.Type != bpfbatch.PerCPUArray {
		sameContents(t, "the map as filled", got, want)
	}
	return pin, got
}

// `bpfbatch dump A | bpfbatch load B -` copies a map, byte for byte, in
// text and in JSON, for every map shape and format the README names.
func TestDumpLoadCopiesMap(t *testing.T) {
	dir := pinDir(t)
	for i, dc := range dumpCases() {
		t.Run(dc.name, func(t *testing.T) {
			pinA, want := dc.fill(t, dir, fmt.Sprintf("copy-src%d", i))
			for _, syntax := range []string{"text", "json"} {
				pinB := createPinned(t, dir, fmt.Sprintf("copy-dst%d-%s", i, syntax), dc.spec)
				out := mustRun(t, 0, "", append([]string{"dump", pinA, "--format", syntax}, dc.formats...)...)
				if out.stderr != "" {
					t.Errorf("dump wrote to stderr: %q", out.stderr)
				}
				if lines := strings.Count(out.stdout, "\n"); lines != len(want) {
					t.Errorf("%s dump: %d lines for %d entries", syntax, lines, len(want))
				}
				r := mustRun(t, 0, out.stdout, append([]string{"load", pinB, "-"}, dc.formats...)...)
				if !strings.HasPrefix(r.stdout, "loaded "+plural(len(want), "entry", "entries")+" into ") {
					t.Errorf("load of the %s dump: %q", syntax, r.stdout)
				}
				sameContents(t, syntax+" copy", pinnedContents(t, pinB), want)
			}
		})
	}
}

// dumpedEntries parses hex dump output (the default formats): key ->
// value bytes, each CPU's value_size bytes one after the other.
func dumpedEntries(t *testing.T, out string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for line := range strings.Lines(out) {
		cols := strings.Fields(line)
		k, err := hex.DecodeString(cols[0])
		if err != nil || len(cols) < 2 {
			t.Fatalf("dump line %q", line)
		}
		var v []byte
		for _, c := range cols[1:] {
			b, err := hex.DecodeString(c)
			if err != nil {
				t.Fatalf("dump line %q: %v", line, err)
			}
			v = append(v, b...)
		}
		got[string(k)] = v
	}
	return got
}

// unpadded drops the per-CPU padding of raw values: each CPU's value_size
// bytes one after the other, as bpftool prints them.
func unpadded(contents map[string][]byte, valueSize int, perCPU bool) map[string][]byte {
	if !perCPU {
		return contents
	}
	slot := (valueSize + 7) &^ 7
	out := make(map[string][]byte, len(contents))
	for k, v := range contents {
		var u []byte
		for c := 0; c < len(v); c += slot {
			u = append(u, v[c:c+valueSize]...)
		}
		out[k] = u
	}
	return out
}

// bpftoolPath finds bpftool, the independent reader of maps; without it
// the test skips, or fails when kernel tests are required (CI installs it).
func bpftoolPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"bpftool", "/usr/sbin/bpftool"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(testutil.RequireKernelEnv) == "1" {
		t.Fatalf("bpftool not found and %s=1: install it (Debian: apt-get install bpftool)", testutil.RequireKernelEnv)
	}
	t.Skip("bpftool not found (Debian: apt-get install bpftool)")
	return ""
}

// bpftoolDump reads a pinned map with `bpftool map dump pinned PIN -j`:
// key -> value bytes (per-CPU: each CPU's value in CPU order).
func bpftoolDump(t *testing.T, pin string) map[string][]byte {
	t.Helper()
	out, err := exec.Command(bpftoolPath(t), "map", "dump", "pinned", pin, "-j").Output()
	if err != nil {
		t.Fatalf("bpftool map dump: %v", err)
	}
	var entries []struct {
		Key    []string `json:"key"`
		Value  []string `json:"value"`
		Values []struct {
			CPU   int      `json:"cpu"`
			Value []string `json:"value"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("bpftool's JSON: %v\n%.500s", err, out)
	}
	hexBytes := func(s []string) []byte {
		b := make([]byte, len(s))
		for i, x := range s {
			v, err := strconv.ParseUint(strings.TrimPrefix(x, "0x"), 16, 8)
			if err != nil {
				t.Fatalf("bpftool byte %q: %v", x, err)
			}
			b[i] = byte(v)
		}
		return b
	}
	got := make(map[string][]byte, len(entries))
	for _, e := range entries {
		v := hexBytes(e.Value)
		for i, c := range e.Values {
			if c.CPU != i {
				t.Fatalf("bpftool lists CPU %d at %d", c.CPU, i)
			}
			v = append(v, hexBytes(c.Value)...)
		}
		got[string(hexBytes(e.Key))] = v
	}
	return got
}

// dump prints what bpftool reads, entry for entry, byte for byte; both
// match the raw reads.
func TestDumpMatchesBpftool(t *testing.T) {
	dir := pinDir(t)
	bpftoolPath(t)
	for i, dc := range dumpCases() {
		t.Run(dc.name, func(t *testing.T) {
			pin, raw := dc.fill(t, dir, fmt.Sprintf("vs-bpftool%d", i))
			want := unpadded(raw, int(dc.spec.ValueSize), dc.spec.Type.PerCPU())
			out := mustRun(t, 0, "", "dump", pin, "--key-format", "hex")
			sameContents(t, "dump vs raw reads", dumpedEntries(t, out.stdout), want)
			sameContents(t, "bpftool vs raw reads", bpftoolDump(t, pin), want)
		})
	}
}

// A dump streams: its memory stays bounded whatever the map's size. A
// million u32 -> u64 entries are 12 MB of keys and values and print 14 MB
// of text; the dump's peak RSS (VmHWM, sampled while it writes) must stay
// below the 12 MB that holding the entries alone would take.
func TestDumpStreamsInBoundedMemory(t *testing.T) {
	dir := pinDir(t)
	const n = 1_000_000
	pin := createPinned(t, dir, "dump-million", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	m := openPinned(t, pin)
	keys, values := make([]byte, 0, 4*n), make([]byte, 0, 8*n)
	for i := range n {
		keys, values = append(keys, u32(uint32(i))...), append(values, u64(uint64(i)*3)...)
	}
	if _, err := m.UpdateBatch(keys, values, bpfbatch.UpdateAny); err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, n)
	lines, bytesOut, peakKiB := dumpPeakRSS(t, []string{"dump", pin, "--key-format", "u32", "--value-format", "u64"}, func(line string) {
		var k uint32
		var v uint64
		if _, err := fmt.Sscanf(line, "%d %d", &k, &v); err != nil || k >= n || v != uint64(k)*3 || seen[k] {
			t.Fatalf("line %q", line)
		}
		seen[k] = true
	})
	if lines != n {
		t.Fatalf("%d lines, want %d", lines, n)
	}
	t.Logf("dumped %d entries, %d bytes; peak RSS %d KiB", n, bytesOut, peakKiB)
	if peakKiB == 0 || peakKiB<<10 >= 12*n {
		t.Errorf("peak RSS %d KiB while dumping %d entries (12 MB of keys and values): the dump does not stream", peakKiB, n)
	}
}

// --keys-only prints the keys alone, in the format delete reads; JSON
// keys-only lines are {"key": K}; integer formats print JSON numbers.
func TestDumpKeysOnlyAndJSON(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)
	pin := createPinned(t, dir, "keys-only", bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 10})
	prefill(t, pin, entry{u32(7), perCPUCounting(8, cpus, 100)})
	r := mustRun(t, 0, "", "dump", pin, "--keys-only", "--key-format", "u32")
	if r.stdout != "7\n" {
		t.Errorf("--keys-only: %q", r.stdout)
	}
	r = mustRun(t, 0, "", "dump", pin, "--keys-only", "--format", "json", "--key-format", "u32")
	if r.stdout != `{"key": 7}`+"\n" {
		t.Errorf("--keys-only json: %q", r.stdout)
	}
	var want strings.Builder
	want.WriteString(`{"key": 7, "value": [`)
	for c := range cpus {
		if c > 0 {
			want.WriteString(", ")
		}
		fmt.Fprintf(&want, "%d", 100+c)
	}
	want.WriteString("]}\n")
	r = mustRun(t, 0, "", "dump", pin, "--format", "json", "--key-format", "u32", "--value-format", "u64")
	if r.stdout != want.String() {
		t.Errorf("json: %q, want %q", r.stdout, want.String())
	}
}

// --cpu N prints CPU N's value alone with BPF_F_CPU (Linux 7.0); before
// that the library answers ErrNotSupported and dump says so, printing
// nothing (exit 1).
func TestDumpOneCPU(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)
	pin := createPinned(t, dir, "dump-cpu", bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 10})
	prefill(t, pin, entry{u32(1), perCPUCounting(4, cpus, 10)})
	cpu := cpus - 1
	args := []string{"dump", pin, "--cpu", strconv.Itoa(cpu), "--key-format", "u32", "--value-format", "u32"}
	if testutil.KernelAtLeast(7, 0) {
		r := mustRun(t, 0, "", args...)
		raw, err := testutil.LookupFlags(openPinned(t, pin).FD(), u32(1), 4, 8|uint64(cpu)<<32)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("1 %d\n", binary.NativeEndian.Uint32(raw)); r.stdout != want || want != fmt.Sprintf("1 %d\n", 10+cpu) {
			t.Errorf("--cpu %d on %s: %q, want %q", cpu, testutil.KernelRelease(), r.stdout, want)
		}
		return
	}
	r := mustRun(t, 1, "", args...)
	if r.stdout != "" || !strings.Contains(r.stderr, "--cpu needs BPF_F_CPU, which came with Linux 7.0") || !strings.Contains(r.stderr, "nothing was printed") {
		t.Errorf("--cpu on %s: stdout %q, stderr %q", testutil.KernelRelease(), r.stdout, r.stderr)
	}
	// Bad CPUs and maps are refused whatever the kernel.
	mustRun(t, 2, "", "dump", pin, "--cpu", strconv.Itoa(cpus))
	hash := createPinned(t, dir, "dump-cpu-hash", hashSpec)
	if r := mustRun(t, 2, "", "dump", hash, "--cpu", "0"); !strings.Contains(r.stderr, "--cpu applies to per-CPU maps only") {
		t.Errorf("--cpu on a hash: %q", r.stderr)
	}
}

// A map-in-map reads back inner map IDs: the text dump says so in a
// comment line (which load skips), JSON keeps stdout clean and notes it on
// stderr, naming the map as the comment line does (issue 14, item 7); the
// IDs are the slot's raw lookup.
func TestDumpMapInMapNotesIDs(t *testing.T) {
	dir := pinDir(t)
	inner := bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4}
	pin, _ := outerWithInner(t, dir, "dump-outer", bpfbatch.ArrayOfMaps, inner, u32(2))
	raw, err := testutil.Lookup(openPinned(t, pin).FD(), u32(2), 4)
	if err != nil {
		t.Fatal(err)
	}
	id := binary.NativeEndian.Uint32(raw)
	r := mustRun(t, 0, "", "dump", pin, "--key-format", "u32", "--value-format", "u32")
	if !regexp.MustCompile(`^# ArrayOfMaps map \(id \d+\) holds inner maps: the values are their map IDs`).MatchString(r.stdout) ||
		!strings.HasSuffix(r.stdout, fmt.Sprintf("\n2 %d\n", id)) || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("text dump:\n%s", r.stdout)
	}
	r = mustRun(t, 0, "", "dump", pin, "--key-format", "u32", "--value-format", "u32", "--format", "json")
	note := fmt.Sprintf("bpfbatch: note: ArrayOfMaps map (id %d) holds inner maps: the values are their map IDs", openPinned(t, pin).Info().ID)
	if r.stdout != fmt.Sprintf(`{"key": 2, "value": %d}`+"\n", id) || !strings.HasPrefix(r.stderr, note) {
		t.Errorf("json dump: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	queue := createPinned(t, dir, "dump-queue", bpfbatch.MapSpec{Type: bpfbatch.Queue, ValueSize: 4, MaxEntries: 4})
	if r := mustRun(t, 2, "", "dump", queue); !strings.Contains(r.stderr, "Queue maps have no keys to walk") {
		t.Errorf("dump of a queue: %q", r.stderr)
	}
}

// A signal stops a dump between two chunks: the output ends after a whole
// line, and the message counts exactly the lines printed (exit 1). The
// reader holds the pipe full until the signal is sent, so the dump is
// caught mid-way whatever the machine's speed.
func TestDumpInterruptedSaysWhatWasPrinted(t *testing.T) {
	dir := pinDir(t)
	const n = 200_000
	pin := createPinned(t, dir, "dump-interrupt", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	m := openPinned(t, pin)
	keys, values := make([]byte, 0, 4*n), make([]byte, 8*n)
	for i := range n {
		keys = append(keys, u32(uint32(i))...)
	}
	if _, err := m.UpdateBatch(keys, values, bpfbatch.UpdateAny); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildCommand(t), "dump", pin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond) // the pipe (64 KiB) fills, the dump blocks
	cmd.Process.Signal(os.Interrupt)
	out, err := io.ReadAll(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; stderr: %s", err, stderr.String())
	}
	match := regexp.MustCompile(`interrupted after (\d+) entries; the output is incomplete`).FindStringSubmatch(stderr.String())
	if match == nil {
		t.Fatalf("stderr: %s", stderr.String())
	}
	printed, _ := strconv.Atoi(match[1])
	if lines := bytes.Count(out, []byte("\n")); lines != printed || printed == 0 || printed >= n || (len(out) > 0 && out[len(out)-1] != '\n') {
		t.Errorf("%d whole lines (%d bytes) in the output, the message says %d of %d", lines, len(out), printed, n)
	}
	if !regexp.MustCompile(`^([0-9a-f]{8} 0{16}\n)+$`).Match(out) {
		t.Errorf("output is not whole hex lines: starts %q, ends %q", out[:min(len(out), 40)], out[max(0, len(out)-40):])
	}
}

// dumpTo runs dump of pin with stdout going to out, and returns the exit
// status and stderr.
func dumpTo(t *testing.T, out *os.File, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildCommand(t), append([]string{"dump"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	checkMessages(t, stderr.String())
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// A dump to a full device counts what reached it: the whole lines written,
// not those still in the buffer when the write failed. On /dev/full
// nothing ever does (issue 14, item 5: it said "10082 entries printed
// before it").
func TestDumpToFullDeviceCountsWhatReachedIt(t *testing.T) {
	dir := pinDir(t)
	pin, _ := filledHash(t, dir, "dump-full", 50_000, 50_000) // 1.3 MB of text: several buffers
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	code, stderr := dumpTo(t, full, pin)
	if want := "no space left on device; the output is incomplete: 0 entries printed before it"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
}

// A reader that closes the pipe early (bpfbatch dump | head -1) wanted no
// more: the dump stops quietly, exit 0, as dump -h says (issue 14, item 5:
// it died of SIGPIPE, 141).
func TestDumpReaderClosingPipeIsNoFailure(t *testing.T) {
	dir := pinDir(t)
	pin, _ := filledHash(t, dir, "dump-head", 200_000, 200_000) // more than the pipe and the dump's buffer hold
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(buildCommand(t), "dump", pin)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	w.Close() // the dump holds the write end
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // head -1 is done
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
		if code := cmd.ProcessState.ExitCode(); code != 0 || stderr.Len() != 0 {
			t.Errorf("after the reader closed the pipe: exit %d (%s), stderr %q; want 0 and nothing", code, cmd.ProcessState, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("dump still running a minute after its reader closed the pipe")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8} [0-9a-f]{16}\n$`).MatchString(line) {
		t.Errorf("first line %q", line)
	}
	if _, stdout, _ := runCLI("dump", "-h"); !strings.Contains(stdout, "Exit status: 0 success, or the reader of the output closed it early") {
		t.Errorf("dump -h does not say what a closed pipe does:\n%s", stdout)
	}
}

// dumpPeakRSS runs the command with args, hands each line of its output to
// check as it comes, keeping none, and returns the lines, the bytes and
// the command's peak RSS. The child's rusage would count the test's own
// memory (the child shares it until exec), so the peak is read from /proc
// instead: VmHWM of the running dump, which blocks on the pipe while this
// reads.
func dumpPeakRSS(t *testing.T, args []string, check func(line string)) (lines, bytesOut int, peakKiB int64) {
	t.Helper()
	cmd := exec.Command(buildCommand(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sample := func() {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status); err == nil && m != nil {
			kib, _ := strconv.ParseInt(string(m[1]), 10, 64)
			peakKiB = max(peakKiB, kib)
		}
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines++
		bytesOut += len(sc.Bytes()) + 1
		check(sc.Text())
		if lines%50_000 == 0 {
			sample()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return lines, bytesOut, peakKiB
}

// The btf format streams too: 300 000 entries of struct conn_key ->
// struct conn_value are 19 MB of keys and values and 48 MB of JSON; the
// dump's peak RSS stays below what holding the entries would take.
func TestDumpBTFStreamsInBoundedMemory(t *testing.T) {
	dir := pinDir(t)
	const n = 300_000
	pin := createBTFPinned(t, dir, "dump-btf-big", bpfbatch.Hash, connKeyBTF, connValueBTF, 0, n)
	m := openPinned(t, pin)
	keys, values := make([]byte, 16*n), make([]byte, 48*n)
	for i := range n {
		binary.NativeEndian.PutUint32(keys[16*i:], uint32(i))
		binary.NativeEndian.PutUint64(values[48*i:], uint64(i)*3)
		copy(values[48*i+24:], "worker")
	}
	if _, err := m.UpdateBatch(keys, values, bpfbatch.UpdateAny); err != nil {
		t.Fatal(err)
	}
	lines, bytesOut, peakKiB := dumpPeakRSS(t, []string{"dump", pin, "--format", "json"}, func(line string) {
		if !strings.HasPrefix(line, `{"key": {"saddr":`) || !strings.Contains(line, `"comm":"worker","state":"NEW"`) {
			t.Fatalf("line %q", line)
		}
	})
	if lines != n {
		t.Fatalf("%d lines, want %d", lines, n)
	}
	t.Logf("dumped %d entries, %d bytes; peak RSS %d KiB", n, bytesOut, peakKiB)
	if peakKiB == 0 || peakKiB<<10 >= 64*n {
		t.Errorf("peak RSS %d KiB while dumping %d entries (%d MB of keys and values): the dump does not stream", peakKiB, n, 64*n>>20)
	}
}

// btfCase is a map with BTF for its key and value.
type btfCase struct {
	name       string
	typ        bpfbatch.MapType
	key, value btf.Type // key nil: an array's u32 index without BTF
	entries    int      // 0: 100
}

func btfCases() []btfCase {
	return []btfCase{
		{name: "struct key and value", typ: bpfbatch.Hash, key: connKeyBTF, value: connValueBTF},
		{name: "nested union bitfields", typ: bpfbatch.Hash, key: btfU64, value: ruleBTF},
		{name: "array", typ: bpfbatch.Array, key: btfU32, value: ruleBTF},
		{name: "global data", typ: bpfbatch.Array, value: dataSecBTF, entries: 1},
		{name: "percpu hash", typ: bpfbatch.PerCPUHash, key: connKeyBTF, value: counterBTF},
		{name: "lru hash enum64", typ: bpfbatch.LRUHash, key: btfS32, value: enum64BTF},
	}
}

// fillBTF creates a map of bc with BTF at dir/name and fills it with n
// canonical entries; it returns the pin and what the map holds.
func fillBTF(t *testing.T, dir, name string, bc btfCase, n int) (string, map[string][]byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(len(name)), 7))
	pin := createBTFPinned(t, dir, name, bc.typ, bc.key, bc.value, 4, uint32(n))
	m := openPinned(t, pin)
	var keys [][]byte
	if bc.typ.IsArray() {
		for i := range n {
			keys = append(keys, u32(uint32(i)))
		}
	} else {
		keys = canonical(t, r, bc.key, n)
	}
	vs := canonical(t, r, bc.value, n+possibleCPUs(t))
	var kb, vb []byte
	for i, k := range keys {
		kb = append(kb, k...)
		if bc.typ.PerCPU() {
			var per [][]byte
			for c := range possibleCPUs(t) {
				per = append(per, vs[i+c])
			}
			vb = append(vb, perCPU(len(vs[0]), per...)...)
		} else {
			vb = append(vb, vs[i]...)
		}
	}
	if _, err := m.UpdateBatch(kb, vb, bpfbatch.UpdateAny); err != nil {
		t.Fatal(err)
	}
	return pin, pinnedContents(t, pin)
}

// checkEnum64 checks how the 8-byte enums of enum64BTF print: as enums
// (a name or a number) from Linux 6.0, which has BTF_KIND_ENUM64; before,
// as the union of one integer per enumerator that cilium/ebpf, like libbpf,
// loads in its place, which the kernel's BTF then holds, and bpftool prints
// too.
func checkEnum64(t *testing.T, out string) {
	t.Helper()
	var e struct{ Value struct{ U json.RawMessage } }
	line, _, _ := strings.Cut(out, "\n")
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if union := strings.HasPrefix(string(e.Value.U), `{"W_TOP":`); union == testutil.KernelAtLeast(6, 0) {
		t.Errorf("Linux %s: an 8-byte enum prints as %s", testutil.KernelRelease(), e.Value.U)
	}
}

// bpftoolFormatted is bpftool's "formatted" JSON of every entry of the
// map pinned at pin, by the entry's key bytes: the key's and the value's
// (per-CPU maps: "values") raw JSON, as bpftool printed it.
func bpftoolFormatted(t *testing.T, pin string) map[string][2]string {
	t.Helper()
	out, err := exec.Command(bpftoolPath(t), "-j", "map", "dump", "pinned", pin).Output()
	if err != nil {
		t.Fatalf("bpftool map dump: %v", err)
	}
	var entries []struct {
		Key       []string `json:"key"`
		Formatted struct {
			Key    json.RawMessage `json:"key"`
			Value  json.RawMessage `json:"value"`
			Values json.RawMessage `json:"values"`
		} `json:"formatted"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("bpftool's JSON: %v\n%.500s", err, out)
	}
	got := map[string][2]string{}
	for _, e := range entries {
		v := e.Formatted.Value
		if v == nil {
			v = e.Formatted.Values
		}
		got[string(bytesOf(t, e.Key))] = [2]string{string(e.Formatted.Key), string(v)}
	}
	return got
}

func bytesOf(t *testing.T, hexes []string) []byte {
	t.Helper()
	b := make([]byte, len(hexes))
	for i, h := range hexes {
		if _, err := fmt.Sscanf(h, "0x%02x", &b[i]); err != nil {
			t.Fatalf("bpftool byte %q", h)
		}
	}
	return b
}

// dumpJSONLines parses dump --format json: each line's "key" and "value"
// (or "values") raw JSON, as printed.
func dumpJSONLines(t *testing.T, out string) [][2]string {
	t.Helper()
	var lines [][2]string
	for line := range strings.Lines(out) {
		var e struct {
			Key    json.RawMessage `json:"key"`
			Value  json.RawMessage `json:"value"`
			Values json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		v := e.Value
		if v == nil {
			v = e.Values
		}
		lines = append(lines, [2]string{string(e.Key), string(v)})
	}
	return lines
}

// On maps with BTF, dump --format json prints by default what bpftool
// prints in "formatted" for each entry, byte for byte: structs by member,
// unions, nested structs and arrays, typedefs, enums of 1, 2, 4 and 8
// bytes, signed integers and bitfields, per-CPU "values". Loading that
// dump into a map of the same BTF copies the map byte for byte, in JSON
// and in text with --key-format btf --value-format btf.
func TestDumpBTFMatchesBpftool(t *testing.T) {
	dir := pinDir(t)
	bpftoolPath(t)
	for i, bc := range btfCases() {
		t.Run(bc.name, func(t *testing.T) {
			n := cmp.Or(bc.entries, 100)
			pin, want := fillBTF(t, dir, fmt.Sprintf("btf%d", i), bc, n)
			out := mustRun(t, 0, "", "dump", pin, "--format", "json")
			if out.stderr != "" {
				t.Errorf("stderr: %s", out.stderr)
			}
			if bc.value == enum64BTF {
				checkEnum64(t, out.stdout)
			}
			formatted := bpftoolFormatted(t, pin)
			lines := dumpJSONLines(t, out.stdout)
			if len(lines) != len(formatted) {
				t.Fatalf("dump printed %d entries, bpftool %d", len(lines), len(formatted))
			}
			for _, l := range lines {
				key := l[0]
				if bc.key == nil {
					// No key type: bpftool prints no formatted key; dump
					// prints the index.
					var idx uint32
					if err := json.Unmarshal([]byte(key), &idx); err != nil {
						t.Fatalf("key %s: want an index", key)
					}
					if f, ok := formatted[string(u32(idx))]; !ok || f[0] != "" || f[1] != l[1] {
						t.Fatalf("index %d: dump %s, bpftool %v", idx, l[1], f)
					}
					continue
				}
				found := false
				for _, f := range formatted {
					if f[0] == key {
						found = true
						if f[1] != l[1] {
							t.Fatalf("key %s:\ndump    %s\nbpftool %s", key, l[1], f[1])
						}
					}
				}
				if !found {
					t.Fatalf("dump's key %s is not bpftool's", key)
				}
			}
			for j, syntax := range [][]string{{"--format", "json"}, {"--format", "text", "--key-format", "btf", "--value-format", "btf"}} {
				if bc.key == nil && syntax[1] == "text" {
					syntax = []string{"--format", "text", "--key-format", "u32", "--value-format", "btf"}
				}
				copyPin := createBTFPinned(t, dir, fmt.Sprintf("btf%dcopy%d", i, j), bc.typ, bc.key, bc.value, 4, uint32(n))
				out := mustRun(t, 0, "", append([]string{"dump", pin}, syntax...)...)
				mustRun(t, 0, out.stdout, append([]string{"load", copyPin, "-"}, syntax...)...)
				sameContents(t, syntax[1]+" copy", pinnedContents(t, copyPin), want)
			}
		})
	}
}
