package input

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// Append prints what the reader reads: known bytes give the token a user
// would write.
func TestAppend(t *testing.T) {
	tests := []struct {
		f    Format
		b    []byte
		want string
	}{
		{Hex, unhex("0a00ff01"), "0a00ff01"},
		{U8, []byte{255}, "255"},
		{U16, binary.NativeEndian.AppendUint16(nil, 0x1234), "4660"},
		{U32, ne32(4294967295), "4294967295"},
		{U64, ne64(1<<64 - 1), "18446744073709551615"},
		{IP, unhex("c0000201"), "192.0.2.1"},
		{IP, unhex("20010db8000000000000000000000001"), "2001:db8::1"},
		{IP, unhex("00000000000000000000ffff0a000001"), "::ffff:10.0.0.1"},
		{CIDR, lpm(8, "0a000000"), "10.0.0.0/8"},
		{CIDR, lpm(0, "00000000"), "0.0.0.0/0"},
		{CIDR, lpm(8, "0a000001"), "10.0.0.1/8"}, // host bits: shown as stored
		{CIDR, lpm(32, "20010db8000000000000000000000000"), "2001:db8::/32"},
	}
	for _, tt := range tests {
		got, err := tt.f.Append(nil, tt.b)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s.Append(%x) = %q, %v; want %q", tt.f, tt.b, got, err, tt.want)
		}
	}
	if _, err := CIDR.Append(nil, lpm(33, "0a000000")); err == nil || !strings.Contains(err.Error(), "prefixlen 33") {
		t.Errorf("CIDR.Append(/33) = %v, want an error naming the prefixlen", err)
	}
	for f, want := range map[Format]string{U32: "7", Hex: `"07000000"`, IP: `"7.0.0.0"`} {
		b := []byte{7, 0, 0, 0}
		if f == U32 {
			b = ne32(7) // native order, as on any machine
		}
		if got, err := f.AppendJSON(nil, b); err != nil || string(got) != want {
			t.Errorf("%s.AppendJSON = %s, %v; want %s", f, got, err, want)
		}
	}
}

// FuzzPrintRoundTrip: bytes printed by Append (text) and AppendJSON (JSON
// lines) read back through the Reader as the same bytes, for every format
// and size; the one exception is a CIDR key with host bits, which the
// reader refuses unless masking, as it would any such line.
func FuzzPrintRoundTrip(f *testing.F) {
	f.Add([]byte("\x08\x00\x00\x00\x0a\x00\x00\x00"), uint8(CIDR), false)
	f.Add([]byte("\x18\x00\x00\x00\x0a\x01\x02\x00 more bytes"), uint8(CIDR), true)
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), uint8(U64), false)
	f.Add([]byte("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), uint8(IP), true)
	f.Add([]byte("abc"), uint8(Hex), true)
	f.Fuzz(func(t *testing.T, raw []byte, format uint8, alt bool) {
		fm := Format(format % uint8(BTF)) // the formats without a Codec
		size := fittingSize(fm, alt)
		if len(raw) < size {
			return
		}
		b := raw[:size]
		text, err := fm.Append(nil, b)
		if err != nil {
			if fm != CIDR {
				t.Fatalf("%s.Append(%x): %v", fm, b, err)
			}
			return
		}
		js, err := fm.AppendJSON(nil, b)
		if err != nil {
			t.Fatalf("%s.AppendJSON(%x): %v", fm, b, err)
		}
		masked := bytes.Clone(b)
		if fm == CIDR {
			MaskLPMKey(masked)
		}
		// One key and one value in the format: a keys-only line and an
		// entry line of each syntax.
		lines := map[string]Options{
			string(text) + "\n":                                          {Layout: Layout{KeySize: size}, Key: fm, KeysOnly: true},
			string(text) + " " + string(text) + "\n":                     {Layout: Layout{KeySize: size, ValueSize: size}, Key: fm, Value: fm},
			`{"key": ` + string(js) + `, "value": ` + string(js) + "}\n": {Layout: Layout{KeySize: size, ValueSize: size}, Key: fm, Value: fm},
		}
		for line, opts := range lines {
			r, err := NewReader(strings.NewReader(line), opts)
			if err != nil {
				t.Fatal(err)
			}
			var batch Batch
			err = r.Read(&batch, 2)
			if !bytes.Equal(masked, b) {
				if err == nil || !strings.Contains(err.Error(), "host bits") {
					t.Fatalf("%q: read %v, want a host-bits error", line, err)
				}
				continue
			}
			if err != nil && err.Error() != "EOF" {
				t.Fatalf("%q (%s of %x): %v", line, fm, b, err)
			}
			if !bytes.Equal(batch.Keys, b) || (!opts.KeysOnly && !bytes.Equal(batch.Values, b)) {
				t.Fatalf("%q (%s of %x) read back as key %x value %x", line, fm, b, batch.Keys, batch.Values)
			}
		}
	})
}

// Keys-only input: one key per line, in text or JSON; a value is an error
// that says why.
func TestReadKeysOnly(t *testing.T) {
	opts := Options{Layout: Layout{KeySize: 4}, Key: U32, KeysOnly: true}
	b := mustRead(t, "# keys\n1\n\n0x10 # c\n", opts)
	if want := cat(ne32(1), ne32(16)); !bytes.Equal(b.Keys, want) || len(b.Values) != 0 {
		t.Errorf("keys %x values %x, want keys %x", b.Keys, b.Values, want)
	}
	b = mustRead(t, `{"key": 5}`+"\n"+`{"key": "6"}`+"\n", opts)
	if want := cat(ne32(5), ne32(6)); !bytes.Equal(b.Keys, want) {
		t.Errorf("JSON keys %x, want %x", b.Keys, want)
	}
	for in, want := range map[string]string{
		"1 10\n":                 "want 1 column: KEY (one key per line); got 2",
		`{"key": 1, "value": 2}`: `one key per line: leave out "value"`,
		`{"value": 2}`:           `missing "key"`,
		"x\n":                    "key x: ",
	} {
		_, bad := readAll(t, in, opts)
		if len(bad) != 1 || !strings.Contains(bad[0].Error(), want) {
			t.Errorf("%q: errors %v, want %q", in, bad, want)
		}
	}
	if _, err := NewReader(strings.NewReader(""), Options{Layout: Layout{KeySize: 4, ValueSize: 8}, KeysOnly: true}); err == nil {
		t.Error("NewReader accepted a keys-only layout with values")
	}
}
