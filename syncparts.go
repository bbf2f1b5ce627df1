package bpfbatch

import (
	"slices"
	"sync"

	"github.com/bpfbatch/bpfbatch/internal/keyset"
)

// Sync's parts: the input and the map's elements grouped by a hash of the
// key (keyset.Partitions) into parts small enough that a part's index stays
// in cache.

// mapParts is the map's elements grouped by part as a walk reads them,
// each walker (Walk may call its fn on several goroutines) into groups of
// its own.
type mapParts struct {
	m       *Map
	parts   keyset.Partitions
	perPart int // elements a group's part is made for at first (0: grown as they come)

	mu     sync.Mutex
	idle   []*partGroups // not in use by a walker
	groups []*partGroups // every one made
}

// partGroups is one walker's elements, by part.
type partGroups struct {
	keys, values [][]byte
	scratch      []byte // a key as Sync compares it
}

// newMapParts groups a map of about count elements into parts; sized says
// count is known well enough to size the parts up front.
func newMapParts(m *Map, parts keyset.Partitions, count int, sized bool) *mapParts {
	mp := &mapParts{m: m, parts: parts}
	if sized {
		mp.perPart = count/parts.Count() + count/parts.Count()/4 + 16 // the map is mostly the input
	}
	return mp
}

// add groups n elements the walk read; it is Walk's fn.
func (mp *mapParts) add(kb, vb []byte, n int) error {
	ks, stride := int(mp.m.info.KeySize), mp.m.stride
	mp.mu.Lock()
	var g *partGroups
	if k := len(mp.idle); k > 0 {
		g, mp.idle = mp.idle[k-1], mp.idle[:k-1]
	} else {
		g = &partGroups{keys: make([][]byte, mp.parts.Count()), values: make([][]byte, mp.parts.Count()), scratch: make([]byte, ks)}
		for p := range g.keys {
			g.keys[p] = make([]byte, 0, mp.perPart*ks)
			g.values[p] = make([]byte, 0, mp.perPart*stride)
		}
		mp.groups = append(mp.groups, g)
	}
	mp.mu.Unlock()
	for e := range n {
		key := kb[e*ks : (e+1)*ks]
		p := mp.parts.Of(mp.m.compareKey(g.scratch, key))
		g.keys[p] = append(g.keys[p], key...)
		g.values[p] = append(g.values[p], vb[e*stride:(e+1)*stride]...)
	}
	mp.mu.Lock()
	mp.idle = append(mp.idle, g)
	mp.mu.Unlock()
	return nil
}

// partitioned is the input grouped by part: part p's elements are
// [off[p], off[p+1]), copied in the input's order, with their input indices.
type partitioned struct {
	off          []int
	keys, values []byte
	idx          []uint32
}

// partition groups n elements (keys of ks bytes, values of stride bytes)
// by part, with a counting sort: one pass to count, one to copy. Each pass
// hashes the keys again: cheaper than keeping n parts in memory the
// process must fault in (4 MB for 1M keys).
func partition(keys, values []byte, ks, stride int, parts keyset.Partitions) partitioned {
	n := len(keys) / ks
	out := partitioned{off: make([]int, parts.Count()+1), keys: make([]byte, len(keys)), values: make([]byte, len(values)), idx: make([]uint32, n)}
	for i := range n {
		out.off[parts.Of(keys[i*ks:(i+1)*ks])+1]++
	}
	for p := range parts.Count() {
		out.off[p+1] += out.off[p]
	}
	next := slices.Clone(out.off[:parts.Count()])
	for i := range n {
		p := parts.Of(keys[i*ks : (i+1)*ks])
		j := next[p]
		next[p]++
		copy(out.keys[j*ks:(j+1)*ks], keys[i*ks:(i+1)*ks])
		copy(out.values[j*stride:(j+1)*stride], values[i*stride:(i+1)*stride])
		out.idx[j] = uint32(i)
	}
	return out
}

// partitionInput groups the input by part, keys as Sync compares them and
// values as the map holds them.
func (m *Map) partitionInput(keys, values []byte, parts keyset.Partitions) partitioned {
	ks := int(m.info.KeySize)
	if m.info.Type == LPMTrie {
		// The trie compares prefixes, not bytes: 10.0.0.1/8 in the map is
		// the input's 10.0.0.0/8, to be left alone or updated in place,
		// never deleted and added again.
		prefixes := make([]byte, len(keys))
		for i := range len(keys) / ks {
			prefixKey(prefixes[i*ks:(i+1)*ks], keys[i*ks:(i+1)*ks])
		}
		keys = prefixes
	}
	if m.info.Type == ArrayOfMaps || m.info.Type == HashOfMaps {
		values = innerMapIDs(values) // the map holds inner map IDs, the input fds
	}
	return partition(keys, values, ks, m.stride, parts)
}
