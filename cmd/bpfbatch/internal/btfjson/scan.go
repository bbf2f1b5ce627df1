package btfjson

import (
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON lexing under Parse: white space, literals, numbers, strings.

// maxNesting bounds JSON nesting where no type bounds it (skipping a
// value), so that input cannot exhaust the stack.
const maxNesting = 1000

// ws skips white space.
func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (p *parser) peek() byte {
	p.ws()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// kind names the JSON type of the value at p.i.
func (p *parser) kind() string {
	switch p.peek() {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	case 0:
		return "the end of the input"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	}
	return "not JSON"
}

// snippet quotes the input at p.i, shortened, for error messages.
func (p *parser) snippet() string {
	const max = 40
	s := p.s[p.i:]
	if len(s) == 0 {
		return "end of input"
	}
	if len(s) > max {
		return strconv.QuoteToASCII(string(s[:max])) + "..."
	}
	return strconv.QuoteToASCII(string(s))
}

// expect consumes c if it comes next, after white space.
func (p *parser) expect(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

// number returns the JSON number at p.i, checked against JSON's grammar,
// and whether it is an integer (no fraction or exponent).
func (p *parser) number() (lit []byte, integer bool, ok bool) {
	p.ws()
	s, i := p.s, p.i
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	switch nd := digits(); {
	case nd == 0:
		return nil, false, false
	case nd > 1 && s[start] == '0', nd > 1 && s[start] == '-' && s[start+1] == '0':
		return nil, false, false // JSON has no leading zeros
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false, false
		}
		integer = false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false, false
		}
		integer = false
	}
	p.i = i
	return s[start:i], integer, true
}

// decimal parses an integer literal: its sign and magnitude, or !ok when
// the magnitude exceeds 128 bits.
func decimal(lit []byte) (neg bool, mag u128, ok bool) {
	if lit[0] == '-' {
		neg, lit = true, lit[1:]
	}
	for _, c := range lit {
		// mag = mag*10 + d, checking for overflow.
		hi, lo := mulAdd(mag, 10, uint64(c-'0'))
		if hi != 0 {
			return false, u128{}, false
		}
		mag = lo
	}
	return neg, mag, true
}

// mulAdd returns x*m+a as a 192-bit number: the bits above 128, and the
// low 128.
func mulAdd(x u128, m, a uint64) (uint64, u128) {
	h1, l1 := bits.Mul64(x.lo, m)
	h2, l2 := bits.Mul64(x.hi, m)
	lo, c := bits.Add64(l1, a, 0)
	mid, c2 := bits.Add64(l2, h1, c)
	return h2 + c2, u128{hi: mid, lo: lo}
}

// parseHex parses "0x" and 1 to 32 hex digits.
func parseHex(s []byte) (u128, bool) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len(s) > 34 {
		return u128{}, false
	}
	var v u128
	for _, c := range s[2:] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return u128{}, false
		}
		v = v.shl(4).or(u128{lo: uint64(d)})
	}
	return v, true
}

// hasWord reports whether s starts with the JSON literal w.
func hasWord(s []byte, w string) bool {
	if len(s) < len(w) || string(s[:len(w)]) != w {
		return false
	}
	if len(s) == len(w) {
		return true
	}
	c := s[len(w)]
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_')
}

// rawString reads the JSON string at p.i and returns its bytes: UTF-8 as
// written, escapes decoded (into p.buf, valid until the next string).
func (p *parser) rawString() ([]byte, error) {
	start := p.i
	s := p.s
	i := p.i + 1
	// Fast path: no escapes.
	for i < len(s) {
		c := s[i]
		if c == '"' {
			p.i = i + 1
			return s[start+1 : i], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		i++
	}
	buf := append(p.buf[:0], s[start+1:i]...)
	for {
		if i >= len(s) {
			p.i = start
			return nil, p.fail("unterminated string %s", p.snippet())
		}
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			p.buf = buf
			return buf, nil
		case c < 0x20:
			p.i = start
			return nil, p.fail("control character in string %s (write it as \\u00%02x)", p.snippet(), c)
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			p.i = start
			return nil, p.fail("unterminated string %s", p.snippet())
		}
		e := s[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(s, i)
			if !ok {
				p.i = start
				return nil, p.fail("bad \\u escape in string %s", p.snippet())
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					}
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.i = start
			return nil, p.fail("bad escape \\%c in string %s", e, p.snippet())
		}
	}
}

// hex4 reads the 4 hex digits of a \u escape at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// skip passes over the JSON value at p.i, checking its syntax.
func (p *parser) skip(depth int) error {
	if depth > maxNesting {
		return p.fail("JSON nested deeper than %d levels", maxNesting)
	}
	switch c := p.peek(); c {
	case '"':
		_, err := p.rawString()
		return err
	case '{', '[':
		p.i++
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if p.expect(end) {
			return nil
		}
		for {
			if c == '{' {
				if p.peek() != '"' {
					return p.fail("bad JSON: want a member name, got %s", p.snippet())
				}
				if _, err := p.rawString(); err != nil {
					return err
				}
				if !p.expect(':') {
					return p.fail("bad JSON: want ':', got %s", p.snippet())
				}
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			if p.expect(',') {
				continue
			}
			if p.expect(end) {
				return nil
			}
			return p.fail("bad JSON: want ',' or '%c', got %s", end, p.snippet())
		}
	case 't':
		if hasWord(p.s[p.i:], "true") {
			p.i += 4
			return nil
		}
	case 'f':
		if hasWord(p.s[p.i:], "false") {
			p.i += 5
			return nil
		}
	case 'n':
		if hasWord(p.s[p.i:], "null") {
			p.i += 4
			return nil
		}
	default:
		if _, _, ok := p.number(); ok {
			return nil
		}
	}
	return p.fail("bad JSON: %s", p.snippet())
}
