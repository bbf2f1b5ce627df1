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
// buffer; the caller must not change it while the Set is in use.
//
// A lookup costs one cache miss in the table: each slot holds a tag next to
// the key's index, the key itself for keys of up to 8 bytes (no need to
// read the key buffer at all) or a hash of it for longer keys (the buffer
// is read only when the tags match).
type Set struct {
	keys  []byte
	size  int
	slots []slot
	shift uint // 64 - log2(len(slots))
	seed  maphash.Seed
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
	n := len(keys) / size
	log := max(4, bits.Len(uint(2*n))) // load factor at most 1/2
	s = &Set{keys: keys, size: size, slots: make([]slot, 1<<log), shift: uint(64 - log), seed: maphash.MakeSeed()}
	var homes [group]uint64
	var tags [group]uint64
	for start := 0; start < n; start += group {
		g := min(group, n-start)
		s.prefetch(keys[start*size:(start+g)*size], tags[:g], homes[:g])
		for k := range g {
			if j := s.insert(start+k, tags[k], homes[k]); j >= 0 {
				return s, start + k, j
			}
		}
	}
	return s, -1, -1
}

// group is how many lookups prefetch their slots together: their cache and
// TLB misses overlap instead of following one another, which is most of
// the time of a lookup in a table of tens of megabytes.
const group = 16

// prefetch hashes the keys of a group and touches their home slots.
func (s *Set) prefetch(keys []byte, tags, homes []uint64) {
	var sink uint32
	for k := range tags {
		tags[k], homes[k] = s.hash(keys[k*s.size : (k+1)*s.size])
		sink += s.slots[homes[k]].idx // an independent load per key
	}
	prefetchSink = sink
}

var prefetchSink uint32

// FindAll stores in out[i] the index of the i-th key of keys, or -1. It is
// Find for many keys at once, with their memory accesses overlapped.
func (s *Set) FindAll(keys []byte, out []int) {
	var homes [group]uint64
	var tags [group]uint64
	n := len(keys) / s.size
	for start := 0; start < n; start += group {
		g := min(group, n-start)
		s.prefetch(keys[start*s.size:(start+g)*s.size], tags[:g], homes[:g])
		for k := range g {
			out[start+k] = s.find(keys[(start+k)*s.size:(start+k+1)*s.size], tags[k], homes[k])
		}
	}
}

// Len is the number of keys in the buffer.
func (s *Set) Len() int { return len(s.keys) / s.size }

// Find returns the index of key, or -1.
func (s *Set) Find(key []byte) int {
	tag, h := s.hash(key)
	return s.find(key, tag, h)
}

func (s *Set) find(key []byte, tag, h uint64) int {
	mask := uint64(len(s.slots) - 1)
	for ; ; h = (h + 1) & mask {
		sl := &s.slots[h]
		if sl.idx == 0 {
			return -1
		}
		if sl.tag == tag && (s.size <= 8 || bytes.Equal(s.key(int(sl.idx-1)), key)) {
			return int(sl.idx - 1)
		}
	}
}

// insert adds key i, or returns the index of an equal key already there.
func (s *Set) insert(i int, tag, h uint64) int {
	key := s.key(i)
	mask := uint64(len(s.slots) - 1)
	for ; ; h = (h + 1) & mask {
		sl := &s.slots[h]
		if sl.idx == 0 {
			*sl = slot{tag: tag, idx: uint32(i + 1)}
			return -1
		}
		if sl.tag == tag && (s.size <= 8 || bytes.Equal(s.key(int(sl.idx-1)), key)) {
			return int(sl.idx - 1)
		}
	}
}

func (s *Set) key(i int) []byte { return s.keys[i*s.size : (i+1)*s.size] }

// hash returns key's tag (the key itself up to 8 bytes) and its home slot,
// from the high bits of a seeded hash, which mix best: the seed keeps
// crafted inputs from piling into one run of slots.
func (s *Set) hash(key []byte) (tag, home uint64) {
	if len(key) <= 8 {
		var b [8]byte
		copy(b[:], key)
		tag = binary.LittleEndian.Uint64(b[:])
		return tag, maphash.Comparable(s.seed, tag) >> s.shift
	}
	h := maphash.Bytes(s.seed, key)
	return h, h >> s.shift
}
