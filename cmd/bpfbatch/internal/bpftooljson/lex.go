package bpftooljson

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// lexer reads JSON tokens from a stream through a window of buf, counting
// lines, so that an input of any size takes the same memory.
type lexer struct {
	r    io.Reader
	buf  []byte
	pos  int // next byte to read in buf
	end  int // end of the bytes read into buf
	line int // line of buf[pos], from 1
	err  error
}

const bufSize = 64 << 10

func newLexer(r io.Reader) *lexer {
	return &lexer{r: r, buf: make([]byte, bufSize), line: 1}
}

// fill reads more input, keeping the unread bytes; it reports false once
// the input is used up or fails (l.err says which).
func (l *lexer) fill() bool {
	if l.err != nil {
		return false
	}
	if l.pos > 0 {
		l.end = copy(l.buf, l.buf[l.pos:l.end])
		l.pos = 0
	}
	for l.end < len(l.buf) {
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if err != nil {
			l.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	return true
}

// need makes at least n bytes available (fewer at the end of the input).
func (l *lexer) need(n int) bool {
	for l.end-l.pos < n {
		if !l.fill() {
			return l.end-l.pos >= n
		}
	}
	return true
}

// peek skips white space and returns the next byte, or false at the end
// of the input.
func (l *lexer) peek() (byte, bool) {
	for {
		for l.pos < l.end {
			switch c := l.buf[l.pos]; c {
			case '\n':
				l.line++
				l.pos++
			case ' ', '\t', '\r':
				l.pos++
			default:
				return c, true
			}
		}
		if !l.fill() {
			return 0, false
		}
	}
}

// expect consumes c if it comes next.
func (l *lexer) expect(c byte) bool {
	if b, ok := l.peek(); ok && b == c {
		l.pos++
		return true
	}
	return false
}

// readErr is the error for input that ends early or fails to read.
func (l *lexer) readErr(want string) error {
	if l.err != nil && !errors.Is(l.err, io.EOF) {
		return fmt.Errorf("reading the input: %w", l.err)
	}
	return fmt.Errorf("the input ends where %s should be (is the dump cut short?)", want)
}

// unexpected describes the input at the next token for error messages.
func (l *lexer) unexpected() string {
	if _, ok := l.peek(); !ok {
		return "the end of the input"
	}
	l.need(24)
	s := l.buf[l.pos:min(l.end, l.pos+24)]
	q := strconv.QuoteToASCII(string(s))
	if l.end-l.pos > 24 {
		q += "..."
	}
	return q
}

// str reads a JSON string into dst and returns it; dst is reused.
func (l *lexer) str(dst []byte) ([]byte, error) {
	if !l.expect('"') {
		return nil, fmt.Errorf("want a string, got %s", l.unexpected())
	}
	dst = dst[:0]
	for {
		if l.pos >= l.end && !l.fill() {
			return nil, l.readErr("the end of a string")
		}
		c := l.buf[l.pos]
		l.pos++
		switch {
		case c == '"':
			return dst, nil
		case c == '\n':
			return nil, errors.New("a string runs past the end of its line")
		case c != '\\':
			dst = append(dst, c)
			continue
		}
		if !l.need(1) {
			return nil, l.readErr("the end of a string")
		}
		e := l.buf[l.pos]
		l.pos++
		switch e {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			if !l.need(4) {
				return nil, l.readErr("a \\u escape")
			}
			v, err := strconv.ParseUint(string(l.buf[l.pos:l.pos+4]), 16, 16)
			if err != nil {
				return nil, fmt.Errorf("bad \\u escape %q", l.buf[l.pos:l.pos+4])
			}
			l.pos += 4
			dst = append(dst, string(rune(v))...)
		default:
			dst = append(dst, e) // \" \\ \/ and bpftool's \'
		}
	}
}

// maxDepth bounds the nesting of a skipped value.
const maxDepth = 10000

// skipFormatted passes over bpftool's "formatted" member, which is not
// always JSON: bpftool prints a char '"' as """ and '\' as "\" (its
// btf_dumper_int does not escape them), and a type it cannot print as a
// bare (unsupported-kind. A "\" followed (after white space) by ',', ']'
// or '}' is taken as bpftool's '\' char, so a char array string that
// starts with '"' and one of those reads wrongly: the entry after it
// then fails to parse, rather than load wrong bytes.
func (l *lexer) skipFormatted() error {
	depth := 0
	for {
		c, ok := l.peek()
		if !ok {
			return l.readErr(`the end of "formatted"`)
		}
		switch c {
		case '{', '[':
			l.pos++
			if depth++; depth > maxDepth {
				return fmt.Errorf(`"formatted" nested deeper than %d levels`, maxDepth)
			}
			continue
		case '}', ']':
			l.pos++
			depth--
		case ',', ':':
			l.pos++
			continue
		case '"':
			if err := l.skipString(); err != nil {
				return err
			}
		case '(':
			// bpftool's "(unsupported-kind", "(fwd-kind-invalid)".
			for l.pos < l.end || l.fill() {
				c := l.buf[l.pos]
				if !(c == '(' || c == ')' || c == '-' || c >= 'a' && c <= 'z') {
					break
				}
				l.pos++
			}
		default:
			// A number, true, false or null.
			n := 0
			for l.pos < l.end || l.fill() {
				c := l.buf[l.pos]
				if !(c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
					break
				}
				l.pos++
				n++
			}
			if n == 0 {
				return fmt.Errorf(`bad JSON in "formatted": %s`, l.unexpected())
			}
		}
		if depth <= 0 {
			return nil
		}
	}
}

// closesAfter reports whether the input n bytes on, past white space
// (-p indents), is ',', ']' or '}': what follows a value.
func (l *lexer) closesAfter(n int) bool {
	for l.need(n + 1) {
		switch l.buf[l.pos+n] {
		case ' ', '\t', '\r', '\n':
			n++
			if n >= len(l.buf)-1 {
				return false
			}
		case ',', ']', '}':
			return true
		default:
			return false
		}
	}
	return false
}

// skipString passes over a string in "formatted", with bpftool's """ and
// "\" (see skipFormatted).
func (l *lexer) skipString() error {
	l.need(4)
	b := l.buf[l.pos:l.end]
	switch {
	case len(b) >= 3 && b[1] == '"' && b[2] == '"':
		l.pos += 3 // bpftool's '"'
		return nil
	case len(b) >= 4 && b[1] == '\\' && b[2] == '"' && l.closesAfter(3):
		l.pos += 3 // bpftool's '\'
		return nil
	}
	l.pos++
	for {
		if l.pos >= l.end && !l.fill() {
			return l.readErr(`the end of a string in "formatted"`)
		}
		switch c := l.buf[l.pos]; c {
		case '"':
			l.pos++
			return nil
		case '\\':
			l.pos++
			if !l.need(1) {
				return l.readErr(`the end of a string in "formatted"`)
			}
		case '\n':
			return errors.New(`a string in "formatted" runs past the end of its line`)
		}
		l.pos++
	}
}
