package input

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// point is struct point { __u16 x; __s32 y; }: 8 bytes, 2 of padding.
var point = &btf.Struct{Name: "point", Size: 8, Members: []btf.Member{
	{Name: "x", Type: &btf.Int{Name: "__u16", Size: 2}},
	{Name: "y", Type: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}, Offset: 32},
}}

func pointBytes(x uint16, y int32) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint16(b, x)
	binary.NativeEndian.PutUint32(b[4:], uint32(y))
	return b
}

func btfOptions(t *testing.T, l Layout) Options {
	t.Helper()
	o := Options{Layout: l}
	if err := o.SetCodecs(point, point); err != nil {
		t.Fatal(err)
	}
	return o
}

// Text columns of the btf format are JSON values, white space inside
// them included; a '#' column outside them starts a comment.
func TestJSONColumns(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{`{"a": 1} {"b": "x y"}`, []string{`{"a": 1}`, `{"b": "x y"}`}},
		{`1 [1, 2] "s\"}" # {"c": 3}`, []string{"1", "[1, 2]", `"s\"}"`}},
		{`{"a":{"b":[{}]}}	0a`, []string{`{"a":{"b":[{}]}}`, "0a"}},
	} {
		got, err := jsonColumns(nil, []byte(tt.line))
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("jsonColumns(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
	if _, err := jsonColumns(nil, []byte(`{"a": 1`)); err == nil || !strings.Contains(err.Error(), "column 1: a JSON value that does not end") {
		t.Errorf("unterminated: %v", err)
	}
}

// The btf format reads keys and values in text and JSON lines; an Auto
// input takes the JSON formats once it sees a JSON line; errors name the
// member.
func TestReadBTF(t *testing.T) {
	o := btfOptions(t, Layout{KeySize: 8, ValueSize: 8})
	o.Key, o.Value = Hex, Hex
	o.JSON = &Formats{Key: BTF, Value: BTF}
	b := mustRead(t, `{"key": {"x":1,"y":-2}, "value": {"x":65535,"y":7}}`+"\n", o)
	if !slices.Equal(b.Keys, pointBytes(1, -2)) || !slices.Equal(b.Values, pointBytes(65535, 7)) {
		t.Errorf("json: %x %x", b.Keys, b.Values)
	}
	b = mustRead(t, "0100000002000000 0300000004000000\n", o) // text: hex
	if len(b.Keys) != 8 {
		t.Errorf("text: %x", b.Keys)
	}
	o.Syntax, o.Key, o.Value, o.JSON = Text, BTF, BTF, nil
	b = mustRead(t, `{"x": 1, "y": 2} {"x":3,"y":-4} # comment`+"\n", o)
	if !slices.Equal(b.Values, pointBytes(3, -4)) {
		t.Errorf("text btf: %x", b.Values)
	}
	_, bad := readAll(t, `{"x": 1, "y": 2} {"x":3,"y":"z"}`+"\n"+`{"x": 1} {"x":3,"y":4}`+"\n", o)
	if len(bad) != 2 || !strings.HasPrefix(bad[0].Err.Error(), "value.y: ") || bad[1].Err.Error() != "key: missing member y of struct point" {
		t.Errorf("errors: %v", bad)
	}
}

// Per-CPU values in the btf format are bpftool's "values" in JSON lines.
func TestReadBTFPerCPU(t *testing.T) {
	o := btfOptions(t, Layout{KeySize: 8, ValueSize: 8, CPUs: 2, Stride: 16})
	o.Syntax, o.Key, o.Value = JSON, BTF, BTF
	b := mustRead(t, `{"key": {"x":1,"y":1}, "values": [{"cpu":1,"value":{"x":2,"y":2}},{"cpu":0,"value":{"x":3,"y":3}}]}`+"\n", o)
	if !slices.Equal(b.Values, append(pointBytes(3, 3), pointBytes(2, 2)...)) {
		t.Errorf("values: %x", b.Values)
	}
	_, bad := readAll(t, `{"key": {"x":1,"y":1}, "value": {"x":2,"y":2}}`+"\n"+`{"key": {"x":1,"y":1}, "values": [{"cpu":0,"value":{"x":2,"y":"a"}},{"cpu":1,"value":{"x":2,"y":2}}]}`+"\n", o)
	if len(bad) != 2 || !strings.Contains(bad[0].Err.Error(), `"values": [{"cpu": 0`) || !strings.HasPrefix(bad[1].Err.Error(), "values[cpu 0].y: ") {
		t.Errorf("errors: %v", bad)
	}
}

// The btf format needs the map's BTF, of the map's sizes.
func TestBTFFormatNeedsCodec(t *testing.T) {
	_, err := NewReader(strings.NewReader(""), Options{Layout: Layout{KeySize: 8, ValueSize: 8}, Key: BTF, Value: Hex})
	if err == nil || !strings.Contains(err.Error(), "no BTF type for its key") {
		t.Errorf("no codec: %v", err)
	}
	o := btfOptions(t, Layout{KeySize: 4, ValueSize: 8})
	o.Key, o.Value = BTF, Hex
	if _, err := NewReader(strings.NewReader(""), o); err == nil || !strings.Contains(err.Error(), "the BTF type has 8 bytes, the map's key 4") {
		t.Errorf("size: %v", err)
	}
	if got := FitsFor(8); strings.Contains(got, "btf") {
		t.Errorf("FitsFor(8) = %q lists btf", got)
	}
}

// bpftool's JSON dump reads as a stream of entries; an entry's line is
// where it starts, and a bad entry is a bad line that names its index.
func TestReadBpftoolJSON(t *testing.T) {
	// Keys are native u32 indices, as bpftool prints the bytes.
	key := func(i uint32) string {
		var parts []string
		for _, c := range binary.NativeEndian.AppendUint32(nil, i) {
			parts = append(parts, fmt.Sprintf(`"0x%02x"`, c))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	in := `[{"key":` + key(1) + `,"value":["0x2a","0x00"]},` + "\n" +
		`{"key":` + key(5) + `,"value":["0x07"]},` + "\n" +
		`{"key":` + key(2) + `,"value":["0x07","0x01"]}]` + "\n"
	b, bad := readAll(t, in, Options{Layout: Layout{KeySize: 4, ValueSize: 2, MaxIndex: 2}, Syntax: BpftoolJSON})
	if b.Len() != 1 || !slices.Equal(b.Lines, []int{1}) || len(bad) != 2 {
		t.Fatalf("entries %d (lines %v), bad %v", b.Len(), b.Lines, bad)
	}
	if bad[0].Line != 2 || !strings.HasPrefix(bad[0].Err.Error(), "entry 1 of the array: ") {
		t.Errorf("short value: %v", bad[0])
	}
	if bad[1].Line != 3 || !strings.Contains(bad[1].Err.Error(), "index 2 is out of range") {
		t.Errorf("index: %v", bad[1])
	}
}

// FuzzReaderBTF feeds arbitrary input to a reader of the btf format, text
// and JSON, per-CPU or not: it must never panic, must finish, and must
// leave buffers in the kernel's layout.
func FuzzReaderBTF(f *testing.F) {
	f.Add(`{"key": {"x":1,"y":-2}, "value": {"x":65535,"y":7}}`, uint8(0))
	f.Add(`{"x": 1, "y": 2} {"x":3,"y":-4} # c`+"\n{\"x\"", uint8(1))
	f.Add(`{"key": {"x":1,"y":1}, "values": [{"cpu":1,"value":{"x":2,"y":2}},{"cpu":0,"value":{"x":3,"y":3}}]}`, uint8(2))
	f.Add(`{"x":1,"y":1} {"x":2,"y":2} {"x":3,"y":"\u0041"}`, uint8(3))
	f.Fuzz(func(t *testing.T, in string, shape uint8) {
		l := Layout{KeySize: 8, ValueSize: 8}
		if shape&2 != 0 {
			l.CPUs, l.Stride = 2, 16
		}
		o := btfOptions(t, l)
		o.Syntax, o.Key, o.Value = JSON, BTF, BTF
		if shape&1 != 0 {
			o.Syntax = Text
		}
		r, err := NewReader(strings.NewReader(in), o)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		for range len(in) + 2 {
			err := r.Read(&b, 3)
			checkBatch(t, &b, o.Layout)
			var le *LineError
			switch {
			case err == io.EOF:
				return
			case errors.As(err, &le) && !le.Fatal:
			case err != nil:
				t.Fatalf("Read: %v", err)
			}
			b.Reset()
		}
		t.Fatalf("Read did not reach the end of %d bytes", len(in))
	})
}
