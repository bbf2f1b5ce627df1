package main

// End-to-end tests of what a load promises beyond parsing: a repeated key
// keeps its last line's value whatever the workers, ordered maps load in
// order, --stream holds a bounded block, a signal stops a load at once and
// the run says exactly what was written.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

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
	pin := createPinned(t, dir, "lpm-dups", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 40000, Flags: 1})
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
	r := mustRun(t, 0, b.String(), "load", pin, "-", "--chunk", "20000", "--workers", "2")
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

// --version prints the module version ("(devel)" for a build from a
// clone) and the Go toolchain that built it.
func TestVersionOfBuiltCommand(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		r := mustRun(t, 0, "", arg)
		if !regexp.MustCompile(`^bpfbatch (\(devel\)|v\S+)`).MatchString(r.stdout) || !strings.Contains(r.stdout, runtime.Version()) {
			t.Errorf("%s: stdout = %q", arg, r.stdout)
		}
	}
}
