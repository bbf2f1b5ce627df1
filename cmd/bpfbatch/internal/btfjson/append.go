package btfjson

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Append appends the JSON of data, one value of the Codec's type, to dst,
// as bpftool prints it in "formatted" (see the package documentation).
// data must hold exactly Size() bytes.
func (c *Codec) Append(dst, data []byte) ([]byte, error) {
	if len(data) != c.size {
		return dst, fmt.Errorf("%d bytes for %s, which has %d", len(data), c.root.what, c.size)
	}
	return c.root.append(dst, data, false), nil
}

// append appends the JSON of data, which holds exactly n.size bytes. With
// asBpftool it prints chars and strings as bpftool does, which is not
// always JSON (for tests that compare with bpftool's output byte for
// byte).
func (n *node) append(dst, data []byte, asBpftool bool) []byte {
	switch n.op {
	case opUint, opPointer:
		return strconv.AppendUint(dst, getUint(data), 10)
	case opInt:
		return strconv.AppendInt(dst, getInt(data), 10)
	case opBits:
		return appendHex(dst, getBits(data, int(n.bitOff), int(n.bits), nativeLE))
	case opInt128:
		return appendHex(dst, getInt128(data))
	case opBool:
		// bpftool reads the bool's first byte (*(bool *)data).
		if data[0] != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case opChar:
		if asBpftool {
			return appendCharAsBpftool(dst, data[0])
		}
		return appendChar(dst, data[0])
	case opFloat:
		return appendFloat(dst, data)
	case opEnum:
		return n.appendEnum(dst, data)
	case opStruct, opUnion:
		dst = append(dst, '{')
		for i := range n.fields {
			f := &n.fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, f.key...)
			dst = f.node.append(dst, data[f.off:f.off+f.node.size], asBpftool)
		}
		return append(dst, '}')
	case opArray:
		if n.str {
			if s, ok := cString(data); ok {
				if asBpftool {
					return appendStringAsBpftool(dst, s)
				}
				return appendString(dst, s)
			}
		}
		dst = append(dst, '[')
		es := n.elem.size
		for i := range n.n {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = n.elem.append(dst, data[i*es:(i+1)*es], asBpftool)
		}
		return append(dst, ']')
	case opDatasec:
		dst = append(dst, '{')
		dst = append(dst, n.name...)
		dst = append(dst, ":["...)
		for i := range n.fields {
			f := &n.fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = f.node.append(dst, data[f.off:f.off+f.node.size], asBpftool)
		}
		return append(dst, "]}"...)
	default: // opVar
		f := &n.fields[0]
		dst = append(dst, '{')
		dst = append(dst, f.key...)
		dst = f.node.append(dst, data, asBpftool)
		return append(dst, '}')
	}
}

func (n *node) appendEnum(dst, data []byte) []byte {
	var v uint64
	if n.size == 8 {
		v = getUint(data)
	} else {
		v = uint64(getInt(data)) // sign-extended, as bpftool compares it
	}
	for i := range n.enum {
		if n.enum[i].match == v {
			return append(dst, n.enum[i].json...)
		}
	}
	// bpftool prints an unnamed value as a signed 64-bit number (jsonw_int).
	return strconv.AppendInt(dst, int64(v), 10)
}

// appendHex appends x as bpftool prints 128-bit integers and bitfields:
// "0x" and lower-case hex without leading zeros, quoted.
func appendHex(dst []byte, x u128) []byte {
	dst = append(dst, `"0x`...)
	if x.hi == 0 {
		dst = strconv.AppendUint(dst, x.lo, 16)
	} else {
		dst = strconv.AppendUint(dst, x.hi, 16)
		var lo [16]byte
		for i := range lo {
			lo[15-i] = hexDigits[x.lo>>(4*i)&0xf]
		}
		dst = append(dst, lo[:]...)
	}
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// printable is bpftool's test of chars: isprint in the C locale.
func printable(c byte) bool { return c >= 0x20 && c < 0x7f }

// appendChar appends one char as bpftool prints it: the character itself
// when printable, else "\u00XX".
func appendChar(dst []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '"', '\\', c, '"')
	case printable(c):
		return append(dst, '"', c, '"')
	}
	return append(dst, '"', '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf], '"')
}

// appendCharAsBpftool is appendChar without escaping '"' and '\',
// as bpftool prints them.
func appendCharAsBpftool(dst []byte, c byte) []byte {
	if printable(c) {
		return append(dst, '"', c, '"')
	}
	return appendChar(dst, c)
}

// appendStringAsBpftool appends a printable string as bpftool's jsonw_puts
// does, '\' as \n.
func appendStringAsBpftool(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch c {
		case '\\':
			dst = append(dst, '\\', 'n')
		case '"':
			dst = append(dst, '\\', '"')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// cString returns the bytes of b before its first NUL when they are all
// printable: when bpftool's is_str_array prints the array as a string.
func cString(b []byte) ([]byte, bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], true
		}
		if !printable(c) {
			return nil, false
		}
	}
	return nil, false
}

// appendString appends s as a JSON string.
func appendString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		dst = appendStringByte(dst, s[i])
	}
	return append(dst, '"')
}

func appendStringByte(dst []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(dst, '\\', c)
	case c < 0x20 || c == 0x7f:
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(dst, c)
}

// appendFloat appends a 4- or 8-byte float as the shortest number that
// reads back as the same float; NaN and the infinities, which JSON has no
// numbers for, as the strings "NaN", "+Inf" and "-Inf".
func appendFloat(dst, data []byte) []byte {
	var f float64
	bitSize := 64
	if len(data) == 4 {
		f, bitSize = float64(math.Float32frombits(binary.NativeEndian.Uint32(data))), 32
	} else {
		f = math.Float64frombits(binary.NativeEndian.Uint64(data))
	}
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bitSize)
}
