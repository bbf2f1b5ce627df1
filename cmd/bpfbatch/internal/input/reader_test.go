package input

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// readAll reads every entry of in, collecting line errors.
func readAll(t *testing.T, in string, opts Options) (*Batch, []*LineError) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), opts)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var b Batch
	var bad []*LineError
	for {
		err := r.Read(&b, 1<<30)
		if err == io.EOF {
			return &b, bad
		}
		var le *LineError
		if !errors.As(err, &le) || le.Fatal {
			t.Fatalf("Read: %v", err)
		}
		bad = append(bad, le)
	}
}

// mustRead reads in and fails on any bad line.
func mustRead(t *testing.T, in string, opts Options) *Batch {
	t.Helper()
	b, bad := readAll(t, in, opts)
	for _, le := range bad {
		t.Errorf("unexpected error: %v", le)
	}
	return b
}

// wantBatch checks b's keys, values and lines (nil: not checked).
func wantBatch(t *testing.T, b *Batch, keys, values []byte, lines []int) {
	t.Helper()
	if !bytes.Equal(b.Keys, keys) {
		t.Errorf("keys = %x, want %x", b.Keys, keys)
	}
	if !bytes.Equal(b.Values, values) {
		t.Errorf("values = %x, want %x", b.Values, values)
	}
	if lines != nil && !slices.Equal(b.Lines, lines) {
		t.Errorf("lines = %v, want %v", b.Lines, lines)
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var hash4x8 = Layout{KeySize: 4, ValueSize: 8}

func TestReadText(t *testing.T) {
	in := "# a comment\n" +
		"0a000001 0100000000000000\n" +
		"\n" +
		"  0a000002\t0x0200000000000000   # trailing comment\r\n" +
		"0A0000FF FFFFFFFFFFFFFFFF\n"
	b := mustRead(t, in, Options{Layout: hash4x8})
	wantBatch(t, b, unhex("0a0000010a0000020a0000ff"), unhex("01000000000000000200000000000000ffffffffffffffff"), []int{2, 4, 5})
}

func TestReadTextIntegers(t *testing.T) {
	b := mustRead(t, "1 100\n4294967295 18446744073709551615\n0x10 0x20\n", Options{Layout: hash4x8, Key: U32, Value: U64})
	wantBatch(t, b, cat(ne32(1), ne32(0xffffffff), ne32(16)), cat(ne64(100), ne64(1<<64-1), ne64(32)), nil)
}

func TestReadCIDR(t *testing.T) {
	b := mustRead(t, "10.0.0.0/8 1\n192.168.0.0/16 2\n203.0.113.7 3\n", Options{Layout: Layout{KeySize: 8, ValueSize: 4, LPM: true}, Key: CIDR, Value: U32})
	if want := cat(lpm(8, "0a000000"), lpm(16, "c0a80000"), lpm(32, "cb007107")); !bytes.Equal(b.Keys, want) {
		t.Errorf("keys = %x, want %x", b.Keys, want)
	}
	b = mustRead(t, "2001:db8::/32 1\n::1 2\n", Options{Layout: Layout{KeySize: 20, ValueSize: 4, LPM: true}, Key: CIDR, Value: U32})
	if want := cat(lpm(32, "20010db8000000000000000000000000"), lpm(128, "00000000000000000000000000000001")); !bytes.Equal(b.Keys, want) {
		t.Errorf("keys = %x, want %x", b.Keys, want)
	}
}

var percpu4 = Layout{KeySize: 4, ValueSize: 4, CPUs: 2, Stride: 16} // slots of 8 bytes

// Per-CPU values: one 8-byte slot per possible CPU, element-major, padding
// zero even when the Batch's memory held other bytes before.
func TestReadPerCPU(t *testing.T) {
	r, err := NewReader(strings.NewReader("1 10 20\n2 0x30 0x40\n"), Options{Layout: percpu4, Key: U32, Value: U32})
	if err != nil {
		t.Fatal(err)
	}
	dirty := bytes.Repeat([]byte{0xff}, 64)
	b := Batch{Keys: dirty[:0:32], Values: slices.Clone(dirty)[:0]}
	if err := r.Read(&b, 10); err != io.EOF {
		t.Fatalf("Read = %v", err)
	}
	want := cat(ne32(10), make([]byte, 4), ne32(20), make([]byte, 4), ne32(0x30), make([]byte, 4), ne32(0x40), make([]byte, 4))
	if !bytes.Equal(b.Values, want) {
		t.Errorf("values = %x, want %x", b.Values, want)
	}
}

func TestReadPerCPUAllCPUs(t *testing.T) {
	b := mustRead(t, "1 7\n", Options{Layout: percpu4, Key: U32, Value: U32, AllCPUs: true})
	if want := cat(ne32(7), make([]byte, 4), ne32(7), make([]byte, 4)); !bytes.Equal(b.Values, want) {
		t.Errorf("values = %x, want %x", b.Values, want)
	}
	// value_size 8: no padding, each slot a copy.
	b = mustRead(t, `{"key": 1, "value": "0102030405060708"}`, Options{Layout: Layout{KeySize: 4, ValueSize: 8, CPUs: 3, Stride: 24}, Key: U32, AllCPUs: true})
	if want := bytes.Repeat(unhex("0102030405060708"), 3); !bytes.Equal(b.Values, want) {
		t.Errorf("values = %x, want %x", b.Values, want)
	}
}

func TestReadJSON(t *testing.T) {
	in := `{"key": "0a000001", "value": "0100000000000000"}
{"key": [10, 0, 0, 2], "value": [2, 0, 0, 0, 0, 0, 0, 0]}

{ "value" : "0x0300000000000000" , "key" : "0x0a000003" }
`
	b := mustRead(t, in, Options{Layout: hash4x8})
	wantBatch(t, b, unhex("0a0000010a0000020a000003"), unhex("010000000000000002000000000000000300000000000000"), []int{1, 2, 4})
}

func TestReadJSONNumbers(t *testing.T) {
	// 2^64-1 is beyond float64 precision: numbers must not go through one.
	b := mustRead(t, `{"key": 7, "value": 18446744073709551615}
{"key": "8", "value": "0x10"}
`, Options{Layout: hash4x8, Key: U32, Value: U64})
	wantBatch(t, b, cat(ne32(7), ne32(8)), cat(ne64(1<<64-1), ne64(16)), nil)
}

func TestReadJSONPerCPU(t *testing.T) {
	in := `{"key": 1, "value": [10, 20]}
{"key": 2, "value": ["0x30", [64, 0, 0, 0]]}
`
	b := mustRead(t, in, Options{Layout: percpu4, Key: U32, Value: U32})
	want := cat(ne32(10), make([]byte, 4), ne32(20), make([]byte, 4), ne32(0x30), make([]byte, 4), unhex("40000000"), make([]byte, 4))
	if !bytes.Equal(b.Values, want) {
		t.Errorf("values = %x, want %x", b.Values, want)
	}
}

func TestReadJSONCIDR(t *testing.T) {
	b := mustRead(t, `{"key": "10.0.0.0/8", "value": 1}`, Options{Layout: Layout{KeySize: 8, ValueSize: 4, LPM: true}, Key: CIDR, Value: U32})
	if want := lpm(8, "0a000000"); !bytes.Equal(b.Keys, want) {
		t.Errorf("keys = %x, want %x", b.Keys, want)
	}
}

// Maps without keys (queues, stacks, bloom filters) take values only.
func TestReadKeyless(t *testing.T) {
	b := mustRead(t, "5\n6\n", Options{Layout: Layout{ValueSize: 4}, Value: U32})
	if len(b.Keys) != 0 || !bytes.Equal(b.Values, cat(ne32(5), ne32(6))) {
		t.Errorf("keys %x values %x", b.Keys, b.Values)
	}
	b = mustRead(t, `{"value": 5}`+"\n"+`{"key": null, "value": 6}`, Options{Layout: Layout{ValueSize: 4}, Value: U32})
	if !bytes.Equal(b.Values, cat(ne32(5), ne32(6))) {
		t.Errorf("values %x", b.Values)
	}
}

// Every malformed line is reported with its line number, the entries around
// it still parse, and the bad line leaves nothing behind in the batch.
func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		line string
		want string
	}{
		{"short hex key", Options{Layout: hash4x8}, "0a00 0100000000000000", "key 0a00: want 8 hex digits (4 bytes), got 4"},
		{"bad hex value", Options{Layout: hash4x8}, "0a000001 01000000000000zz", "value 01000000000000zz: 'z' is not a hex digit"},
		{"missing value", Options{Layout: hash4x8}, "0a000001", "want 2 columns: KEY VALUE; got 1"},
		{"extra column", Options{Layout: hash4x8}, "0a000001 0100000000000000 00", "want 2 columns: KEY VALUE; got 3"},
		{"per-CPU one column", Options{Layout: percpu4, Key: U32, Value: U32}, "1 10", "want 3 columns: KEY and one VALUE per possible CPU (2), or KEY VALUE with --all-cpus; got 2"},
		{"per-CPU bad CPU value", Options{Layout: percpu4, Key: U32, Value: U32}, "1 10 x", "value for CPU 1 (x): "},
		{"all-cpus two columns", Options{Layout: percpu4, Key: U32, Value: U32, AllCPUs: true}, "1 10 20", "want 2 columns: KEY VALUE; got 3"},
		{"u32 overflow", Options{Layout: hash4x8, Key: U32, Value: U64}, "4294967296 1", "key 4294967296: out of range for u32 (max 4294967295)"},
		{"host bits", Options{Layout: Layout{KeySize: 8, ValueSize: 4}, Key: CIDR, Value: U32}, "10.0.0.1/8 1", "host bits set"},
		{"array index", Options{Layout: Layout{KeySize: 4, ValueSize: 8, MaxIndex: 64}, Key: U32, Value: U64}, "64 1", "index 64 is out of range for an array of max_entries 64"},
		{"lpm prefixlen", Options{Layout: Layout{KeySize: 8, ValueSize: 4, LPM: true}}, hex.EncodeToString(lpm(33, "0a000000")) + " 01000000", "prefixlen 33 (first 4 bytes, native order) exceeds the 32 address bits"},
		{"json unknown field", Options{Layout: hash4x8}, `{"key": "0a000001", "val": "0100000000000000"}`, `unknown field "val"`},
		{"json missing key", Options{Layout: hash4x8}, `{"value": "0100000000000000"}`, `missing "key"`},
		{"json null value", Options{Layout: hash4x8}, `{"key": "0a000001", "value": null}`, `missing "value"`},
		{"json syntax", Options{Layout: hash4x8}, `{"key": "0a000001", "value": }`, "bad JSON: invalid character '}'"},
		{"json trailing", Options{Layout: hash4x8}, `{"key": "0a000001", "value": "0100000000000000"} x`, `unexpected "x" after the JSON object`},
		{"json byte out of range", Options{Layout: hash4x8}, `{"key": [10, 0, 0, 256], "value": "0100000000000000"}`, "byte array element 3: 256 is not a byte (0-255)"},
		{"json byte array length", Options{Layout: hash4x8}, `{"key": [10, 0, 0], "value": "0100000000000000"}`, "byte array has 3 elements, want 4"},
		{"json number for hex", Options{Layout: hash4x8}, `{"key": 1, "value": "0100000000000000"}`, "a number needs an integer format"},
		{"json float", Options{Layout: hash4x8, Key: U32}, `{"key": 1.5, "value": "0100000000000000"}`, `key 1.5: not an unsigned decimal`},
		{"json negative", Options{Layout: hash4x8, Key: U32}, `{"key": -1, "value": "0100000000000000"}`, "key -1: negative; u32 is unsigned"},
		{"json bool", Options{Layout: hash4x8}, `{"key": true, "value": "0100000000000000"}`, "want a string, a number or an array of bytes"},
		{"json per-CPU not array", Options{Layout: percpu4, Key: U32, Value: U32}, `{"key": 1, "value": 10}`, "a per-CPU map wants an array of 2 values"},
		{"json per-CPU count", Options{Layout: percpu4, Key: U32, Value: U32}, `{"key": 1, "value": [1, 2, 3]}`, "a per-CPU map wants an array of 2 values"},
		{"json key on keyless map", Options{Layout: Layout{ValueSize: 4}, Value: U32}, `{"key": 1, "value": 5}`, "this map has no keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := `{"key": "0a000001", "value": "0100000000000000"}`
			if tt.line[0] != '{' {
				good = "0a000001 0100000000000000"
			}
			if tt.opts.Key != Hex || tt.opts.Value != Hex || tt.opts.CPUs > 0 || tt.opts.KeySize != 4 || tt.opts.ValueSize != 8 {
				good = "" // no shared good line for other layouts
			}
			in := "# header\n" + good + "\n" + tt.line + "\n" + good + "\n"
			b, bad := readAll(t, in, tt.opts)
			if len(bad) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(bad), bad)
			}
			if bad[0].Line != 3 {
				t.Errorf("error at line %d, want 3", bad[0].Line)
			}
			if !strings.Contains(bad[0].Error(), tt.want) || !strings.HasPrefix(bad[0].Error(), "line 3: ") {
				t.Errorf("error = %q, want %q in it", bad[0].Error(), tt.want)
			}
			if good != "" {
				if !slices.Equal(b.Lines, []int{2, 4}) || len(b.Keys) != 8 || len(b.Values) != 16 {
					t.Errorf("batch: lines %v, %d key bytes, %d value bytes; want the two good lines only", b.Lines, len(b.Keys), len(b.Values))
				}
			} else if b.Len() != 0 || len(b.Keys) != 0 || len(b.Values) != 0 {
				t.Errorf("batch holds %d entries (%d/%d bytes) after a bad line", b.Len(), len(b.Keys), len(b.Values))
			}
		})
	}
}

// The first entry line decides the syntax; a later line in the other one is
// an error, not silently re-detected.
func TestReadSyntax(t *testing.T) {
	in := `{"key": "0a000001", "value": "0100000000000000"}` + "\n0a000002 0200000000000000\n"
	_, bad := readAll(t, in, Options{Layout: hash4x8})
	if len(bad) != 1 || bad[0].Line != 2 || !strings.Contains(bad[0].Error(), "want a JSON object") {
		t.Fatalf("errors = %v, want a JSON-object error at line 2", bad)
	}
	_, bad = readAll(t, `{"key": "0a000001", "value": "0100000000000000"}`, Options{Layout: hash4x8, Syntax: Text})
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "want 2 columns") {
		t.Fatalf("forced text syntax: errors = %v", bad)
	}
	r, _ := NewReader(strings.NewReader("\n# c\n{\"key\": \"0a000001\", \"value\": \"0100000000000000\"}"), Options{Layout: hash4x8})
	var b Batch
	if err := r.Read(&b, 10); err != io.EOF || r.Syntax() != JSON || b.Len() != 1 {
		t.Fatalf("auto after comments: err %v syntax %v entries %d", err, r.Syntax(), b.Len())
	}
}

// Read stops at the limit and continues where it stopped.
func TestReadLimit(t *testing.T) {
	var in strings.Builder
	for i := range 10 {
		in.WriteString(strings.Repeat("0", 7) + string(rune('0'+i)) + " 0000000000000000\n")
	}
	r, err := NewReader(strings.NewReader(in.String()), Options{Layout: hash4x8})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	var lines []int
	for {
		b.Reset()
		err := r.Read(&b, 4)
		lines = append(lines, b.Lines...)
		if err == io.EOF {
			break
		}
		if err != nil || b.Len() != 4 {
			t.Fatalf("Read = %v with %d entries", err, b.Len())
		}
	}
	if !slices.Equal(lines, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Fatalf("lines = %v", lines)
	}
	if err := r.Read(&b, 4); err != io.EOF {
		t.Fatalf("Read after EOF = %v", err)
	}
}

func TestReadLineTooLong(t *testing.T) {
	in := "0a000001 0100000000000000\n" + strings.Repeat("0", MaxLine+1) + "\n"
	r, err := NewReader(strings.NewReader(in), Options{Layout: hash4x8})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	err = r.Read(&b, 10)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !le.Fatal || !strings.Contains(err.Error(), "line longer than 16 MiB") {
		t.Fatalf("Read = %v, want a too-long error at line 2", err)
	}
	if err2 := r.Read(&b, 10); err2 != err {
		t.Fatalf("Read after a fatal error = %v, want the same error", err2)
	}
}

func TestNewReaderRejects(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Layout: hash4x8, Key: U64}, "key format: u64 needs 8 bytes, not 4 (4-byte formats: hex, u32, ip)"},
		{Options{Layout: hash4x8, Value: U32}, "value format: u32 needs 4 bytes, not 8 (8-byte formats: hex, u64, cidr)"},
		{Options{Layout: hash4x8, Key: CIDR}, "key format: cidr needs 8 bytes"},
		{Options{Layout: hash4x8, AllCPUs: true}, "only to per-CPU maps"},
		{Options{Layout: Layout{KeySize: 4}}, "no values"},
	}
	for _, tt := range tests {
		_, err := NewReader(strings.NewReader(""), tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewReader(%+v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

// The layout's stride comes from the library; the reader fills CPU slots
// of Stride/CPUs bytes and refuses a stride that cannot hold the values.
func TestLayoutStride(t *testing.T) {
	tests := []struct {
		l        Layout
		wantSlot int
		wantErr  bool
	}{
		{Layout{ValueSize: 4}, 4, false},
		{Layout{ValueSize: 4, Stride: 4}, 4, false},
		{Layout{ValueSize: 4, CPUs: 2, Stride: 16}, 8, false},
		{Layout{ValueSize: 12, CPUs: 3, Stride: 48}, 16, false},
		{Layout{ValueSize: 8, CPUs: 2, Stride: 16}, 8, false},
		{Layout{ValueSize: 4, Stride: 8}, 0, true},
		{Layout{ValueSize: 4, CPUs: 2}, 0, true},
		{Layout{ValueSize: 12, CPUs: 2, Stride: 20}, 0, true},
		{Layout{ValueSize: 12, CPUs: 2, Stride: 17}, 0, true},
	}
	for _, tt := range tests {
		_, err := NewReader(strings.NewReader(""), Options{Layout: tt.l})
		if (err != nil) != tt.wantErr || !tt.wantErr && tt.l.Slot() != tt.wantSlot {
			t.Errorf("%+v: NewReader error %v, slot %d; want error %v, slot %d", tt.l, err, tt.l.Slot(), tt.wantErr, tt.wantSlot)
		}
	}
}

// A UTF-8 byte order mark, which some editors write at the start of a
// file, is not part of the first entry, and does not hide a JSON line from
// the syntax detection.
func TestReadSkipsByteOrderMark(t *testing.T) {
	const bom = "\ufeff"
	b := mustRead(t, bom+"0a000001 0100000000000000\n", Options{Layout: hash4x8})
	if !bytes.Equal(b.Keys, unhex("0a000001")) || !slices.Equal(b.Lines, []int{1}) {
		t.Errorf("text after a BOM: keys %x lines %v", b.Keys, b.Lines)
	}
	r, err := NewReader(strings.NewReader(bom+`{"key": "0a000001", "value": "0100000000000000"}`+"\n"), Options{Layout: hash4x8})
	if err != nil {
		t.Fatal(err)
	}
	var jb Batch
	if err := r.Read(&jb, 10); err != io.EOF || r.Syntax() != JSON || jb.Len() != 1 {
		t.Fatalf("JSON after a BOM: err %v, syntax %v, %d entries", err, r.Syntax(), jb.Len())
	}
	// Only the first line's BOM is one; elsewhere it is a bad token.
	_, bad := readAll(t, "0a000001 0100000000000000\n"+bom+"0a000002 0100000000000000\n", Options{Layout: hash4x8})
	if len(bad) != 1 || bad[0].Line != 2 {
		t.Errorf("BOM on line 2: errors %v, want one at line 2", bad)
	}
}

// A bad token is quoted in an error cut to a screenful and escaped: a 10 MB
// token or a terminal escape sequence must not reach stderr as it is.
func TestReadErrorsTruncateAndEscapeTokens(t *testing.T) {
	huge := strings.Repeat("z", 10<<20)
	tests := []struct {
		name, line string
		opts       Options
		want       string // in the error
	}{
		{"text huge key", huge + " 0100000000000000", Options{Layout: hash4x8}, `key "zzzz`},
		{"text escape key", "\x1b[2J\x1b]0;pwned\x07 0100000000000000", Options{Layout: hash4x8}, `key "\x1b[2J\x1b]0;pwned\a": `},
		{"text escape value", "0a000001 \x9b31m", Options{Layout: hash4x8}, `value "\x9b31m": `},
		{"text C1 escape value", "0a000001 \u009b31m", Options{Layout: hash4x8}, `value "\u009b31m": `},
		{"text per-CPU value", "1 10 \x1bc", Options{Layout: percpu4, Key: U32, Value: U32}, `value for CPU 1 ("\x1bc"): `},
		{"json huge key", `{"key": "` + huge + `", "value": "0100000000000000"}`, Options{Layout: hash4x8}, `key "\"zzzz`},
		{"json C1 key", `{"key": "` + "\u009b2J" + `", "value": "0100000000000000"}`, Options{Layout: hash4x8}, `key "\"\u009b2J\"": `},
		{"json huge field", `{"` + huge + `": 1}`, Options{Layout: hash4x8}, "bad JSON: unknown field"},
		{"json huge trailer", `{"key": "0a000001", "value": "0100000000000000"} ` + huge, Options{Layout: hash4x8}, `unexpected "zzzz`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, bad := readAll(t, tt.line+"\n", tt.opts)
			if len(bad) != 1 {
				t.Fatalf("got %d errors, want 1", len(bad))
			}
			msg := bad[0].Error()
			if len(msg) > 300 {
				t.Errorf("error is %d bytes long: %.200q...", len(msg), msg)
			}
			for _, r := range msg {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd {
					t.Errorf("error holds the raw character %U: %q", r, msg)
					break
				}
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error = %.300q, want %q in it", msg, tt.want)
			}
		})
	}
	// Plain tokens are not quoted: "key 0a00: want 8 hex digits".
	_, bad := readAll(t, "0a00 0100000000000000\n", Options{Layout: hash4x8})
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "key 0a00: ") {
		t.Errorf("plain token: %v", bad)
	}
}

// FuzzReader feeds arbitrary input through every format: the reader must
// never panic, must finish, and must leave buffers in the kernel's layout
// (whole keys, whole strides, zero per-CPU padding) with increasing line
// numbers, whatever it rejects.
func FuzzReader(f *testing.F) {
	f.Add("0a000001 0100000000000000\n", uint8(Hex), uint8(Hex), uint8(0))
	f.Add("1 10 20\n2 x\n", uint8(U32), uint8(U32), uint8(2))
	f.Add(`{"key": [1, 2, 3, 4], "value": [1, 2]}`+"\n{\n", uint8(Hex), uint8(U32), uint8(2))
	f.Add("10.0.0.0/8 1\n2001:db8::/32 2\n10.0.0.1/8 3\n", uint8(CIDR), uint8(U32), uint8(0))
	f.Add(`{"key": "::1", "value": "0x1"}`, uint8(CIDR), uint8(U64), uint8(1))
	f.Add("# c\n\n 255 65535 # x\n", uint8(U8), uint8(U16), uint8(0x83))
	f.Fuzz(func(t *testing.T, in string, keyFormat, valueFormat, shape uint8) {
		opts := Options{
			Key:          Format(keyFormat % uint8(BTF)), // btf needs a Codec: FuzzReaderBTF
			Value:        Format(valueFormat % uint8(BTF)),
			Syntax:       Syntax(shape >> 4 % 3),
			AllCPUs:      shape&0x08 != 0,
			MaskHostBits: shape&0x40 != 0,
		}
		opts.KeySize = fittingSize(opts.Key, shape&0x80 != 0)
		opts.ValueSize = fittingSize(opts.Value, shape&0x20 != 0)
		opts.CPUs = int(shape & 0x03)
		if opts.CPUs == 0 {
			opts.AllCPUs = false
		} else {
			opts.Stride = opts.CPUs * ((opts.ValueSize + 7) &^ 7) // the kernel's per-CPU slots
		}
		opts.LPM = opts.Key == CIDR
		if opts.Key == U32 {
			opts.MaxIndex = 1000
		}
		r, err := NewReader(strings.NewReader(in), opts)
		if err != nil {
			t.Fatalf("NewReader(%+v): %v", opts, err)
		}
		var b Batch
		for range len(in) + 2 {
			err := r.Read(&b, 3)
			checkBatch(t, &b, opts.Layout)
			var le *LineError
			switch {
			case err == io.EOF:
				return
			case errors.As(err, &le) && !le.Fatal:
				if le.Line < 1 || le.Line > r.Line() {
					t.Fatalf("error at line %d after reading %d lines", le.Line, r.Line())
				}
			case err != nil:
				t.Fatalf("Read: %v", err) // strings.Reader cannot fail, lines are short
			}
			b.Reset()
		}
		t.Fatalf("Read did not reach the end of %d bytes", len(in))
	})
}

// fittingSize is a key or value size that f can encode.
func fittingSize(f Format, alt bool) int {
	switch f {
	case CIDR:
		if alt {
			return cidrKeySize6
		}
		return cidrKeySize4
	case IP:
		if alt {
			return 16
		}
		return 4
	case Hex:
		if alt {
			return 3
		}
		return 4
	}
	return f.intSize()
}

func checkBatch(t *testing.T, b *Batch, l Layout) {
	t.Helper()
	n := b.Len()
	if len(b.Keys) != n*l.KeySize || len(b.Values) != n*l.valueStride() {
		t.Fatalf("%d entries in %d key bytes and %d value bytes (key %d, stride %d)", n, len(b.Keys), len(b.Values), l.KeySize, l.valueStride())
	}
	for i := 1; i < n; i++ {
		if b.Lines[i] <= b.Lines[i-1] {
			t.Fatalf("lines not increasing: %v", b.Lines)
		}
	}
	if l.CPUs == 0 {
		return
	}
	slot := l.Slot()
	for e := range n * l.CPUs {
		for _, c := range b.Values[e*slot+l.ValueSize : (e+1)*slot] {
			if c != 0 {
				t.Fatalf("per-CPU padding not zero: %x", b.Values)
			}
		}
	}
}
