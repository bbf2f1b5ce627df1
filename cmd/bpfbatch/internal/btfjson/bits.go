package btfjson

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// Map bytes hold integers in the host's byte order, and bitfields are laid
// out from the least significant bit on little-endian hosts and from the
// most significant on big-endian ones (the compiler's, and bpftool's
// __LITTLE_ENDIAN_BITFIELD / __BIG_ENDIAN_BITFIELD).
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

func (x u128) shl(n int) u128 {
	switch {
	case n == 0:
		return x
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{hi: x.lo << (n - 64)}
	}
	return u128{hi: x.hi<<n | x.lo>>(64-n), lo: x.lo << n}
}

func (x u128) shr(n int) u128 {
	switch {
	case n == 0:
		return x
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{lo: x.hi >> (n - 64)}
	}
	return u128{hi: x.hi >> n, lo: x.lo>>n | x.hi<<(64-n)}
}

func (x u128) and(y u128) u128 { return u128{x.hi & y.hi, x.lo & y.lo} }
func (x u128) or(y u128) u128  { return u128{x.hi | y.hi, x.lo | y.lo} }
func (x u128) not() u128       { return u128{^x.hi, ^x.lo} }

// ones returns a u128 with the low width bits set.
func ones(width int) u128 { return u128{^uint64(0), ^uint64(0)}.shr(128 - width) }

// load reads b (at most 16 bytes) as the start of a 16-byte buffer
// holding a 128-bit integer in byte order le, the rest of it zero: how
// bpftool's btf_dumper_bitfield copies a bitfield's bytes.
func load(b []byte, le bool) u128 {
	var buf [16]byte
	copy(buf[:], b)
	if le {
		return u128{hi: binary.LittleEndian.Uint64(buf[8:]), lo: binary.LittleEndian.Uint64(buf[:8])}
	}
	return u128{hi: binary.BigEndian.Uint64(buf[:8]), lo: binary.BigEndian.Uint64(buf[8:])}
}

// store writes x back to b as load reads it.
func store(b []byte, x u128, le bool) {
	var buf [16]byte
	if le {
		binary.LittleEndian.PutUint64(buf[:8], x.lo)
		binary.LittleEndian.PutUint64(buf[8:], x.hi)
	} else {
		binary.BigEndian.PutUint64(buf[:8], x.hi)
		binary.BigEndian.PutUint64(buf[8:], x.lo)
	}
	copy(b, buf[:])
}

// bitShift is where a bitfield's lowest bit sits in the 128-bit integer
// that load returns.
func bitShift(bitOff, width int, le bool) int {
	if le {
		return bitOff
	}
	return 128 - bitOff - width
}

// getBits returns the bitfield of width bits that starts bitOff bits into
// b, zero-extended.
func getBits(b []byte, bitOff, width int, le bool) u128 {
	return load(b, le).shr(bitShift(bitOff, width, le)).and(ones(width))
}

// putBits stores the low width bits of v into the bitfield at bitOff,
// leaving the other bits of b as they are (neighbouring bitfields share
// bytes).
func putBits(b []byte, bitOff, width int, v u128, le bool) {
	shift := bitShift(bitOff, width, le)
	mask := ones(width).shl(shift)
	x := load(b, le).and(mask.not()).or(v.shl(shift).and(mask))
	store(b, x, le)
}

// getInt128 reads a 16-byte integer in host order: two 8-byte halves,
// the low half first on little-endian hosts (bpftool's btf_int128_print).
func getInt128(b []byte) u128 {
	if nativeLE {
		return u128{hi: binary.LittleEndian.Uint64(b[8:16]), lo: binary.LittleEndian.Uint64(b[:8])}
	}
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:16])}
}

func putInt128(b []byte, x u128) {
	if nativeLE {
		binary.LittleEndian.PutUint64(b[:8], x.lo)
		binary.LittleEndian.PutUint64(b[8:16], x.hi)
		return
	}
	binary.BigEndian.PutUint64(b[:8], x.hi)
	binary.BigEndian.PutUint64(b[8:16], x.lo)
}

// getUint reads an integer of 1, 2, 4 or 8 bytes in host order.
func getUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

// getInt reads a signed integer of 1, 2, 4 or 8 bytes in host order.
func getInt(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(binary.NativeEndian.Uint16(b)))
	case 4:
		return int64(int32(binary.NativeEndian.Uint32(b)))
	}
	return int64(binary.NativeEndian.Uint64(b))
}

// putUint writes the low len(b) bytes of v in host order.
func putUint(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(b, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b, uint32(v))
	default:
		binary.NativeEndian.PutUint64(b, v)
	}
}

func (x u128) add1() u128 {
	if x.lo == ^uint64(0) {
		return u128{hi: x.hi + 1}
	}
	return u128{hi: x.hi, lo: x.lo + 1}
}

// neg is the two's complement negation of x.
func (x u128) neg() u128 { return x.not().add1() }

func lessEq(x, y u128) bool { return x.hi < y.hi || x.hi == y.hi && x.lo <= y.lo }

// decString formats x in decimal.
func decString(x u128) string {
	if x.hi == 0 {
		return strconv.FormatUint(x.lo, 10)
	}
	var buf [40]byte
	i := len(buf)
	for x != (u128{}) {
		// Divide by 10: the high half first, its remainder carried into the low.
		qh, rh := x.hi/10, x.hi%10
		ql, rl := bits.Div64(rh, x.lo, 10)
		x = u128{hi: qh, lo: ql}
		i--
		buf[i] = byte('0' + rl)
	}
	return string(buf[i:])
}
