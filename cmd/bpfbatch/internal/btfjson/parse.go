package btfjson

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse fills dst, which must hold exactly Size() bytes, from text: the JSON
// of one value of the Codec's type, as Append prints it. dst is zeroed
// first, so bytes the JSON does not show (padding, a string's tail) are
// zero. Every member must be given, by name, with a value of the JSON type
// Append prints and in the type's range; a union takes one or more of its
// members (see the package documentation). Integers also take the forms
// bpftool does not print but a person may write: a number for a bitfield
// or 128-bit integer, an enum's value as a number, signed or unsigned.
//
// Errors are *FieldError, naming the member path. On error dst holds
// partial data.
func (c *Codec) Parse(dst, text []byte) error {
	n, err := c.ParsePrefix(dst, text)
	if err != nil {
		return err
	}
	p := parser{s: text, i: n}
	p.ws()
	if p.i < len(p.s) {
		return p.fail("unexpected %s after the value", p.snippet())
	}
	return nil
}

// ParsePrefix is Parse for the JSON value at the start of text (after
// white space), which may go on: it returns the number of bytes the value
// took, so a caller can parse the rest of a line.
func (c *Codec) ParsePrefix(dst, text []byte) (int, error) {
	if len(dst) != c.size {
		return 0, &FieldError{Msg: "buffer of " + strconv.Itoa(len(dst)) + " bytes for " + c.root.what + ", which has " + strconv.Itoa(c.size)}
	}
	clear(dst)
	p := parser{s: text}
	p.ws()
	if err := p.value(c.root, dst); err != nil {
		return 0, err
	}
	return p.i, nil
}

// parser reads JSON from s, at i, into bytes by the layout of nodes.
// Errors get their member path as they return through the members and
// elements (inMember, inElement), so that a value that parses costs no
// path keeping.
type parser struct {
	s []byte
	i int
	// buf holds a string with escapes, decoded.
	buf []byte
}

func (p *parser) fail(format string, args ...any) error {
	return &FieldError{Msg: fmt.Sprintf(format, args...)}
}

// inMember puts member name in front of err's path.
func inMember(err error, name string) error {
	if fe, ok := err.(*FieldError); ok {
		if name == "" {
			name = `""`
		}
		switch {
		case fe.Path == "":
			fe.Path = name
		case fe.Path[0] == '[':
			fe.Path = name + fe.Path
		default:
			fe.Path = name + "." + fe.Path
		}
	}
	return err
}

// inElement puts "[label]" in front of err's path.
func inElement(err error, label string) error {
	if fe, ok := err.(*FieldError); ok {
		switch {
		case fe.Path == "":
			fe.Path = "[" + label + "]"
		case fe.Path[0] == '[':
			fe.Path = "[" + label + "]" + fe.Path
		default:
			fe.Path = "[" + label + "]." + fe.Path
		}
	}
	return err
}

// wrongType reports the value at p.i as not the JSON type want.
func (p *parser) wrongType(n *node, want string) error {
	switch p.kind() {
	case "the end of the input":
		return p.fail("unexpected end of input, want %s (%s)", want, n.what)
	case "a number":
		start := p.i
		_, _, ok := p.number()
		p.i = start
		if !ok {
			return p.fail("bad JSON number %s (%s)", p.snippet(), n.what)
		}
	}
	return p.fail("%s wants %s, got %s %s", n.what, want, p.kind(), p.snippet())
}

func (p *parser) value(n *node, dst []byte) error {
	switch n.op {
	case opUint, opInt, opPointer:
		return p.integer(n, dst)
	case opBits, opInt128:
		return p.wide(n, dst)
	case opBool:
		return p.boolean(n, dst)
	case opChar:
		return p.char(n, dst)
	case opFloat:
		return p.float(n, dst)
	case opEnum:
		return p.enum(n, dst)
	case opStruct:
		return p.structure(n, dst)
	case opUnion:
		return p.union(n, dst)
	case opArray:
		return p.array(n, dst)
	case opDatasec:
		return p.datasec(n, dst)
	default: // opVar
		return p.object1(n.fields[0].name, func() error { return p.value(n.fields[0].node, dst) })
	}
}

// width is the bits of an integer node.
func (n *node) width() int {
	switch n.op {
	case opBits:
		return int(n.bits)
	default:
		return 8 * n.size
	}
}

// fit reports whether the integer neg/mag is in n's range (rangeText), and
// if so returns its bits in two's complement.
func (n *node) fit(neg bool, mag u128) (u128, bool) {
	w := n.width()
	maxU := ones(w)
	maxS := ones(w - 1)
	switch n.op {
	case opInt:
		if neg {
			// -2^(w-1) <= v
			if lessEq(mag, maxS.add1()) {
				return mag.neg().and(maxU), true
			}
			return u128{}, false
		}
		return mag, lessEq(mag, maxS)
	case opUint, opPointer:
		return mag, !neg && lessEq(mag, maxU)
	case opBits, opInt128:
		if neg {
			if n.signed && lessEq(mag, maxS.add1()) {
				return mag.neg().and(maxU), true
			}
			return u128{}, false
		}
		return mag, lessEq(mag, maxU)
	}
	// opEnum: signed or unsigned readings, as bpftool prints unnamed values
	// signed whatever the enum's signedness.
	if neg {
		if lessEq(mag, maxS.add1()) {
			return mag.neg().and(maxU), true
		}
		return u128{}, false
	}
	return mag, lessEq(mag, maxU)
}

// rangeText describes the range fit accepts.
func (n *node) rangeText() string {
	w := n.width()
	lo := "0"
	if n.op == opInt || n.op == opEnum || n.signed {
		lo = "-" + decString(ones(w-1).add1())
	}
	hi := decString(ones(w))
	if n.op == opInt {
		hi = decString(ones(w - 1))
	}
	return lo + " to " + hi
}

func (p *parser) integer(n *node, dst []byte) error {
	start := p.i
	lit, integer, ok := p.number()
	if !ok {
		return p.wrongType(n, "a number")
	}
	if !integer {
		p.i = start
		return p.fail("%s is not an integer (%s)", lit, n.what)
	}
	v, ok := n.fitLiteral(lit)
	if !ok {
		p.i = start
		return p.fail("%s is out of range for %s (%s)", lit, n.what, n.rangeText())
	}
	putUint(dst, v.lo)
	return nil
}

func (n *node) fitLiteral(lit []byte) (u128, bool) {
	neg, mag, ok := decimal(lit)
	if !ok {
		return u128{}, false
	}
	return n.fit(neg, mag)
}

// wide parses a bitfield or a 128-bit integer: a "0x..." string as bpftool
// prints them, or a number.
func (p *parser) wide(n *node, dst []byte) error {
	start := p.i
	var v u128
	switch p.peek() {
	case '"':
		s, err := p.str(n)
		if err != nil {
			return err
		}
		h, ok := parseHex(s)
		if !ok {
			p.i = start
			return p.fail(`%s wants "0x" and hex digits or a number, got %s`, n.what, p.snippet())
		}
		if !lessEq(h, ones(n.width())) {
			p.i = start
			return p.fail("%s is out of range for %s (%s)", s, n.what, n.rangeText())
		}
		v = h
	default:
		lit, integer, ok := p.number()
		switch {
		case !ok:
			return p.wrongType(n, `a "0x..." string or a number`)
		case !integer:
			p.i = start
			return p.fail("%s is not an integer (%s)", lit, n.what)
		}
		if v, ok = n.fitLiteral(lit); !ok {
			p.i = start
			return p.fail("%s is out of range for %s (%s)", lit, n.what, n.rangeText())
		}
	}
	if n.op == opInt128 {
		putInt128(dst, v)
	} else {
		putBits(dst, int(n.bitOff), int(n.bits), v, nativeLE)
	}
	return nil
}

func (p *parser) boolean(n *node, dst []byte) error {
	p.ws()
	switch {
	case hasWord(p.s[p.i:], "true"):
		p.i += 4
		dst[0] = 1
	case hasWord(p.s[p.i:], "false"):
		p.i += 5
	default:
		return p.wrongType(n, "true or false")
	}
	return nil
}

// char parses a one-character string: a character from U+0000 to U+00FF
// (as bpftool prints chars, "\u00XX" for bytes that are not printable), or
// one byte.
func (p *parser) char(n *node, dst []byte) error {
	start := p.i
	s, err := p.str(n)
	if err != nil {
		return err
	}
	r, size := utf8.DecodeRune(s)
	switch {
	case len(s) == 1:
		dst[0] = s[0]
	case size == len(s) && r != utf8.RuneError && r <= 0xff:
		dst[0] = byte(r)
	default:
		p.i = start
		return p.fail("%s wants one character (U+0000 to U+00FF), got %s", n.what, p.snippet())
	}
	return nil
}

func (p *parser) float(n *node, dst []byte) error {
	start := p.i
	var f float64
	if p.peek() == '"' {
		s, err := p.str(n)
		if err != nil {
			return err
		}
		switch string(s) {
		case "NaN":
			f = math.NaN()
		case "+Inf", "Inf":
			f = math.Inf(1)
		case "-Inf":
			f = math.Inf(-1)
		default:
			p.i = start
			return p.fail(`%s wants a number, "NaN", "+Inf" or "-Inf", got %s`, n.what, p.snippet())
		}
	} else {
		lit, _, ok := p.number()
		if !ok {
			return p.wrongType(n, "a number")
		}
		var err error
		f, err = strconv.ParseFloat(string(lit), 8*n.size)
		if err != nil {
			p.i = start
			return p.fail("%s is out of range for %s", lit, n.what)
		}
	}
	if n.size == 4 {
		binary.NativeEndian.PutUint32(dst, math.Float32bits(float32(f)))
	} else {
		binary.NativeEndian.PutUint64(dst, math.Float64bits(f))
	}
	return nil
}

func (p *parser) enum(n *node, dst []byte) error {
	start := p.i
	if p.peek() == '"' {
		s, err := p.str(n)
		if err != nil {
			return err
		}
		for i := range n.enum {
			if n.enum[i].name == string(s) {
				putUint(dst, n.enum[i].raw)
				return nil
			}
		}
		p.i = start
		return p.fail("%s has no value named %s (%s)", n.what, strconv.QuoteToASCII(string(s)), n.enumNames())
	}
	lit, integer, ok := p.number()
	switch {
	case !ok:
		return p.wrongType(n, "a name or a number")
	case !integer:
		p.i = start
		return p.fail("%s is not an integer (%s)", lit, n.what)
	}
	v, ok := n.fitLiteral(lit)
	if !ok {
		p.i = start
		return p.fail("%s is out of range for %s (%s)", lit, n.what, n.rangeText())
	}
	putUint(dst, v.lo)
	return nil
}

// enumNames lists the first names of an enum for error messages.
func (n *node) enumNames() string {
	names := make([]string, 0, 8)
	for _, e := range n.enum {
		if len(names) == 7 {
			names = append(names, "...")
			break
		}
		names = append(names, e.name)
	}
	if len(names) == 0 {
		return "it has no names; write a number"
	}
	return "names: " + strings.Join(names, ", ")
}

// str parses a JSON string and returns its bytes (UTF-8 as written,
// escapes decoded). The result is valid until the next call.
func (p *parser) str(n *node) ([]byte, error) {
	if p.peek() != '"' {
		return nil, p.wrongType(n, "a string")
	}
	return p.rawString()
}

// openObject reads the '{' of an object, and its '}' if it is empty.
func (p *parser) openObject(n *node) (empty bool, err error) {
	if !p.expect('{') {
		return false, p.wrongType(n, "an object")
	}
	return p.expect('}'), nil
}

// memberName reads a member's name and its ':'. The name may point into
// p.buf, which the next string reuses.
func (p *parser) memberName(n *node) ([]byte, error) {
	if p.peek() != '"' {
		return nil, p.fail("bad JSON in %s: want a member name, got %s", n.what, p.snippet())
	}
	key, err := p.rawString()
	if err != nil {
		return nil, err
	}
	if !p.expect(':') {
		return nil, p.fail("bad JSON in %s: want ':' after the member name, got %s", n.what, p.snippet())
	}
	return key, nil
}

// moreMembers reads what follows a member's value: ',' (more) or '}'.
func (p *parser) moreMembers(n *node) (bool, error) {
	if p.expect(',') {
		return true, nil
	}
	if p.expect('}') {
		return false, nil
	}
	return false, p.fail("bad JSON in %s: want ',' or '}', got %s", n.what, p.snippet())
}

// lookup returns the index of n's field named key that seen does not yet
// hold, trying next first (members usually come in order), or -1 and
// whether the name is n's at all.
func (n *node) lookup(key []byte, next int, seen *bitset) (int, bool) {
	if next < len(n.fields) && n.fields[next].name == string(key) && !seen.has(next) {
		return next, true
	}
	known := false
	for i := range n.fields {
		if n.fields[i].name == string(key) {
			known = true
			if !seen.has(i) {
				return i, true
			}
		}
	}
	return -1, known
}

func (p *parser) memberError(n *node, key []byte, known bool) error {
	if known {
		return p.fail("member %s given twice", strconv.QuoteToASCII(string(key)))
	}
	return p.fail("%s has no member %s (members: %s)", n.what, strconv.QuoteToASCII(string(key)), n.memberNames())
}

func (p *parser) missing(n *node, seen *bitset) error {
	for i, f := range n.fields {
		if !seen.has(i) {
			return p.fail("missing member %s of %s", memberName(f.name), n.what)
		}
	}
	return nil
}

func (n *node) memberNames() string {
	names := make([]string, 0, len(n.fields))
	for _, f := range n.fields {
		names = append(names, memberName(f.name))
	}
	return strings.Join(names, ", ")
}

func memberName(name string) string {
	if name == "" {
		return `"" (anonymous)`
	}
	return name
}

func (p *parser) structure(n *node, dst []byte) error {
	var seen bitset
	seen.init(len(n.fields))
	empty, err := p.openObject(n)
	if err != nil {
		return err
	}
	next := 0
	for more := !empty; more; {
		key, err := p.memberName(n)
		if err != nil {
			return err
		}
		i, known := n.lookup(key, next, &seen)
		if i < 0 {
			return p.memberError(n, key, known)
		}
		seen.set(i)
		next = i + 1
		f := &n.fields[i]
		if err := p.value(f.node, dst[f.off:f.off+f.node.size]); err != nil {
			return inMember(err, f.name)
		}
		if more, err = p.moreMembers(n); err != nil {
			return err
		}
	}
	return p.missing(n, &seen)
}

// union parses the members given, which may be any of n's. When several
// are given, as Append prints them all, the ones whose JSON does not
// restore every byte (a char array string, a bool, a float) go first,
// smaller before larger, then the exact ones, which agree on the bytes
// they share: the exact members decide the bytes they cover, the largest
// inexact member the rest.
func (p *parser) union(n *node, dst []byte) error {
	type given struct{ field, at int }
	var seen bitset
	seen.init(len(n.fields))
	var list []given
	empty, err := p.openObject(n)
	if err != nil {
		return err
	}
	for more := !empty; more; {
		key, err := p.memberName(n)
		if err != nil {
			return err
		}
		i, known := n.lookup(key, len(list), &seen)
		if i < 0 {
			return p.memberError(n, key, known)
		}
		seen.set(i)
		list = append(list, given{i, p.i})
		if err := p.skip(0); err != nil {
			return inMember(err, n.fields[i].name)
		}
		if more, err = p.moreMembers(n); err != nil {
			return err
		}
	}
	if len(list) == 0 {
		return p.fail("%s wants one of its members (%s)", n.what, n.memberNames())
	}
	slices.SortStableFunc(list, func(a, b given) int {
		na, nb := n.fields[a.field].node, n.fields[b.field].node
		switch {
		case na.exact != nb.exact && na.exact:
			return 1
		case na.exact != nb.exact:
			return -1
		case na.exact:
			return cmp.Compare(nb.size, na.size)
		}
		return cmp.Compare(na.size, nb.size)
	})
	end := p.i
	for _, g := range list {
		f := &n.fields[g.field]
		p.i = g.at
		// Each member sets all of its bytes: those it does not show
		// are zero, as when given alone.
		b := dst[f.off : f.off+f.node.size]
		clear(b)
		if err := p.value(f.node, b); err != nil {
			return inMember(err, f.name)
		}
	}
	p.i = end
	return nil
}

func (p *parser) array(n *node, dst []byte) error {
	if n.str && p.peek() == '"' {
		s, err := p.rawString()
		if err != nil {
			return err
		}
		if len(s) > n.n {
			return p.fail("string of %d bytes does not fit in char[%d]", len(s), n.n)
		}
		copy(dst, s)
		return nil
	}
	if !p.expect('[') {
		if n.str {
			return p.wrongType(n, "a string or an array")
		}
		return p.wrongType(n, "an array")
	}
	es := n.elem.size
	i := 0
	if !p.expect(']') {
		for {
			if i == n.n {
				return p.fail("more than %d elements for %s", n.n, n.what)
			}
			if err := p.value(n.elem, dst[i*es:(i+1)*es]); err != nil {
				return inElement(err, strconv.Itoa(i))
			}
			i++
			if p.expect(',') {
				continue
			}
			if p.expect(']') {
				break
			}
			return p.fail("bad JSON in %s: want ',' or ']', got %s", n.what, p.snippet())
		}
	}
	if i != n.n {
		return p.fail("%d elements for %s", i, n.what)
	}
	return nil
}

// object1 parses {"name": value}, the value by f.
func (p *parser) object1(name string, f func() error) error {
	if !p.expect('{') {
		return p.fail("want {%s: ...}, got %s %s", strconv.Quote(name), p.kind(), p.snippet())
	}
	if p.peek() != '"' {
		return p.fail("want {%s: ...}, got %s", strconv.Quote(name), p.snippet())
	}
	key, err := p.rawString()
	if err != nil {
		return err
	}
	if string(key) != name {
		return p.fail("want {%s: ...}, got member %s", strconv.Quote(name), strconv.QuoteToASCII(string(key)))
	}
	if !p.expect(':') {
		return p.fail("bad JSON: want ':' after %s, got %s", strconv.Quote(name), p.snippet())
	}
	if err := f(); err != nil {
		return inMember(err, name)
	}
	if !p.expect('}') {
		return p.fail("want only %s in its object, got %s", strconv.Quote(name), p.snippet())
	}
	return nil
}

func (p *parser) datasec(n *node, dst []byte) error {
	return p.object1(n.label, func() error {
		if !p.expect('[') {
			return p.wrongType(n, "an array of its variables")
		}
		for i := range n.fields {
			if i > 0 && !p.expect(',') {
				return p.fail("%d variables for %s, which has %d", i, n.what, len(n.fields))
			}
			f := &n.fields[i]
			if err := p.value(f.node, dst[f.off:f.off+f.node.size]); err != nil {
				return inElement(err, strconv.Itoa(i))
			}
		}
		if !p.expect(']') {
			return p.fail("more than %d variables for %s", len(n.fields), n.what)
		}
		return nil
	})
}

// skip passes over the JSON value at p.i, checking its syntax.
// bitset records which members of an object were given.
type bitset struct {
	small uint64
	large []bool
}

func (b *bitset) init(n int) {
	if n > 64 {
		b.large = make([]bool, n)
	}
}

func (b *bitset) has(i int) bool {
	if b.large != nil {
		return b.large[i]
	}
	return b.small&(1<<i) != 0
}

func (b *bitset) set(i int) {
	if b.large != nil {
		b.large[i] = true
		return
	}
	b.small |= 1 << i
}
