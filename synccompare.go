package bpfbatch

import (
	"bytes"
	"encoding/binary"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// How Sync compares: keys as the map compares them (LPM tries by prefix),
// values as the map holds them (per-CPU values without padding, map-in-map
// values by inner map ID).

// prefixKey writes to dst the LPM trie key src (struct bpf_lpm_trie_key: a
// native-order u32 prefixlen, then the address) with the address bits past
// prefixlen cleared: the kernel's longest_prefix_match ignores them.
func prefixKey(dst, src []byte) {
	copy(dst, src)
	if len(src) <= 4 {
		return
	}
	addr := dst[4:]
	plen := min(int(binary.NativeEndian.Uint32(src)), 8*len(addr))
	if rem := plen % 8; rem != 0 {
		addr[plen/8] &= byte(0xff << (8 - rem))
		plen += 8 - rem
	}
	clear(addr[plen/8:])
}

// innerMapIDs turns map-in-map values (u32 fds) into the IDs the kernel
// reports for them; an fd that is not a map gets ID 0, which no map has, so
// its element counts as changed and the write reports the bad fd.
func innerMapIDs(values []byte) []byte {
	ids := make([]byte, len(values))
	for i := 0; i+4 <= len(values); i += 4 {
		fd, err := sys.DupRaw(int(binary.NativeEndian.Uint32(values[i:])))
		if err != nil {
			continue
		}
		var info sys.MapInfo
		if sys.MapGetInfo(fd, &info) == 0 {
			binary.NativeEndian.PutUint32(ids[i:], info.ID)
		}
		fd.Close()
	}
	return ids
}

func allZeroBytes(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// checkSyncKeys refuses, before anything is written, keys the map cannot
// hold: an array index >= max_entries, an LPM prefix length longer than the
// key's address. The kernel would refuse them only after Sync had deleted
// or zeroed the stale elements.
func (m *Map) checkSyncKeys(keys []byte) error {
	ks := int(m.info.KeySize)
	for i := range len(keys) / ks {
		key := keys[i*ks : (i+1)*ks]
		switch {
		case m.info.Type.IsArray():
			if idx := binary.NativeEndian.Uint32(key); idx >= m.info.MaxEntries {
				return m.refuse(opSync, ErrInvalidArgument, "element %d: index %d >= max_entries %d; nothing was written", i, idx, m.info.MaxEntries)
			}
		case m.info.Type == LPMTrie && ks > 4:
			if plen, bits := binary.NativeEndian.Uint32(key), 8*(ks-4); plen > uint32(bits) {
				return m.refuse(opSync, ErrInvalidArgument, "element %d: prefix length %d exceeds the %d address bits of the key; nothing was written", i, plen, bits)
			}
		}
	}
	return nil
}

// compareKey returns key as Sync compares it: for an LPM trie the prefix,
// host bits cleared, written to scratch; for other maps key itself.
func (m *Map) compareKey(scratch, key []byte) []byte {
	if m.info.Type != LPMTrie {
		return key
	}
	prefixKey(scratch, key)
	return scratch
}

// sameValue compares a value read from the map with one from the input:
// for per-CPU maps each CPU's value_size bytes, not the padding.
func (m *Map) sameValue(got, want []byte) bool {
	if m.cpus == 0 {
		if len(got) == 8 && len(want) == 8 { // a u64 counter or pair of u32s: one compare, no call
			return binary.NativeEndian.Uint64(got) == binary.NativeEndian.Uint64(want)
		}
		return bytes.Equal(got, want)
	}
	vs, slot := int(m.info.ValueSize), slotSize(m.info.ValueSize)
	for c := range m.cpus {
		if !bytes.Equal(got[c*slot:c*slot+vs], want[c*slot:c*slot+vs]) {
			return false
		}
	}
	return true
}
