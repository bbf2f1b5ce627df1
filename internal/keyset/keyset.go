// Package keyset indexes the keys of a flat buffer (n keys of a fixed size,
// as the kernel takes them) for lookups by value. Map.Sync diffs a map
// against its input with it in linear time, without a Go map keyed by
// strings, which would allocate per key.
package keyset

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// Set is an open-addressing hash index over a key buffer. It keeps the
// buffer; the caller must not change it while the Set is in use. Each slot
// holds a tag next to the key's index: the key itself for keys of up to 8
// bytes (a lookup then never reads the key buffer), or a hash of it for
// longer keys (the buffer is read only when the tags match).
//
// A lookup in a table of megabytes misses the cache and the TLB every time
// (bench/README.md has the numbers); Partitions splits big inputs into
// tables that stay in cache.
type Set struct {
	keys  []byte
	size  int
	slots []slot
	shift uint // 64 - log2(len(slots))
	seed  maphash.Seed
	mix   uint64 // seeds mix64 for keys of up to 8 bytes
}

type slot struct {
	tag uint64
	idx uint32 // key index + 1; 0 is empty
}

// New indexes the len(keys)/size keys of keys (size > 0). dup is the index
// of the first key equal to an earlier one, and first that earlier one's;
// both are -1 when the keys are distinct. On a duplicate the Set indexes
// the keys before dup only.
func New(keys []byte, size int) (s *Set, dup, first int) {
	seed := maphash.MakeSeed()
	s = &Set{seed: seed, mix: maphash.Comparable(seed, uint64(0))}
	dup, first = s.Reset(keys, size)
	return s, dup, first
}

// Reset indexes keys instead of what s indexed, reusing its table where it
// is big enough. It returns what New does.
func (s *Set) Reset(keys []byte, size int) (dup, first int) {
	n := len(keys) / size
	log := max(4, bits.Len(uint(2*n))) // load factor at most 1/2
	// cap, not len: parts of about PartSize keys straddle a power of two,
	// and a table cut to a smaller part's size serves a bigger one again.
	if cap(s.slots) >= 1<<log {
		s.slots = s.slots[:1<<log]
		clear(s.slots)
	} else {
		s.slots = make([]slot, 1<<log)
	}
	s.keys, s.size, s.shift = keys, size, uint(64-log)
	for i := range n {
		if j := s.insert(i); j >= 0 {
			return i, j
		}
	}
	return -1, -1
}

// Len is the number of keys in the buffer.
func (s *Set) Len() int { return len(s.keys) / s.size }

// Find returns the index of key, or -1.
func (s *Set) Find(key []byte) int {
	i, _, _ := s.probe(key)
	return i
}

// insert adds key i, or returns the index of an equal key already there.
func (s *Set) insert(i int) int {
	found, empty, tag := s.probe(s.key(i))
	if found < 0 {
		*empty = slot{tag: tag, idx: uint32(i + 1)}
	}
	return found
}

// probe returns the index of key, or -1, the empty slot where key belongs
// and its tag.
func (s *Set) probe(key []byte) (int, *slot, uint64) {
	tag, h := s.hash(key)
	mask := uint64(len(s.slots) - 1)
	for ; ; h = (h + 1) & mask {
		sl := &s.slots[h]
		if sl.idx == 0 {
			return -1, sl, tag
		}
		if sl.tag == tag && (s.size <= 8 || bytes.Equal(s.key(int(sl.idx-1)), key)) {
			return int(sl.idx - 1), nil, tag
		}
	}
}

func (s *Set) key(i int) []byte { return s.keys[i*s.size : (i+1)*s.size] }

// hash returns key's tag (the key itself up to 8 bytes) and its home slot,
// from the high bits of a seeded hash, which mix best: the seed keeps
// crafted inputs from piling into one run of slots.
func (s *Set) hash(key []byte) (tag, home uint64) {
	if len(key) <= 8 {
		tag = pack(key)
		return tag, mix64(tag^s.mix) >> s.shift
	}
	h := maphash.Bytes(s.seed, key)
	return h, h >> s.shift
}

// mix64 is MurmurHash3's 64-bit finalizer: every input bit flips each
// output bit with probability about 1/2, so the high bits make a good
// slot; seeded by the caller, it is a third of the cost of maphash's
// Comparable per key (BenchmarkHash).
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// pack is a key of up to 8 bytes as an integer: one load for the common
// sizes (copying 4 bytes into an 8-byte buffer and reading it back stalls
// on the store).
func pack(key []byte) uint64 {
	switch len(key) {
	case 8:
		return binary.LittleEndian.Uint64(key)
	case 4:
		return uint64(binary.LittleEndian.Uint32(key))
	case 2:
		return uint64(binary.LittleEndian.Uint16(key))
	}
	var b [8]byte
	copy(b[:], key)
	return binary.LittleEndian.Uint64(b[:])
}

// Partitions splits keys by hash into parts of about PartSize keys, so that
// joining two big key sets part by part keeps each part's Set in cache.
type Partitions struct {
	shift uint
	seed  maphash.Seed
	mix   uint64
}

// PartSize is the number of keys per part Partitions aims at: a Set of
// 4096 keys of up to 8 bytes is 128 KiB.
const PartSize = 4096

// NewPartitions returns partitions for about n keys.
func NewPartitions(n int) Partitions {
	parts := max(1, n/PartSize)
	log := bits.Len(uint(parts - 1)) // parts rounded up to a power of 2
	seed := maphash.MakeSeed()
	return Partitions{shift: uint(64 - log), seed: seed, mix: maphash.Comparable(seed, uint64(1))}
}

// Count is the number of parts.
func (p Partitions) Count() int {
	if p.shift == 64 {
		return 1
	}
	return 1 << (64 - p.shift)
}

// Of returns key's part.
func (p Partitions) Of(key []byte) int {
	if p.shift == 64 {
		return 0
	}
	if len(key) <= 8 {
		return int(mix64(pack(key)^p.mix) >> p.shift)
	}
	return int(maphash.Bytes(p.seed, key) >> p.shift)
}
