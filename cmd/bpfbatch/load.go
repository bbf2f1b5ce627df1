package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

// defaultChunk is the number of entries per BPF_MAP_UPDATE_BATCH call.
//
// It is not what makes the load fast: batches of 64 entries already get
// nearly all of the batch command's gain over one syscall per element
// (measured in bench/: about 320 ns per hash insert in batches of 64, 280
// in batches of 4096, 1.2 µs one syscall per element). Chunks give the
// progress line and Ctrl-C a point to act on between syscalls, and bound
// the time one call spends in the kernel, whose update loop does not look
// at signals: 4096 entries is about a millisecond of kernel time. At 1M
// elements, chunks of 4096 and 65536 are within noise of one call with one
// worker and of an even split with two (bench/README.md), and loading the
// 1M-CIDR file with one 1M-entry call was no faster than with 4096-entry
// chunks.
const defaultChunk = 4096

// maxStreamBlock caps the entries --stream reads before writing them
// (--chunk x --workers): the product of two flags can overflow int, and
// --stream promises bounded memory. A million entries is far past the
// size where bigger calls stop paying.
const maxStreamBlock = 1 << 20

// maxReported is how many bad lines a load lists before counting the rest.
const maxReported = 10

// readBlock is how many entries are parsed between two progress updates
// while the whole input is read up front.
const readBlock = 1 << 16

const loadAbout = `Writes the entries in FILE (- for stdin) into the map pinned at PIN with
BPF_MAP_UPDATE_BATCH, in chunks of --chunk entries per syscall.

Input: one entry per line; blank lines and lines starting with # are skipped.
  text   KEY VALUE            (per-CPU maps: KEY and one VALUE per possible CPU,
                               or KEY VALUE with --all-cpus; keyless maps: VALUE)
  json   {"key": K, "value": V}
         K and V are strings in the key/value format, byte arrays such as
         [10, 0, 0, 1], or numbers for the integer formats; for per-CPU maps
         V is an array of one value per possible CPU.
The first entry line decides between text and json unless --format says.

Key and value formats (--key-format, --value-format):
  hex     the raw bytes, two hex digits per byte, exactly the key/value size
  u8, u16, u32, u64
          unsigned decimal (or 0x-prefixed hex), stored in native byte order,
          as BPF programs read integers
  cidr    10.0.0.0/8 or 2001:db8::/32 as an LPM trie key (u32 prefixlen +
          address, 8 or 20 bytes); a bare address is a full-length prefix;
          host bits beyond the prefix are rejected unless --mask-host-bits
  ip      an IPv4 or IPv6 address in network byte order (4 or 16 bytes)
'bpfbatch info PIN' lists the formats that fit a map's sizes.

Safety: the whole input is parsed and checked against the map (sizes, array
indices, LPM prefix lengths) before the first write, so a bad line at the
end does not leave a half-loaded map. --stream instead writes the input in
blocks of --chunk x --workers entries (at most 1048576) as it is read, for
inputs too large to hold in memory; a bad line then stops the load with the
entries before it written. The kernel applies entries in order and stops at
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

Output: a progress line on stderr when it is a terminal, and a one-line
summary on stdout. Ctrl-C or SIGTERM stops the load at once, between two
syscalls or while waiting for input, and says what was written; a second
one kills the process. Exit status: 0 success; 1 the map could not be
opened or written, or the load was interrupted (the message says how many
entries were written and which input line failed); 2 bad command line or
bad input.

Examples:
  bpfbatch load /sys/fs/bpf/blocklist cidrs.txt --key-format cidr --value-format u32
  bpfbatch load /sys/fs/bpf/counters - --key-format u32 --value-format u64 --all-cpus < counts.txt
  bpfbatch load /sys/fs/bpf/conns entries.jsonl --dry-run
`

type loadFlags struct {
	chunk, workers int
	flags          string
	dryRun, stream bool
	keyFormat      string
	valueFormat    string
	syntax         string
	allCPUs        bool
	maskHostBits   bool
}

func (c *cli) load(ctx context.Context, args []string) int {
	cmd := newCommand("load", "load [flags] PIN FILE|-", loadAbout)
	var lf loadFlags
	cmd.fs.IntVar(&lf.chunk, "chunk", defaultChunk, "entries per BPF_MAP_UPDATE_BATCH syscall; 0 splits the load evenly over the workers\n(one call with one worker), giving no worker fewer than 2048 entries; with --stream\neach block of 4096 x workers entries is split so")
	cmd.fs.IntVar(&lf.workers, "workers", 1, "syscalls in flight at once; 0 or 1 writes one chunk at a time, in order. More than 1\nwrites chunks out of order, so on an error the message lists the input lines written\ninstead of 'everything before line N'. Not for queue and stack maps")
	cmd.fs.StringVar(&lf.flags, "flags", "any", "update flags: any, noexist (only new keys), exist (only existing keys), lock (bpf_spin_lock\nin the value), or a combination such as noexist,lock")
	cmd.fs.BoolVar(&lf.dryRun, "dry-run", false, "parse and check the whole input against the map, write nothing")
	cmd.fs.BoolVar(&lf.stream, "stream", false, "write the input in blocks of --chunk x --workers entries (at most 1048576) as they\nare read, instead of checking the whole input first (for inputs too large to hold in memory)")
	cmd.fs.StringVar(&lf.keyFormat, "key-format", "hex", "key `format`: "+input.FormatNames())
	cmd.fs.StringVar(&lf.valueFormat, "value-format", "hex", "value `format`: "+input.FormatNames())
	cmd.fs.StringVar(&lf.syntax, "format", "auto", "input `syntax`: auto, text or json")
	cmd.fs.BoolVar(&lf.allCPUs, "all-cpus", false, "per-CPU maps: one value per entry, written to every possible CPU")
	cmd.fs.BoolVar(&lf.maskHostBits, "mask-host-bits", false, "cidr: clear bits beyond the prefix length (10.0.0.1/8 becomes 10.0.0.0/8)\ninstead of rejecting the line")
	pos, code, ok := c.parse(cmd, args, "PIN", "FILE")
	if !ok {
		return code
	}
	pin, file := pos[0], pos[1]

	opts := input.Options{AllCPUs: lf.allCPUs, MaskHostBits: lf.maskHostBits}
	var err error
	if opts.Key, err = input.ParseFormat(lf.keyFormat); err != nil {
		return c.usageError(cmd, "--key-format: %v", err)
	}
	if opts.Value, err = input.ParseFormat(lf.valueFormat); err != nil {
		return c.usageError(cmd, "--value-format: %v", err)
	}
	if opts.Syntax, err = input.ParseSyntax(lf.syntax); err != nil {
		return c.usageError(cmd, "--format: %v", err)
	}
	flags, err := parseUpdateFlags(lf.flags)
	if err != nil {
		return c.usageError(cmd, "--flags: %v", err)
	}
	if lf.chunk < 0 || lf.workers < 0 {
		return c.usageError(cmd, "--chunk and --workers must not be negative (--chunk 0 splits the load evenly over the workers; --workers 0 writes one chunk at a time)")
	}

	m, err := bpfbatch.OpenPinned(pin)
	if err != nil {
		return c.failf(exitFailed, "%s", trimPrefix(err))
	}
	defer m.Close()
	info := m.Info()
	if why := loadRefusal(info.Type); why != "" {
		return c.failf(exitUsage, "load %s: %s", pin, why)
	}
	if lf.workers > 1 && (info.Type == bpfbatch.Queue || info.Type == bpfbatch.Stack) {
		return c.failf(exitUsage, "load %s: %s maps keep the order of the writes, which --workers %d would scramble (chunks land in any order); use --workers 1", pin, info.Type, lf.workers)
	}
	if flags&bpfbatch.UpdateLock != 0 && info.BTFValueTypeID == 0 {
		return c.failf(exitUsage, "load %s: --flags lock needs a struct bpf_spin_lock in the map's value, described by BTF; %s has no value BTF", pin, m)
	}
	opts.Layout = input.Layout{KeySize: int(info.KeySize), ValueSize: int(info.ValueSize)}
	if info.Type.PerCPU() {
		if opts.CPUs, err = bpfbatch.PossibleCPUs(); err != nil {
			return c.failf(exitFailed, "load %s: %s", pin, trimPrefix(err))
		}
	}
	switch info.Type {
	case bpfbatch.Array, bpfbatch.PerCPUArray:
		opts.MaxIndex = info.MaxEntries
	case bpfbatch.LPMTrie:
		opts.LPM = true
	}
	if opts.Stride() != m.ValueStride() {
		// The parser and the library must agree on the layout; a mismatch
		// is a bug, and writing would scramble per-CPU values.
		return c.failf(exitFailed, "load %s: internal error: value stride %d, library says %d", pin, opts.Stride(), m.ValueStride())
	}

	if opts.KeySize > 0 {
		if err := opts.Key.Fits(opts.KeySize); err != nil {
			return c.usageError(cmd, "--key-format %s does not fit %s (key_size %d): %v", opts.Key, m, info.KeySize, err)
		}
	}
	if err := opts.Value.Fits(opts.ValueSize); err != nil {
		return c.usageError(cmd, "--value-format %s does not fit %s (value_size %d): %v", opts.Value, m, info.ValueSize, err)
	}
	if opts.AllCPUs && opts.CPUs == 0 {
		return c.usageError(cmd, "--all-cpus applies to per-CPU maps only; %s has one value per element", m)
	}

	in, name, closeIn, err := c.openInput(file)
	if err != nil {
		return c.failf(exitFailed, "load: %v", err)
	}
	defer closeIn()
	r, err := input.NewReader(in, opts)
	if err != nil {
		return c.usageError(cmd, "input options do not fit %s: %v", m, err)
	}
	l := &loader{
		cli: c, m: m, pin: pin, name: name, r: r, layout: opts.Layout, flagsText: lf.flags,
		opts: bpfbatch.BatchOptions{Flags: flags, Chunk: lf.chunk, Workers: lf.workers},
		prog: progress{w: c.stderr, tty: c.tty},
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

// openInput opens FILE, or stdin for "-".
func (c *cli) openInput(file string) (io.Reader, string, func(), error) {
	if file == "-" {
		return c.stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", nil, err
	}
	return f, file, func() { f.Close() }, nil
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
	*cli
	m      *bpfbatch.Map
	pin    string
	name   string // the input's name in messages: the file, or "stdin"
	r      *input.Reader
	layout input.Layout
	// flagsText is --flags as given, for the summary.
	flagsText string
	opts      bpfbatch.BatchOptions
	prog      progress
	calls     calls

	bad      []*input.LineError // the first maxReported bad lines
	badCount int
	dropped  int // entries dropped because a later line repeats their key
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

// read runs l.r.Read on a goroutine of its own and waits for it or for ctx,
// so that a signal takes effect while a read waits for a slow or stopped
// writer of stdin. stopped means ctx was done first: the goroutine then
// keeps l.r and b, and the caller must touch neither again (l.r.Line
// excepted); it ends when its read returns, or with the process, which
// exits right after reporting the interruption.
func (l *loader) read(ctx context.Context, b *input.Batch, limit int) (stopped bool, err error) {
	if ctx.Err() != nil {
		return true, nil
	}
	done := make(chan error, 1)
	go func() { done <- l.r.Read(b, limit) }()
	select {
	case err := <-done:
		return false, err
	case <-ctx.Done():
		return true, nil
	}
}

// collect records a bad line; it reports whether reading can go on.
func (l *loader) collect(err error) (more bool, code int) {
	var le *input.LineError
	if !errors.As(err, &le) {
		l.prog.clear()
		return false, l.failf(exitFailed, "read %s: %v", l.name, err)
	}
	if len(l.bad) < maxReported {
		l.bad = append(l.bad, le)
	}
	l.badCount++
	return !le.Fatal, exitOK
}

// reportBad prints the bad lines compiler-style (FILE:LINE: cause) and
// returns exitUsage.
func (l *loader) reportBad(what string) int {
	l.prog.clear()
	for _, le := range l.bad {
		fmt.Fprintf(l.stderr, "%s:%d: %v\n", l.name, le.Line, le.Err)
	}
	if more := l.badCount - len(l.bad); more > 0 {
		fmt.Fprintf(l.stderr, "%s: ... and %s\n", l.name, plural(more, "more bad line", "more bad lines"))
	}
	return l.failf(exitUsage, "%s in %s; %s", plural(l.badCount, "bad line", "bad lines"), l.name, what)
}

// readAll parses the whole input into b, collecting bad lines. ok false
// means: return code.
func (l *loader) readAll(ctx context.Context, b *input.Batch) (code int, ok bool) {
	for {
		stopped, err := l.read(ctx, b, b.Len()+readBlock)
		if stopped {
			l.prog.clear()
			return l.failf(exitFailed, "load %s: interrupted while reading %s after line %d; nothing written", l.pin, l.name, l.r.Line()), false
		}
		l.prog.reading(l.r.Line())
		if err == io.EOF {
			return exitOK, true
		}
		if err != nil {
			more, code := l.collect(err)
			if code != exitOK {
				return code, false
			}
			if !more {
				return exitOK, true
			}
		}
	}
}

// droppedNote tells the summary how many lines a repeated key dropped.
func (l *loader) droppedNote(stream bool) string {
	if l.dropped == 0 {
		return ""
	}
	if stream {
		return fmt.Sprintf("; dropped %s whose key a later line of the same block repeats (a key repeated in a later block is written again: the later line wins)",
			plural(l.dropped, "line", "lines"))
	}
	return fmt.Sprintf("; dropped %s whose key a later line repeats (each key is written once, from its last line)", plural(l.dropped, "line", "lines"))
}

// dryRun checks what load would: the whole input, and whether the map can
// hold it. With --stream it reads block by block as the load would, in
// bounded memory, so it checks the lines but not the capacity.
func (l *loader) dryRun(ctx context.Context, stream bool) int {
	start := time.Now()
	var b input.Batch
	entries := 0
	if stream {
		block := streamBlock(l.opts.Chunk, l.opts.Workers)
		for {
			b.Reset()
			stopped, err := l.read(ctx, &b, block)
			if stopped {
				l.prog.clear()
				return l.failf(exitFailed, "load %s: interrupted while reading %s after line %d; nothing written (dry run)", l.pin, l.name, l.r.Line())
			}
			l.prog.reading(l.r.Line())
			l.dropped += b.Dedupe(l.layout)
			entries += b.Len()
			if err == io.EOF {
				break
			}
			if err != nil {
				more, code := l.collect(err)
				if code != exitOK {
					return code
				}
				if !more {
					break
				}
			}
		}
	} else {
		if code, ok := l.readAll(ctx, &b); !ok {
			return code
		}
		l.dropped = b.Dedupe(l.layout)
		entries = b.Len()
	}
	l.prog.clear()
	if ctx.Err() != nil {
		return l.failf(exitFailed, "load %s: interrupted at the end of %s (line %d); nothing written (dry run)", l.pin, l.name, l.r.Line())
	}
	if l.badCount > 0 {
		return l.reportBad("nothing written (dry run)")
	}
	if !stream {
		if err := l.checkCapacity(&b); err != nil {
			return l.failf(exitUsage, "%v; nothing written (dry run)", err)
		}
	}
	dups := ""
	if l.dropped > 0 {
		what := "whose key a later line repeats"
		if stream {
			what = "whose key a later line of the same block repeats"
		}
		dups = fmt.Sprintf("; %s %s would be dropped", plural(l.dropped, "line", "lines"), what)
	}
	fmt.Fprintf(l.stdout, "dry run: %s in %s (%s), valid for %s%s; nothing written (read in %s)\n",
		plural(entries, "entry", "entries"), l.name, l.r.Syntax(), l.m, dups, seconds(time.Since(start)))
	return exitOK
}

func (l *loader) load(ctx context.Context) int {
	start := time.Now()
	var b input.Batch
	if code, ok := l.readAll(ctx, &b); !ok {
		return code
	}
	if ctx.Err() != nil {
		// The input ended as the signal came: perhaps because the signal
		// also stopped whatever was writing it, mid-line even.
		l.prog.clear()
		return l.failf(exitFailed, "load %s: interrupted at the end of %s (line %d); nothing written", l.pin, l.name, l.r.Line())
	}
	if l.badCount > 0 {
		return l.reportBad("nothing written: the whole input is checked before the first write")
	}
	l.dropped = b.Dedupe(l.layout)
	if err := l.checkCapacity(&b); err != nil {
		l.prog.clear()
		return l.failf(exitUsage, "%v; nothing written", err)
	}
	readTime := time.Since(start)
	total := b.Len()
	if total == 0 {
		l.prog.clear()
		fmt.Fprintf(l.stdout, "no entries in %s; nothing written\n", l.name)
		return exitOK
	}
	writeStart := time.Now()
	l.prog.startWriting(total)
	opts := l.opts
	opts.Progress = func(done int) {
		l.calls.progress(done)
		l.prog.update(done)
	}
	n, err := l.m.UpdateBatchWith(ctx, b.Keys, b.Values, opts)
	l.prog.clear()
	if err != nil {
		return l.writeFailed(err, 0, n, total, &b)
	}
	if ctx.Err() != nil {
		return l.failf(exitFailed, "load %s: interrupted as the last chunk was written: wrote all %s read from %s (the input up to line %d); if the signal also stopped what wrote %s, that input may be incomplete",
			l.pin, plural(n, "entry", "entries"), l.name, l.r.Line(), l.name)
	}
	writeTime := time.Since(writeStart)
	fmt.Fprintf(l.stdout, "loaded %s into %s from %s in %s (read %s, write %s: %s entries/s, %s)%s\n",
		plural(n, "entry", "entries"), l.m, l.name, seconds(time.Since(start)), seconds(readTime), seconds(writeTime), rate(n, writeTime), l.syscalls(n), l.droppedNote(false))
	return exitOK
}

// checkCapacity refuses an input with more distinct keys than the map can
// ever hold, which the kernel would fail with E2BIG or ENOSPC only after
// writing max_entries of them. It applies to the maps that neither evict
// (LRU) nor index (arrays: the parser checks each index). b holds one entry
// per key (Dedupe), in the order they will be written.
func (l *loader) checkCapacity(b *input.Batch) error {
	info := l.m.Info()
	switch info.Type {
	case bpfbatch.Hash, bpfbatch.PerCPUHash, bpfbatch.LPMTrie:
	default:
		return nil
	}
	if uint64(b.Len()) <= uint64(info.MaxEntries) {
		return nil
	}
	i := int(info.MaxEntries)
	return fmt.Errorf("%s:%d: distinct key number %d, but %s holds at most max_entries %d; the kernel would fail here after writing %s",
		l.name, b.Lines[i], i+1, l.m, info.MaxEntries, plural(i, "entry", "entries"))
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
func (l *loader) streamLoad(ctx context.Context) int {
	start := time.Now()
	block := streamBlock(l.opts.Chunk, l.opts.Workers)
	var b input.Batch
	written := 0
	lastLine := 0 // the last input line of the last block written
	l.prog.startWriting(-1)
	for {
		b.Reset()
		stopped, readErr := l.read(ctx, &b, block)
		if stopped {
			l.prog.clear()
			return l.failf(exitFailed, "load %s: interrupted while reading %s after line %d: %s", l.pin, l.name, l.r.Line(), l.streamedSoFar(written, lastLine))
		}
		if b.Len() > 0 {
			l.dropped += b.Dedupe(l.layout)
			opts := l.opts
			base := written
			l.calls.start()
			opts.Progress = func(n int) {
				l.calls.progress(n)
				l.prog.update(base + n)
			}
			n, err := l.m.UpdateBatchWith(ctx, b.Keys, b.Values, opts)
			if err != nil {
				l.prog.clear()
				return l.writeFailed(err, written, n, -1, &b)
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
				l.prog.clear()
				return l.failf(exitFailed, "load %s: interrupted at line %d of %s: %s", l.pin, l.r.Line(), l.name, l.streamedSoFar(written, lastLine))
			}
			if _, code := l.collect(readErr); code != exitOK {
				return code
			}
			last := "no entry was written"
			switch {
			case written == 1:
				last = "the one entry before it is written"
			case written > 1:
				last = fmt.Sprintf("the %d entries before it are written", written)
			}
			if l.dropped > 0 {
				last += fmt.Sprintf(" (dropped %s whose key a later line repeats)", plural(l.dropped, "line", "lines"))
			}
			l.prog.clear()
			le := l.bad[0]
			fmt.Fprintf(l.stderr, "%s:%d: %v\n", l.name, le.Line, le.Err)
			return l.failf(exitUsage, "--stream load of %s stopped at bad line %d; %s, nothing after it", l.name, le.Line, last)
		}
	}
	l.prog.clear()
	if ctx.Err() != nil {
		// The input ended as the signal came: perhaps because it also
		// stopped whatever was writing it.
		return l.failf(exitFailed, "load %s: interrupted at the end of %s (line %d): %s; if the signal also stopped what wrote %s, that input may be incomplete",
			l.pin, l.name, l.r.Line(), l.streamedSoFar(written, lastLine), l.name)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(l.stdout, "loaded %s into %s from %s in %s (streamed: %s entries/s, %s)%s\n",
		plural(written, "entry", "entries"), l.m, l.name, seconds(elapsed), rate(written, elapsed), l.syscalls(written), l.droppedNote(true))
	return exitOK
}

// streamedSoFar says what a stopped --stream load wrote: whole blocks,
// every line up to lastLine.
func (l *loader) streamedSoFar(written, lastLine int) string {
	if written == 0 {
		return "nothing written"
	}
	return fmt.Sprintf("wrote %s, the input up to line %d; nothing after %s:%d was written", plural(written, "entry", "entries"), lastLine, l.name, lastLine)
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
func (l *loader) writeFailed(err error, base, n, total int, b *input.Batch) int {
	var be *bpfbatch.BatchError
	if !errors.As(err, &be) {
		return l.failf(exitFailed, "load %s: %s", l.pin, trimPrefix(err))
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
		fmt.Fprintf(&sb, " (%s)", l.writtenLines(base, be.Written, b))
	}
	switch {
	case be.Cause != nil:
		if inOrder {
			fmt.Fprintf(&sb, "; nothing from %s:%d on was written", l.name, lineOf(n))
		}
	case be.Index >= 0 && be.Index < b.Len():
		fmt.Fprintf(&sb, ", then the entry at %s:%d failed", l.name, b.Lines[be.Index])
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
			fmt.Fprintf(&sb, ", so nothing from %s:%d on was written", l.name, lineOf(n))
		} else {
			sb.WriteString("; no chunk started after that")
		}
	}
	if l.dropped > 0 {
		fmt.Fprintf(&sb, " (dropped before writing: %s whose key a later line repeats)", plural(l.dropped, "line", "lines"))
	}
	fmt.Fprintf(l.stderr, "bpfbatch: load %s: %s\n", l.pin, sb.String())
	if total < 0 {
		return l.failf(exitFailed, "cause (elements counted from the block starting at %s:%d): %s", l.name, b.Lines[0], trimPrefix(err))
	}
	return l.failf(exitFailed, "cause: %s", trimPrefix(err))
}

// writtenLines lists the input line ranges of the written entry ranges.
func (l *loader) writtenLines(base int, ranges []bpfbatch.Range, b *input.Batch) string {
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

// plural says "1 entry" or "2 entries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// seconds formats d like "1.23s", "850ms" or "42µs".
func seconds(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// rate formats n entries per d as "1.23M" or "812k".
func rate(n int, d time.Duration) string {
	if d <= 0 {
		return "inf"
	}
	r := float64(n) / d.Seconds()
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk", r/1e3)
	case math.IsNaN(r):
		return "0"
	}
	return fmt.Sprintf("%.0f", r)
}

// progress draws a progress line on stderr when it is a terminal; otherwise
// it does nothing and the summary line says it all.
type progress struct {
	w     io.Writer
	tty   bool
	total int // entries to write, -1 when streaming
	start time.Time
	last  time.Time
	shown bool
}

// refresh is how often the line is redrawn: fast enough to look alive,
// slow enough not to cost anything against a million-entry load.
const refresh = 100 * time.Millisecond

func (p *progress) due() bool {
	now := time.Now()
	if now.Sub(p.last) < refresh {
		return false
	}
	p.last = now
	return true
}

func (p *progress) reading(line int) {
	if !p.tty || !p.due() {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[Kreading: line %d", line)
	p.shown = true
}

func (p *progress) startWriting(total int) {
	p.total, p.start, p.last = total, time.Now(), time.Time{}
}

// update is the BatchOptions.Progress callback.
func (p *progress) update(done int) {
	if !p.tty || (!p.due() && done != p.total) {
		return
	}
	elapsed := time.Since(p.start)
	if p.total < 0 {
		fmt.Fprintf(p.w, "\r\x1b[Kwriting: %s, %s entries/s", plural(done, "entry", "entries"), rate(done, elapsed))
	} else {
		fmt.Fprintf(p.w, "\r\x1b[Kwriting: %d/%d entries (%d%%), %s entries/s", done, p.total, done*100/max(p.total, 1), rate(done, elapsed))
	}
	p.shown = true
}

// clear erases the progress line before a message or the summary.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
