package bpfbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bpfbatch/bpfbatch/internal/keyset"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Sync's diff: one walk of the map against the input. Both sides are
// grouped into parts small enough that each part's index stays in cache
// (a lookup in an index of a million keys misses the cache and the TLB
// every time), and the parts are joined on every core.

// syncDiff is what one walk of the map found against the input.
type syncDiff struct {
	stats SyncStats
	write []int  // input elements to write (new or changed), in input order
	seen  []bool // input elements the map holds
	stale []byte // keys to delete, or array indices to zero

	// For SyncOptions.Changes: the map's values of the stale keys, and of
	// the changed elements by input index.
	staleValues []byte
	old         map[int][]byte
}

// writes gathers the elements to write into buffers of their own.
func (d *syncDiff) writes(keys, values []byte, ks, stride int) ([]byte, []byte) {
	wkeys := make([]byte, 0, len(d.write)*ks)
	wvalues := make([]byte, 0, len(d.write)*stride)
	for _, i := range d.write {
		wkeys = append(wkeys, keys[i*ks:(i+1)*ks]...)
		wvalues = append(wvalues, values[i*stride:(i+1)*stride]...)
	}
	return wkeys, wvalues
}

// report calls changes for every element Sync deletes, then for every
// element it writes, in the order it does so.
func (d *syncDiff) report(keys, values []byte, ks, stride int, changes func(Change)) {
	for i := range len(d.stale) / ks {
		changes(Change{Kind: Deleted, Key: d.stale[i*ks : (i+1)*ks], Old: d.staleValues[i*stride : (i+1)*stride]})
	}
	for _, i := range d.write {
		c := Change{Kind: Added, Key: keys[i*ks : (i+1)*ks], New: values[i*stride : (i+1)*stride]}
		if d.seen[i] {
			c.Kind, c.Old = Changed, d.old[i]
		}
		changes(c)
	}
}

// diff validates the input, then walks the map once and compares.
func (m *Map) diff(ctx context.Context, keys, values []byte, opts SyncOptions) (*syncDiff, error) {
	count, err := withFD(m, opSync, func(fd *sys.FD) (int, error) {
		if m.info.KeySize == 0 {
			return 0, m.refuse(opSync, ErrNotSupported, "%s maps have no keys to compare", m.info.Type)
		}
		if err := m.checkNotNegative(opSync, option{"Chunk", opts.Chunk}, option{"Workers", opts.Workers}); err != nil {
			return 0, err
		}
		if !opts.DryRun {
			if err := m.checkWritable(opSync); err != nil {
				return 0, err
			}
		}
		if len(keys) == 0 && len(values) == 0 && !opts.AllowEmpty {
			return 0, m.refuse(opSync, ErrInvalidArgument, "the input is empty; set SyncOptions.AllowEmpty to make the map empty")
		}
		if err := m.checkReadable(opSync); err != nil {
			return 0, err
		}
		count, err := m.checkElements(fd, opSync, keys, values, UpdateAny, kernelLayout)
		if err != nil {
			return 0, err
		}
		return count, m.checkSyncKeys(keys[:count*int(m.info.KeySize)])
	})
	if err != nil {
		return nil, err
	}
	ks, stride := int(m.info.KeySize), m.stride
	inKeys := keys[:count*ks]
	if m.info.Type == LPMTrie {
		// The trie compares prefixes, not bytes: 10.0.0.1/8 in the map is
		// the input's 10.0.0.0/8, to be left alone or updated in place,
		// never deleted and added again.
		inKeys = make([]byte, count*ks)
		for i := range count {
			prefixKey(inKeys[i*ks:(i+1)*ks], keys[i*ks:(i+1)*ks])
		}
	}
	want := values
	if m.info.Type == ArrayOfMaps || m.info.Type == HashOfMaps {
		want = innerMapIDs(values) // the map holds inner map IDs, the input fds
	}
	// The walk (mostly kernel time) reads ahead on a goroutine of its own
	// while this one groups what it read, and the input, into parts.
	parts := keyset.NewPartitions(count)
	in := partition(inKeys, want[:count*stride], ks, stride, parts)
	mapKeys, mapValues := make([][]byte, parts.Count()), make([][]byte, parts.Count())
	perPart := count/parts.Count() + count/parts.Count()/4 + 16 // the map is mostly the input
	for p := range mapKeys {
		mapKeys[p] = make([]byte, 0, perPart*ks)
		mapValues[p] = make([]byte, 0, perPart*stride)
	}
	scratch := make([]byte, ks)
	err = m.Walk(ctx, WalkOptions{Batch: countBatch(m)}, func(kb, vb []byte, n int) error {
		for e := range n {
			key := kb[e*ks : (e+1)*ks]
			p := parts.Of(m.compareKey(scratch, key))
			mapKeys[p] = append(mapKeys[p], key...)
			mapValues[p] = append(mapValues[p], vb[e*stride:(e+1)*stride]...)
		}
		return nil
	})
	if err != nil {
		return nil, &SyncError{Map: m.info, Err: err, step: syncReading}
	}

	// Parts are independent: join them on every core. An input index
	// belongs to one part, so the joins write disjoint elements of seen.
	d := &syncDiff{seen: make([]bool, count)}
	joins := make([]partJoin, min(parts.Count(), runtime.GOMAXPROCS(0), 4))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range joins {
		wg.Go(func() {
			j := &joins[w]
			j.dup, j.first, j.keepValues, j.keepOld = -1, -1, opts.KeepValues, opts.Changes != nil
			set, _, _ := keyset.New(nil, ks)
			for p := int(next.Add(1) - 1); p < parts.Count(); p = int(next.Add(1) - 1) {
				m.joinPart(j, set, &in, p, mapKeys[p], mapValues[p], d.seen)
			}
		})
	}
	wg.Wait()
	dup, first := -1, -1
	for _, j := range joins {
		if j.dup >= 0 && (dup < 0 || j.dup < dup) {
			dup, first = j.dup, j.first
		}
		d.stats.Changed += j.changed
		d.stats.Unchanged += j.unchanged
		d.write = append(d.write, j.write...)
		d.stale = append(d.stale, j.stale...)
		d.staleValues = append(d.staleValues, j.staleValues...)
		for _, o := range j.old {
			if d.old == nil {
				d.old = map[int][]byte{}
			}
			d.old[o.index] = o.value
		}
	}
	if dup >= 0 {
		return nil, m.refuse(opSync, ErrInvalidArgument, "keys: element %d repeats element %d (key %x); each key may appear once, nothing was written", dup, first, keys[dup*ks:(dup+1)*ks])
	}
	for i, s := range d.seen {
		if !s {
			d.stats.Added++
			d.write = append(d.write, i)
		}
	}
	slices.Sort(d.write) // the input's order
	d.stats.Deleted = len(d.stale) / ks
	return d, nil
}

// partJoin is what joining parts found: the first repeated input key, and
// the map's elements compared with the input's.
type partJoin struct {
	keepValues, keepOld bool // SyncOptions.KeepValues; Changes is set

	dup, first         int
	changed, unchanged int
	write              []int
	stale, staleValues []byte
	old                []oldValue
}

// oldValue is the map's value of a changed input element.
type oldValue struct {
	index int
	value []byte
}

// joinPart compares the map's elements of part p (mk, mv) with the input's.
func (m *Map) joinPart(j *partJoin, set *keyset.Set, in *partitioned, p int, mk, mv []byte, seen []bool) {
	ks, stride := int(m.info.KeySize), m.stride
	lo, hi := in.off[p], in.off[p+1]
	if pd, pf := set.Reset(in.keys[lo*ks:hi*ks], ks); pd >= 0 {
		// A key and its repeats share a part, and parts keep the input's
		// order: the earliest repeat over all parts is the input's first.
		if g := int(in.idx[lo+pd]); j.dup < 0 || g < j.dup {
			j.dup, j.first = g, int(in.idx[lo+pf])
		}
		return
	}
	scratch := make([]byte, ks)
	for e := range len(mk) / ks {
		key, value := mk[e*ks:(e+1)*ks], mv[e*stride:(e+1)*stride]
		i := set.Find(m.compareKey(scratch, key))
		if i < 0 {
			if m.info.Type.CanDelete() || !allZeroBytes(value) {
				j.stale = append(j.stale, key...) // to delete, or an array element to zero
				if j.keepOld {
					j.staleValues = append(j.staleValues, value...)
				}
			}
			continue
		}
		g := int(in.idx[lo+i])
		switch {
		case seen[g]: // seen twice: the map changed during the walk
		case j.keepValues || m.sameValue(value, in.values[(lo+i)*stride:(lo+i+1)*stride]):
			seen[g] = true
			j.unchanged++
		default:
			seen[g] = true
			j.changed++
			j.write = append(j.write, g)
			if j.keepOld {
				j.old = append(j.old, oldValue{g, bytes.Clone(value)})
			}
		}
	}
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

// partitioned is the input grouped by part: part p's elements are
// [off[p], off[p+1]), copied in the input's order, with their input indices.
type partitioned struct {
	off          []int
	keys, values []byte
	idx          []uint32
}

// partition groups n elements (keys of ks bytes, values of stride bytes)
// by part, with a counting sort: one pass to count, one to copy.
func partition(keys, values []byte, ks, stride int, parts keyset.Partitions) partitioned {
	n := len(keys) / ks
	part := make([]uint32, n)
	out := partitioned{off: make([]int, parts.Count()+1), keys: make([]byte, len(keys)), values: make([]byte, len(values)), idx: make([]uint32, n)}
	for i := range n {
		p := parts.Of(keys[i*ks : (i+1)*ks])
		part[i] = uint32(p)
		out.off[p+1]++
	}
	for p := range parts.Count() {
		out.off[p+1] += out.off[p]
	}
	next := slices.Clone(out.off[:parts.Count()])
	for i, p := range part {
		j := next[p]
		next[p]++
		copy(out.keys[j*ks:(j+1)*ks], keys[i*ks:(i+1)*ks])
		copy(out.values[j*stride:(j+1)*stride], values[i*stride:(i+1)*stride])
		out.idx[j] = uint32(i)
	}
	return out
}

// sameValue compares a value read from the map with one from the input:
// for per-CPU maps each CPU's value_size bytes, not the padding.
func (m *Map) sameValue(got, want []byte) bool {
	if m.cpus == 0 {
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
