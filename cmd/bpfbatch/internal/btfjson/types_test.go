package btfjson_test

import (
	"math"

	"github.com/cilium/ebpf/btf"
)

// The types the tests put in maps, one per case of bpftool's printing.

// connKey is a typical map key: struct with padding between and after
// members.
var connKey = &btf.Struct{Name: "conn_key", Size: 16, Members: []btf.Member{
	member("saddr", u32T, 0),
	member("daddr", u32T, 4),
	member("sport", u16T, 8),
	member("dport", u16T, 10),
	member("proto", u8T, 12), // 3 bytes of padding after
}}

// connValue is a typical map value: counters, a name, a state enum.
var connValue = &btf.Struct{Name: "conn_value", Size: 48, Members: []btf.Member{
	member("packets", u64T, 0),
	member("bytes", u64T, 8),
	member("last_seen", s64T, 16),
	member("comm", arr(charT, 16), 24),
	member("state", &btf.Enum{Name: "conn_state", Size: 4, Values: []btf.EnumValue{
		{Name: "NEW", Value: 0}, {Name: "ESTABLISHED", Value: 1}, {Name: "CLOSED", Value: 2},
	}}, 40),
	member("flags", u16T, 44), // 2 bytes of padding after
}}

// scalars has an integer of every size and signedness, bool, char, a
// pointer and 128-bit integers, with padding.
var scalars = &btf.Struct{Name: "scalars", Size: 96, Members: []btf.Member{
	member("s8", s8T, 0),
	member("u8", u8T, 1),
	member("s16", s16T, 2),
	member("u16", u16T, 4),
	member("b", boolT, 6),
	member("c", charT, 7),
	member("s32", s32T, 8),
	member("u32", u32T, 12),
	member("s64", s64T, 16),
	member("u64", u64T, 24),
	member("ptr", &btf.Pointer{Target: u8T}, 32),
	member("b2", boolT, 40),
	member("c2", clangCharT, 41), // 6 bytes of padding after
	member("s128", s128T, 48),
	member("u128", u128T, 64),
	member("last", u8T, 80), // 15 bytes of padding after
}}

var colour = &btf.Enum{Name: "colour", Size: 4, Values: []btf.EnumValue{
	{Name: "RED", Value: 0}, {Name: "GREEN", Value: 1}, {Name: "BLUE", Value: 7},
}}

// bitfields has bitfields that cross bytes and words, signed ones, a
// 1-bit one, a 64-bit one at an odd offset, an enum bitfield, and an int
// that is not a bitfield after them.
var bitfields = &btf.Struct{Name: "bits", Size: 32, Members: []btf.Member{
	bitfield("a", u32T, 0, 3),
	bitfield("b", u32T, 3, 9), // bits 3-11: crosses a byte
	bitfield("c", s32T, 12, 5),
	bitfield("flag", boolT, 17, 1),
	bitfield("d", u64T, 18, 33), // crosses the 32-bit word
	bitfield("e", s64T, 51, 13),
	bitfield("f", u64T, 64+5, 59), // up to bit 128
	bitfield("g", colour, 128, 3),
	bitfield("h", s16T, 131, 16),
	bitfield("i", u8T, 147, 1),
	member("after", u32T, 20),
	bitfield("j", u128T, 192+7, 57),
}}

// enums has enums of 1, 2, 4 and 8 bytes, signed and unsigned, with values
// at the edges, some that bpftool matches only sign-extended.
var enums = &btf.Struct{Name: "enums", Size: 48, Members: []btf.Member{
	member("u1", &btf.Enum{Name: "u1", Size: 1, Values: []btf.EnumValue{{Name: "U1_A", Value: 1}, {Name: "U1_HIGH", Value: 200}, {Name: "U1_MAX", Value: 255}}}, 0),
	member("s1", &btf.Enum{Name: "s1", Size: 1, Signed: true, Values: []btf.EnumValue{{Name: "S1_NEG", Value: neg(56)}, {Name: "S1_MIN", Value: neg(128)}, {Name: "S1_ONE", Value: 1}}}, 1),
	member("u2", &btf.Enum{Name: "u2", Size: 2, Values: []btf.EnumValue{{Name: "U2_BIG", Value: 40000}, {Name: "U2_MAX", Value: 0xffff}}}, 2),
	member("s2", &btf.Enum{Name: "s2", Size: 2, Signed: true, Values: []btf.EnumValue{{Name: "S2_NEG", Value: neg(2)}, {Name: "S2_MAX", Value: 0x7fff}}}, 4),
	member("u4", &btf.Enum{Name: "u4", Size: 4, Values: []btf.EnumValue{{Name: "U4_TOP", Value: 0x80000000}, {Name: "U4_MAX", Value: math.MaxUint32}, {Name: "U4_ZERO", Value: 0}}}, 8),
	member("s4", &btf.Enum{Name: "s4", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "S4_MIN", Value: neg(1 << 31)}, {Name: "S4_M1", Value: neg(1)}}}, 12),
	member("u8", &btf.Enum{Name: "u8", Size: 8, Values: []btf.EnumValue{{Name: "U8_TOP", Value: 1 << 63}, {Name: "U8_MAX", Value: math.MaxUint64}, {Name: "U8_32", Value: 1 << 32}}}, 16),
	member("s8", &btf.Enum{Name: "s8", Size: 8, Signed: true, Values: []btf.EnumValue{{Name: "S8_MIN", Value: neg(1 << 63)}, {Name: "S8_M2", Value: neg(2)}}}, 24),
	member("anon", &btf.Enum{Size: 4, Values: []btf.EnumValue{{Name: "ANON_X", Value: 3}}}, 32),
	member("none", &btf.Enum{Name: "none", Size: 4}, 36),
	member("u2b", &btf.Typedef{Name: "u2_t", Type: &btf.Enum{Name: "u2b", Size: 2, Values: []btf.EnumValue{{Name: "U2B", Value: 1}}}}, 40),
}}

func neg(x uint64) uint64 { return -x }

var mychar = &btf.Typedef{Name: "mychar", Type: charT}

// chars has char arrays that bpftool prints as strings or arrays.
var chars = &btf.Struct{Name: "chars", Size: 64, Members: []btf.Member{
	member("name", arr(charT, 16), 0),
	member("full", arr(charT, 4), 16),
	member("konst", arr(&btf.Const{Type: charT}, 6), 20),
	member("td", arr(mychar, 4), 26),          // typedef: never a string
	member("clang", arr(clangCharT, 6), 30),   // "char", signed: a string, else numbers
	member("uchar", arr(u8T, 4), 36),          // unsigned char: numbers
	member("grid", arr(arr(charT, 4), 3), 40), // an array of strings
	member("vol", arr(&btf.Volatile{Type: charT}, 8), 52),
	member("one", arr(charT, 1), 60),
	member("c", charT, 61),
	member("empty", arr(charT, 0), 62),
}}

var inner = &btf.Struct{Name: "inner", Size: 6, Members: []btf.Member{
	member("a", u16T, 0),
	member("b", arr(u8T, 3), 2), // 1 byte of padding after
}}

// nested has structs in structs, unions, multi-dimensional arrays,
// anonymous members.
var nested = &btf.Struct{Name: "nested", Size: 80, Members: []btf.Member{
	member("in", inner, 0),
	member("u", &btf.Union{Name: "u", Size: 8, Members: []btf.Member{
		member("x", u32T, 0),
		member("s", arr(charT, 8), 0),
		member("parts", &btf.Struct{Size: 4, Members: []btf.Member{member("lo", u16T, 0), member("hi", u16T, 2)}}, 0),
		member("ok", boolT, 0),
	}}, 8),
	member("grid", arr(arr(u32T, 3), 2), 16),
	member("arr", arr(inner, 2), 40),
	member("", &btf.Struct{Size: 2, Members: []btf.Member{member("z", u8T, 0), member("y", s8T, 1)}}, 52),
	member("", &btf.Union{Size: 4, Members: []btf.Member{member("w", u32T, 0), member("v", arr(u8T, 4), 0)}}, 56),
	member("cube", arr(arr(arr(s8T, 2), 2), 2), 60),
	member("strs", &btf.Union{Name: "strs", Size: 8, Members: []btf.Member{
		member("name", arr(charT, 8), 0),
		member("flag", boolT, 0),
	}}, 72),
}}

// typedefs wraps types in typedefs, const, volatile and restrict.
var typedefs = &btf.Typedef{Name: "wrapped_t", Type: &btf.Struct{Name: "wrapped", Size: 24, Members: []btf.Member{
	member("id", &btf.Typedef{Name: "id_t", Type: &btf.Typedef{Name: "__u64", Type: u64T}}, 0),
	member("cv", &btf.Const{Type: &btf.Volatile{Type: s32T}}, 8),
	member("p", &btf.Restrict{Type: &btf.Pointer{Target: u8T}}, 16),
}}}

// floats bpftool cannot print (it stops with "(unsupported-kind").
var floats = &btf.Struct{Name: "floats", Size: 16, Members: []btf.Member{
	member("f", f32T, 0),
	member("d", f64T, 8),
}}
