// Package keyset indexes the keys of a flat buffer (n keys of a fixed size,
// as the kernel takes them) for lookups by value. Map.Sync diffs a map
// against its input with it in linear time, without a Go map keyed by
// strings, which would allocate per key.
package keyset

import (
	"bytes"
	"hash/maphash"
	"math/bits"
)

// Set is an open-addressing hash index over a key buffer. It keeps the
// buffer; the caller must not change it while the Set is in use.
type Set struct {
	keys  []byte
	size  int
	slots []uint32 // key index + 1; 0 is empty
	shift uint     // 64 - log2(len(slots))
	seed  maphash.Seed
}

// New indexes the len(keys)/size keys of keys (size > 0). dup is the index
// of the first key equal to an earlier one, and first that earlier one's;
// both are -1 when the keys are distinct. On a duplicate the Set indexes
// the keys before dup only.
func New(keys []byte, size int) (s *Set, dup, first int) {
	n := len(keys) / size
	log := max(4, bits.Len(uint(2*n))) // load factor at most 1/2
	s = &Set{keys: keys, size: size, slots: make([]uint32, 1<<log), shift: uint(64 - log), seed: maphash.MakeSeed()}
	for i := range n {
		if j := s.insert(i); j >= 0 {
			return s, i, j
		}
	}
	return s, -1, -1
}

// Len is the number of keys in the buffer.
func (s *Set) Len() int { return len(s.keys) / s.size }

// Find returns the index of key, or -1.
func (s *Set) Find(key []byte) int {
	mask := uint64(len(s.slots) - 1)
	for h := s.hash(key); ; h = (h + 1) & mask {
		slot := s.slots[h]
		if slot == 0 {
			return -1
		}
		if bytes.Equal(s.key(int(slot-1)), key) {
			return int(slot - 1)
		}
	}
}

// insert adds key i, or returns the index of an equal key already there.
func (s *Set) insert(i int) int {
	key := s.key(i)
	mask := uint64(len(s.slots) - 1)
	for h := s.hash(key); ; h = (h + 1) & mask {
		slot := s.slots[h]
		if slot == 0 {
			s.slots[h] = uint32(i + 1)
			return -1
		}
		if bytes.Equal(s.key(int(slot-1)), key) {
			return int(slot - 1)
		}
	}
}

func (s *Set) key(i int) []byte { return s.keys[i*s.size : (i+1)*s.size] }

// hash takes the high bits of maphash, which mix best.
func (s *Set) hash(key []byte) uint64 { return maphash.Bytes(s.seed, key) >> s.shift }
