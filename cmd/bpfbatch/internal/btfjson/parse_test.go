package btfjson_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// addr and sock are the types of the error cases.
var (
	addr = &btf.Struct{Name: "addr", Size: 8, Members: []btf.Member{
		member("ip", u32T, 0),
		member("port", u16T, 4),
		member("proto", u8T, 6),
	}}
	sock = &btf.Struct{Name: "sock", Size: 40, Members: []btf.Member{
		member("addr", addr, 0),
		member("ips", arr(u32T, 3), 8),
		member("state", colour, 20),
		member("name", arr(charT, 4), 24),
		member("on", boolT, 28),
		member("c", charT, 29),
		bitfield("bits", s16T, 30*8, 4),
		member("big", u128T, 32-16+16), // see below
	}}
)

func init() {
	// big needs 16 bytes: make sock 48 bytes with big at 32.
	sock.Size = 48
	sock.Members[len(sock.Members)-1].Offset = 32 * 8
}

const goodSock = `{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":"RED","name":"ab","on":true,"c":"x","bits":"0x7","big":"0x1"}`

// TestParseErrors checks that JSON which does not fit the type is an
// error naming the member and what is wrong.
func TestParseErrors(t *testing.T) {
	c := newCodec(t, sock)
	if err := c.Parse(make([]byte, c.Size()), []byte(goodSock)); err != nil {
		t.Fatalf("Parse(%s): %v", goodSock, err)
	}
	for _, tc := range []struct{ json, err string }{
		{`{"addr":{"ip":1,"port":70000,"proto":3},"ips":[1,2,3],"state":"RED","name":"ab","on":true,"c":"x","bits":"0x7","big":"0x1"}`,
			"addr.port: 70000 is out of range for u16 (0 to 65535)"},
		{`{"addr":{"ip":-1,"port":7,"proto":3}}`, "addr.ip: -1 is out of range for u32 (0 to 4294967295)"},
		{`{"addr":{"ip":1.5}}`, "addr.ip: 1.5 is not an integer (u32)"},
		{`{"addr":{"ip":"1"}}`, `addr.ip: u32 wants a number, got a string "\"1\"}}"`},
		{`{"addr":{"ip":1,"port":2}}`, "addr: missing member proto of struct addr"},
		{`{"addr":{"ip":1,"port":2,"proto":3,"prot":4}}`, `addr: struct addr has no member "prot" (members: ip, port, proto)`},
		{`{"addr":{"ip":1,"ip":2}}`, `addr: member "ip" given twice`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2]}`, "ips: 2 elements for array of 3 u32"},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3,4]}`, "ips: more than 3 elements for array of 3 u32"},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,"x"]}`, `ips[2]: u32 wants a number, got a string "\"x\"]}"`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":"PINK"}`, `state: enum colour has no value named "PINK" (names: RED, GREEN, BLUE)`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":4294967296}`, "state: 4294967296 is out of range for enum colour (-2147483648 to 4294967295)"},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"abcde"}`, "name: string of 5 bytes does not fit in char[4]"},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":7}`, "name: array of 4 char wants a string or an array, got a number \"7}\""},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":1}`, `on: bool wants true or false, got a number "1}"`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":true,"c":"xy"}`, `c: char wants one character (U+0000 to U+00FF), got "\"xy\"}"`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":true,"c":"x","bits":"0x10"}`, "bits: 0x10 is out of range for 4-bit signed bitfield (-8 to 15)"},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":true,"c":"x","bits":-9}`, "bits: -9 is out of range for 4-bit signed bitfield (-8 to 15)"},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":true,"c":"x","bits":"7"}`, `bits: 4-bit signed bitfield wants "0x" and hex digits or a number, got "\"7\"}"`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":true,"c":"x","bits":1,"big":"0x100000000000000000000000000000000"}`,
			`big: u128 wants "0x" and hex digits or a number, got "\"0x100000000000000000000000000000000\"}"`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"","on":true,"c":"x","bits":1,"big":340282366920938463463374607431768211456}`,
			"big: 340282366920938463463374607431768211456 is out of range for u128 (0 to 340282366920938463463374607431768211455)"},
		{goodSock + ` x`, `unexpected "x" after the value`},
		{`{"addr":{"ip":1,"port":2,"proto":3}`, "bad JSON in struct sock: want ',' or '}', got end of input"},
		{`{"addr":{"ip":01}}`, `addr.ip: bad JSON number "01}}" (u32)`},
		{`[]`, `struct sock wants an object, got an array "[]"`},
		{``, "unexpected end of input, want an object (struct sock)"},
		{`{"addr":{"ip\`, `addr: unterminated string "\"ip\\"`},
		{`{"addr":null}`, `addr: struct addr wants an object, got null "null}"`},
		{`{"addr":{"ip":1,"port":2,"proto":3},"ips":[1,2,3],"state":0,"name":"a` + "\n" + `"}`, `name: control character in string "\"a\n\"}" (write it as \u000a)`},
	} {
		err := c.Parse(make([]byte, c.Size()), []byte(tc.json))
		if err == nil || err.Error() != tc.err {
			t.Errorf("Parse(%s):\n got %v\nwant %s", tc.json, err, tc.err)
		}
		var fe *btfjson.FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Errorf("Parse(%s): %T, want *FieldError", tc.json, err)
		}
	}
}

// TestParseWithPath checks that the caller can name the root of an
// error's path ("value"), as the command does.
func TestParseWithPath(t *testing.T) {
	c := newCodec(t, addr)
	err := c.Parse(make([]byte, 8), []byte(`{"ip":1,"port":70000,"proto":3}`))
	if got, want := btfjson.WithPath(err, "value").Error(), "value.port: 70000 is out of range for u16 (0 to 65535)"; got != want {
		t.Errorf("WithPath: %s, want %s", got, want)
	}
	c = newCodec(t, arr(u8T, 2))
	err = c.Parse(make([]byte, 2), []byte(`[1,256]`))
	if got, want := btfjson.WithPath(err, "key").Error(), "key[1]: 256 is out of range for u8 (0 to 255)"; got != want {
		t.Errorf("WithPath: %s, want %s", got, want)
	}
}

// TestParseForms checks the JSON Parse takes besides Append's: numbers
// for bitfields, enums and 128-bit integers, enum values signed or
// unsigned, chars written as characters, arrays for char arrays, any
// member order, white space.
func TestParseForms(t *testing.T) {
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		typ  btf.Type
		json string
		want []byte
	}{
		{enums.Members[0].Type, `200`, []byte{200}},
		{enums.Members[0].Type, `-56`, []byte{200}},
		{enums.Members[0].Type, `"U1_HIGH"`, []byte{200}},
		{enums.Members[1].Type, `"S1_NEG"`, []byte{200}},
		{enums.Members[1].Type, `255`, []byte{255}},
		{colour, `"BLUE"`, u32(7)},
		{colour, `-1`, u32(0xffffffff)},
		{colour, `4294967295`, u32(0xffffffff)},
		{charT, `"\u00e9"`, []byte{0xe9}},
		{charT, `"é"`, []byte{0xe9}},
		{charT, `"\""`, []byte{'"'}},
		{arr(charT, 4), `"é"`, []byte{0xc3, 0xa9, 0, 0}}, // a string is UTF-8
		{arr(charT, 4), `["a","\u0000","b","\u00ff"]`, []byte{'a', 0, 'b', 0xff}},
		{arr(charT, 2), `"ab"`, []byte{'a', 'b'}}, // no room for a NUL: taken as is
		{arr(clangCharT, 2), `[-1,97]`, []byte{0xff, 'a'}},
		{u128T, `"0xFF"`, append(u32(0xff), make([]byte, 12)...)},
		{u128T, `255`, append(u32(0xff), make([]byte, 12)...)},
		{s128T, `-1`, bytes.Repeat([]byte{0xff}, 16)},
		// a = 5 in the first 3 bits, b = -1 in the next 5: from the low
		// bit on little-endian hosts, from the high bit on big-endian ones.
		{&btf.Struct{Size: 1, Members: []btf.Member{bitfield("a", u8T, 0, 3), bitfield("b", s8T, 3, 5)}}, ` { "b" : -1 , "a" : 5 } `, []byte{map[bool]byte{true: 0xfd, false: 0xbf}[nativeLE]}},
		{addr, "{\"proto\":3,\n\"port\":2,\t\"ip\":1}", append(u32(1), binary.NativeEndian.AppendUint16(nil, 2)[0], binary.NativeEndian.AppendUint16(nil, 2)[1], 3, 0)},
		{f64T, `"-Inf"`, binary.NativeEndian.AppendUint64(nil, 0xfff0000000000000)},
		{f32T, `1.5`, u32(0x3fc00000)},
		{&btf.Pointer{Target: u8T}, `18446744073709551615`, bytes.Repeat([]byte{0xff}, 8)},
	} {
		if !nativeLE && len(tc.want) > 1 {
			continue // the byte patterns above are little-endian
		}
		c := newCodec(t, tc.typ)
		got := make([]byte, c.Size())
		if err := c.Parse(got, []byte(tc.json)); err != nil {
			t.Errorf("Parse(%v, %s): %v", tc.typ, tc.json, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("Parse(%v, %s) = %x, want %x", tc.typ, tc.json, got, tc.want)
		}
	}
}

// TestParseUnion checks that a union takes any of its members, and that
// when several are given the exact ones decide the bytes they cover.
func TestParseUnion(t *testing.T) {
	u := nested.Members[1].Type // union { u32 x; char s[8]; struct {u16 lo, hi} parts; bool ok; }
	c := newCodec(t, u)
	for _, tc := range []struct {
		json string
		want []byte
	}{
		{`{"x":1}`, []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{`{"s":"abc"}`, []byte{'a', 'b', 'c', 0, 0, 0, 0, 0}},
		{`{"ok":true}`, []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{`{"parts":{"lo":1,"hi":2}}`, []byte{1, 0, 2, 0, 0, 0, 0, 0}},
		// As Append prints 61 62 00 63 64 00 00 00: s shows "ab", x the first 4 bytes.
		{`{"x":1660969569,"s":"ab","parts":{"lo":25185,"hi":25344},"ok":true}`, []byte{'a', 'b', 0, 'c', 0, 0, 0, 0}},
		// The member order does not matter.
		{`{"ok":true,"parts":{"lo":25185,"hi":25344},"s":"ab","x":1660969569}`, []byte{'a', 'b', 0, 'c', 0, 0, 0, 0}},
	} {
		if !nativeLE {
			break
		}
		got := make([]byte, c.Size())
		if err := c.Parse(got, []byte(tc.json)); err != nil {
			t.Errorf("Parse(%s): %v", tc.json, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("Parse(%s) = %x, want %x", tc.json, got, tc.want)
		}
	}
	err := c.Parse(make([]byte, c.Size()), []byte(`{}`))
	if want := "union u wants one of its members (x, s, parts, ok)"; err == nil || err.Error() != want {
		t.Errorf("Parse({}): %v, want %s", err, want)
	}
}

// TestParsePerCPUErrors checks that every CPU is given once.
func TestParsePerCPUErrors(t *testing.T) {
	c := newCodec(t, addr)
	dst := make([]byte, 2*c.Slot())
	for _, tc := range []struct{ json, err string }{
		{`[{"cpu":0,"value":{"ip":1,"port":2,"proto":3}}]`, "no value for CPU 1: the map holds a value for each of its 2 possible CPUs, the input has 1"},
		{`[{"cpu":0,"value":{"ip":1,"port":2,"proto":3}},{"cpu":0,"value":{"ip":1,"port":2,"proto":3}}]`, "[1]: CPU 0 given twice"},
		{`[{"cpu":2,"value":{"ip":1,"port":2,"proto":3}}]`, "[0]: CPU 2: the map holds values for CPUs 0 to 1"},
		{`[{"cpu":0}]`, `[0]: missing "value" for CPU 0`},
		{`[{"value":{}}]`, `[0]: missing "cpu"`},
		{`[{"cpu":1,"value":{"ip":1,"port":2,"proto":300}}]`, "[cpu 1].proto: 300 is out of range for u8 (0 to 255)"},
		{`{"ip":1}`, `per-CPU values wants an array of {"cpu": N, "value": ...}, got an object "{\"ip\":1}"`},
	} {
		err := c.ParsePerCPU(dst, []byte(tc.json))
		if err == nil || err.Error() != tc.err {
			t.Errorf("ParsePerCPU(%s):\n got %v\nwant %s", tc.json, err, tc.err)
		}
	}
	if err := c.ParsePerCPU(dst, []byte(`[{"value":{"ip":1,"port":2,"proto":3},"cpu":1},{"cpu":0,"value":{"ip":4,"port":5,"proto":6}}]`)); err != nil {
		t.Errorf("ParsePerCPU in any order: %v", err)
	}
}
