package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

// The commands that read entries (load, sync, replace, delete) share their
// input flags, the check of the input against the map's layout, and the
// reading: the whole input is parsed before the first change, bad lines
// are listed compiler-style, a key repeated in the input keeps its last
// line, and a signal stops the read at once.

// formatFlags are --key-format and --value-format, which dump shares too.
type formatFlags struct{ key, value string }

func (f *formatFlags) register(fs *flag.FlagSet, values bool) {
	fs.StringVar(&f.key, "key-format", "hex", "key `format`: "+input.FormatNames())
	if values {
		fs.StringVar(&f.value, "value-format", "hex", "value `format`: "+input.FormatNames())
	}
}

// parse fills the formats of opts; false means: return code.
func (c *cli) parseFormats(cmd *command, f *formatFlags, opts *input.Options) (code int, ok bool) {
	var err error
	if opts.Key, err = input.ParseFormat(f.key); err != nil {
		return c.usageError(cmd, "--key-format: %v", err), false
	}
	if f.value == "" {
		return exitOK, true
	}
	if opts.Value, err = input.ParseFormat(f.value); err != nil {
		return c.usageError(cmd, "--value-format: %v", err), false
	}
	return exitOK, true
}

// inputFlags are the flags of an input of entries, as load reads it.
type inputFlags struct {
	formatFlags
	syntax       string
	allCPUs      bool
	maskHostBits bool
}

// register adds the flags; keysOnly inputs (delete) have no values.
func (f *inputFlags) register(fs *flag.FlagSet, keysOnly bool) {
	f.formatFlags.register(fs, !keysOnly)
	fs.StringVar(&f.syntax, "format", "auto", "input `syntax`: auto, text or json")
	if !keysOnly {
		fs.BoolVar(&f.allCPUs, "all-cpus", false, "per-CPU maps: one value per entry, written to every possible CPU")
	}
	fs.BoolVar(&f.maskHostBits, "mask-host-bits", false, "cidr: clear bits beyond the prefix length (10.0.0.1/8 becomes 10.0.0.0/8)\ninstead of rejecting the line")
}

// options parses the flags into reader options; false means: return code.
func (c *cli) inputOptions(cmd *command, f *inputFlags, keysOnly bool) (input.Options, int, bool) {
	opts := input.Options{AllCPUs: f.allCPUs, MaskHostBits: f.maskHostBits, KeysOnly: keysOnly}
	if code, ok := c.parseFormats(cmd, &f.formatFlags, &opts); !ok {
		return opts, code, false
	}
	var err error
	if opts.Syntax, err = input.ParseSyntax(f.syntax); err != nil {
		return opts, c.usageError(cmd, "--format: %v", err), false
	}
	return opts, exitOK, true
}

// layoutFor is the input layout of a map described by info: its sizes,
// one value per possible CPU for per-CPU maps, and the bounds the kernel
// would only report half-way (array indices, LPM prefix lengths). A
// keys-only input (delete) has no values.
func layoutFor(info bpfbatch.MapInfo, keysOnly bool) (input.Layout, error) {
	l := input.Layout{KeySize: int(info.KeySize)}
	if !keysOnly {
		l.ValueSize = int(info.ValueSize)
		if info.Type.PerCPU() {
			var err error
			if l.CPUs, err = bpfbatch.PossibleCPUs(); err != nil {
				return l, err
			}
		}
	}
	switch info.Type {
	case bpfbatch.Array, bpfbatch.PerCPUArray:
		l.MaxIndex = info.MaxEntries
	case bpfbatch.LPMTrie:
		l.LPM = true
	}
	return l, nil
}

// checkFormats reports a key or value format that cannot encode the map's
// sizes, as a usage error; false means: return code.
func (c *cli) checkFormats(cmd *command, opts input.Options, target fmt.Stringer) (code int, ok bool) {
	if opts.KeySize > 0 {
		if err := opts.Key.Fits(opts.KeySize); err != nil {
			return c.usageError(cmd, "--key-format %s does not fit %s (key_size %d): %v", opts.Key, target, opts.KeySize, err), false
		}
	}
	if opts.KeysOnly {
		return exitOK, true
	}
	if err := opts.Value.Fits(opts.ValueSize); err != nil {
		return c.usageError(cmd, "--value-format %s does not fit %s (value_size %d): %v", opts.Value, target, opts.ValueSize, err), false
	}
	return exitOK, true
}

// source is one command's input: the entries of FILE (or stdin) parsed for
// one map, with the bad lines found and a progress line on a terminal.
type source struct {
	*cli
	command string // "load", "sync", ... at the start of messages
	pin     string
	name    string // the input's name in messages: the file, or "stdin"
	r       *input.Reader
	layout  input.Layout
	prog    progress
	change

	closeInput func()

	bad      []*input.LineError // the first maxReported bad lines
	badCount int
	dropped  int // entries dropped because a later line repeats their key
}

// maxReported is how many bad lines a run lists before counting the rest.
const maxReported = 10

// readBlock is how many entries are parsed between two progress updates
// while the whole input is read up front.
const readBlock = 1 << 16

// change says in a command's messages what it does to a map.
type change struct {
	// untouched says that the map is as it was ("nothing written"), and
	// firstChange what the whole input is checked before ("the first
	// write"), for the messages of a run stopped before any change.
	untouched, firstChange string
	// onceNote says what a key repeated in the input comes to.
	onceNote string
}

var (
	writes  = change{"nothing written", "the first write", "each key is written once, from its last line"}
	deletes = change{"nothing deleted", "the first delete", "each key is deleted once"}
	syncs   = change{"nothing changed", "the first change", "each key is written once, from its last line"}
	swaps   = change{"nothing changed", "the new inner map is made", "each key is written once, from its last line"}
)

// parseWithInput parses the command line of a command that reads entries:
// the positional arguments want, and the input flags in. false means:
// return code.
func (c *cli) parseWithInput(cmd *command, args []string, in *inputFlags, keysOnly bool, want ...string) (pos []string, opts input.Options, code int, ok bool) {
	if pos, code, ok = c.parse(cmd, args, want...); !ok {
		return nil, opts, code, false
	}
	opts, code, ok = c.inputOptions(cmd, in, keysOnly)
	return pos, opts, code, ok
}

// openMap opens the map pinned at pin for the command named cmd, and
// refuses (exit 2) a map that one of refusals gives a reason for; the
// caller closes it. false means: return code, the reason printed.
func (c *cli) openMap(cmd, pin string, refusals ...func(bpfbatch.MapInfo) string) (*bpfbatch.Map, int, bool) {
	m, err := bpfbatch.OpenPinned(pin)
	if err != nil {
		return nil, c.failf(exitFailed, "%s", trimPrefix(err)), false
	}
	for _, refuse := range refusals {
		if why := refuse(m.Info()); why != "" {
			m.Close()
			return nil, c.failf(exitUsage, "%s %s: %s", cmd, pin, why), false
		}
	}
	return m, exitOK, true
}

// loadable refuses the maps that load cannot fill.
func loadable(info bpfbatch.MapInfo) string { return loadRefusal(info.Type) }

// keyed refuses the maps without keys, which the command needs for
// purpose ("to delete").
func keyed(purpose string) func(bpfbatch.MapInfo) string {
	return func(info bpfbatch.MapInfo) string {
		if info.KeySize == 0 {
			return fmt.Sprintf("%s maps have no keys %s", info.Type, purpose)
		}
		return ""
	}
}

// entryFile is a whole input of entries for a map, as sync and replace
// read it before any change: the map described by info (target in
// messages), and opts from the command line, whose layout is the map's.
type entryFile struct {
	cmd       *command
	pin, file string
	opts      input.Options
	info      bpfbatch.MapInfo
	target    fmt.Stringer
	change    change
}

// readEntries reads and checks f's whole input into b: the layout, bad
// lines, repeated keys (the last line wins) and capacity. The caller
// closes the source. false means: return code, nothing changed.
func (c *cli) readEntries(ctx context.Context, f entryFile, b *input.Batch) (s *source, code int, ok bool) {
	var err error
	if f.opts.Layout, err = layoutFor(f.info, false); err != nil {
		return nil, c.failf(exitFailed, "%s %s: %s", f.cmd.name, f.pin, trimPrefix(err)), false
	}
	if f.opts.AllCPUs && f.opts.CPUs == 0 {
		return nil, c.usageError(f.cmd, "--all-cpus applies to per-CPU maps only; %s has one value per element", f.target), false
	}
	if s, code, ok = c.openSource(f.cmd, f.pin, f.file, f.opts, f.target, f.change); !ok {
		return nil, code, false
	}
	if code, ok := s.readChecked(ctx, b, f.info, f.target); !ok {
		s.close()
		return nil, code, false
	}
	return s, exitOK, true
}

// openSource opens FILE (- for stdin) and a reader of it for opts; the
// caller closes it. false means: return code.
func (c *cli) openSource(cmd *command, pin, file string, opts input.Options, target fmt.Stringer, ch change) (s *source, code int, ok bool) {
	if code, ok := c.checkFormats(cmd, opts, target); !ok {
		return nil, code, false
	}
	in, name, closeIn, err := c.openInput(file)
	if err != nil {
		return nil, c.failf(exitFailed, "%s: %v", cmd.name, err), false
	}
	r, err := input.NewReader(in, opts)
	if err != nil {
		closeIn()
		return nil, c.usageError(cmd, "input options do not fit %s: %v", target, err), false
	}
	s = &source{
		cli: c, command: cmd.name, pin: pin, name: name, r: r, layout: opts.Layout,
		prog: progress{w: c.stderr, tty: c.tty}, change: ch, closeInput: closeIn,
	}
	return s, exitOK, true
}

// close closes the input file.
func (s *source) close() { s.closeInput() }

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

// read runs s.r.Read on a goroutine of its own and waits for it or for
// ctx, so that a signal takes effect while a read waits for a slow or
// stopped writer of stdin. stopped means ctx was done first: the goroutine
// then keeps s.r and b, and the caller must touch neither again (s.r.Line
// excepted); it ends when its read returns, or with the process, which
// exits right after reporting the interruption.
func (s *source) read(ctx context.Context, b *input.Batch, limit int) (stopped bool, err error) {
	if ctx.Err() != nil {
		return true, nil
	}
	done := make(chan error, 1)
	go func() { done <- s.r.Read(b, limit) }()
	select {
	case err := <-done:
		return false, err
	case <-ctx.Done():
		return true, nil
	}
}

// collect records a bad line; it reports whether reading can go on.
func (s *source) collect(err error) (more bool, code int) {
	var le *input.LineError
	if !errors.As(err, &le) {
		s.prog.clear()
		return false, s.failf(exitFailed, "read %s: %v", s.name, err)
	}
	if len(s.bad) < maxReported {
		s.bad = append(s.bad, le)
	}
	s.badCount++
	return !le.Fatal, exitOK
}

// reportBad prints the bad lines compiler-style (FILE:LINE: cause) and
// returns exitUsage.
func (s *source) reportBad(what string) int {
	s.prog.clear()
	for _, le := range s.bad {
		fmt.Fprintf(s.stderr, "%s:%d: %v\n", s.name, le.Line, le.Err)
	}
	if more := s.badCount - len(s.bad); more > 0 {
		fmt.Fprintf(s.stderr, "%s: ... and %s\n", s.name, plural(more, "more bad line", "more bad lines"))
	}
	return s.failf(exitUsage, "%s in %s; %s", plural(s.badCount, "bad line", "bad lines"), s.name, what)
}

// readAll parses the whole input into b, collecting bad lines. ok false
// means: return code.
func (s *source) readAll(ctx context.Context, b *input.Batch) (code int, ok bool) {
	for {
		stopped, err := s.read(ctx, b, b.Len()+readBlock)
		if stopped {
			s.prog.clear()
			return s.failf(exitFailed, "%s %s: interrupted while reading %s after line %d; %s", s.command, s.pin, s.name, s.r.Line(), s.untouched), false
		}
		s.prog.reading(s.r.Line())
		if err == io.EOF {
			return exitOK, true
		}
		if err != nil {
			more, code := s.collect(err)
			if code != exitOK {
				return code, false
			}
			if !more {
				return exitOK, true
			}
		}
	}
}

// readWhole reads and checks the whole input into b and drops the entries
// whose key a later line repeats: the last line of a key wins. ok false
// means: return code, after a message that nothing was changed.
func (s *source) readWhole(ctx context.Context, b *input.Batch) (code int, ok bool) {
	if code, ok := s.readAll(ctx, b); !ok {
		return code, false
	}
	if ctx.Err() != nil {
		// The input ended as the signal came: perhaps because the signal
		// also stopped whatever was writing it, mid-line even.
		s.prog.clear()
		return s.failf(exitFailed, "%s %s: interrupted at the end of %s (line %d); %s", s.command, s.pin, s.name, s.r.Line(), s.untouched), false
	}
	if s.badCount > 0 {
		return s.reportBad(s.untouched + ": the whole input is checked before " + s.firstChange), false
	}
	s.dropped = b.Dedupe(s.layout)
	return exitOK, true
}

// readChecked is readWhole, and then checkCapacity against the map that
// info describes (target in messages).
func (s *source) readChecked(ctx context.Context, b *input.Batch, info bpfbatch.MapInfo, target fmt.Stringer) (code int, ok bool) {
	if code, ok := s.readWhole(ctx, b); !ok {
		return code, false
	}
	if err := s.checkCapacity(b, info, target); err != nil {
		s.prog.clear()
		return s.failf(exitUsage, "%v; %s", err, s.untouched), false
	}
	return exitOK, true
}

// droppedNote tells a summary how many lines a repeated key dropped.
func (s *source) droppedNote() string {
	if s.dropped == 0 {
		return ""
	}
	return fmt.Sprintf("; dropped %s whose key a later line repeats (%s)", plural(s.dropped, "line", "lines"), s.onceNote)
}

// checkCapacity refuses an input with more distinct keys than the map can
// ever hold, which the kernel would fail with E2BIG or ENOSPC only after
// writing max_entries of them. It applies to the maps that neither evict
// (LRU) nor index (arrays: the parser checks each index). b holds one entry
// per key (Dedupe), in the order they will be written.
func (s *source) checkCapacity(b *input.Batch, info bpfbatch.MapInfo, target fmt.Stringer) error {
	if !fillsUp(info.Type) || uint64(b.Len()) <= uint64(info.MaxEntries) {
		return nil
	}
	i := int(info.MaxEntries)
	return fmt.Errorf("%s:%d: distinct key number %d, but %s holds at most max_entries %d; the kernel would fail here after writing %s",
		s.name, b.Lines[i], i+1, target, info.MaxEntries, plural(i, "entry", "entries"))
}

// fillsUp reports whether a map of type t refuses new keys once it holds
// max_entries: not LRU maps, which evict, nor arrays, whose keys all exist.
func fillsUp(t bpfbatch.MapType) bool {
	return t == bpfbatch.Hash || t == bpfbatch.PerCPUHash || t == bpfbatch.LPMTrie
}
