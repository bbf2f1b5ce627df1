// Package input parses the entries `bpfbatch load` writes into a BPF map
// (text lines "KEY VALUE..." or JSON lines {"key": ..., "value": ...}) into
// flat key and value buffers in the kernel's layout, remembering the input
// line of every entry so that a kernel error can name it. It also prints
// keys and values back in the same formats (Format.Append), which is what
// `bpfbatch dump` writes, so that a dump loads back byte for byte.
package input

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// Format says how one key or value is written in the input.
type Format int

const (
	// Hex is the raw bytes in hex, exactly two digits per byte of the key
	// or value, with an optional 0x prefix: 0a000001.
	Hex Format = iota
	// U8, U16, U32 and U64 are unsigned integers, decimal or 0x-prefixed
	// hex, stored in the machine's native byte order: the kernel copies
	// keys and values as bytes and a BPF program reads them as native
	// integers.
	U8
	U16
	U32
	U64
	// CIDR is an IPv4 or IPv6 prefix such as 10.0.0.0/8 or 2001:db8::/32,
	// stored as the LPM trie key struct bpf_lpm_trie_key: a native-order
	// u32 prefixlen followed by the address in network byte order (8 bytes
	// for IPv4, 20 for IPv6). A bare address means its full-length prefix.
	CIDR
	// IP is an IPv4 or IPv6 address in network byte order (4 or 16 bytes).
	IP
	// BTF is bpftool's "formatted" JSON of the map's BTF type for the key
	// or value (structs as objects by member name, ...): see package
	// btfjson. It needs the type's Codec in Options (KeyCodec,
	// ValueCodec); in text lines each column is one JSON value.
	BTF
)

var formatNames = [...]string{Hex: "hex", U8: "u8", U16: "u16", U32: "u32", U64: "u64", CIDR: "cidr", IP: "ip", BTF: "btf"}

// FormatNames lists the names ParseFormat accepts, for usage messages.
func FormatNames() string { return strings.Join(formatNames[:], "|") }

// String returns the format's name as ParseFormat accepts it.
func (f Format) String() string { return nameOf(formatNames[:], f, "Format") }

// ParseFormat returns the Format named s ("hex", "u32", "cidr", ...).
func ParseFormat(s string) (Format, error) {
	if f, ok := valueOf[Format](formatNames[:], s); ok {
		return f, nil
	}
	return 0, fmt.Errorf("unknown format %q (want %s)", s, FormatNames())
}

// nameOf is v's name in names, or "typ(v)" for a value it lacks.
func nameOf[T ~int](names []string, v T, typ string) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// valueOf is the value whose name in names is s, in any case.
func valueOf[T ~int](names []string, s string) (T, bool) {
	for v, name := range names {
		if strings.EqualFold(s, name) {
			return T(v), true
		}
	}
	return 0, false
}

// Encode writes tok, a key or value in f, into dst (exactly the key or value
// size, which Fits must accept), as a line of input would be encoded.
func (f Format) Encode(tok string, dst []byte) error { return encoder{format: f}.encode(tok, dst) }

// intSize is the byte size of the integer formats, 0 for the others.
func (f Format) intSize() int {
	switch f {
	case U8:
		return 1
	case U16:
		return 2
	case U32:
		return 4
	case U64:
		return 8
	}
	return 0
}

// fits reports whether f can encode a key or value of size bytes.
func (f Format) fits(size int) bool {
	switch f {
	case Hex:
		return size > 0
	case CIDR:
		return size == cidrKeySize4 || size == cidrKeySize6
	case IP:
		return size == 4 || size == 16
	case BTF:
		return size > 0 // the Codec's size is checked against the map's
	}
	return f.intSize() != 0 && f.intSize() == size
}

// Fits reports whether f can encode a key or value of size bytes, and if not
// why, naming the formats that would fit.
func (f Format) Fits(size int) error {
	if f.fits(size) {
		return nil
	}
	var need string
	switch f {
	case CIDR:
		need = "8 bytes (u32 prefixlen + IPv4 address) or 20 (u32 prefixlen + IPv6 address)"
	case IP:
		need = "4 bytes (IPv4) or 16 (IPv6)"
	case Hex:
		need = "at least 1 byte"
	default:
		if f.intSize() == 0 {
			return fmt.Errorf("unknown format %d", int(f))
		}
		need = strconv.Itoa(f.intSize()) + " bytes"
	}
	return fmt.Errorf("%s needs %s, not %d (%d-byte formats: %s)", f, need, size, size, FitsFor(size))
}

// FitsFor lists the formats that can encode size bytes, e.g. "hex, u32, ip"
// (btf, which depends on the map's BTF rather than its size, is not
// listed).
func FitsFor(size int) string {
	var names []string
	for f := range formatNames {
		if Format(f) != BTF && Format(f).fits(size) {
			names = append(names, formatNames[f])
		}
	}
	return strings.Join(names, ", ")
}

const (
	cidrKeySize4 = 4 + 4  // struct bpf_lpm_trie_key: u32 prefixlen, u8 data[4]
	cidrKeySize6 = 4 + 16 // idem with an IPv6 address
)

// Messages shared by the encoders. Encoder errors never repeat the token:
// the caller names it ("key 10.0.0.1/8: host bits set ...").
const (
	notUint = "not an unsigned decimal or 0x-hex number"
	notCIDR = "not a CIDR prefix like 10.0.0.0/8 or 2001:db8::/32"
)

// encoder turns one textual key or value into bytes.
type encoder struct {
	format       Format
	maskHostBits bool           // CIDR: clear bits beyond the prefix instead of rejecting
	codec        *btfjson.Codec // BTF
}

// encode writes tok, in e's format, into dst (exactly the key or value
// size, which Fits has accepted). Errors describe tok's problem only; the
// caller says whether it was a key or a value, and where.
func (e encoder) encode(tok string, dst []byte) error {
	switch e.format {
	case Hex:
		return decodeHex(tok, dst)
	case U8, U16, U32, U64:
		v, err := parseUint(tok, 8*len(dst))
		if err != nil {
			return err
		}
		putUint(dst, v)
		return nil
	case CIDR:
		return e.encodeCIDR(tok, dst)
	case IP:
		return encodeIP(tok, dst)
	case BTF:
		return e.codec.Parse(dst, []byte(tok))
	}
	return fmt.Errorf("unknown format %d", int(e.format))
}

// tokenError is err, from encoding tok, as a line's error: the member path
// under root for the BTF format ("key.addr.port: ..."), which says more
// than a long JSON value would; else root and tok ("key 10.0.0.1/8: ...").
func (e encoder) tokenError(root, tok string, err error) error {
	if e.format == BTF {
		return btfjson.WithPath(err, root)
	}
	return fmt.Errorf("%s %s: %w", root, quoteToken(tok), err)
}

// putUint stores v in len(dst) bytes, native byte order.
func putUint(dst []byte, v uint64) {
	switch len(dst) {
	case 1:
		dst[0] = byte(v)
	case 2:
		binary.NativeEndian.PutUint16(dst, uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(dst, uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(dst, v)
	}
}

func decodeHex(tok string, dst []byte) error {
	digits := tok
	if len(digits) >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') {
		digits = digits[2:]
	}
	// The exact length is required: padding a short hex string would have
	// to guess the byte order, which is exactly the mistake to catch.
	if len(digits) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits (%d bytes), got %d", 2*len(dst), len(dst), len(digits))
	}
	if _, err := hex.Decode(dst, []byte(digits)); err != nil {
		var ie hex.InvalidByteError
		if errors.As(err, &ie) {
			return fmt.Errorf("%q is not a hex digit", rune(ie))
		}
		return err
	}
	return nil
}

// parseUint accepts decimal or 0x-prefixed hex. Not strconv's base 0: that
// would read "010" as octal 8, which nobody writing a port number means.
func parseUint(tok string, bits int) (uint64, error) {
	s, base := tok, 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, base = s[2:], 16
	}
	if s == "" || s[0] == '+' || s[0] == '-' || strings.Contains(s, "_") {
		if strings.HasPrefix(s, "-") {
			return 0, fmt.Errorf("negative; u%d is unsigned", bits)
		}
		return 0, errors.New(notUint)
	}
	v, err := strconv.ParseUint(s, base, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("out of range for u%d (max %d)", bits, uint64(1)<<bits-1)
		}
		return 0, errors.New(notUint)
	}
	return v, nil
}

// encodeCIDR writes struct bpf_lpm_trie_key { __u32 prefixlen; __u8 data[]; }:
// the kernel reads prefixlen as a host integer and compares data bit by bit
// from the first byte, i.e. the address in network byte order.
func (e encoder) encodeCIDR(tok string, dst []byte) error {
	var p netip.Prefix
	if strings.Contains(tok, "/") {
		var err error
		if p, err = netip.ParsePrefix(tok); err != nil {
			return errors.New(notCIDR)
		}
	} else {
		a, err := netip.ParseAddr(tok)
		if err != nil || a.Zone() != "" {
			return errors.New(notCIDR)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if err := checkFamily(p.Addr(), len(dst) == cidrKeySize6, "a CIDR key of "+strconv.Itoa(len(dst))+" bytes"); err != nil {
		return err
	}
	// Host bits are rejected by default: the trie would store them and
	// show them in dumps while matching only the prefix, and "10.0.0.1/8"
	// is more often a typo for /32 than a deliberate /8.
	if m := p.Masked(); m != p {
		if !e.maskHostBits {
			return fmt.Errorf("host bits set beyond /%d (did you mean %s? --mask-host-bits clears them)", p.Bits(), m)
		}
		p = m
	}
	binary.NativeEndian.PutUint32(dst, uint32(p.Bits()))
	if p.Addr().Is4() {
		a := p.Addr().As4()
		copy(dst[4:], a[:])
	} else {
		a := p.Addr().As16()
		copy(dst[4:], a[:])
	}
	return nil
}

func encodeIP(tok string, dst []byte) error {
	a, err := netip.ParseAddr(tok)
	if err != nil || a.Zone() != "" {
		return errors.New("not an IPv4 or IPv6 address")
	}
	if err := checkFamily(a, len(dst) == 16, "an address of "+strconv.Itoa(len(dst))+" bytes"); err != nil {
		return err
	}
	if a.Is4() {
		b := a.As4()
		copy(dst, b[:])
	} else {
		b := a.As16()
		copy(dst, b[:])
	}
	return nil
}

// checkFamily refuses to convert between families: whether the BPF program
// expects IPv4-mapped IPv6 addresses is not something to guess.
func checkFamily(a netip.Addr, want6 bool, what string) error {
	switch {
	case want6 && a.Is4():
		return fmt.Errorf("IPv4, but the map holds IPv6 (%s); write ::ffff:%s if the program expects IPv4-mapped addresses", what, a)
	case !want6 && !a.Is4():
		return fmt.Errorf("IPv6, but the map holds IPv4 (%s)", what)
	}
	return nil
}

// MaskLPMKey clears the data bits beyond an LPM trie key's prefixlen, in
// place. The trie compares only the first prefixlen bits, so keys that
// differ beyond them name the same node (trie_update_elem replaces it).
func MaskLPMKey(key []byte) {
	if len(key) < 4 {
		return
	}
	bits := int(min(binary.NativeEndian.Uint32(key), uint32(8*(len(key)-4))))
	data := key[4:]
	if bits%8 != 0 {
		data[bits/8] &= ^byte(0) << (8 - bits%8)
		bits += 8 - bits%8
	}
	clear(data[bits/8:])
}
