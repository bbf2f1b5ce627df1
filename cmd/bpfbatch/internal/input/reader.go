package input

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/bpftooljson"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// Layout is what the input must fit: the map's sizes, and the bounds the
// kernel would otherwise only report half-way through a load.
type Layout struct {
	KeySize   int
	ValueSize int
	// CPUs is the number of possible CPUs for per-CPU maps, 0 for maps
	// with one value per element.
	CPUs int
	// Stride is the bytes one element's value takes in Batch.Values, as
	// the library gives it for the map and the call (bpfbatch's
	// Map.ValueStrideFor, MapType.ValueStride): with CPUs, one slot per
	// CPU, element-major, each slot ValueSize bytes and zero padding (the
	// kernel copies value_size rounded up to 8 per CPU). 0 means
	// ValueSize, for values without per-CPU slots.
	Stride int
	// MaxIndex, if non-zero, bounds the u32 keys of an array map: the
	// kernel fails an index >= max_entries with E2BIG mid-load.
	MaxIndex uint32
	// LPM marks an LPM trie key (u32 prefixlen, then data), whose
	// prefixlen the kernel rejects with EINVAL mid-load when it exceeds
	// the data bits.
	LPM bool
}

// Slot is the bytes one CPU's value takes in a per-CPU value: Stride
// divided among the CPUs.
func (l Layout) Slot() int { return l.valueStride() / max(l.CPUs, 1) }

// valueStride is Stride, or ValueSize when Stride is 0.
func (l Layout) valueStride() int {
	if l.Stride == 0 {
		return l.ValueSize
	}
	return l.Stride
}

// Syntax is the syntax of the input lines.
type Syntax int

const (
	// Auto picks Text or JSON from the first entry line: JSON when it
	// starts with '{'.
	Auto Syntax = iota
	// Text lines are whitespace-separated columns: KEY VALUE, one VALUE
	// column per possible CPU for per-CPU maps (or one with AllCPUs), no
	// KEY column for maps without keys.
	Text
	// JSON lines are objects {"key": K, "value": V}. K and V are strings
	// in the key or value format, byte arrays [10, 0, 0, 1], or numbers
	// for the integer formats. For per-CPU maps V is an array with one
	// value per possible CPU (or one plain value with AllCPUs). In the BTF
	// format K and V are bpftool's formatted JSON, and a per-CPU map's
	// values are "values": [{"cpu": N, "value": V}, ...] as bpftool
	// prints them.
	JSON
	// BpftoolJSON is what `bpftool -j map dump` prints: one JSON array of
	// {"key": ["0x0a", ...], "value": [...]} (per-CPU: "values"), read by
	// package bpftooljson. The formats do not apply: bpftool gives the
	// bytes. Never picked by Auto.
	BpftoolJSON
)

var syntaxNames = [...]string{Auto: "auto", Text: "text", JSON: "json", BpftoolJSON: "bpftool-json"}

// String returns the syntax's name as ParseSyntax accepts it.
func (s Syntax) String() string { return nameOf(syntaxNames[:], s, "Syntax") }

// ParseSyntax returns the Syntax named s: "auto", "text" or "json".
func ParseSyntax(s string) (Syntax, error) {
	if v, ok := valueOf[Syntax](syntaxNames[:], s); ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown input format %q (want auto, text, json or bpftool-json)", s)
}

// Options configure a Reader.
type Options struct {
	Layout
	Key, Value Format
	Syntax     Syntax
	// AllCPUs makes one value per entry stand for every CPU of a per-CPU
	// map.
	AllCPUs bool
	// MaskHostBits clears the bits beyond the prefix length of CIDR keys
	// and values instead of rejecting them.
	MaskHostBits bool
	// KeysOnly reads one key per line and no value (for deletes): text
	// lines are KEY, JSON lines {"key": K}. The Layout then has no values
	// (ValueSize and CPUs 0) and Batch.Values stays empty.
	KeysOnly bool
	// KeyCodec and ValueCodec read and print keys and values in the BTF
	// format: the Codecs of the map's BTF types, nil when it has none.
	KeyCodec, ValueCodec *btfjson.Codec
	// JSON, if not nil, are the key and value formats of JSON lines, where
	// they differ from Key and Value (those of text lines): the syntax of
	// an Auto input is known only at its first entry line.
	JSON *Formats
}

// SetCodecs sets KeyCodec and ValueCodec to the Codecs of the BTF types
// key and value; a nil type leaves its Codec nil.
func (o *Options) SetCodecs(key, value btf.Type) error {
	var err error
	if key != nil {
		if o.KeyCodec, err = btfjson.New(key); err != nil {
			return fmt.Errorf("the key's BTF type: %w", err)
		}
	}
	if value != nil {
		if o.ValueCodec, err = btfjson.New(value); err != nil {
			return fmt.Errorf("the value's BTF type: %w", err)
		}
	}
	return nil
}

// Formats are a key format and a value format.
type Formats struct{ Key, Value Format }

// formatsFor are the formats of lines in syntax s.
func (o *Options) formatsFor(s Syntax) Formats {
	if s == JSON && o.JSON != nil {
		return *o.JSON
	}
	return Formats{o.Key, o.Value}
}

// checkFormats checks that f fits the layout, and that a BTF format has a
// Codec of the map's key or value size.
func (o *Options) checkFormats(f Formats) error {
	if o.KeySize > 0 {
		if err := f.Key.Fits(o.KeySize); err != nil {
			return fmt.Errorf("key format: %w", err)
		}
		if err := checkCodec(f.Key, o.KeyCodec, "key", o.KeySize); err != nil {
			return err
		}
	}
	if o.KeysOnly {
		return nil
	}
	if err := f.Value.Fits(o.ValueSize); err != nil {
		return fmt.Errorf("value format: %w", err)
	}
	if err := checkCodec(f.Value, o.ValueCodec, "value", o.ValueSize); err != nil {
		return err
	}
	if f.Value == BTF && o.CPUs > 0 && o.Slot() != o.ValueCodec.Slot() {
		return fmt.Errorf("per-CPU slots of %d bytes, the BTF value type's are %d", o.Slot(), o.ValueCodec.Slot())
	}
	return nil
}

// checkCodec checks the Codec of a BTF format for a key or value of size
// bytes.
func checkCodec(f Format, c *btfjson.Codec, what string, size int) error {
	switch {
	case f != BTF:
		return nil
	case c == nil:
		return fmt.Errorf("%s format btf: the map has no BTF type for its %s; use another format, such as hex", what, what)
	case c.Size() != size:
		return fmt.Errorf("%s format btf: the BTF type has %d bytes, the map's %s %d", what, c.Size(), what, size)
	}
	return nil
}

// utf8BOM is U+FEFF encoded in UTF-8.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// MaxLine bounds one input line; longer lines are an error rather than an
// unbounded allocation.
const MaxLine = 16 << 20

// Batch holds parsed entries in the kernel's layout.
type Batch struct {
	// Keys holds Len() keys of KeySize bytes each.
	Keys []byte
	// Values holds Len() values of Layout.Stride bytes each; per-CPU
	// padding is zero.
	Values []byte
	// Lines is the input line number (from 1) of each entry.
	Lines []int
}

// Len is the number of entries in b.
func (b *Batch) Len() int { return len(b.Lines) }

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	b.Keys, b.Values, b.Lines = b.Keys[:0], b.Values[:0], b.Lines[:0]
}

// LineError is a malformed input line.
type LineError struct {
	Line int
	Err  error
	// Fatal means the input cannot be read past this line (it is longer
	// than MaxLine); otherwise reading continues with the next line.
	Fatal bool
}

// Error returns "line N: cause".
func (e *LineError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *LineError) Unwrap() error { return e.Err }

// Reader parses entries from an input stream.
type Reader struct {
	opts   Options
	key    encoder
	value  encoder
	syntax Syntax
	sc     *bufio.Scanner
	bt     *bpftooljson.Reader // BpftoolJSON instead of sc
	line   int
	// lines mirrors line for Line, which a caller may call while Read
	// runs on another goroutine (to report progress or an interruption).
	lines atomic.Int64
	fatal error // an error that ends the input (I/O, line too long)
}

// NewReader returns a Reader of r's entries for a map of opts.Layout. It
// fails when the formats cannot encode the map's key or value size.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	if opts.KeySize < 0 || opts.ValueSize < 0 || opts.CPUs < 0 || opts.Stride < 0 {
		return nil, errors.New("negative sizes in layout")
	}
	if st := opts.valueStride(); opts.CPUs == 0 && st != opts.ValueSize || opts.CPUs > 0 && (st%opts.CPUs != 0 || st/opts.CPUs < opts.ValueSize) {
		return nil, fmt.Errorf("value stride %d does not hold %d-byte values for %d CPUs", st, opts.ValueSize, opts.CPUs)
	}
	if opts.KeysOnly {
		if opts.KeySize == 0 || opts.ValueSize != 0 || opts.CPUs != 0 || opts.AllCPUs {
			return nil, errors.New("a keys-only layout has a key size and no values")
		}
	} else if opts.ValueSize == 0 {
		return nil, errors.New("the map has no values (value_size 0): nothing to load")
	}
	if opts.AllCPUs && opts.CPUs == 0 {
		return nil, errors.New("all-CPUs values apply only to per-CPU maps")
	}
	if opts.Syntax < Auto || opts.Syntax > BpftoolJSON {
		return nil, fmt.Errorf("unknown syntax %d", int(opts.Syntax))
	}
	if opts.Syntax == BpftoolJSON {
		if opts.AllCPUs {
			return nil, errors.New("bpftool's JSON holds every CPU's value: all-CPUs values do not apply")
		}
		bl := bpftooljson.Layout{KeySize: opts.KeySize, ValueSize: opts.ValueSize, CPUs: opts.CPUs, KeysOnly: opts.KeysOnly}
		if opts.valueStride() != bl.Stride() {
			return nil, fmt.Errorf("value stride %d is not the kernel's %d", opts.valueStride(), bl.Stride())
		}
		bt, err := bpftooljson.NewReader(r, bl)
		if err != nil {
			return nil, err
		}
		return &Reader{opts: opts, syntax: BpftoolJSON, bt: bt}, nil
	}
	if err := opts.checkFormats(Formats{opts.Key, opts.Value}); err != nil {
		return nil, err
	}
	if opts.JSON != nil {
		if err := opts.checkFormats(*opts.JSON); err != nil {
			return nil, fmt.Errorf("in JSON lines: %w", err)
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	r2 := &Reader{opts: opts, sc: sc}
	r2.setSyntax(opts.Syntax)
	return r2, nil
}

// setSyntax sets the syntax and the encoders of its formats.
func (r *Reader) setSyntax(s Syntax) {
	r.syntax = s
	f := r.opts.formatsFor(s)
	r.key = encoder{f.Key, r.opts.MaskHostBits, r.opts.KeyCodec}
	r.value = encoder{f.Value, r.opts.MaskHostBits, r.opts.ValueCodec}
}

// Line is the number of the last line read. Unlike the other methods it
// may be called while Read runs.
func (r *Reader) Line() int { return int(r.lines.Load()) }

// Formats returns the options in use, with Key and Value the formats of
// the syntax in use (JSON's, once Auto has picked it): those to print the
// input's keys and values back in.
func (r *Reader) Formats() Options {
	o := r.opts
	o.Key, o.Value = r.key.format, r.value.format
	o.JSON = nil
	return o
}

// Syntax is the syntax in use: the one given, or once Auto has seen an
// entry line, the one it picked.
func (r *Reader) Syntax() Syntax { return r.syntax }

// Read appends entries to b until b holds limit entries or the input ends,
// which it reports as io.EOF. A malformed line stops Read with a
// *LineError; b then holds the entries before it and the next Read
// continues after it, so a caller can collect every bad line. Any other
// error (reading the input, or a *LineError with Fatal set for a line
// longer than MaxLine) ends the input: Read returns it again.
func (r *Reader) Read(b *Batch, limit int) error {
	if r.fatal != nil {
		return r.fatal
	}
	if r.bt != nil {
		return r.readBpftool(b, limit)
	}
	for b.Len() < limit {
		if !r.sc.Scan() {
			err := r.sc.Err()
			switch {
			case err == nil:
				r.fatal = io.EOF
			case errors.Is(err, bufio.ErrTooLong):
				r.fatal = &LineError{Line: r.line + 1, Err: fmt.Errorf("line longer than %d MiB", MaxLine>>20), Fatal: true}
			default:
				r.fatal = fmt.Errorf("after line %d: %w", r.line, err)
			}
			return r.fatal
		}
		r.line++
		r.lines.Store(int64(r.line))
		line := r.sc.Bytes()
		if r.line == 1 {
			// A UTF-8 byte order mark, which some Windows editors write,
			// is not part of the first entry.
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue // blank lines and comments
		}
		if r.syntax == Auto {
			// '[' too: a JSON line's error then says that bpftool's dumps
			// are read with another syntax.
			if line[0] == '{' || line[0] == '[' {
				r.setSyntax(JSON)
			} else {
				r.setSyntax(Text)
			}
		}
		if err := r.parse(line, b); err != nil {
			return &LineError{Line: r.line, Err: err}
		}
	}
	return nil
}

// parse appends the entry on line to b, or leaves b unchanged on error.
func (r *Reader) parse(line []byte, b *Batch) error {
	nk, nv := len(b.Keys), len(b.Values)
	b.Keys = grow(b.Keys, r.opts.KeySize)
	b.Values = grow(b.Values, r.opts.valueStride())
	key, value := b.Keys[nk:], b.Values[nv:]
	var err error
	if r.syntax == JSON {
		err = r.parseJSON(line, key, value)
	} else {
		err = r.parseText(line, key, value)
	}
	if err == nil {
		err = r.checkKey(key)
	}
	if err != nil {
		b.Keys, b.Values = b.Keys[:nk], b.Values[:nv]
		return err
	}
	b.Lines = append(b.Lines, r.line)
	return nil
}

// readBpftool is Read for BpftoolJSON: an entry's line is the line where
// it starts.
func (r *Reader) readBpftool(b *Batch, limit int) error {
	for b.Len() < limit {
		nk, nv := len(b.Keys), len(b.Values)
		b.Keys = grow(b.Keys, r.opts.KeySize)
		b.Values = grow(b.Values, r.opts.valueStride())
		key := b.Keys[nk:]
		err := r.bt.Next(key, b.Values[nv:])
		if err == nil {
			err = r.checkKey(key)
			if err != nil {
				err = &bpftooljson.EntryError{Index: r.bt.Index() - 1, Line: r.bt.Line(), Err: err}
			}
		}
		r.line = r.bt.Line()
		r.lines.Store(int64(r.line))
		if err == nil {
			b.Lines = append(b.Lines, r.line)
			continue
		}
		b.Keys, b.Values = b.Keys[:nk], b.Values[:nv]
		var ee *bpftooljson.EntryError
		switch {
		case errors.Is(err, io.EOF):
			r.fatal = io.EOF
		case errors.As(err, &ee):
			le := &LineError{Line: ee.Line, Err: fmt.Errorf("entry %d of the array: %w", ee.Index, ee.Err), Fatal: ee.Fatal}
			if !ee.Fatal {
				return le
			}
			r.fatal = le
		default:
			r.fatal = err
		}
		return r.fatal
	}
	return nil
}

// grow extends s by n zero bytes (the append-make form neither allocates
// the temporary nor skips the zeroing). Zeros matter: the kernel stores
// per-CPU padding, and a reused Batch holds the previous entries' bytes.
func grow(s []byte, n int) []byte {
	return append(s, make([]byte, n)...)
}

// checkKey applies the map's bounds that the kernel would only enforce
// mid-load, so that validating the whole input up front catches them.
func (r *Reader) checkKey(key []byte) error {
	switch {
	case r.opts.MaxIndex > 0 && len(key) == 4:
		if i := binary.NativeEndian.Uint32(key); i >= r.opts.MaxIndex {
			return fmt.Errorf("key: index %d is out of range for an array of max_entries %d", i, r.opts.MaxIndex)
		}
	case r.opts.LPM && len(key) > 4:
		if pl, bits := binary.NativeEndian.Uint32(key), 8*(len(key)-4); pl > uint32(bits) {
			return fmt.Errorf("key: prefixlen %d (first 4 bytes, native order) exceeds the %d address bits of this LPM trie", pl, bits)
		}
	}
	return nil
}

// parseText reads "KEY VALUE..." columns; a column starting with '#' starts
// a comment.
func (r *Reader) parseText(line []byte, key, value []byte) error {
	var fields [8]string
	cols := fields[:0]
	if r.key.format == BTF || r.value.format == BTF {
		var err error
		if cols, err = jsonColumns(cols, line); err != nil {
			return err
		}
	} else {
		for f := range strings.FieldsSeq(string(line)) {
			if f[0] == '#' {
				break
			}
			cols = append(cols, f)
		}
	}
	if r.opts.KeysOnly {
		if len(cols) != 1 {
			return fmt.Errorf("want 1 column: KEY (one key per line); got %d", len(cols))
		}
		if err := r.key.encode(cols[0], key); err != nil {
			return r.key.tokenError("key", cols[0], err)
		}
		return nil
	}
	keyCols := 0
	if r.opts.KeySize > 0 {
		keyCols = 1
	}
	valueCols := 1
	if r.opts.CPUs > 0 && !r.opts.AllCPUs {
		valueCols = r.opts.CPUs
	}
	if len(cols) != keyCols+valueCols {
		return r.columnsError(len(cols), keyCols+valueCols)
	}
	if keyCols == 1 {
		if err := r.key.encode(cols[0], key); err != nil {
			return r.key.tokenError("key", cols[0], err)
		}
	}
	return r.fillValue(value, cols[keyCols:], func(i int, dst []byte) error {
		if err := r.value.encode(cols[keyCols+i], dst); err != nil {
			if r.value.format == BTF {
				return r.value.tokenError(r.valueRoot(i), "", err)
			}
			return fmt.Errorf("value %s: %w", r.valueName(i, cols[keyCols+i]), err)
		}
		return nil
	})
}

// fillValue encodes n given values into the value buffer: one value, or one
// per CPU slot, or one copied to every CPU slot (AllCPUs).
func (r *Reader) fillValue(value []byte, vals []string, encode func(i int, dst []byte) error) error {
	if r.opts.CPUs == 0 {
		return encode(0, value)
	}
	slot, vs := r.opts.Slot(), r.opts.ValueSize
	if r.opts.AllCPUs {
		if err := encode(0, value[:vs]); err != nil {
			return err
		}
		for c := 1; c < r.opts.CPUs; c++ {
			copy(value[c*slot:c*slot+vs], value[:vs])
		}
		return nil
	}
	for c := range r.opts.CPUs {
		if err := encode(c, value[c*slot:c*slot+vs]); err != nil {
			return err
		}
	}
	return nil
}

// valueName names the i-th value of an entry in errors: "for CPU 1" on
// per-CPU maps.
func (r *Reader) valueName(i int, tok string) string {
	if r.opts.CPUs > 0 && !r.opts.AllCPUs {
		return fmt.Sprintf("for CPU %d (%s)", i, quoteToken(tok))
	}
	return quoteToken(tok)
}

// valueRoot names the i-th value of an entry in the errors of the BTF
// format: "value", or "value[cpu 1]" on per-CPU maps.
func (r *Reader) valueRoot(i int) string {
	if r.opts.CPUs > 0 && !r.opts.AllCPUs {
		return "value[cpu " + strconv.Itoa(i) + "]"
	}
	return "value"
}

func (r *Reader) columnsError(got, want int) error {
	var shape string
	switch {
	case r.opts.KeySize == 0:
		shape = "VALUE (this map has no keys)"
	case r.opts.CPUs > 0 && !r.opts.AllCPUs:
		shape = fmt.Sprintf("KEY and one VALUE per possible CPU (%d), or KEY VALUE with --all-cpus", r.opts.CPUs)
	default:
		shape = "KEY VALUE"
	}
	if r.opts.KeySize == 0 && r.opts.CPUs > 0 && !r.opts.AllCPUs {
		shape = fmt.Sprintf("one VALUE per possible CPU (%d); this map has no keys", r.opts.CPUs)
	}
	return fmt.Errorf("want %d columns: %s; got %d", want, shape, got)
}
