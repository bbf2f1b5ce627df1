package input

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// ne16, ne32 and ne64 build expected native-order integers the way the kernel
// and a BPF program read them.
func ne16(v uint16) []byte { return binary.NativeEndian.AppendUint16(nil, v) }
func ne32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func ne64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

// lpm builds struct bpf_lpm_trie_key: native prefixlen, then the address
// bytes (given in hex, network order).
func lpm(prefixlen uint32, addrHex string) []byte {
	a, err := hex.DecodeString(addrHex)
	if err != nil {
		panic(err)
	}
	return append(ne32(prefixlen), a...)
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestEncode(t *testing.T) {
	tests := []struct {
		format  Format
		size    int
		mask    bool
		tok     string
		want    []byte
		wantErr string // substring of the error; "" for success
	}{
		{format: Hex, size: 4, tok: "0a000001", want: unhex("0a000001")},
		{format: Hex, size: 4, tok: "0X0A0000FF", want: unhex("0a0000ff")},
		{format: Hex, size: 1, tok: "ff", want: []byte{0xff}},
		{format: Hex, size: 4, tok: "0a0001", wantErr: "want 8 hex digits (4 bytes), got 6"},
		{format: Hex, size: 4, tok: "0a00000001", wantErr: "want 8 hex digits (4 bytes), got 10"},
		{format: Hex, size: 4, tok: "0a00000g", wantErr: `'g' is not a hex digit`},
		{format: Hex, size: 2, tok: "0x", wantErr: "want 4 hex digits"},

		{format: U8, size: 1, tok: "255", want: []byte{255}},
		{format: U8, size: 1, tok: "256", wantErr: "out of range for u8 (max 255)"},
		{format: U16, size: 2, tok: "443", want: ne16(443)},
		{format: U32, size: 4, tok: "1", want: ne32(1)},
		{format: U32, size: 4, tok: "0x10", want: ne32(16)},
		{format: U32, size: 4, tok: "010", want: ne32(10)}, // decimal, never octal
		{format: U32, size: 4, tok: "4294967295", want: ne32(0xffffffff)},
		{format: U32, size: 4, tok: "4294967296", wantErr: "out of range for u32 (max 4294967295)"},
		{format: U32, size: 4, tok: "-1", wantErr: "negative"},
		{format: U32, size: 4, tok: "+1", wantErr: "not an unsigned decimal"},
		{format: U32, size: 4, tok: "1e3", wantErr: "not an unsigned decimal"},
		{format: U32, size: 4, tok: "1_000", wantErr: "not an unsigned decimal"},
		{format: U32, size: 4, tok: "0x", wantErr: "not an unsigned decimal"},
		{format: U32, size: 4, tok: "abc", wantErr: "not an unsigned decimal"},
		{format: U64, size: 8, tok: "18446744073709551615", want: ne64(1<<64 - 1)},
		{format: U64, size: 8, tok: "18446744073709551616", wantErr: "out of range for u64 (max 18446744073709551615)"},
		{format: U64, size: 8, tok: "1234567890123", want: ne64(1234567890123)},

		// IPv4 LPM keys: prefixlen native, address network order.
		{format: CIDR, size: 8, tok: "10.0.0.0/8", want: lpm(8, "0a000000")},
		{format: CIDR, size: 8, tok: "192.168.1.0/24", want: lpm(24, "c0a80100")},
		{format: CIDR, size: 8, tok: "0.0.0.0/0", want: lpm(0, "00000000")},
		{format: CIDR, size: 8, tok: "10.1.2.3", want: lpm(32, "0a010203")}, // bare address: /32
		{format: CIDR, size: 8, tok: "10.0.0.1/8", wantErr: "host bits set beyond /8 (did you mean 10.0.0.0/8? --mask-host-bits clears them)"},
		{format: CIDR, size: 8, mask: true, tok: "10.0.0.1/8", want: lpm(8, "0a000000")},
		{format: CIDR, size: 8, tok: "10.0.0.0/33", wantErr: "not a CIDR prefix"},
		{format: CIDR, size: 8, tok: "10.0.0/8", wantErr: "not a CIDR prefix"},
		{format: CIDR, size: 8, tok: "2001:db8::/32", wantErr: "IPv6, but the map holds IPv4"},
		{format: CIDR, size: 8, tok: "::ffff:10.0.0.0/104", wantErr: "IPv6, but the map holds IPv4"},
		// IPv6 LPM keys.
		{format: CIDR, size: 20, tok: "2001:db8::/32", want: lpm(32, "20010db8000000000000000000000000")},
		{format: CIDR, size: 20, tok: "::/0", want: lpm(0, "00000000000000000000000000000000")},
		{format: CIDR, size: 20, tok: "::1", want: lpm(128, "00000000000000000000000000000001")},
		{format: CIDR, size: 20, tok: "::ffff:10.0.0.0/104", want: lpm(104, "00000000000000000000ffff0a000000")},
		{format: CIDR, size: 20, tok: "2001:db8::1/32", wantErr: "host bits set beyond /32 (did you mean 2001:db8::/32?"},
		{format: CIDR, size: 20, mask: true, tok: "2001:db8:ffff::1/33", want: lpm(33, "20010db8800000000000000000000000")},
		{format: CIDR, size: 20, tok: "10.0.0.0/8", wantErr: "IPv4, but the map holds IPv6"},
		{format: CIDR, size: 20, tok: "fe80::1%eth0", wantErr: "not a CIDR prefix"},
		{format: CIDR, size: 20, tok: "2001:db8::/129", wantErr: "not a CIDR prefix"},

		{format: IP, size: 4, tok: "192.0.2.1", want: unhex("c0000201")},
		{format: IP, size: 16, tok: "2001:db8::1", want: unhex("20010db8000000000000000000000001")},
		{format: IP, size: 4, tok: "2001:db8::1", wantErr: "IPv6, but the map holds IPv4"},
		{format: IP, size: 16, tok: "192.0.2.1", wantErr: "IPv4, but the map holds IPv6"},
		{format: IP, size: 4, tok: "192.0.2.1/32", wantErr: "not an IPv4 or IPv6 address"},
	}
	for _, tt := range tests {
		t.Run(tt.format.String()+"/"+tt.tok, func(t *testing.T) {
			if err := tt.format.Fits(tt.size); err != nil {
				t.Fatalf("Fits(%d) = %v", tt.size, err)
			}
			dst := make([]byte, tt.size)
			err := encoder{format: tt.format, maskHostBits: tt.mask}.encode(tt.tok, dst)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("encode(%q) error = %v, want it to contain %q", tt.tok, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("encode(%q) = %v", tt.tok, err)
			}
			if !bytes.Equal(dst, tt.want) {
				t.Fatalf("encode(%q) = %x, want %x", tt.tok, dst, tt.want)
			}
		})
	}
}

// The integer formats are native byte order, which is what BPF programs
// and the kernel's array index read.
func TestIntegerFormatsAreNativeOrder(t *testing.T) {
	dst := make([]byte, 4)
	if err := (encoder{format: U32}).encode("1", dst); err != nil {
		t.Fatal(err)
	}
	if got := binary.NativeEndian.Uint32(dst); got != 1 {
		t.Fatalf("u32 1 reads back natively as %d (bytes %x)", got, dst)
	}
}

func TestFits(t *testing.T) {
	tests := []struct {
		format  Format
		size    int
		wantErr string
	}{
		{Hex, 3, ""},
		{U32, 4, ""},
		{U32, 8, "u32 needs 4 bytes, not 8 (8-byte formats: hex, u64, cidr)"},
		{U64, 4, "u64 needs 8 bytes, not 4 (4-byte formats: hex, u32, ip)"},
		{U16, 3, "u16 needs 2 bytes, not 3 (3-byte formats: hex)"},
		{CIDR, 8, ""},
		{CIDR, 20, ""},
		{CIDR, 4, "cidr needs 8 bytes"},
		{IP, 16, ""},
		{IP, 8, "ip needs 4 bytes (IPv4) or 16 (IPv6), not 8 (8-byte formats: hex, u64, cidr)"},
	}
	for _, tt := range tests {
		err := tt.format.Fits(tt.size)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%v.Fits(%d) = %v, want %q", tt.format, tt.size, err, tt.wantErr)
		}
	}
	if got, want := FitsFor(8), "hex, u64, cidr"; got != want {
		t.Errorf("FitsFor(8) = %q, want %q", got, want)
	}
	if got, want := FitsFor(4), "hex, u32, ip"; got != want {
		t.Errorf("FitsFor(4) = %q, want %q", got, want)
	}
}

func TestParseFormat(t *testing.T) {
	for _, name := range strings.Split(FormatNames(), "|") {
		f, err := ParseFormat(name)
		if err != nil || f.String() != name {
			t.Errorf("ParseFormat(%q) = %v, %v", name, f, err)
		}
	}
	if f, err := ParseFormat("CIDR"); err != nil || f != CIDR {
		t.Errorf("ParseFormat(CIDR) = %v, %v", f, err)
	}
	if _, err := ParseFormat("u128"); err == nil || !strings.Contains(err.Error(), "hex|u8|u16|u32|u64|cidr|ip") {
		t.Errorf("ParseFormat(u128) error = %v, want the list of formats", err)
	}
}

func TestMaskLPMKey(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{lpm(8, "0a0b0c0d"), lpm(8, "0a000000")},
		{lpm(12, "0aff0c0d"), lpm(12, "0af00000")},
		{lpm(0, "ffffffff"), lpm(0, "00000000")},
		{lpm(32, "0a0b0c0d"), lpm(32, "0a0b0c0d")},
		{lpm(99, "0a0b0c0d"), lpm(99, "0a0b0c0d")}, // beyond the data: nothing to clear
		{lpm(33, "20010db8ffffffff0000000000000001"), lpm(33, "20010db8800000000000000000000000")},
	}
	for _, tt := range tests {
		got := bytes.Clone(tt.in)
		MaskLPMKey(got)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("MaskLPMKey(%x) = %x, want %x", tt.in, got, tt.want)
		}
	}
	MaskLPMKey([]byte{1, 2}) // too short: no panic
}
