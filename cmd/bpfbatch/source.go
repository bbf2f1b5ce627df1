package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

// The commands that read entries (load, sync, replace, delete) share their
// input flags, the check of the input against the map's layout, and the
// reading: the whole input is parsed before the first change, bad lines
// are listed compiler-style, a key repeated in the input keeps its last
// line, and a signal stops the read at once.

// inputFlags are the flags of an input of entries, as load reads it.
type inputFlags struct {
	formatFlags
	syntax       string
	allCPUs      bool
	maskHostBits bool
	keysOnly     bool // delete: keys without values
}

// register adds the flags; keysOnly inputs (delete) have no values.
func (f *inputFlags) register(fs *flag.FlagSet, keysOnly bool) {
	f.keysOnly = keysOnly
	f.formatFlags.register(fs, !keysOnly)
	fs.StringVar(&f.syntax, "format", "auto", "input `syntax`: auto (json when the first entry line starts with '{' or '[', else text),\ntext, json, or bpftool-json (the array 'bpftool -j map dump' prints)")
	if !keysOnly {
		fs.BoolVar(&f.allCPUs, "all-cpus", false, "per-CPU maps: one value per entry, written to every possible CPU")
	}
	fs.BoolVar(&f.maskHostBits, "mask-host-bits", false, "cidr: clear bits beyond the prefix length (10.0.0.1/8 becomes 10.0.0.0/8)\ninstead of rejecting the line")
}

// options parses the flags into reader options; the layout and the
// formats are the map's, added once the map is open.
func (f *inputFlags) options(cmd *command) (input.Options, error) {
	opts := input.Options{AllCPUs: f.allCPUs, MaskHostBits: f.maskHostBits, KeysOnly: f.keysOnly}
	if err := f.formatFlags.check(cmd); err != nil {
		return opts, err
	}
	var err error
	if opts.Syntax, err = input.ParseSyntax(f.syntax); err != nil {
		return opts, cmd.usageError("--format: %v", err)
	}
	if opts.Syntax == input.BpftoolJSON && f.given() {
		return opts, cmd.usageError("--format bpftool-json: bpftool's JSON gives the bytes of keys and values; --key-format and --value-format do not apply")
	}
	return opts, nil
}

// parseWithInput parses the command line of a command that reads entries:
// the positional arguments want, and the input flags in.
func (c *cli) parseWithInput(cmd *command, args []string, in *inputFlags, want ...string) ([]string, input.Options, error) {
	pos, err := c.parse(cmd, args, want...)
	if err != nil {
		return nil, input.Options{}, err
	}
	opts, err := in.options(cmd)
	return pos, opts, err
}

// entryCommand is the command line of load, delete and sync: MAP FILE|-,
// the input flags, and --chunk (and --workers) for their syscalls.
type entryCommand struct {
	cmd   *command
	in    inputFlags
	batch batchFlags
	// writes: the command writes entries (load, sync): values, --workers,
	// and RLIMIT_MEMLOCK lifted first. Else it deletes keys, one chunk at
	// a time.
	writes bool
}

func newEntryCommand(name, about, syscall string, writes bool) *entryCommand {
	e := &entryCommand{cmd: newCommand(name, name+" [flags] MAP FILE|-", about), writes: writes}
	e.in.register(e.cmd.fs, !writes)
	e.batch.register(e.cmd.fs, syscall, writes)
	return e
}

// parse parses args: MAP and FILE, with the flags anywhere, checked; pin
// is the MAP as messages name it.
func (e *entryCommand) parse(c *cli, args []string) (pin, file string, opts input.Options, err error) {
	pos, opts, err := c.parseWithInput(e.cmd, args, &e.in, "MAP", "FILE")
	if err == nil {
		err = e.batch.check(e.cmd)
	}
	if err != nil {
		return "", "", opts, err
	}
	return pos[0], pos[1], opts, nil
}

// openMap opens the MAP read-write, after lifting RLIMIT_MEMLOCK for a
// command that writes.
func (e *entryCommand) openMap(c *cli, refusals ...func(bpfbatch.MapInfo) string) (*bpfbatch.Map, error) {
	if e.writes {
		c.removeMemlock()
	}
	return openMap(e.cmd, readWrite, refusals...)
}

// batchFlags are --chunk and --workers: how load, sync and delete split
// their writes and deletes into syscalls. They mean what the library's
// BatchOptions.Chunk and Workers mean, in every command.
type batchFlags struct{ chunk, workers int }

// register adds --chunk for syscall, and --workers when the command
// writes in parallel (load and sync; delete goes one chunk at a time, in
// order). --chunk 0 leaves the split to the library: evenly over the
// workers, so one call with one worker.
func (f *batchFlags) register(fs *flag.FlagSet, syscall string, workers bool) {
	if !workers {
		fs.IntVar(&f.chunk, "chunk", defaultChunk, "keys per "+syscall+" syscall; 0 deletes them all in one call")
		return
	}
	fs.IntVar(&f.chunk, "chunk", defaultChunk, "entries per "+syscall+" syscall; 0 lets the library split the writes evenly over the\nworkers (one call with one worker), giving no worker fewer than 2048 entries")
	fs.IntVar(&f.workers, "workers", 1, "syscalls in flight at once; 0 or 1 writes one chunk at a time, in order. More than 1\nwrites chunks out of order, so on an error the message lists the input lines written\ninstead of 'everything before line N'. Not for queue and stack maps")
}

// check refuses negative values.
func (f *batchFlags) check(cmd *command) error {
	if f.chunk < 0 || f.workers < 0 {
		return cmd.usageError("--chunk and --workers must not be negative (--chunk 0 lets the library split the entries evenly over the workers; --workers 0 writes one chunk at a time)")
	}
	return nil
}

// layoutFor is the input layout of a map of info's type and sizes whose
// values take stride bytes per element in the library's buffers for the
// call (Map.ValueStrideFor, or MapType.ValueStride for a map not made
// yet); stride 0 is a keys-only input (delete, dump --keys-only). A
// per-CPU map takes one value column per possible CPU, unless perElement
// (--all-cpus or --cpu N hand the library one value per entry). The layout
// also holds the bounds the kernel would only report half-way: array
// indices, LPM prefix lengths.
func layoutFor(info bpfbatch.MapInfo, stride int, perElement bool) (input.Layout, error) {
	l := input.Layout{KeySize: int(info.KeySize), LPM: info.Type == bpfbatch.LPMTrie}
	if info.Type.IsArray() {
		l.MaxIndex = info.MaxEntries
	}
	if stride == 0 {
		return l, nil
	}
	l.ValueSize, l.Stride = int(info.ValueSize), stride
	if !info.Type.PerCPU() || perElement {
		return l, nil
	}
	var err error
	l.CPUs, err = bpfbatch.PossibleCPUs()
	return l, err
}

// noBTF says why a map may lack BTF types.
const noBTF = "it was created without them: libbpf and cilium/ebpf give them to a program's maps"

// checkFormats refuses a key or value format that cannot encode the map's
// sizes, as a usage error.
func checkFormats(cmd *command, opts input.Options, target fmt.Stringer) error {
	if opts.Syntax == input.BpftoolJSON {
		return nil
	}
	if opts.Key == input.BTF && opts.KeyCodec == nil && opts.KeySize > 0 {
		return cmd.usageError("--key-format btf: %s has no BTF type for its key (%s); use another format, such as hex", target, noBTF)
	}
	if opts.Value == input.BTF && opts.ValueCodec == nil && !opts.KeysOnly {
		return cmd.usageError("--value-format btf: %s has no BTF type for its value (%s); use another format, such as hex", target, noBTF)
	}
	if opts.KeySize > 0 {
		if err := opts.Key.Fits(opts.KeySize); err != nil {
			return cmd.usageError("--key-format %s does not fit %s (key_size %d): %v", opts.Key, target, opts.KeySize, err)
		}
	}
	if opts.KeysOnly {
		return nil
	}
	if err := opts.Value.Fits(opts.ValueSize); err != nil {
		return cmd.usageError("--value-format %s does not fit %s (value_size %d): %v", opts.Value, target, opts.ValueSize, err)
	}
	return nil
}

// Access modes of openMap.
const (
	readWrite = false
	readOnly  = true
)

// openMap opens cmd's MAP (read-only when ro: commands that only read need
// only read permission, and reach frozen maps too), and refuses (exit 2) a
// map that one of refusals gives a reason for; the caller closes it.
func openMap(cmd *command, ro bool, refusals ...func(bpfbatch.MapInfo) string) (*bpfbatch.Map, error) {
	m, err := cmd.ref.open(ro)
	if err != nil {
		return nil, err
	}
	for _, refuse := range refusals {
		if why := refuse(m.Info()); why != "" {
			m.Close()
			return nil, badInput("%s %s: %s", cmd.name, cmd.ref, why)
		}
	}
	return m, nil
}

// loadable refuses the maps that load cannot fill.
func loadable(info bpfbatch.MapInfo) string { return loadRefusal(info.Type) }

// loadRefusal says why load cannot fill maps of type t, or "": their
// values are file descriptors, or user space does not fill them with
// key/value updates at all.
func loadRefusal(t bpfbatch.MapType) string {
	if t.FDValues() {
		return fmt.Sprintf("the values of %s maps are file descriptors of the writing process, which a file cannot hold", t)
	}
	switch t {
	case bpfbatch.RingBuf, bpfbatch.UserRingBuf, bpfbatch.StructOps, bpfbatch.Arena, bpfbatch.StackTrace,
		bpfbatch.CgroupStorage, bpfbatch.PerCPUCgroupStorage, bpfbatch.SkStorage, bpfbatch.InodeStorage,
		bpfbatch.TaskStorage, bpfbatch.CgrpStorage:
		return fmt.Sprintf("%s maps are not filled with key/value updates from user space", t)
	}
	return ""
}

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

// cannotWrite is, for a dry run of cmd on m (pinned at pin) that found
// changes to make, the error that says the real run would fail because
// the process cannot write m at all: a frozen map, or a read-only fd.
// dryRun says what the dry run found, and that nothing changed. The
// library's UpdatePath probe finds it (EPERM, with the cause) on kernels
// with batch commands (5.6); nil when m can be written.
func cannotWrite(cmd *command, pin string, m *bpfbatch.Map, dryRun string) error {
	if _, err := m.UpdatePath(); err != nil {
		return failed(err, "%s %s: a real %s would fail: the map cannot be written; %s", cmd.name, pin, cmd.name, dryRun)
	}
	return nil
}

// source is one command's input: the entries of FILE (or stdin) parsed for
// one map, with the bad lines found and a progress line on a terminal.
type source struct {
	command string // "load", "sync", ... at the start of messages
	pin     string
	name    string // the input's name in messages: the file, or "stdin"
	r       *input.Reader
	layout  input.Layout
	prog    *progress
	change  change
	close   func() // closes the input file

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

// openSource opens FILE (- for stdin) and a reader of it for opts, whose
// layout is target's, described by info; formats are the format flags.
// The caller closes it.
func (c *cli) openSource(cmd *command, pin, file string, opts input.Options, formats *formatFlags, info bpfbatch.MapInfo, target fmt.Stringer, ch change) (*source, error) {
	if err := formats.resolve(cmd, info, &opts, c.note); err != nil {
		return nil, err
	}
	if err := checkFormats(cmd, opts, target); err != nil {
		return nil, err
	}
	in, name, closeIn, err := c.openInput(cmd, file)
	if err != nil {
		return nil, err
	}
	r, err := input.NewReader(in, opts)
	if err != nil {
		closeIn()
		return nil, cmd.usageError("input options do not fit %s: %v", target, err)
	}
	return &source{command: cmd.name, pin: pin, name: name, r: r, layout: opts.Layout, prog: c.prog, change: ch, close: closeIn}, nil
}

// openInput opens FILE, or stdin for "-". A directory is a mistake on the
// command line, not a file that failed to read.
func (c *cli) openInput(cmd *command, file string) (io.Reader, string, func(), error) {
	if file == "-" {
		return c.stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, "", nil, failed(nil, "%s: %v", cmd.name, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, "", nil, cmd.usageError("FILE %s is a directory; give a file of entries, or - for stdin", file)
	}
	return f, file, func() { f.Close() }, nil
}

// stopped is the error of a run a signal stopped before any change.
func (s *source) stopped(where string) error {
	return failed(nil, "%s %s: interrupted %s; %s", s.command, s.pin, where, s.change.untouched)
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

// collect records a bad line and reports whether reading can go on; any
// other error ends the input and is returned.
func (s *source) collect(err error) (more bool, fatal error) {
	var le *input.LineError
	if !errors.As(err, &le) {
		return false, failed(nil, "read %s: %v", s.name, err)
	}
	if len(s.bad) < maxReported {
		s.bad = append(s.bad, le)
	}
	s.badCount++
	return !le.Fatal, nil
}

// badLines is the error of an input with bad lines: each listed
// compiler-style (FILE:LINE: cause), then what came of them.
func (s *source) badLines(what string) error {
	var b strings.Builder
	for _, le := range s.bad {
		fmt.Fprintf(&b, "%s:%d: %v\n", s.name, le.Line, le.Err)
	}
	if more := s.badCount - len(s.bad); more > 0 {
		fmt.Fprintf(&b, "%s: ... and %s\n", s.name, plural(more, "more bad line", "more bad lines"))
	}
	fmt.Fprintf(&b, "bpfbatch: %s in %s; %s", plural(s.badCount, "bad line", "bad lines"), s.name, what)
	return &exitError{code: exitUsage, text: b.String()}
}

// readAll parses the whole input into b, collecting bad lines.
func (s *source) readAll(ctx context.Context, b *input.Batch) error {
	for {
		stopped, err := s.read(ctx, b, b.Len()+readBlock)
		if stopped {
			return s.stopped(fmt.Sprintf("while reading %s after line %d", s.name, s.r.Line()))
		}
		s.prog.reading(s.r.Line())
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if more, err := s.collect(err); err != nil || !more {
				return err
			}
		}
	}
}

// readWhole reads and checks the whole input into b and drops the entries
// whose key a later line repeats: the last line of a key wins. An error
// says that nothing was changed.
func (s *source) readWhole(ctx context.Context, b *input.Batch) error {
	if err := s.readAll(ctx, b); err != nil {
		return err
	}
	if err := s.ended(ctx, s.change.untouched+": the whole input is checked before "+s.change.firstChange); err != nil {
		return err
	}
	s.dropped = b.Dedupe(s.layout)
	return nil
}

// ended is the error of an input read to its end before any change: a
// signal that came as it ended (perhaps because the signal also stopped
// whatever was writing it, mid-line even), or its bad lines, with what
// came of them; nil for a good input.
func (s *source) ended(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return s.stopped(fmt.Sprintf("at the end of %s (line %d)", s.name, s.r.Line()))
	}
	if s.badCount > 0 {
		return s.badLines(what)
	}
	return nil
}

// readChecked is readWhole, and then checkCapacity against the map that
// info describes (target in messages).
func (s *source) readChecked(ctx context.Context, b *input.Batch, info bpfbatch.MapInfo, target fmt.Stringer) error {
	if err := s.readWhole(ctx, b); err != nil {
		return err
	}
	return s.checkCapacity(b, info, target)
}

// droppedNote tells a summary how many lines a repeated key dropped.
func (s *source) droppedNote() string {
	if s.dropped == 0 {
		return ""
	}
	return fmt.Sprintf("; dropped %s whose key a later line repeats (%s)", plural(s.dropped, "line", "lines"), s.change.onceNote)
}

// checkCapacity refuses an input with more distinct keys than the map can
// ever hold, which the kernel would fail with E2BIG or ENOSPC only after
// writing max_entries of them. b holds one entry per key (Dedupe), in the
// order they will be written.
func (s *source) checkCapacity(b *input.Batch, info bpfbatch.MapInfo, target fmt.Stringer) error {
	if !fillsUp(info) || uint64(b.Len()) <= uint64(info.MaxEntries) {
		return nil
	}
	i := int(info.MaxEntries)
	return badInput("%s:%d: distinct key number %d, but %s holds at most max_entries %d; the kernel would fail here after writing %s; %s",
		s.name, b.Lines[i], i+1, target, info.MaxEntries, plural(i, "entry", "entries"), s.change.untouched)
}

// fillsUp reports whether a map refuses new keys once it holds
// max_entries: a map with keys, but not an LRU map, which evicts, nor an
// array, whose keys are indices (the parser checks each index).
func fillsUp(info bpfbatch.MapInfo) bool {
	return info.KeySize > 0 && !info.Type.Evicts() && !info.Type.IsArray()
}

// entryFile is a whole input of entries for a map, as sync and replace
// read it before any change: the map described by info (target in
// messages), whose values take stride bytes each (the library's
// ValueStride), and opts from the command line.
type entryFile struct {
	cmd       *command
	pin, file string
	opts      input.Options
	info      bpfbatch.MapInfo
	stride    int
	formats   *formatFlags
	target    fmt.Stringer
	change    change
}

// readEntries reads and checks f's whole input into b: the layout, bad
// lines, repeated keys (the last line wins) and capacity. The caller
// closes the source. An error says that nothing was changed.
func (c *cli) readEntries(ctx context.Context, f entryFile, b *input.Batch) (*source, error) {
	var err error
	if f.opts.Layout, err = layoutFor(f.info, f.stride, false); err != nil {
		return nil, err
	}
	if f.opts.AllCPUs && f.opts.CPUs == 0 {
		return nil, f.cmd.usageError("--all-cpus applies to per-CPU maps only; %s has one value per element", f.target)
	}
	s, err := c.openSource(f.cmd, f.pin, f.file, f.opts, f.formats, f.info, f.target, f.change)
	if err != nil {
		return nil, err
	}
	if err := s.readChecked(ctx, b, f.info, f.target); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}
