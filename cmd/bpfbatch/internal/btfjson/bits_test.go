package btfjson_test

import (
	"bytes"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// TestBitfieldsEitherByteOrder checks bitfield access as compilers lay
// bitfields out (and bpftool reads them) on little- and big-endian hosts:
// from the least significant bit of the first byte, or from the most
// significant. The kernel tests cover this host's order only.
func TestBitfieldsEitherByteOrder(t *testing.T) {
	for _, tc := range []struct {
		name          string
		le            bool
		bitOff, width int
		data          []byte
		hi, lo        uint64
	}{
		{"le low bits", true, 0, 3, []byte{0b1111_1101}, 0, 5},
		{"le across a byte", true, 3, 9, []byte{0b1010_1000, 0b0000_1111}, 0, 0b1_1111_0101},
		{"be high bits", false, 0, 3, []byte{0b1011_1111}, 0, 5},
		{"be across a byte", false, 3, 9, []byte{0b0001_0101, 0b1110_0000}, 0, 0b1_0101_1110},
		{"le 64 bits at 5", true, 5, 64, []byte{0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f}, 0, ^uint64(0)},
		{"be 64 bits at 5", false, 5, 64, []byte{0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf8}, 0, ^uint64(0)},
		{"le 100 bits at 7", true, 7, 100, append([]byte{0x80}, append(bytes.Repeat([]byte{0}, 11), 0x08, 0)...), 1 << 28, 1},
		{"be 100 bits at 7", false, 7, 100, append([]byte{0x01}, bytes.Repeat([]byte{0}, 13)...), 1 << 35, 0},
	} {
		hi, lo := btfjson.GetBits(tc.data, tc.bitOff, tc.width, tc.le)
		if hi != tc.hi || lo != tc.lo {
			t.Errorf("%s: GetBits = %#x %#x, want %#x %#x", tc.name, hi, lo, tc.hi, tc.lo)
		}
		// PutBits into bytes that hold other bits: those stay.
		b := bytes.Repeat([]byte{0xa5}, len(tc.data))
		btfjson.PutBits(b, tc.bitOff, tc.width, tc.hi, tc.lo, tc.le)
		if hi, lo := btfjson.GetBits(b, tc.bitOff, tc.width, tc.le); hi != tc.hi || lo != tc.lo {
			t.Errorf("%s: GetBits(PutBits) = %#x %#x", tc.name, hi, lo)
		}
		// Clearing the bitfield again leaves exactly the other bits.
		cleared := bytes.Repeat([]byte{0xa5}, len(tc.data))
		btfjson.PutBits(cleared, tc.bitOff, tc.width, 0, 0, tc.le)
		btfjson.PutBits(b, tc.bitOff, tc.width, 0, 0, tc.le)
		if !bytes.Equal(b, cleared) {
			t.Errorf("%s: PutBits touched bits outside the bitfield: %x, want %x", tc.name, b, cleared)
		}
	}
}

// TestNewRejects checks that types no map key or value has are errors
// from New, not panics later.
func TestNewRejects(t *testing.T) {
	for _, typ := range []btf.Type{
		&btf.Fwd{Name: "later"},
		&btf.Void{},
		&btf.Float{Name: "long double", Size: 16},
		&btf.FuncProto{Return: u32T},
		&btf.Struct{Name: "short", Size: 2, Members: []btf.Member{member("x", u32T, 0)}},
		&btf.Struct{Name: "wide", Size: 32, Members: []btf.Member{bitfield("x", u128T, 7, 125)}},
		&btf.Int{Name: "huge", Size: 32},
		&btf.Enum{Name: "three", Size: 3},
	} {
		if c, err := btfjson.New(typ); err == nil {
			t.Errorf("New(%v) = %v, want an error", typ, c)
		}
	}
}
