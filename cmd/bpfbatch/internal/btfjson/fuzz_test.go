package btfjson_test

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// fuzzTypes are the types the fuzz tests pick from.
var fuzzTypes = []btf.Type{connKey, connValue, scalars, bitfields, enums, chars, nested, typedefs, floats,
	&btf.Datasec{Name: ".bss", Size: 12, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: "x", Type: s16T}, Offset: 2, Size: 2},
		{Type: &btf.Var{Name: "tag", Type: arr(charT, 5)}, Offset: 4, Size: 5},
	}},
}

func fuzzCodec(t *testing.T, pick uint8) *btfjson.Codec {
	return newCodec(t, fuzzTypes[int(pick)%len(fuzzTypes)])
}

// FuzzRoundTrip checks, for any bytes of any test type, that Append's
// JSON parses back into the same bits wherever the JSON shows them all
// (ShownMask), and that printing what Parse gives prints the same JSON.
func FuzzRoundTrip(f *testing.F) {
	for i := range fuzzTypes {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), bytes.Repeat([]byte{0xff}, 128))
		f.Add(uint8(i), bytes.Repeat([]byte("ab\x00c\x80"), 30))
	}
	f.Fuzz(func(t *testing.T, pick uint8, data []byte) {
		c := fuzzCodec(t, pick)
		x := make([]byte, c.Size())
		copy(x, data)
		text, err := c.Append(nil, x)
		if err != nil {
			t.Fatalf("Append(%x): %v", x, err)
		}
		y := make([]byte, c.Size())
		if err := c.Parse(y, text); err != nil {
			t.Fatalf("Parse(Append(%x)): %v\nJSON %s", x, err, text)
		}
		for i, m := range btfjson.ShownMask(c) {
			if x[i]&m != y[i]&m {
				t.Fatalf("Parse(Append(%x)) = %x: byte %d differs under mask %02x\nJSON %s", x, y, i, m, text)
			}
		}
		again, err := c.Append(nil, y)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("Append(Parse(Append(%x))) =\n%s\nwant\n%s", x, again, text)
		}
	})
}

// FuzzParse checks that Parse fails cleanly on any input, and that what
// it accepts prints as JSON that parses into the same bytes.
func FuzzParse(f *testing.F) {
	f.Add(uint8(0), []byte(`{"saddr":1,"daddr":2,"sport":3,"dport":4,"proto":5}`))
	f.Add(uint8(6), []byte(`{"in":{"a":1,"b":[1,2,3]},"u":{"s":"abc"},"grid":[[1,2,3],[4,5,6]]}`))
	f.Add(uint8(3), []byte(`{"a":"0x7","b":511,"c":-1}`))
	f.Add(uint8(9), []byte(`{".bss":[{"x":-3},{"tag":"hi"}]}`))
	f.Fuzz(func(t *testing.T, pick uint8, text []byte) {
		c := fuzzCodec(t, pick)
		y := make([]byte, c.Size())
		if err := c.Parse(y, text); err != nil {
			return
		}
		printed, err := c.Append(nil, y)
		if err != nil {
			t.Fatal(err)
		}
		z := make([]byte, c.Size())
		if err := c.Parse(z, printed); err != nil {
			t.Fatalf("Parse(Append(Parse(%s))): %v\nJSON %s", text, err, printed)
		}
		for i, m := range btfjson.ShownMask(c) {
			if y[i]&m != z[i]&m {
				t.Fatalf("Parse(%s) = %x, Parse(Append of it) = %x\nJSON %s", text, y, z, printed)
			}
		}
	})
}
