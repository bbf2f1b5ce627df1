package input

import (
	"bytes"
	"hash/maphash"
	"math"
)

// Dedupe drops every entry whose key a later entry repeats, and returns how
// many it dropped. The entries kept stay in input order, each at the place
// of its key's last line, with that line's value and line number.
//
// A batch written in order gives the last line of a key the last word
// anyway; written in parallel chunks it does not, and a repeated key would
// keep whichever chunk the kernel applied last. Written once per key, the
// order cannot matter, and the count of entries written is the count of
// keys. For an LPM trie (l.LPM) keys that differ only beyond their prefix
// length are one prefix, which the trie stores in one node, so they count
// as the same key. Maps without keys (queue, stack, bloom filter) take
// every value as an entry of its own: nothing is dropped.
func (b *Batch) Dedupe(l Layout) int {
	n, ks, stride := b.Len(), l.KeySize, l.valueStride()
	if ks == 0 || n < 2 {
		return 0
	}
	keys := b.Keys
	if l.LPM {
		keys = bytes.Clone(b.Keys)
		for i := range n {
			MaskLPMKey(keys[i*ks : (i+1)*ks])
		}
	}
	var drop []bool
	var dropped int
	if uint64(n) < math.MaxUint32 {
		drop, dropped = earlier[uint32](keys, ks, n)
	} else {
		drop, dropped = earlier[uint64](keys, ks, n)
	}
	if dropped == 0 {
		return 0
	}
	w := 0
	for i := range n {
		if drop[i] {
			continue
		}
		if w != i {
			copy(b.Keys[w*ks:(w+1)*ks], b.Keys[i*ks:(i+1)*ks])
			copy(b.Values[w*stride:(w+1)*stride], b.Values[i*stride:(i+1)*stride])
			b.Lines[w] = b.Lines[i]
		}
		w++
	}
	b.Keys, b.Values, b.Lines = b.Keys[:w*ks], b.Values[:w*stride], b.Lines[:w]
	return dropped
}

// earlier marks the entries whose key a later entry repeats. It keeps an
// open-addressing table of entry indices (+1; 0 is empty), at most half
// full, of the narrowest index type that fits: no key is copied, which a
// Go map of strings would do for every entry (BenchmarkDedupe; the
// numbers are in bench/README.md).
func earlier[S uint32 | uint64](keys []byte, ks, n int) (drop []bool, dropped int) {
	key := func(i int) []byte { return keys[i*ks : (i+1)*ks] }
	size := 2
	for size < 2*n {
		size <<= 1
	}
	slots := make([]S, size)
	seed := maphash.MakeSeed()
	drop = make([]bool, n)
	for i := range n {
		k := key(i)
		j := int(maphash.Bytes(seed, k)) & (size - 1)
		for slots[j] != 0 && !bytes.Equal(key(int(slots[j])-1), k) {
			j = (j + 1) & (size - 1)
		}
		if slots[j] != 0 {
			drop[slots[j]-1] = true
			dropped++
		}
		slots[j] = S(i + 1)
	}
	return drop, dropped
}
