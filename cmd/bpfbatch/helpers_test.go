package main

// Helpers of the tests: running the command (built once, or in-process),
// maps pinned on a real bpf filesystem, and reading maps back through raw
// bpf(2) calls, independently of the library and the command.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
	"github.com/bpfbatch/bpfbatch/internal/sys"
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
		// Tests run the command as another user too.
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
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

// runAs is run as the user uid (and group gid), without capabilities.
func runAs(t *testing.T, uid, gid uint32, stdin string, args ...string) result {
	t.Helper()
	return runCmd(t, 10*time.Minute, &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}, stdin, args...)
}

// runWithin is run with a deadline: a command still running after d is
// killed and the test fails, instead of hanging the test binary.
func runWithin(t *testing.T, d time.Duration, stdin string, args ...string) result {
	t.Helper()
	return runCmd(t, d, nil, stdin, args...)
}

func runCmd(t *testing.T, d time.Duration, attr *syscall.SysProcAttr, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildCommand(t), args...)
	cmd.SysProcAttr = attr
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

// rawContents reads every entry of the map behind fd with raw
// BPF_MAP_GET_NEXT_KEY and BPF_MAP_LOOKUP_ELEM calls, independently of the
// library and the command: key bytes (as a string) -> the whole value,
// valueLen bytes (every CPU's slot for per-CPU maps).
func rawContents(t *testing.T, fd, keySize, valueLen int) map[string][]byte {
	t.Helper()
	keys, err := testutil.Keys(fd, keySize)
	if err != nil {
		t.Fatalf("BPF_MAP_GET_NEXT_KEY: %v", err)
	}
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, err := testutil.Lookup(fd, k, valueLen)
		if err != nil {
			t.Fatalf("BPF_MAP_LOOKUP_ELEM(%x): %v", k, err)
		}
		out[string(k)] = v
	}
	return out
}

// pinnedContents is rawContents of the map pinned at pin.
func pinnedContents(t *testing.T, pin string) map[string][]byte {
	t.Helper()
	m := openPinned(t, pin)
	return rawContents(t, m.FD(), int(m.Info().KeySize), m.ValueStride())
}

// sameContents fails unless got and want hold the same keys and values,
// byte for byte.
func sameContents(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(got), len(want))
	}
	bad := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok || !bytes.Equal(g, w) {
			if bad++; bad <= 5 {
				t.Errorf("%s: key %x = %x (present %v), want %x", what, k, g, ok, w)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d entries differ in all", what, bad)
	}
}

// perCPUCounting is a per-CPU value of valueSize 4 or 8 (a native
// integer) holding first+c on CPU c.
func perCPUCounting(valueSize, cpus int, first uint64) []byte {
	vals := make([][]byte, cpus)
	for c := range vals {
		vals[c] = u64(first + uint64(c))
		if valueSize == 4 {
			vals[c] = u32(uint32(first) + uint32(c))
		}
	}
	return perCPU(valueSize, vals...)
}

// rawOpenByID opens a map by ID with a raw BPF_MAP_GET_FD_BY_ID, for
// inner maps, independently of the library; the fd is closed at the end.
func rawOpenByID(t *testing.T, id uint32) int {
	t.Helper()
	attr := sys.MapGetFDByIDAttr{ID: id}
	fd, errno := sys.MapGetFDByID(&attr)
	if errno != 0 {
		t.Fatalf("BPF_MAP_GET_FD_BY_ID %d: %v", id, errno)
	}
	t.Cleanup(func() { fd.Close() })
	return fd.Int()
}

// rawInfo reads a map's description with a raw BPF_OBJ_GET_INFO_BY_FD.
func rawInfo(t *testing.T, fd int) sys.MapInfo {
	t.Helper()
	f, err := sys.DupRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var info sys.MapInfo
	if errno := sys.MapGetInfo(f, &info); errno != 0 {
		t.Fatalf("BPF_OBJ_GET_INFO_BY_FD: %v", errno)
	}
	return info
}

// outerWithInner creates an outer map of typ holding, at slot key, an
// inner map of spec filled with entries, pins the outer map, and returns
// its pin and the inner map (which the test keeps open).
func outerWithInner(t *testing.T, dir, name string, typ bpfbatch.MapType, spec bpfbatch.MapSpec, key []byte, entries ...entry) (string, *bpfbatch.Map) {
	t.Helper()
	inner, err := bpfbatch.CreateMap(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	for _, e := range entries {
		if _, err := inner.UpdateBatch(e.key, e.value, bpfbatch.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	pin := createPinned(t, dir, name, bpfbatch.MapSpec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 8, InnerMapFD: inner.FD()})
	if key != nil {
		outer := openPinned(t, pin)
		if err := testutil.Update(outer.FD(), key, u32(uint32(inner.FD())), 0); err != nil {
			t.Fatalf("set slot %x: %v", key, err)
		}
	}
	return pin, inner
}

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

func hexU32(v uint32) string { return fmt.Sprintf("%x", u32(v)) }

// keyValueLines writes "K K" lines for keys from..to.
func keyValueLines(from, to int) string {
	var b strings.Builder
	for k := from; k <= to; k++ {
		fmt.Fprintf(&b, "%d %d\n", k, k)
	}
	return b.String()
}

// proc is a running bpfbatch with a pipe on its stdin, for signal tests.
type proc struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr bytes.Buffer
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(buildCommand(t), args...)}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.stdin.Close(); p.cmd.Wait() })
	return p
}

// waitExit waits for the process to exit within d and returns its status;
// a process still running then is killed and the test fails.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		checkMessages(t, p.stderr.String())
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s after the signal; killed\nstdout: %s\nstderr: %s", d, p.stdout.String(), p.stderr.String())
		return -1
	}
}

// waitKeys waits until the map holds n keys.
func waitKeys(t *testing.T, m *bpfbatch.Map, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); countKeys(t, m) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys not written after 10s", n)
		}
	}
}

// runCLI runs the command in-process.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut, false)
	code = c.exit(c.run(context.Background(), args))
	return code, out.String(), errOut.String()
}

// BTF types of the tests' maps, named as a C compiler names them: one per
// case of bpftool's printing that the btf format covers.
var (
	btfU8   = &btf.Int{Name: "unsigned char", Size: 1}
	btfS8   = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	btfU16  = &btf.Int{Name: "unsigned short", Size: 2}
	btfS16  = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	btfU32  = &btf.Int{Name: "unsigned int", Size: 4}
	btfS32  = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	btfU64  = &btf.Int{Name: "unsigned long long", Size: 8}
	btfS64  = &btf.Int{Name: "long long", Size: 8, Encoding: btf.Signed}
	btfBool = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	btfChar = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed} // as clang emits it
)

func btfArray(t btf.Type, n uint32) *btf.Array { return &btf.Array{Index: btfU32, Type: t, Nelems: n} }

// btfMember is a struct member at byte offset off.
func btfMember(name string, t btf.Type, off uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(8 * off)}
}

// btfBitfield is a member of bits bits at bit offset bitOff.
func btfBitfield(name string, t btf.Type, bitOff, bits uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(bitOff), BitfieldSize: btf.Bits(bits)}
}

// connKeyBTF is a typical key: a struct with padding between and after
// its members.
var connKeyBTF = &btf.Struct{Name: "conn_key", Size: 16, Members: []btf.Member{
	btfMember("saddr", btfU32, 0),
	btfMember("daddr", btfU32, 4),
	btfMember("sport", btfU16, 8),
	btfMember("dport", btfU16, 10),
	btfMember("proto", btfU8, 12),
}}

// connValueBTF is a typical value: counters, a typedef'd signed time, a
// name, a 4-byte enum.
var connValueBTF = &btf.Struct{Name: "conn_value", Size: 48, Members: []btf.Member{
	btfMember("packets", btfU64, 0),
	btfMember("bytes", btfU64, 8),
	btfMember("last_seen", &btf.Typedef{Name: "__s64", Type: btfS64}, 16),
	btfMember("comm", btfArray(btfChar, 16), 24),
	btfMember("state", &btf.Enum{Name: "conn_state", Size: 4, Values: []btf.EnumValue{
		{Name: "NEW", Value: 0}, {Name: "ESTABLISHED", Value: 1}, {Name: "CLOSED", Value: 2},
	}}, 40),
	btfMember("flags", btfU16, 44),
}}

// ruleBTF nests: a union, an array of anonymous structs, a typedef of a
// 1-byte enum, signed integers of every size, bitfields (one signed, one
// crossing a byte), a 2-byte signed enum.
var ruleBTF = &btf.Struct{Name: "rule", Size: 48, Members: []btf.Member{
	btfMember("addr", &btf.Union{Name: "addr", Size: 16, Members: []btf.Member{
		btfMember("v4", btfU32, 0), btfMember("v6", btfArray(btfU8, 16), 0),
	}}, 0),
	btfMember("ports", btfArray(&btf.Struct{Size: 4, Members: []btf.Member{
		btfMember("lo", btfU16, 0), btfMember("hi", btfU16, 2),
	}}, 2), 16),
	btfMember("action", &btf.Typedef{Name: "action_t", Type: &btf.Enum{Name: "action", Size: 1, Values: []btf.EnumValue{
		{Name: "PASS", Value: 0}, {Name: "DROP", Value: 1}, {Name: "REDIRECT", Value: 200},
	}}}, 24),
	btfMember("prio", btfS8, 25),
	btfMember("weight", btfS16, 26),
	btfMember("delta", btfS32, 28),
	btfBitfield("a", btfU32, 256, 3),
	btfBitfield("b", btfU32, 259, 9),
	btfBitfield("c", btfS32, 268, 5),
	btfBitfield("on", btfBool, 273, 1),
	btfMember("dir", &btf.Enum{Name: "dir", Size: 2, Signed: true, Values: []btf.EnumValue{
		{Name: "IN", Value: 1}, {Name: "OUT", Value: neg(1)},
	}}, 36),
	btfMember("total", btfS64, 40),
}}

// enum64BTF has 8-byte enums, signed and unsigned (BTF_KIND_ENUM64, which
// kernels before 6.0 do not know: there cilium/ebpf loads a union in its
// place).
var enum64BTF = &btf.Struct{Name: "wide", Size: 16, Members: []btf.Member{
	btfMember("u", &btf.Enum{Name: "wide_u", Size: 8, Values: []btf.EnumValue{{Name: "W_TOP", Value: 1 << 63}, {Name: "W_MAX", Value: 1<<64 - 1}}}, 0),
	btfMember("s", &btf.Enum{Name: "wide_s", Size: 8, Signed: true, Values: []btf.EnumValue{{Name: "W_MIN", Value: neg(1 << 63)}, {Name: "W_M2", Value: neg(2)}}}, 8),
}}

// counterBTF is a per-CPU value of 13 bytes: slots of 16, 3 bytes of slot
// padding.
var counterBTF = &btf.Struct{Name: "counter", Size: 13, Members: []btf.Member{
	btfMember("count", btfU64, 0), btfMember("tag", btfArray(btfChar, 4), 8), btfMember("on", btfBool, 12),
}}

// dataSecBTF is the value of a global data map (.data): a datasec, under
// which the map has no key type.
var dataSecBTF = &btf.Datasec{Name: ".data", Size: 24, Vars: []btf.VarSecinfo{
	{Type: &btf.Var{Name: "counter", Type: btfU64, Linkage: btf.GlobalVar}, Offset: 0, Size: 8},
	{Type: &btf.Var{Name: "name", Type: btfArray(btfChar, 6), Linkage: btf.GlobalVar}, Offset: 8, Size: 6},
	{Type: &btf.Var{Name: "mode", Type: &btf.Enum{Name: "mode", Size: 4, Values: []btf.EnumValue{{Name: "OFF"}, {Name: "ON", Value: 1}}}, Linkage: btf.GlobalVar}, Offset: 16, Size: 4},
}}

func neg(x uint64) uint64 { return -x }

// loadBTF loads the BTF of key and value (key may be nil), returning its
// handle and their type IDs; the handle is closed at the end of the test.
func loadBTF(t *testing.T, key, value btf.Type) (h *btf.Handle, keyID, valueID btf.TypeID, err error) {
	t.Helper()
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		if keyID, err = b.Add(key); err != nil {
			t.Fatal(err)
		}
	}
	if valueID, err = b.Add(value); err != nil {
		t.Fatal(err)
	}
	if h, err = btf.NewHandle(b); err != nil {
		return nil, 0, 0, err
	}
	t.Cleanup(func() { h.Close() })
	return h, keyID, valueID, nil
}

// createBTFPinned creates a map of typ whose key and value are described
// by BTF (key may be nil: a key without BTF, of keySize bytes), as a
// program's loader makes them, and pins it at dir/name.
func createBTFPinned(t *testing.T, dir, name string, typ bpfbatch.MapType, key, value btf.Type, keySize, maxEntries uint32) string {
	t.Helper()
	h, keyID, valueID, err := loadBTF(t, key, value)
	if err != nil {
		t.Fatalf("load BTF: %v", err)
	}
	if key != nil {
		n, _ := btf.Sizeof(key)
		keySize = uint32(n)
	}
	vs, _ := btf.Sizeof(value)
	return createPinned(t, dir, name, bpfbatch.MapSpec{
		Type: typ, KeySize: keySize, ValueSize: uint32(vs), MaxEntries: maxEntries, Name: mapName(name),
		BTFFD: h.FD(), BTFKeyTypeID: uint32(keyID), BTFValueTypeID: uint32(valueID),
	})
}

// mapName is name as a map name: '-' becomes '_', and the kernel keeps
// 15 characters.
func mapName(name string) string {
	name = strings.ReplaceAll(name, "-", "_")
	return name[:min(len(name), 15)]
}

// canonical returns n random values of type t of the bytes that the
// btf format prints and reads back unchanged (padding zero, bools 0 or 1,
// a string's tail zero), without '"' or '\', which bpftool does not print
// as JSON.
func canonical(t *testing.T, r *rand.Rand, typ btf.Type, n int) [][]byte {
	t.Helper()
	c, err := btfjson.New(typ)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, 0, n)
	seen := map[string]bool{}
	for len(out) < n {
		b := make([]byte, c.Size())
		for i := range b {
			switch r.IntN(4) {
			case 0: // zero
			case 1:
				b[i] = byte('a' + r.IntN(26)) // strings
			default:
				b[i] = byte(r.Uint32())
			}
			if b[i] == '"' || b[i] == '\\' {
				b[i] = '#'
			}
		}
		text, err := c.Append(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Parse(b, text); err != nil {
			t.Fatalf("Parse(%s): %v", text, err)
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	return out
}
