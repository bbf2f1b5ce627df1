package bpfbatch

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/cpus"
	"github.com/bpfbatch/bpfbatch/internal/keyset"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// SyncOptions tunes Map.Sync.
type SyncOptions struct {
	// DryRun computes the SyncStats and writes nothing.
	DryRun bool
	// Workers is the number of write syscalls in flight at once, and Chunk
	// the elements per write syscall, as in BatchOptions. Deletes go in
	// chunks of Chunk too (4096 when Chunk is 0), one at a time.
	Workers int
	Chunk   int
	// Progress, if set, is called after each delete and write chunk with
	// the deletes and writes done so far and their total. Calls never
	// overlap.
	Progress func(done, total int)
}

// SyncStats says what Sync found and did. Added, Changed and Deleted count
// the elements written or deleted (to be, with DryRun); Unchanged counts
// the elements of the input the map already held with the same value.
type SyncStats struct{ Added, Changed, Deleted, Unchanged int }

// String reads "added 3, changed 1, deleted 2, unchanged 994".
func (s SyncStats) String() string {
	return fmt.Sprintf("added %d, changed %d, deleted %d, unchanged %d", s.Added, s.Changed, s.Deleted, s.Unchanged)
}

// Sync makes the map's contents equal to keys and values (UpdateBatch's
// layout, UpdateAny): it reads the whole map with one batch walk, deletes
// the keys that are not in keys (first, to make room in a full map), then
// writes only the elements that are new or whose value differs, with
// UpdateBatchWith and opts.Workers. Unchanged elements are not rewritten, so
// LRU maps keep their order and programs watching values see no churn.
// Array maps cannot delete: their elements not in keys are set to zero
// bytes (and counted as Deleted). Per-CPU values compare every CPU's
// value_size bytes; padding is not compared. Map-in-map values compare the
// inner map of the given fd with the one the map holds. Keys compare as
// bytes: an LPM trie key with host bits set is another key.
//
// Duplicate keys in the input, a bad layout, keys the map cannot hold (an
// array index >= max_entries, an LPM prefix longer than its address) and
// map types without keys are errors before any write. On error, the message
// says how many deletes and writes were done.
//
// LRU maps (LRUHash, LRUPerCPUHash) evict before they are full, and the
// kernel reports the write that evicted as a success. So on those Sync
// checks afterwards that the map kept what it wrote (every input key, when
// the input is bigger than EvictionFreeSize) and returns an error wrapping
// ErrEvicted with the number missing. An input of at most
// EvictionFreeSize() keys — max_entries - 128 x PossibleCPUs(), or
// max_entries/PossibleCPUs() - 1 with BPF_F_NO_COMMON_LRU — is never
// evicted by Sync's own writes.
//
// Sync is not atomic. While BPF programs (or other processes) also write
// the map, it promises this, and no more: every key in keys holds its value
// from keys when Sync returns, unless a writer changed it after Sync's walk
// read it; every key the walk found and keys lacks is deleted (a writer may
// add it again afterwards); keys a writer adds after the walk has passed
// them are left alone; a stale key a writer deletes first is not an error.
// Replacing a whole map where programs must never see a mix is
// ReplaceInner's job.
func (m *Map) Sync(ctx context.Context, keys, values []byte, opts SyncOptions) (SyncStats, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	d, err := m.diff(keys, values, opts)
	if err != nil || opts.DryRun {
		return d.stats, err
	}
	total := d.stats.Deleted + d.stats.Added + d.stats.Changed
	progress := func(done int) {
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	deleted, err := m.deleteStale(ctx, d, cmp.Or(opts.Chunk, deleteChunk), progress)
	if err != nil {
		return d.stats, fmt.Errorf("bpfbatch: sync %s: %d of %d stale elements deleted, nothing written: %w", m.info.describe(), deleted, d.stats.Deleted, err)
	}
	wkeys, wvalues := d.writes(keys, values, int(m.info.KeySize), m.stride)
	written, err := m.UpdateBatchWith(ctx, wkeys, wvalues, BatchOptions{
		Workers:  opts.Workers,
		Chunk:    opts.Chunk,
		Progress: func(w int) { progress(d.stats.Deleted + w) }, // every stale key is done: deleted, or gone already
	})
	if err != nil {
		return d.stats, fmt.Errorf("bpfbatch: sync %s: %d stale elements deleted, %d of %d new and changed elements written: %w", m.info.describe(), deleted, written, len(d.write), err)
	}
	if m.info.Type.evicts() {
		return d.stats, m.checkNotEvicted(keys, d.write)
	}
	return d.stats, nil
}

// lruLocalFree is LOCAL_FREE_TARGET in kernel/bpf/bpf_lru_list.c: an LRU
// map's CPU takes this many free nodes at a time from the map's common
// list, and when fewer are left there it evicts to make up the difference,
// even though other CPUs' lists still hold free nodes.
const lruLocalFree = 128

// EvictionFreeSize returns how many elements an LRU map (LRUHash,
// LRUPerCPUHash) can hold without a write from user space evicting one:
// max_entries - 128 x PossibleCPUs() (each CPU may hold 128 free nodes
// back), or with BPF_F_NO_COMMON_LRU, where every CPU has its own
// max_entries/PossibleCPUs() nodes and one writer may run on any of them,
// max_entries/PossibleCPUs() - 1 (an update of an existing key takes a new
// node before it frees the old). Other map types do not evict: their
// max_entries. The result may be 0.
func (m *Map) EvictionFreeSize() int {
	if m == nil {
		return 0
	}
	entries := int(m.info.MaxEntries)
	if !m.info.Type.evicts() {
		return entries
	}
	n, err := cpus.Possible()
	if err != nil || n < 1 {
		n = 1
	}
	if m.info.Flags&unix.BPF_F_NO_COMMON_LRU != 0 {
		return max(0, entries/n-1)
	}
	return max(0, entries-lruLocalFree*n)
}

// checkNotEvicted verifies, after a Sync of keys into an LRU map, that the
// kernel kept what was written: the elements written (write), or, when the
// input is too big for the map to hold without evicting, every input key
// (an eviction may take an unchanged one). Missing keys are ErrEvicted.
func (m *Map) checkNotEvicted(keys []byte, write []int) error {
	ks := int(m.info.KeySize)
	count := len(keys) / ks
	check := write
	if count > m.EvictionFreeSize() {
		check = make([]int, count) // every input key
		for i := range check {
			check[i] = i
		}
	}
	type result struct{ missing, first int }
	r, err := withFD(m, "sync", func(fd *sys.FD) (result, error) {
		r := result{first: -1}
		value := make([]byte, m.stride)
		for _, i := range check {
			attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], value, UpdateAny)
			switch errno := sys.MapLookupElem(&attr); errno {
			case 0:
			case unix.ENOENT:
				if r.missing++; r.first < 0 {
					r.first = i
				}
			default:
				return r, m.elemError(m.newFault(fd, opLookupElem, errno, UpdateAny, i), UpdateAny, 1, 0, nil)
			}
		}
		return r, nil
	})
	if err != nil {
		return fmt.Errorf("bpfbatch: sync %s: everything was written; verifying that the LRU map kept it: %w", m.info.describe(), err)
	}
	if r.missing == 0 {
		return nil
	}
	return fmt.Errorf("bpfbatch: sync %s: %w: %d of the %d input keys checked after writing are missing (the first: element %d, key %x): an LRU map evicts before it is full; this one holds up to %d elements without evicting (max_entries %d), the input has %d",
		m.info.describe(), ErrEvicted, r.missing, len(check), r.first, keys[r.first*ks:(r.first+1)*ks], m.EvictionFreeSize(), m.info.MaxEntries, count)
}

// syncDiff is what one walk of the map found against the input.
type syncDiff struct {
	stats SyncStats
	write []int  // input elements to write (new or changed), in input order
	stale []byte // keys to delete, or array indices to zero
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

// diff validates the input, then walks the map once and compares.
func (m *Map) diff(keys, values []byte, opts SyncOptions) (syncDiff, error) {
	const op = "sync"
	count, err := withFD(m, op, func(fd *sys.FD) (int, error) {
		if m.info.KeySize == 0 {
			return 0, fmt.Errorf("bpfbatch: %s on %s: %w: %s maps have no keys to compare", op, m.info.describe(), ErrNotSupported, m.info.Type)
		}
		if opts.Workers < 0 || opts.Chunk < 0 {
			return 0, fmt.Errorf("bpfbatch: %s on %s: Chunk %d and Workers %d must not be negative", op, m.info.describe(), opts.Chunk, opts.Workers)
		}
		count, err := m.checkWrite(fd, keys, values, UpdateAny, kernelLayout)
		if err != nil {
			return 0, err
		}
		return count, m.checkSyncKeys(keys[:count*int(m.info.KeySize)])
	})
	if err != nil {
		return syncDiff{}, err
	}
	ks, stride := int(m.info.KeySize), m.stride
	lpm := m.info.Type == LPMTrie
	inKeys := keys[:count*ks]
	if lpm {
		// The trie compares prefixes, not bytes: 10.0.0.1/8 in the map is
		// the input's 10.0.0.0/8, to be left alone or updated in place,
		// never deleted and added again.
		inKeys = make([]byte, count*ks)
		for i := range count {
			prefixKey(inKeys[i*ks:(i+1)*ks], keys[i*ks:(i+1)*ks])
		}
	}
	// The walk (mostly kernel time) runs on a goroutine of its own, beside
	// the grouping of the input and of the map's elements into parts small
	// enough that each part's index stays in cache: a lookup in an index of
	// a million keys misses the cache and the TLB every time.
	walk := m.walkAhead()
	defer walk.drain()
	want := values
	if m.info.Type == ArrayOfMaps || m.info.Type == HashOfMaps {
		want = innerMapIDs(values) // the map holds inner map IDs, the input fds
	}
	parts := keyset.NewPartitions(count)
	in := partition(inKeys, want[:count*stride], ks, stride, parts)
	mapKeys, mapValues := make([][]byte, parts.Count()), make([][]byte, parts.Count())
	perPart := count/parts.Count() + count/parts.Count()/4 + 16 // the map is mostly the input
	for p := range mapKeys {
		mapKeys[p] = make([]byte, 0, perPart*ks)
		mapValues[p] = make([]byte, 0, perPart*stride)
	}
	scratch := make([]byte, ks)
	for ch := range walk.chunks {
		for e := range ch.n {
			key := ch.keys[e*ks : (e+1)*ks]
			p := parts.Of(m.compareKey(scratch, key))
			mapKeys[p] = append(mapKeys[p], key...)
			mapValues[p] = append(mapValues[p], ch.values[e*stride:(e+1)*stride]...)
		}
		walk.recycle(ch)
	}
	if walk.err != nil {
		return syncDiff{}, fmt.Errorf("bpfbatch: %s on %s: reading the map, nothing was written: %w", op, m.info.describe(), walk.err)
	}

	// Parts are independent: join them on every core. An input index
	// belongs to one part, so the joins write disjoint elements of seen.
	seen := make([]bool, count)
	joins := make([]partJoin, min(parts.Count(), runtime.GOMAXPROCS(0), 4))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range joins {
		wg.Go(func() {
			j := &joins[w]
			j.dup, j.first = -1, -1
			set, _, _ := keyset.New(nil, ks)
			for p := int(next.Add(1) - 1); p < parts.Count(); p = int(next.Add(1) - 1) {
				m.joinPart(j, set, &in, p, mapKeys[p], mapValues[p], seen)
			}
		})
	}
	wg.Wait()
	var d syncDiff
	dup, first := -1, -1
	for _, j := range joins {
		if j.dup >= 0 && (dup < 0 || j.dup < dup) {
			dup, first = j.dup, j.first
		}
		d.stats.Changed += j.changed
		d.stats.Unchanged += j.unchanged
		d.write = append(d.write, j.write...)
		d.stale = append(d.stale, j.stale...)
	}
	if dup >= 0 {
		return syncDiff{}, fmt.Errorf("bpfbatch: %s on %s: keys: element %d repeats element %d (key %x); each key may appear once, nothing was written", op, m.info.describe(), dup, first, keys[dup*ks:(dup+1)*ks])
	}
	for i, s := range seen {
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
	dup, first         int
	changed, unchanged int
	write              []int
	stale              []byte
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
			if m.info.Type.canDelete() || !allZeroBytes(value) {
				j.stale = append(j.stale, key...) // to delete, or an array element to zero
			}
			continue
		}
		g := int(in.idx[lo+i])
		switch {
		case seen[g]: // seen twice: the map changed during the walk
		case m.sameValue(value, in.values[(lo+i)*stride:(lo+i+1)*stride]):
			seen[g] = true
			j.unchanged++
		default:
			seen[g] = true
			j.changed++
			j.write = append(j.write, g)
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
		case m.info.Type.isArray():
			if idx := binary.NativeEndian.Uint32(key); idx >= m.info.MaxEntries {
				return fmt.Errorf("bpfbatch: sync on %s: %w: element %d: index %d >= max_entries %d; nothing was written", m.info.describe(), ErrInvalidArgument, i, idx, m.info.MaxEntries)
			}
		case m.info.Type == LPMTrie && ks > 4:
			if plen, bits := binary.NativeEndian.Uint32(key), 8*(ks-4); plen > uint32(bits) {
				return fmt.Errorf("bpfbatch: sync on %s: %w: element %d: prefix length %d exceeds the %d address bits of the key; nothing was written", m.info.describe(), ErrInvalidArgument, i, plen, bits)
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

// walkAhead reads the whole map with LookupBatch on a goroutine of its own,
// in chunks of about 1 MiB, up to walkAhead chunks ahead of the reader.
func (m *Map) walkAhead() *mapWalk {
	w := &mapWalk{chunks: make(chan walkChunk, walkAheadChunks), free: make(chan walkChunk, walkAheadChunks), stop: make(chan struct{})}
	ks := int(m.info.KeySize)
	per := countChunk(m.stride, ks)
	go func() {
		defer close(w.chunks)
		var c Cursor
		for {
			var ch walkChunk
			select {
			case <-w.stop:
				return
			case ch = <-w.free:
			default:
				ch = walkChunk{keys: make([]byte, per*ks), values: make([]byte, per*m.stride)}
			}
			n, err := m.LookupBatch(&c, ch.keys, ch.values, UpdateAny)
			if err != nil {
				w.err = err // read by the consumer after chunks is closed
				return
			}
			if n == 0 {
				return
			}
			ch.n = n
			w.chunks <- ch
		}
	}()
	return w
}

// walkAheadChunks bounds the memory of a walk that runs ahead of its
// reader: 16 chunks of about 1 MiB.
const walkAheadChunks = 16

// mapWalk is a walk of a map running on its own goroutine.
type mapWalk struct {
	chunks chan walkChunk // closed at the end of the walk
	free   chan walkChunk
	stop   chan struct{} // closed when the reader stops
	err    error         // valid once chunks is closed
}

type walkChunk struct {
	keys, values []byte
	n            int
}

// recycle hands a read chunk's buffers back to the walk.
func (w *mapWalk) recycle(ch walkChunk) {
	select {
	case w.free <- ch:
	default:
	}
}

// drain stops the walk and waits for its goroutine to end.
func (w *mapWalk) drain() {
	close(w.stop)
	for range w.chunks {
	}
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

// deleteStale deletes (or, in arrays, zeroes) the stale keys in chunks. A
// key someone else deleted first is skipped, not an error.
func (m *Map) deleteStale(ctx context.Context, d syncDiff, chunk int, progress func(int)) (int, error) {
	ks := int(m.info.KeySize)
	total := len(d.stale) / ks
	if !m.info.Type.canDelete() {
		zeros := make([]byte, total*m.stride)
		return m.UpdateBatchWith(ctx, d.stale, zeros, BatchOptions{Chunk: chunk, Progress: progress})
	}
	type result struct {
		n int
		f fault
	}
	done := 0
	for pos := 0; pos < total; {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n := min(total-pos, chunk)
		r, err := withFD(m, "sync", func(fd *sys.FD) (result, error) {
			deleted, f := m.deleteKeys(fd, d.stale[pos*ks:(pos+n)*ks], n, pos)
			return result{deleted, f}, nil
		})
		if err != nil {
			return done, err
		}
		done += r.n
		pos += r.n
		switch {
		case !r.f.failed():
		case r.f.errno == unix.ENOENT && r.f.index >= 0:
			pos++ // gone already: done too, for Progress
		default:
			return done, m.elemError(r.f, 0, total, done, nil)
		}
		progress(pos)
	}
	return done, nil
}

// deleteChunk bounds one BPF_MAP_DELETE_BATCH of Sync by default, so that
// cancellation and Progress get a say.
const deleteChunk = 4096
