// Package bpftooljson reads what `bpftool -j map dump` (or -p) prints, so
// that a map dumped by bpftool loads into another:
//
//	[{"key": ["0x0a", "0x00", ...], "value": ["0x01", ...]}, ...]
//
// Per-CPU maps have "values": [{"cpu": 0, "value": [...]}, ...] instead of
// "value". Maps with BTF add "formatted", the same key and value by BTF
// member; the Reader skips it and takes the hex bytes, which are exact
// (the formatted JSON loses a string's bytes after its NUL, and bpftool
// does not always print it as valid JSON).
//
// The Reader streams: it holds one window of input and the caller's key
// and value, however long the dump.
package bpftooljson

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Layout is the map the entries are for.
type Layout struct {
	KeySize   int
	ValueSize int
	// CPUs is the number of possible CPUs of a per-CPU map, 0 for other
	// maps. A per-CPU value is one slot per CPU of ValueSize rounded up
	// to 8 bytes, element-major, as the kernel copies them.
	CPUs int
	// KeysOnly reads keys only (to delete them): values are skipped.
	KeysOnly bool
}

// Slot is the bytes one CPU's value takes in a per-CPU value.
func (l Layout) Slot() int { return (l.ValueSize + 7) &^ 7 }

// Stride is the bytes of one entry's value: ValueSize, CPUs slots for a
// per-CPU map, 0 with KeysOnly.
func (l Layout) Stride() int {
	switch {
	case l.KeysOnly:
		return 0
	case l.CPUs > 0:
		return l.CPUs * l.Slot()
	}
	return l.ValueSize
}

// EntryError is an entry of the dump that cannot be loaded.
type EntryError struct {
	Index int // the entry's index in the dump's array, from 0
	Line  int // the input line of the entry, or of the syntax error
	Err   error
	// Fatal means the input cannot be read past this error (it is not
	// bpftool's JSON, or reading failed); otherwise Next goes on with the
	// next entry.
	Fatal bool
}

// Error returns "entry N (line L): cause".
func (e *EntryError) Error() string {
	return "entry " + strconv.Itoa(e.Index) + " (line " + strconv.Itoa(e.Line) + "): " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *EntryError) Unwrap() error { return e.Err }

// Reader reads the entries of a bpftool JSON dump.
type Reader struct {
	l      Layout
	lex    *lexer
	index  int // entries read
	line   int // line of the entry being read
	state  int // stateStart, stateEntries, stateDone
	name   []byte
	failed error // a syntax or read error: the input cannot be read past it
}

const (
	stateStart = iota
	stateEntries
	stateDone
)

// NewReader returns a Reader of the dump r holds, for a map of layout l.
func NewReader(r io.Reader, l Layout) (*Reader, error) {
	if l.KeySize < 0 || l.ValueSize < 0 || l.CPUs < 0 {
		return nil, errors.New("negative sizes in layout")
	}
	if !l.KeysOnly && l.ValueSize == 0 {
		return nil, errors.New("the map has no values (value_size 0): nothing to load")
	}
	return &Reader{l: l, lex: newLexer(r)}, nil
}

// Next reads the next entry: its key into key (KeySize bytes) and, unless
// KeysOnly, its value into value (Stride bytes; per-CPU slot padding is
// zero). After the last entry it returns io.EOF.
//
// An entry that does not fit the map (sizes, CPUs, a value bpftool could
// not read) is an *EntryError, and the next call goes on with the next
// entry, so a caller can report every bad entry. Input that is not
// bpftool's JSON is an *EntryError with Fatal set, which Next then
// returns again.
func (r *Reader) Next(key, value []byte) error {
	if len(key) != r.l.KeySize || len(value) != r.l.Stride() {
		return fmt.Errorf("buffers of %d and %d bytes for a key of %d and a value of %d", len(key), len(value), r.l.KeySize, r.l.Stride())
	}
	if r.failed != nil {
		return r.failed
	}
	more, err := r.open()
	if err != nil {
		return r.fail(err)
	}
	if !more {
		return io.EOF
	}
	r.lex.peek()
	r.line = r.lex.line
	entryErr, err := r.entry(key, value)
	if err != nil {
		return r.fail(err)
	}
	index := r.index
	r.index++
	if entryErr != nil {
		return &EntryError{Index: index, Line: r.line, Err: entryErr}
	}
	return nil
}

// Index returns the number of entries read: the index of the next one.
func (r *Reader) Index() int { return r.index }

// Line returns the input line the last entry read starts on.
func (r *Reader) Line() int { return r.line }

// fail records an error that stops the input, at the line where the
// input went wrong.
func (r *Reader) fail(err error) error {
	r.failed = &EntryError{Index: r.index, Line: r.lex.line, Err: err, Fatal: true}
	return r.failed
}

// keep returns first, or e if first is nil: an entry's first problem is
// the one reported, and reading goes on to its end.
func keep(first, e error) error {
	if first == nil {
		return e
	}
	return first
}

// open reads up to the next entry: the array's '[' or the ',' between
// entries, or the closing ']' and the end of the input.
func (r *Reader) open() (more bool, err error) {
	lx := r.lex
	switch r.state {
	case stateDone:
		return false, nil
	case stateStart:
		c, ok := lx.peek()
		switch {
		case !ok && lx.err != nil && !errors.Is(lx.err, io.EOF):
			return false, lx.readErr("")
		case !ok:
			return false, errors.New("the input is empty; want the JSON array that `bpftool -j map dump` prints")
		case c == '{':
			return false, r.bpftoolError()
		case c != '[':
			return false, fmt.Errorf("want the JSON array that `bpftool -j map dump` prints, got %s", lx.unexpected())
		}
		lx.pos++
		r.state = stateEntries
		if !lx.expect(']') {
			return true, nil
		}
	default:
		if lx.expect(',') {
			return true, nil
		}
		if !lx.expect(']') {
			if _, ok := lx.peek(); !ok {
				return false, lx.readErr("',' or ']' after an entry")
			}
			return false, fmt.Errorf("want ',' or ']' after an entry, got %s", lx.unexpected())
		}
	}
	r.state = stateDone
	if _, ok := lx.peek(); ok {
		return false, fmt.Errorf("unexpected %s after the dump's array", lx.unexpected())
	}
	if lx.err != nil && !errors.Is(lx.err, io.EOF) {
		return false, lx.readErr("")
	}
	return false, nil
}

// bpftoolError reads the {"error": "..."} that bpftool prints instead of
// a dump when it fails.
func (r *Reader) bpftoolError() error {
	lx := r.lex
	lx.pos++
	name, err := lx.str(r.name)
	if err == nil && string(name) == "error" && lx.expect(':') {
		if msg, err := lx.str(nil); err == nil {
			return fmt.Errorf("bpftool failed: %s", msg)
		}
	}
	return errors.New("want the JSON array that `bpftool -j map dump` prints, got an object")
}

// entry reads one {"key": ..., "value"/"values": ..., "formatted": ...}.
// entryErr is a problem with this entry only; err one that stops the
// input.
func (r *Reader) entry(key, value []byte) (entryErr, err error) {
	lx := r.lex
	if !lx.expect('{') {
		return nil, fmt.Errorf("want an entry {\"key\": ..., \"value\": ...}, got %s", lx.unexpected())
	}
	clear(value) // per-CPU slot padding
	var haveKey, haveValue, haveValues bool
	for first := true; ; first = false {
		if lx.expect('}') {
			break
		}
		if !first && !lx.expect(',') {
			return nil, fmt.Errorf("want ',' or '}' in an entry, got %s", lx.unexpected())
		}
		name, err := lx.str(r.name)
		if err != nil {
			return nil, fmt.Errorf("want a member name in an entry: %w", err)
		}
		r.name = name
		if !lx.expect(':') {
			return nil, fmt.Errorf("want ':' after %q, got %s", name, lx.unexpected())
		}
		switch string(name) {
		case "key":
			if haveKey {
				return nil, errors.New(`"key" given twice`)
			}
			haveKey = true
			if e, err := r.bytes(key, "key", "keys"); err != nil {
				return nil, err
			} else if e != nil {
				entryErr = keep(entryErr, e)
			}
		case "value":
			if haveValue {
				return nil, errors.New(`"value" given twice`)
			}
			haveValue = true
			switch {
			case r.l.KeysOnly:
				if err := lx.skipFormatted(); err != nil {
					return nil, err
				}
			case r.l.CPUs > 0:
				if err := lx.skipFormatted(); err != nil {
					return nil, err
				}
				entryErr = keep(entryErr, fmt.Errorf(`"value" where a per-CPU map wants "values" (one value per CPU): the dump is of a map of another type`))
			default:
				if e, err := r.value(value[:r.l.ValueSize]); err != nil {
					return nil, err
				} else if e != nil {
					entryErr = keep(entryErr, e)
				}
			}
		case "values":
			if haveValues {
				return nil, errors.New(`"values" given twice`)
			}
			haveValues = true
			switch {
			case r.l.KeysOnly:
				if err := lx.skipFormatted(); err != nil {
					return nil, err
				}
			case r.l.CPUs == 0:
				if err := lx.skipFormatted(); err != nil {
					return nil, err
				}
				entryErr = keep(entryErr, errors.New(`per-CPU "values" where this map wants one "value": the dump is of a per-CPU map, this map is not`))
			default:
				if e, err := r.perCPU(value); err != nil {
					return nil, err
				} else if e != nil {
					entryErr = keep(entryErr, e)
				}
			}
		case "formatted":
			if err := lx.skipFormatted(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown member %s in an entry (bpftool prints key, value or values, formatted)", strconv.QuoteToASCII(string(name)))
		}
	}
	switch {
	case !haveKey && r.l.KeySize > 0:
		entryErr = keep(entryErr, errors.New(`missing "key"`))
	case r.l.KeysOnly:
	case r.l.CPUs > 0 && !haveValues && !haveValue:
		entryErr = keep(entryErr, errors.New(`missing "values"`))
	case r.l.CPUs == 0 && !haveValue && !haveValues:
		entryErr = keep(entryErr, errors.New(`missing "value"`))
	}
	return entryErr, nil
}

// value reads a value: bytes, or the {"error": "..."} bpftool prints for
// an element it could not read.
func (r *Reader) value(dst []byte) (entryErr, err error) {
	lx := r.lex
	if c, ok := lx.peek(); ok && c == '{' {
		lx.pos++
		name, err := lx.str(r.name)
		if err != nil || string(name) != "error" || !lx.expect(':') {
			return nil, errors.New(`want the value's bytes ["0x..", ...] or bpftool's {"error": ...}`)
		}
		msg, err := lx.str(nil)
		if err != nil {
			return nil, err
		}
		if !lx.expect('}') {
			return nil, fmt.Errorf("want '}' after bpftool's error, got %s", lx.unexpected())
		}
		return fmt.Errorf("bpftool could not read this entry's value: %s", msg), nil
	}
	return r.bytes(dst, "value", "values")
}

// perCPU reads [{"cpu": N, "value": [...]}, ...], every CPU of the map
// once, into its slot of dst.
func (r *Reader) perCPU(dst []byte) (entryErr, err error) {
	lx := r.lex
	if !lx.expect('[') {
		return nil, fmt.Errorf(`want per-CPU "values" [{"cpu": 0, "value": [...]}, ...], got %s`, lx.unexpected())
	}
	var seen []bool
	if r.l.CPUs <= 64 {
		var small [64]bool
		seen = small[:r.l.CPUs]
	} else {
		seen = make([]bool, r.l.CPUs)
	}
	given, slot, size := 0, r.l.Slot(), r.l.ValueSize
	for first := true; ; first = false {
		if lx.expect(']') {
			break
		}
		if !first && !lx.expect(',') {
			return nil, fmt.Errorf(`want ',' or ']' in "values", got %s`, lx.unexpected())
		}
		if !lx.expect('{') {
			return nil, fmt.Errorf(`want {"cpu": N, "value": [...]} in "values", got %s`, lx.unexpected())
		}
		cpu, haveValue := -1, false
		var value []byte
		for first := true; ; first = false {
			if lx.expect('}') {
				break
			}
			if !first && !lx.expect(',') {
				return nil, fmt.Errorf(`want ',' or '}' in "values", got %s`, lx.unexpected())
			}
			name, err := lx.str(r.name)
			if err != nil {
				return nil, err
			}
			r.name = name
			if !lx.expect(':') {
				return nil, fmt.Errorf("want ':' after %q, got %s", name, lx.unexpected())
			}
			switch string(name) {
			case "cpu":
				n, err := r.number()
				if err != nil {
					return nil, err
				}
				switch {
				case cpu >= 0:
					return nil, errors.New(`"cpu" given twice`)
				case n >= uint64(len(seen)):
					entryErr = keep(entryErr, fmt.Errorf("CPU %d: this map holds values for CPUs 0 to %d (the dump is from a machine with more CPUs)", n, len(seen)-1))
					cpu = len(seen)
				case seen[n]:
					entryErr = keep(entryErr, fmt.Errorf("CPU %d given twice", n))
					cpu = len(seen)
				default:
					cpu = int(n)
					seen[cpu] = true
				}
			case "value":
				if haveValue {
					return nil, errors.New(`"value" given twice`)
				}
				haveValue = true
				// The CPU may come after the value (bpftool prints
				// it first): then the value waits in a scratch buffer.
				if cpu < 0 || cpu >= len(seen) {
					value = make([]byte, size)
				} else {
					value = dst[cpu*slot : cpu*slot+size]
				}
				e, err := r.value(value)
				if err != nil {
					return nil, err
				}
				if e != nil {
					entryErr = keep(entryErr, fmt.Errorf("CPU %d: %w", max(cpu, 0), e))
				}
			default:
				return nil, fmt.Errorf(`unknown member %s in "values" (bpftool prints cpu, value)`, strconv.QuoteToASCII(string(name)))
			}
		}
		switch {
		case cpu < 0:
			entryErr = keep(entryErr, errors.New(`missing "cpu" in "values"`))
		case !haveValue:
			entryErr = keep(entryErr, fmt.Errorf(`missing "value" for CPU %d`, cpu))
		case cpu < len(seen) && &value[0] != &dst[cpu*slot]:
			copy(dst[cpu*slot:], value)
		}
		given++
	}
	for cpu, ok := range seen {
		if !ok {
			entryErr = keep(entryErr, fmt.Errorf("no value for CPU %d: this map holds a value for each of its %d possible CPUs, the dump has %d", cpu, len(seen), given))
			break
		}
	}
	return entryErr, nil
}

// number reads a non-negative JSON integer.
func (r *Reader) number() (uint64, error) {
	lx := r.lex
	if _, ok := lx.peek(); !ok {
		return 0, lx.readErr("a number")
	}
	lx.need(21)
	start := lx.pos
	for lx.pos < lx.end && lx.buf[lx.pos] >= '0' && lx.buf[lx.pos] <= '9' {
		lx.pos++
	}
	n, err := strconv.ParseUint(string(lx.buf[start:lx.pos]), 10, 32)
	if err != nil {
		lx.pos = start
		return 0, fmt.Errorf("want a CPU number, got %s", lx.unexpected())
	}
	return n, nil
}

// bytes reads ["0x0a", ...] into dst, which must be filled exactly. what
// and whats name it in messages ("key", "keys").
func (r *Reader) bytes(dst []byte, what, whats string) (entryErr, err error) {
	lx := r.lex
	if !lx.expect('[') {
		return nil, fmt.Errorf(`want the %s's bytes ["0x..", ...], got %s`, what, lx.unexpected())
	}
	n := 0
	for first := true; ; first = false {
		c, ok := lx.peek()
		if !ok {
			return nil, lx.readErr(fmt.Sprintf("the %s's bytes", what))
		}
		if c == ']' {
			lx.pos++
			break
		}
		if !first {
			if c != ',' {
				return nil, fmt.Errorf("want ',' or ']' in the %s's bytes, got %s", what, lx.unexpected())
			}
			lx.pos++
		}
		b, err := r.hexByte()
		if err != nil {
			return nil, fmt.Errorf("%s byte %d: %w", what, n, err)
		}
		if n < len(dst) {
			dst[n] = b
		}
		n++
	}
	if n != len(dst) {
		return fmt.Errorf("%s of %d bytes, this map's %s have %d", what, n, whats, len(dst)), nil
	}
	return nil, nil
}

// hexByte reads "0xHH", as bpftool prints bytes.
func (r *Reader) hexByte() (byte, error) {
	lx := r.lex
	if _, ok := lx.peek(); !ok {
		return 0, lx.readErr("a byte")
	}
	lx.need(6)
	b := lx.buf[lx.pos:lx.end]
	// The common case, bpftool's "0x%02hhx".
	if len(b) >= 6 && b[0] == '"' && b[1] == '0' && (b[2] == 'x' || b[2] == 'X') && b[5] == '"' {
		hi, ok1 := unhex(b[3])
		lo, ok2 := unhex(b[4])
		if ok1 && ok2 {
			lx.pos += 6
			return hi<<4 | lo, nil
		}
	}
	if len(b) >= 5 && b[0] == '"' && b[1] == '0' && (b[2] == 'x' || b[2] == 'X') && b[4] == '"' {
		if v, ok := unhex(b[3]); ok {
			lx.pos += 5
			return v, nil
		}
	}
	return 0, fmt.Errorf(`want "0x" and two hex digits, got %s`, lx.unexpected())
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
