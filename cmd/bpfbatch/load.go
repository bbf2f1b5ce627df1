package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

// defaultChunk is the number of entries per BPF_MAP_UPDATE_BATCH call.
//
// It is not what makes the load fast: a few dozen entries per call already
// get nearly all of the batch command's gain over one syscall per element.
// Chunks give the progress line and Ctrl-C a point to act on between
// syscalls, and bound the time one call spends in the kernel, whose update
// loop does not look at signals. The measurements behind the number are in
// bench/README.md ("The command's constants").
const defaultChunk = 4096

// maxStreamBlock caps the entries --stream reads before writing them
// (--chunk x --workers): the product of two flags can overflow int, and
// --stream promises bounded memory. A million entries is far past the
// size where bigger calls stop paying.
const maxStreamBlock = 1 << 20

const loadAbout = `Writes the entries in FILE (- for stdin) into the map MAP with
BPF_MAP_UPDATE_BATCH, in chunks of --chunk entries per syscall.

` + mapHelp + `

Input: one entry per line; blank lines and lines starting with # are skipped.
  text   KEY VALUE            (per-CPU maps: KEY and one VALUE per possible CPU,
                               or KEY VALUE with --all-cpus or --cpu N;
                               keyless maps: VALUE)
  json   {"key": K, "value": V}
         K and V are strings in the key/value format, byte arrays such as
         [10, 0, 0, 1], or numbers for the integer formats; for per-CPU maps
         V is an array of one value per possible CPU. In the btf format K
         and V are bpftool's formatted JSON (as dump prints them), and a
         per-CPU map's are "values": [{"cpu": N, "value": V}, ...].
  bpftool-json
         what 'bpftool -j map dump' prints: one JSON array of
         {"key": ["0x0a", ...], "value": [...]} (per-CPU: "values"); the
         bytes are given, so the formats do not apply.
The first entry line decides between text and json unless --format says;
bpftool-json is never guessed.

Key and value formats (--key-format, --value-format):
  hex     the raw bytes, two hex digits per byte, exactly the key/value size
  u8, u16, u32, u64
          unsigned decimal (or 0x-prefixed hex), stored in native byte order,
          as BPF programs read integers
  cidr    10.0.0.0/8 or 2001:db8::/32 as an LPM trie key (u32 prefixlen +
          address, 8 or 20 bytes); a bare address is a full-length prefix;
          host bits beyond the prefix are rejected unless --mask-host-bits
  ip      an IPv4 or IPv6 address in network byte order (4 or 16 bytes)
  btf     the key or value by the map's BTF type, as bpftool's formatted
          JSON (structs as objects by member name, ...); every member must
          be given, and an error names the line and the member. In text
          lines each column is one JSON value.
Defaults: btf in JSON lines for a map with BTF (reading it takes
CAP_SYS_ADMIN), cidr for the keys of an LPM trie with 8- or 20-byte keys,
else hex. 'bpfbatch info MAP' lists the formats that fit a map.

Safety: the whole input is parsed and checked against the map (sizes, array
indices, LPM prefix lengths) before the first write, so a bad line at the
end does not leave a half-loaded map. --stream instead writes the input in
blocks of --chunk x --workers entries (at most 1048576; with --chunk 0,
4096 x --workers, each block split evenly) as it is read, for inputs too
large to hold in memory; a bad line then stops the load with the entries
before it written. The kernel applies entries in order and stops at
the first it refuses (map full, ...): the entries before it stay written,
and the error names its input line.

A key repeated in the input is one entry: its last line wins, whatever
--workers. Each key is written once, from its last line (with --stream,
once per block; a later block is written after an earlier one, so its
line wins). LPM trie keys that differ only in host bits are one prefix.
Queue and stack maps keep the order of the writes: they load with one
worker, every line an entry of its own.

--flags noexist and exist cost one BPF_MAP_UPDATE_ELEM syscall per entry:
the kernel's batch command refuses them.

Per-CPU maps: --all-cpus writes one value per entry to every possible CPU
(BPF_F_ALL_CPUS from Linux 7.0; before that the library lays it out into
every CPU's slot). --cpu N writes CPU N's value only, leaving the others
alone (BPF_F_CPU, Linux 7.0 or later: before that nothing is written and
the load fails, exit 1).

LRU maps evict before they are full: after the load, a lookup of every key
written counts those present (about a microsecond each), and if the
kernel evicted some, the load fails (exit 1) and says how many are there.
--stream does not keep the keys, and does not count. An LRU map holds
without evicting at most max_entries - 128 x possible CPUs entries
(max_entries / possible CPUs - 1 with BPF_F_NO_COMMON_LRU): the kernel
keeps up to 128 free elements per CPU and evicts when the rest runs out.

--dry-run also walks the map's keys and says how many input keys are new,
how many it holds already, and whether the new ones fit in max_entries
(hash maps and LPM tries; LRU maps evict, arrays hold every index), and
where --flags noexist or exist would stop; a load that would not fit
exits 2, and one into a map the process cannot write (frozen, read-only)
exits 1. 'bpfbatch dump' prints a map in this input format.

Output: a progress line on stderr when it is a terminal, and a one-line
summary on stdout. Ctrl-C or SIGTERM stops the load at once, between two
syscalls or while waiting for input, and says what was written; a second
one kills the process. Exit status: 0 success; 1 the map could not be
opened or written, an LRU map evicted entries the load wrote, or the load
was interrupted (the message says how many entries were written and which
input line failed); 2 bad command line (a FILE that is a directory, too)
or bad input.

Examples:
  bpfbatch load /sys/fs/bpf/blocklist cidrs.txt --value-format u32
  bpfbatch load /sys/fs/bpf/counters - --key-format u32 --value-format u64 --all-cpus < counts.txt
  bpfbatch load /sys/fs/bpf/conns entries.jsonl --dry-run
  bpftool -j map dump pinned /sys/fs/bpf/old | bpfbatch load --format bpftool-json /sys/fs/bpf/new -
`

type loadFlags struct {
	flags          string
	dryRun, stream bool
	cpu            int
}

func (c *cli) load(ctx context.Context, args []string) error {
	e := newEntryCommand("load", loadAbout, "BPF_MAP_UPDATE_BATCH", true)
	cmd := e.cmd
	var lf loadFlags
	cmd.fs.StringVar(&lf.flags, "flags", "any", "update flags: any, noexist (only new keys), exist (only existing keys), lock (bpf_spin_lock\nin the value), or a combination such as noexist,lock")
	cmd.fs.BoolVar(&lf.dryRun, "dry-run", false, "parse and check the whole input against the map and its current contents (how many\nkeys are new, whether they fit), write nothing; exit 2 if the load would not fit,\n1 if the map cannot be written")
	cmd.fs.BoolVar(&lf.stream, "stream", false, "write the input in blocks of --chunk x --workers entries (at most 1048576) as they\nare read, instead of checking the whole input first (for inputs too large to hold in memory)")
	cmd.fs.IntVar(&lf.cpu, "cpu", -1, "per-CPU maps: one value per entry, written to CPU `N` only; the other CPUs' values\nare left alone (BPF_F_CPU: Linux 7.0 or later)")
	pin, file, opts, err := e.parse(c, args)
	if err != nil {
		return err
	}
	flags, err := parseUpdateFlags(lf.flags)
	if err != nil {
		return cmd.usageError("--flags: %v", err)
	}
	if lf.cpu >= 0 && e.in.allCPUs {
		return cmd.usageError("--cpu writes one CPU's value, --all-cpus every CPU's; pick one")
	}

	m, err := e.openMap(c, loadable)
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	if e.batch.workers > 1 && (info.Type == bpfbatch.Queue || info.Type == bpfbatch.Stack) {
		return badInput("load %s: %s maps keep the order of the writes, which --workers %d would scramble (chunks land in any order); use --workers 1", pin, info.Type, e.batch.workers)
	}
	if flags&bpfbatch.UpdateLock != 0 && info.BTFValueTypeID == 0 {
		return badInput("load %s: --flags lock needs a struct bpf_spin_lock in the value, described by BTF; %s has no value BTF", pin, m)
	}
	// --all-cpus and --cpu hand the library one value per entry, which it
	// (or, from Linux 7.0, the kernel) puts in every CPU's slot or in
	// one: the input has no per-CPU columns then.
	switch {
	case e.in.allCPUs:
		if !info.Type.PerCPU() {
			return cmd.usageError("--all-cpus applies to per-CPU maps only; %s has one value per element", m)
		}
		flags |= bpfbatch.UpdateAllCPUs
		opts.AllCPUs = false
	case lf.cpu >= 0:
		if err := checkCPU(cmd, pin, m, lf.cpu, "nothing was written", "Give every CPU's value instead (one column per possible CPU), or one value for all with --all-cpus."); err != nil {
			return err
		}
		flags |= bpfbatch.OnCPU(lf.cpu)
	}
	if opts.Layout, err = layoutFor(info, m.ValueStrideFor(flags), e.in.allCPUs || lf.cpu >= 0); err != nil {
		return err
	}
	s, err := c.openSource(cmd, pin, file, opts, &e.in.formatFlags, info, m, writes)
	if err != nil {
		return err
	}
	defer s.close()
	l := &loader{
		c: c, cmd: cmd, src: s, m: m, flagsText: lf.flags,
		opts: bpfbatch.BatchOptions{Flags: flags, Chunk: e.batch.chunk, Workers: e.batch.workers},
	}
	switch {
	case lf.dryRun:
		return l.dryRun(ctx, lf.stream)
	case lf.stream:
		return l.streamLoad(ctx)
	default:
		return l.load(ctx)
	}
}

// parseUpdateFlags reads "any", "noexist", "exist", "lock" and
// combinations joined by ',' or '|'.
func parseUpdateFlags(s string) (bpfbatch.Flags, error) {
	var f bpfbatch.Flags
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '|' }) {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "any":
		case "noexist":
			f |= bpfbatch.UpdateNoExist
		case "exist":
			f |= bpfbatch.UpdateExist
		case "lock":
			f |= bpfbatch.UpdateLock
		default:
			return 0, fmt.Errorf("unknown flag %q (want any, noexist, exist, lock)", part)
		}
	}
	if err := f.Validate(); err != nil {
		return 0, fmt.Errorf("%s: noexist and exist exclude each other", s)
	}
	return f, nil
}

// loader runs one load.
type loader struct {
	c   *cli
	cmd *command
	src *source
	m   *bpfbatch.Map
	// flagsText is --flags as given, for the summary.
	flagsText string
	opts      bpfbatch.BatchOptions
	calls     calls
}

// calls counts the calls of a load from the Progress callback, which the
// library makes once per chunk written, so that the summary states what
// happened rather than a count recomputed from the flags.
type calls struct {
	n, largest, last int
}

// start begins a batch: Progress counts from zero again.
func (c *calls) start() { c.last = 0 }

func (c *calls) progress(done int) {
	c.n++
	c.largest = max(c.largest, done-c.last)
	c.last = done
}

// streamDroppedNote tells a --stream summary how many lines a repeated key
// dropped.
func (l *loader) streamDroppedNote() string {
	if l.src.dropped == 0 {
		return ""
	}
	return fmt.Sprintf("; dropped %s whose key a later line of the same block repeats (a key repeated in a later block is written again: the later line wins)",
		plural(l.src.dropped, "line", "lines"))
}

func (l *loader) load(ctx context.Context) error {
	s := l.src
	start := time.Now()
	var b input.Batch
	if err := s.readChecked(ctx, &b, l.m.Info(), l.m); err != nil {
		return err
	}
	readTime := time.Since(start)
	total := b.Len()
	if total == 0 {
		l.c.print(l.c.stdout, "no entries in %s; nothing written\n", s.name)
		return nil
	}
	writeStart := time.Now()
	s.prog.startWriting(total)
	opts := l.opts
	opts.Progress = func(done int) {
		l.calls.progress(done)
		s.prog.update(done)
	}
	n, err := l.m.UpdateBatchWith(ctx, b.Keys, b.Values, opts)
	if err != nil {
		return s.writeFailed(err, 0, n, total, &b)
	}
	writeTime := time.Since(writeStart)
	present, err := l.present(ctx, &b)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return failed(nil, "load %s: interrupted as the last chunk was written: wrote all %s read from %s (the input up to line %d); if the signal also stopped what wrote %s, that input may be incomplete",
			s.pin, plural(n, "entry", "entries"), s.name, s.r.Line(), s.name)
	}
	if present < n {
		return failed(nil, "load %s: loaded %s into %s from %s; %d present afterwards: the LRU map evicted %d (LRU maps evict before they are full; make max_entries larger)",
			s.pin, plural(n, "entry", "entries"), l.m, s.name, present, n-present)
	}
	checked := ""
	if l.m.Info().Type.Evicts() {
		checked = fmt.Sprintf("; all present afterwards, checked in %s", seconds(time.Since(writeStart)-writeTime))
	}
	l.c.print(l.c.stdout, "loaded %s into %s from %s in %s (read %s, write %s: %s entries/s, %s%s)%s\n",
		plural(n, "entry", "entries"), l.m, s.name, seconds(time.Since(start)), seconds(readTime), seconds(writeTime), rate(n, writeTime), l.syscalls(n), checked, s.droppedNote())
	return nil
}

// present counts the entries of b the map holds after their load, with
// one lookup per key (the library's CountMissing, not a walk of the whole
// map, which may hold many other keys): an LRU map (Evicts) may have
// evicted some of them, even before it holds max_entries. For other maps
// it is b.Len() without asking. A signal stops the count; the caller
// reports it.
func (l *loader) present(ctx context.Context, b *input.Batch) (int, error) {
	n := b.Len()
	if !l.m.Info().Type.Evicts() {
		return n, nil
	}
	missing, _, err := l.m.CountMissing(ctx, b.Keys)
	if err != nil && ctx.Err() == nil {
		return 0, failed(err, "load %s: loaded %s into %s from %s; counting the entries present afterwards failed",
			l.src.pin, plural(n, "entry", "entries"), l.m, l.src.name)
	}
	return n - missing, nil
}

// streamBlock is how many entries --stream reads before writing them:
// one chunk per worker, so that they all get one, and at most
// maxStreamBlock; computed without overflowing int. Chunk 0 leaves the
// split of each block to the library (evenly over the workers).
func streamBlock(chunk, workers int) int {
	if chunk == 0 {
		chunk = defaultChunk
	}
	if chunk >= maxStreamBlock {
		return maxStreamBlock
	}
	return chunk * min(max(workers, 1), maxStreamBlock/chunk)
}

// streamLoad writes each block of entries as soon as it is parsed. A bad
// line stops the load after the entries before it are written, so that
// "everything before line N is in the map" holds as for kernel errors.
// Blocks are written one after the other, so a key repeated in a later
// block gets the later line's value, as within a block (Dedupe).
func (l *loader) streamLoad(ctx context.Context) error {
	s := l.src
	start := time.Now()
	block := streamBlock(l.opts.Chunk, l.opts.Workers)
	var b input.Batch
	written := 0
	lastLine := 0 // the last input line of the last block written
	s.prog.startWriting(-1)
	for {
		b.Reset()
		stopped, readErr := s.read(ctx, &b, block)
		if stopped {
			return failed(nil, "load %s: interrupted while reading %s after line %d: %s", s.pin, s.name, s.r.Line(), l.streamedSoFar(written, lastLine))
		}
		if b.Len() > 0 {
			s.dropped += b.Dedupe(s.layout)
			opts := l.opts
			base := written
			l.calls.start()
			opts.Progress = func(n int) {
				l.calls.progress(n)
				s.prog.update(base + n)
			}
			n, err := l.m.UpdateBatchWith(ctx, b.Keys, b.Values, opts)
			if err != nil {
				return s.writeFailed(err, written, n, -1, &b)
			}
			written += n
			lastLine = b.Lines[b.Len()-1]
		}
		if readErr == io.EOF {
			break
		}
		if readErr != nil {
			if ctx.Err() != nil {
				// A line cut short by the signal's stopping the writer of
				// the input is no bad input.
				return failed(nil, "load %s: interrupted at line %d of %s: %s", s.pin, s.r.Line(), s.name, l.streamedSoFar(written, lastLine))
			}
			if _, err := s.collect(readErr); err != nil {
				return err
			}
			return l.streamBadLine(written)
		}
	}
	if ctx.Err() != nil {
		// The input ended as the signal came: perhaps because it also
		// stopped whatever was writing it.
		return failed(nil, "load %s: interrupted at the end of %s (line %d): %s; if the signal also stopped what wrote %s, that input may be incomplete",
			s.pin, s.name, s.r.Line(), l.streamedSoFar(written, lastLine), s.name)
	}
	elapsed := time.Since(start)
	l.c.print(l.c.stdout, "loaded %s into %s from %s in %s (streamed: %s entries/s, %s)%s\n",
		plural(written, "entry", "entries"), l.m, s.name, seconds(elapsed), rate(written, elapsed), l.syscalls(written), l.streamDroppedNote())
	return nil
}

// streamBadLine is the error of a --stream load stopped by the bad line
// collected last, after written entries.
func (l *loader) streamBadLine(written int) error {
	s := l.src
	last := "no entry was written"
	switch {
	case written == 1:
		last = "the one entry before it is written"
	case written > 1:
		last = fmt.Sprintf("the %d entries before it are written", written)
	}
	if s.dropped > 0 {
		last += fmt.Sprintf(" (dropped %s whose key a later line repeats)", plural(s.dropped, "line", "lines"))
	}
	le := s.bad[0]
	return &exitError{code: exitUsage, text: fmt.Sprintf("%s:%d: %v\nbpfbatch: --stream load of %s stopped at bad line %d; %s, nothing after it",
		s.name, le.Line, le.Err, s.name, le.Line, last)}
}

// streamedSoFar says what a stopped --stream load wrote: whole blocks,
// every line up to lastLine.
func (l *loader) streamedSoFar(written, lastLine int) string {
	if written == 0 {
		return "nothing written"
	}
	return fmt.Sprintf("wrote %s, the input up to line %d; nothing after %s:%d was written", plural(written, "entry", "entries"), lastLine, l.src.name, lastLine)
}

// syscalls describes how the entries went to the kernel.
func (l *loader) syscalls(n int) string {
	if l.opts.Flags&(bpfbatch.UpdateNoExist|bpfbatch.UpdateExist) != 0 {
		return fmt.Sprintf("%s, one per entry: --flags %s goes per element", plural(n, "BPF_MAP_UPDATE_ELEM call", "BPF_MAP_UPDATE_ELEM calls"), l.flagsText)
	}
	if p, err := l.m.UpdatePath(); err == nil && p == bpfbatch.PerElementPath {
		return fmt.Sprintf("%s, one per entry: %s maps have no batch update", plural(n, "BPF_MAP_UPDATE_ELEM call", "BPF_MAP_UPDATE_ELEM calls"), l.m.Info().Type)
	}
	if l.calls.n == 1 {
		return "1 BPF_MAP_UPDATE_BATCH call"
	}
	return fmt.Sprintf("%d BPF_MAP_UPDATE_BATCH calls of up to %s", l.calls.n, plural(l.calls.largest, "entry", "entries"))
}

// writeFailed explains a failed write in input lines: what was written,
// which line failed. The library's error follows as it is: its element
// indices count within b. base entries were written before b (by earlier
// --stream blocks); n of b's entries were written; total is the whole
// load's count, or -1 when streaming.
func (s *source) writeFailed(err error, base, n, total int, b *input.Batch) error {
	var be *bpfbatch.BatchError
	if !errors.As(err, &be) {
		return err
	}
	// lineOf is the input line of b's entry i; i == b.Len() (nothing
	// left) names the last one.
	lineOf := func(i int) int { return b.Lines[max(0, min(i, b.Len()-1))] }
	// Written is nil when the chunks went in order (or, in parallel, when
	// none was written): then exactly b's entries [0, n) are in the map.
	inOrder := be.Written == nil
	var sb strings.Builder
	if be.Cause != nil {
		sb.WriteString("interrupted: ")
	}
	if total >= 0 {
		fmt.Fprintf(&sb, "wrote %d of %s", base+n, plural(total, "entry", "entries"))
	} else {
		fmt.Fprintf(&sb, "wrote %s", plural(base+n, "entry", "entries"))
	}
	if !inOrder {
		fmt.Fprintf(&sb, " (%s)", writtenLines(base, be.Written, b))
	}
	switch {
	case be.Cause != nil:
		if inOrder {
			fmt.Fprintf(&sb, "; nothing from %s:%d on was written", s.name, lineOf(n))
		}
	case be.Index >= 0 && be.Index < b.Len():
		fmt.Fprintf(&sb, ", then the entry at %s:%d failed", s.name, b.Lines[be.Index])
		if inOrder {
			sb.WriteString("; nothing from that line on was written")
		} else {
			sb.WriteString("; no chunk started after the failure")
		}
	default:
		// Index -1: the kernel refused a call before its first element
		// (a frozen or read-only map, flags, ...). No line is to blame.
		sb.WriteString("; the kernel refused a whole call, before writing any of its entries")
		if inOrder {
			fmt.Fprintf(&sb, ", so nothing from %s:%d on was written", s.name, lineOf(n))
		} else {
			sb.WriteString("; no chunk started after that")
		}
	}
	if s.dropped > 0 {
		fmt.Fprintf(&sb, " (dropped before writing: %s whose key a later line repeats)", plural(s.dropped, "line", "lines"))
	}
	if total < 0 {
		fmt.Fprintf(&sb, "; the error below counts elements from the block starting at %s:%d", s.name, b.Lines[0])
	}
	return failed(err, "%s %s: %s", s.command, s.pin, sb.String())
}

// writtenLines lists the input line ranges of the written entry ranges.
func writtenLines(base int, ranges []bpfbatch.Range, b *input.Batch) string {
	var parts []string
	if base > 0 {
		parts = append(parts, "every entry before this block")
	}
	for i, r := range ranges {
		if i == 5 {
			parts = append(parts, "and "+plural(len(ranges)-i, "more range", "more ranges"))
			break
		}
		parts = append(parts, fmt.Sprintf("lines %d-%d", b.Lines[r.Start], b.Lines[r.End-1]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return "input " + strings.Join(parts, ", ")
}
