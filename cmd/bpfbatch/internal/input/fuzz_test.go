package input

import (
	"errors"
	"io"
	"strings"
	"testing"
)

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
			Key:          Format(keyFormat % uint8(len(formatNames))),
			Value:        Format(valueFormat % uint8(len(formatNames))),
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
