package bpfbatch

import (
	"net/netip"
)

// LPM trie keys: struct bpf_lpm_trie_key, a u32 prefix length in the host's
// byte order followed by the address in network byte order. They are the
// K of the typed calls on LPM tries with 8- and 20-byte keys.

// LPMKey4 is the key of an LPM trie of IPv4 prefixes (key_size 8).
type LPMKey4 struct {
	PrefixLen uint32
	Addr      [4]byte
}

// LPMKey6 is the key of an LPM trie of IPv6 prefixes (key_size 20).
type LPMKey6 struct {
	PrefixLen uint32
	Addr      [16]byte
}

// opLPMKey names the conversion in errors.
const opLPMKey = "make an LPM trie key from"

// LPMKey4From returns the key of the IPv4 prefix p, host bits cleared (the
// trie ignores them, and a key with them set would not compare equal to
// one without in a Go map or a Sync input). An IPv6 or invalid prefix is
// ErrInvalidArgument.
func LPMKey4From(p netip.Prefix) (LPMKey4, error) {
	switch {
	case !p.IsValid():
		return LPMKey4{}, newMapError(opLPMKey, p.String(), "", ErrInvalidArgument, "not a valid prefix (netip.ParsePrefix(\"10.0.0.0/8\") makes one)")
	case p.Addr().Is4In6():
		return LPMKey4{}, newMapError(opLPMKey, p.String(), "", ErrInvalidArgument, "an IPv4-mapped IPv6 prefix: use LPMKey6From for a trie of 20-byte keys, or unmap it (netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96))")
	case !p.Addr().Is4():
		return LPMKey4{}, newMapError(opLPMKey, p.String(), "", ErrInvalidArgument, "an IPv6 prefix: use LPMKey6From, for a trie of 20-byte keys")
	}
	return LPMKey4{PrefixLen: uint32(p.Bits()), Addr: p.Masked().Addr().As4()}, nil
}

// LPMKey6From returns the key of the IPv6 prefix p, host bits cleared. An
// IPv4 or invalid prefix is ErrInvalidArgument.
func LPMKey6From(p netip.Prefix) (LPMKey6, error) {
	switch {
	case !p.IsValid():
		return LPMKey6{}, newMapError(opLPMKey, p.String(), "", ErrInvalidArgument, "not a valid prefix (netip.ParsePrefix(\"2001:db8::/32\") makes one)")
	case p.Addr().Is4():
		return LPMKey6{}, newMapError(opLPMKey, p.String(), "", ErrInvalidArgument, "an IPv4 prefix: use LPMKey4From, for a trie of 8-byte keys")
	}
	return LPMKey6{PrefixLen: uint32(p.Bits()), Addr: p.Masked().Addr().As16()}, nil
}

// Prefix returns the key as a prefix, host bits as the key holds them; a
// PrefixLen over 32 gives an invalid Prefix.
func (k LPMKey4) Prefix() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4(k.Addr), prefixBits(k.PrefixLen, 32))
}

// Prefix returns the key as a prefix, host bits as the key holds them; a
// PrefixLen over 128 gives an invalid Prefix.
func (k LPMKey6) Prefix() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16(k.Addr), prefixBits(k.PrefixLen, 128))
}

// prefixBits is plen as netip takes it: -1 (invalid) when it exceeds limit.
func prefixBits(plen uint32, limit int) int {
	if plen > uint32(limit) {
		return -1
	}
	return int(plen)
}

// String formats the key as its prefix, e.g. "10.0.0.0/8".
func (k LPMKey4) String() string { return k.Prefix().String() }

// String formats the key as its prefix, e.g. "2001:db8::/32".
func (k LPMKey6) String() string { return k.Prefix().String() }
