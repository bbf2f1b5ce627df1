package input

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// Append appends b, a key or value of len(b) bytes (a size Fits accepts),
// to dst as text in f: the token that the reader encodes back into b. It
// fails only for CIDR, on bytes that are no LPM trie key (a prefix length
// beyond the address bits). A trie key with bits set beyond its prefix
// prints as it is ("10.0.0.1/8"), which the reader refuses unless it masks
// host bits: the trie stores those bits, and a dump does not hide them.
func (f Format) Append(dst, b []byte) ([]byte, error) {
	switch f {
	case Hex:
		return hex.AppendEncode(dst, b), nil
	case U8, U16, U32, U64:
		return strconv.AppendUint(dst, getUint(b), 10), nil
	case CIDR:
		return appendCIDR(dst, b)
	case IP:
		return addrOf(b).AppendTo(dst), nil
	}
	return dst, fmt.Errorf("unknown format %d", int(f))
}

// AppendJSON appends b as the JSON value the reader takes for f: a number
// for the integer formats (exact for u64: the reader reads numbers without
// a float64), a string otherwise.
func (f Format) AppendJSON(dst, b []byte) ([]byte, error) {
	if f.intSize() != 0 {
		return f.Append(dst, b)
	}
	// Hex digits, addresses and prefixes need no JSON escapes.
	dst = append(dst, '"')
	dst, err := f.Append(dst, b)
	return append(dst, '"'), err
}

// getUint reads a native-order integer of len(b) bytes (1, 2, 4 or 8).
func getUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return binary.NativeEndian.Uint64(b)
}

// addrOf is the address in b, 4 or 16 bytes in network order.
func addrOf(b []byte) netip.Addr {
	if len(b) == 4 {
		return netip.AddrFrom4([4]byte(b))
	}
	return netip.AddrFrom16([16]byte(b))
}

// appendCIDR prints struct bpf_lpm_trie_key: native u32 prefixlen, then
// the address.
func appendCIDR(dst, b []byte) ([]byte, error) {
	bits := binary.NativeEndian.Uint32(b)
	addr := addrOf(b[4:])
	if bits > uint32(addr.BitLen()) {
		return dst, fmt.Errorf("%x is no CIDR key: prefixlen %d (first 4 bytes, native order) exceeds the %d address bits", b, bits, addr.BitLen())
	}
	dst = addr.AppendTo(dst)
	dst = append(dst, '/')
	return strconv.AppendUint(dst, uint64(bits), 10), nil
}

// AppendKey appends key as a line of o's syntax shows it (JSON when json):
// in o.Key, through o.KeyCodec for BTF.
func (o *Options) AppendKey(dst, key []byte, json bool) ([]byte, error) {
	return appendAs(dst, key, o.Key, o.KeyCodec, json)
}

// AppendValue appends one value (one CPU's, for per-CPU maps) as
// AppendKey appends a key.
func (o *Options) AppendValue(dst, value []byte, json bool) ([]byte, error) {
	return appendAs(dst, value, o.Value, o.ValueCodec, json)
}

func appendAs(dst, b []byte, f Format, c *btfjson.Codec, json bool) ([]byte, error) {
	switch {
	case f == BTF && c == nil:
		return dst, errors.New("format btf without the BTF type")
	case f == BTF:
		return c.Append(dst, b)
	case json:
		return f.AppendJSON(dst, b)
	}
	return f.Append(dst, b)
}
