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
	// value per possible CPU (or one plain value with AllCPUs).
	JSON
)

var syntaxNames = [...]string{Auto: "auto", Text: "text", JSON: "json"}

// String returns the syntax's name as ParseSyntax accepts it.
func (s Syntax) String() string { return nameOf(syntaxNames[:], s, "Syntax") }

// ParseSyntax returns the Syntax named s: "auto", "text" or "json".
func ParseSyntax(s string) (Syntax, error) {
	if v, ok := valueOf[Syntax](syntaxNames[:], s); ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown input format %q (want auto, text or json)", s)
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
	if opts.KeySize > 0 {
		if err := opts.Key.Fits(opts.KeySize); err != nil {
			return nil, fmt.Errorf("key format: %w", err)
		}
	}
	if opts.KeysOnly {
		if opts.KeySize == 0 || opts.ValueSize != 0 || opts.CPUs != 0 || opts.AllCPUs {
			return nil, errors.New("a keys-only layout has a key size and no values")
		}
	} else if opts.ValueSize == 0 {
		return nil, errors.New("the map has no values (value_size 0): nothing to load")
	} else if err := opts.Value.Fits(opts.ValueSize); err != nil {
		return nil, fmt.Errorf("value format: %w", err)
	}
	if opts.AllCPUs && opts.CPUs == 0 {
		return nil, errors.New("all-CPUs values apply only to per-CPU maps")
	}
	if opts.Syntax < Auto || opts.Syntax > JSON {
		return nil, fmt.Errorf("unknown syntax %d", int(opts.Syntax))
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Reader{
		opts:   opts,
		key:    encoder{opts.Key, opts.MaskHostBits},
		value:  encoder{opts.Value, opts.MaskHostBits},
		syntax: opts.Syntax,
		sc:     sc,
	}, nil
}

// Line is the number of the last line read. Unlike the other methods it
// may be called while Read runs.
func (r *Reader) Line() int { return int(r.lines.Load()) }

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
			r.syntax = Text
			if line[0] == '{' {
				r.syntax = JSON
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
	for f := range strings.FieldsSeq(string(line)) {
		if f[0] == '#' {
			break
		}
		cols = append(cols, f)
	}
	if r.opts.KeysOnly {
		if len(cols) != 1 {
			return fmt.Errorf("want 1 column: KEY (one key per line); got %d", len(cols))
		}
		if err := r.key.encode(cols[0], key); err != nil {
			return fmt.Errorf("key %s: %w", quoteToken(cols[0]), err)
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
			return fmt.Errorf("key %s: %w", quoteToken(cols[0]), err)
		}
	}
	return r.fillValue(value, cols[keyCols:], func(i int, dst []byte) error {
		if err := r.value.encode(cols[keyCols+i], dst); err != nil {
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
