// Package btfjson converts map keys and values between their bytes and the
// JSON that bpftool prints for them in the "formatted" member of
// `bpftool -j map dump`, given their BTF type (github.com/cilium/ebpf/btf).
//
// The output is bpftool's (as of bpftool 7.1) byte for byte, with
// these exceptions, where bpftool prints text that is not JSON or that reads
// back as other bytes:
//
//   - a char '"' or '\' prints as "\"" or "\\" (bpftool: """ and "\"), and
//     a '\' in a char array string as \\ (bpftool: \n, a newline);
//   - a float prints as a JSON number ("NaN", "+Inf" and "-Inf" as strings),
//     where bpftool stops with "(unsupported-kind".
//
// What bpftool prints, and so what Append prints:
//
//   - structs and unions: objects by member name, every member of a union;
//     an anonymous member under the name "";
//   - integers of 1, 2, 4 and 8 bytes: decimal numbers, all 64 bits;
//     128-bit integers and bitfields: strings of lower-case hex, "0x1f",
//     never sign-extended;
//   - bool: true or false; char: a one-character string, "\u00XX" when the
//     byte is not printable ASCII; pointers: unsigned decimal numbers;
//   - arrays: arrays, except a char array (elements of type char, const and
//     volatile looked through but not typedefs) that holds printable ASCII up
//     to a NUL: a string of the bytes before the NUL;
//   - enums: the name of the value, or when no name has it the value as a
//     signed decimal number (bpftool compares a 1-, 2- or 4-byte enum's bytes
//     sign-extended, so an unsigned 1-byte enum value 200 named "A" prints
//     as -56; Parse takes either form back);
//   - typedef, const, volatile, restrict and type tags are transparent;
//     a datasec (the value of a .data/.bss/.rodata map) is
//     {"SECTION": [{"VAR": value}, ...]}.
//
// Parse reads this JSON back into bytes. Bytes that the JSON does not show
// are zero: padding, the bytes after a char array string's NUL, the bytes of
// a union beyond the members given. A bool reads back as 0 or 1, a float NaN
// as the canonical NaN. With these exceptions Parse(Append(b)) == b.
package btfjson

import (
	"fmt"
	"math/bits"
	"sync"

	"github.com/cilium/ebpf/btf"
)

// Codec converts the bytes of one BTF type to and from bpftool's JSON. Make
// one with New per map key or value type and reuse it: it holds the type's
// layout, worked out once. A Codec is safe for concurrent use.
type Codec struct {
	root *node
	size int
}

// New returns the Codec of t. It fails for types that a map key or value
// cannot have (functions, forward declarations, void) or whose layout does
// not fit in its size.
func New(t btf.Type) (*Codec, error) {
	c := compiler{seen: map[btf.Type]*node{}}
	n, err := c.compile(t, 0)
	if err != nil {
		return nil, err
	}
	return &Codec{root: n, size: n.size}, nil
}

// Size returns the bytes of one key or value of the Codec's type.
func (c *Codec) Size() int { return c.size }

// cache holds the Codecs of the package-level Append and Parse.
var cache sync.Map // btf.Type -> *Codec

func cached(t btf.Type) (*Codec, error) {
	if c, ok := cache.Load(t); ok {
		return c.(*Codec), nil
	}
	c, err := New(t)
	if err != nil {
		return nil, err
	}
	cache.Store(t, c)
	return c, nil
}

// Append appends bpftool's JSON for data, a value of type t, to dst. It
// works out t's layout once and keeps it for the next call with the same t;
// a loop over many values should keep a Codec instead.
func Append(dst []byte, t btf.Type, data []byte) ([]byte, error) {
	c, err := cached(t)
	if err != nil {
		return dst, err
	}
	return c.Append(dst, data)
}

// Parse returns the bytes of a value of type t from its JSON, as Append
// prints it. Errors are *FieldError, naming the member.
func Parse(t btf.Type, text []byte) ([]byte, error) {
	c, err := cached(t)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, c.size)
	if err := c.Parse(dst, text); err != nil {
		return nil, err
	}
	return dst, nil
}

// op is what a node prints as.
type op uint8

const (
	opUint    op = iota // 1, 2, 4 or 8 bytes, decimal
	opInt               // the same, signed
	opBits              // a bitfield or odd-sized integer: hex string
	opInt128            // 16 bytes: hex string
	opBool              // true or false
	opChar              // one-character string
	opFloat             // 4 or 8 bytes: number
	opPointer           // 8 bytes, unsigned decimal
	opEnum              // name, or signed decimal
	opStruct            // object
	opUnion             // object with every member
	opArray             // array, or a string for char arrays
	opDatasec           // {"SEC": [{"VAR": ...}, ...]}
	opVar               // {"VAR": ...}
)

// node is the layout of one type: what it prints as and where its parts
// are. Every offset is checked against size when the node is built, so
// printing and parsing index data without further checks.
type node struct {
	op   op
	size int
	// what names the type in error messages: "u16", "struct conn".
	what string

	signed bool  // opInt, opBits, opInt128, opEnum
	bitOff uint8 // opBits: the first bit's offset in the first byte
	bits   uint8 // opBits: the width

	// opEnum: names and values, in BTF order.
	enum []enumValue

	// opStruct, opUnion, opDatasec (one field per var), opVar (one field).
	fields []field
	// label is the section's name (opDatasec), name its JSON string.
	label string
	name  []byte

	// opArray
	elem  *node
	n     int
	str   bool // a char array, printed as a string when it holds one
	exact bool // parsing its JSON restores every byte (unions apply exact members last)
}

type enumValue struct {
	name  string
	json  []byte // the name as a JSON string
	match uint64 // the bytes that print as name, as bpftool compares them
	raw   uint64 // the value Parse writes
}

type field struct {
	name string
	key  []byte // `"name":`
	off  int
	node *node
}

type compiler struct {
	// seen holds the nodes built so far: types are DAGs with shared
	// parts (and cycles only through pointers, which stop the walk).
	seen map[btf.Type]*node
}

// maxDepth bounds the nesting of types; the kernel allows 32 levels of
// type resolution (MAX_RESOLVE_DEPTH).
const maxDepth = 64

func (c *compiler) compile(t btf.Type, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("type nested deeper than %d levels", maxDepth)
	}
	t = skipQualifiers(t, true)
	if n, ok := c.seen[t]; ok {
		return n, nil
	}
	n, err := c.build(t, depth)
	if err != nil {
		return nil, err
	}
	c.seen[t] = n
	return n, nil
}

// skipQualifiers returns t without const, volatile, restrict and type
// tags, and without typedefs when typedefs is set.
func skipQualifiers(t btf.Type, typedefs bool) btf.Type {
	for range maxDepth {
		switch v := t.(type) {
		case *btf.Const:
			t = v.Type
		case *btf.Volatile:
			t = v.Type
		case *btf.Restrict:
			t = v.Type
		case *btf.TypeTag:
			t = v.Type
		case *btf.Typedef:
			if !typedefs {
				return t
			}
			t = v.Type
		default:
			return t
		}
	}
	return t
}

func (c *compiler) build(t btf.Type, depth int) (*node, error) {
	switch v := t.(type) {
	case *btf.Int:
		return intNode(v)
	case *btf.Pointer:
		return &node{op: opPointer, size: 8, what: "pointer", exact: true}, nil
	case *btf.Float:
		if v.Size != 4 && v.Size != 8 {
			return nil, fmt.Errorf("float %q of %d bytes: only 4- and 8-byte floats are supported", v.Name, v.Size)
		}
		return &node{op: opFloat, size: int(v.Size), what: map[uint32]string{4: "float", 8: "double"}[v.Size]}, nil
	case *btf.Enum:
		return enumNode(v)
	case *btf.Array:
		return c.arrayNode(v, depth)
	case *btf.Struct:
		return c.compositeNode(opStruct, "struct", v.Name, v.Size, v.Members, depth)
	case *btf.Union:
		return c.compositeNode(opUnion, "union", v.Name, v.Size, v.Members, depth)
	case *btf.Datasec:
		return c.datasecNode(v, depth)
	case *btf.Var:
		inner, err := c.compile(v.Type, depth+1)
		if err != nil {
			return nil, fmt.Errorf("var %s: %w", v.Name, err)
		}
		return &node{op: opVar, size: inner.size, what: "var " + v.Name, exact: inner.exact,
			fields: []field{{name: v.Name, key: jsonKey(v.Name), node: inner}}}, nil
	case nil:
		return nil, fmt.Errorf("no type")
	default:
		return nil, fmt.Errorf("a map key or value cannot be printed as %v", t)
	}
}

func intNode(v *btf.Int) (*node, error) {
	size := int(v.Size)
	signed := v.Encoding == btf.Signed
	what := fmt.Sprintf("u%d", 8*size)
	if signed {
		what = fmt.Sprintf("s%d", 8*size)
	}
	switch {
	case size == 0 || size > 16:
		return nil, fmt.Errorf("integer %q of %d bytes", v.Name, size)
	case v.Encoding == btf.Bool:
		return &node{op: opBool, size: size, what: "bool"}, nil
	case v.Encoding == btf.Char:
		return &node{op: opChar, size: size, what: "char"}, nil
	case size == 16:
		return &node{op: opInt128, size: 16, signed: signed, what: what, exact: true}, nil
	case size == 1 || size == 2 || size == 4 || size == 8:
		o := opUint
		if signed {
			o = opInt
		}
		return &node{op: o, size: size, signed: signed, what: what, exact: true}, nil
	}
	// bpftool prints integers of other widths as it prints bitfields.
	return bitsNode(0, 8*size, signed), nil
}

func bitsNode(bitOff, width int, signed bool) *node {
	sign := "unsigned"
	if signed {
		sign = "signed"
	}
	return &node{op: opBits, size: (bitOff + width + 7) / 8, bitOff: uint8(bitOff), bits: uint8(width),
		signed: signed, exact: true, what: fmt.Sprintf("%d-bit %s bitfield", width, sign)}
}

func enumNode(v *btf.Enum) (*node, error) {
	size := int(v.Size)
	if size != 1 && size != 2 && size != 4 && size != 8 {
		return nil, fmt.Errorf("enum %q of %d bytes", v.Name, size)
	}
	n := &node{op: opEnum, size: size, signed: v.Signed, what: "enum " + v.Name, exact: true}
	if v.Name == "" {
		n.what = "enum"
	}
	for _, ev := range v.Values {
		e := enumValue{name: ev.Name, json: appendString(nil, ev.Name), raw: ev.Value, match: ev.Value}
		if size < 8 {
			// bpftool (btf_dumper_enum) compares the bytes sign-extended
			// with the 32-bit value of the BTF entry, sign-extended.
			e.match = uint64(int64(int32(uint32(ev.Value))))
			e.raw = uint64(uint32(ev.Value))
		}
		n.enum = append(n.enum, e)
	}
	return n, nil
}

func (c *compiler) arrayNode(v *btf.Array, depth int) (*node, error) {
	elem, err := c.compile(v.Type, depth+1)
	if err != nil {
		return nil, fmt.Errorf("array element: %w", err)
	}
	hi, total := bits.Mul64(uint64(elem.size), uint64(v.Nelems))
	if hi != 0 || total > 1<<30 {
		return nil, fmt.Errorf("array of %d elements of %d bytes is too large", v.Nelems, elem.size)
	}
	n := &node{op: opArray, size: int(total), elem: elem, n: int(v.Nelems), exact: elem.exact,
		what: fmt.Sprintf("array of %d %s", v.Nelems, elem.what)}
	n.str = v.Nelems > 0 && isCharType(v.Type)
	if n.str {
		n.exact = false // bytes after the NUL do not show
	}
	return n, nil
}

// isCharType is bpftool's is_str_array test of an element type: a 1-byte
// integer with the char encoding or named "char", looking through const,
// volatile, restrict and type tags but not typedefs.
func isCharType(t btf.Type) bool {
	i, ok := skipQualifiers(t, false).(*btf.Int)
	return ok && i.Size == 1 && (i.Encoding == btf.Char || i.Name == "char")
}

func (c *compiler) compositeNode(o op, kind, name string, size uint32, members []btf.Member, depth int) (*node, error) {
	what := kind + " " + name
	if name == "" {
		what = "anonymous " + kind
	}
	n := &node{op: o, size: int(size), what: what, exact: true}
	for _, m := range members {
		f := field{name: m.Name, key: jsonKey(m.Name), off: int(m.Offset / 8)}
		bitOff := int(m.Offset % 8)
		inner, err := c.compile(m.Type, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%s member %q: %w", what, m.Name, err)
		}
		width := 0
		switch {
		case m.BitfieldSize > 0:
			width = int(m.BitfieldSize)
		case bitOff != 0 && isInt(inner):
			// bpftool prints an integer member that starts mid-byte
			// as a bitfield of the integer's width.
			width = 8 * inner.size
		}
		f.node = inner
		if width > 0 {
			if bitOff+width > 128 {
				return nil, fmt.Errorf("%s member %q: bitfield of %d bits at bit %d spans more than 128 bits", what, m.Name, width, bitOff)
			}
			f.node = bitsNode(bitOff, width, inner.signed)
		}
		if f.off > n.size || f.node.size > n.size-f.off {
			return nil, fmt.Errorf("%s member %q (%d bytes at offset %d) does not fit in %d bytes", what, m.Name, f.node.size, f.off, n.size)
		}
		n.exact = n.exact && f.node.exact
		n.fields = append(n.fields, f)
	}
	return n, nil
}

func isInt(n *node) bool {
	switch n.op {
	case opUint, opInt, opInt128, opBits, opBool, opChar:
		return true
	}
	return false
}

func (c *compiler) datasecNode(v *btf.Datasec, depth int) (*node, error) {
	n := &node{op: opDatasec, size: int(v.Size), what: "section " + v.Name, label: v.Name, name: appendString(nil, v.Name), exact: true}
	for _, vs := range v.Vars {
		inner, err := c.compile(vs.Type, depth+1)
		if err != nil {
			return nil, fmt.Errorf("section %s: %w", v.Name, err)
		}
		name := ""
		if vr, ok := vs.Type.(*btf.Var); ok {
			name = vr.Name
		}
		f := field{name: name, off: int(vs.Offset), node: inner}
		if f.off > n.size || inner.size > n.size-f.off {
			return nil, fmt.Errorf("section %s: var %q (%d bytes at offset %d) does not fit in %d bytes", v.Name, name, inner.size, f.off, n.size)
		}
		n.exact = n.exact && inner.exact
		n.fields = append(n.fields, f)
	}
	return n, nil
}

// jsonKey is `"name":`.
func jsonKey(name string) []byte {
	return append(appendString(nil, name), ':')
}
