package bpfbatch

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// How a parallel walk may split a map. The kernel's batch cursor is
// internal to it (kernel/bpf/hashtab.c, generic_map_lookup_batch): before a
// walk is split, a probe proves on the map itself, once per Map, that the
// cursor behaves as the split assumes. The probes only read. A map whose
// probe disagrees walks once, sequentially.

// walkLayout is what the probe proved about a map's cursor.
type walkLayout uint8

const (
	layoutUnknown walkLayout = iota
	// layoutSequential: no split is proven; walk once.
	layoutSequential
	// layoutBuckets: the cursor is a u32 bucket index below
	// n_buckets = roundup_pow_of_two(max_entries); a call copies whole
	// buckets from in_batch on and sets out_batch to the first bucket it
	// did not copy (__htab_map_lookup_and_delete_batch).
	layoutBuckets
	// layoutIndices: the cursor is the last index returned and the walk
	// goes up by index (array_map_get_next_key).
	layoutIndices
	// layoutTrie: the cursor is the last key returned and the walk goes
	// up in trieCompare's order (trie_get_next_key); proven by a whole
	// walk that checked every step (walkTrie).
	layoutTrie
)

// probeRetries is how often the nested walks of the hash probe may
// disagree before the map is walked sequentially for good: a map that
// changes under the probe can make them disagree once.
const probeRetries = 3

// walkProbe is a Map's cached probe result.
type walkProbe struct {
	mu       sync.Mutex
	layout   walkLayout
	failures int
	// trie is what the last complete walk of an LPM trie saw: keys to
	// start parts at. nil until a walk has checked the trie's order.
	trie *trieSamples

	// What parallel walks did, for tests: the parts of the last one, and
	// how many hash part ends were settled by the next part's record or
	// by attribute.
	parts       atomic.Int32
	byRecord    atomic.Int64
	byAttribute atomic.Int64
}

// walkLayoutFor returns how a walk with flags may split m, probed once per
// Map (with flags 0: the cursor does not depend on BPF_F_LOCK). A walk that
// reads one CPU's values (OnCPU), a map without BPF_MAP_LOOKUP_BATCH
// (walked element by element) and any other map type walk sequentially.
// So does a map whose probe failed with an errno, this time (the
// sequential walk then reports what is wrong, if it lasts).
func (m *Map) walkLayoutFor(fd *sys.FD, flags Flags) walkLayout {
	if flags&perCPUFlags != 0 {
		return layoutSequential
	}
	p := &m.walkProbe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.layout != layoutUnknown {
		return p.layout
	}
	var proven, final bool
	layout := layoutSequential
	switch {
	case m.perElement(fd, &m.readPath, sys.MapLookupBatch):
		proven, final = false, true
	case m.info.Type.hashCursor():
		layout = layoutBuckets
		proven, final = m.probeBuckets(fd)
	case m.info.Type == Array || m.info.Type == PerCPUArray || m.info.Type == ArrayOfMaps:
		layout = layoutIndices
		proven, final = m.probeIndices(fd)
	case m.info.Type == LPMTrie && m.info.KeySize > 4:
		// The order is proven by the first walk (walkTrie).
		layout, proven, final = layoutTrie, true, true
	default:
		proven, final = false, true
	}
	switch {
	case proven:
		p.layout = layout
	case final:
		p.layout = layoutSequential
	default:
		if p.failures++; p.failures >= probeRetries {
			p.layout = layoutSequential
		}
	}
	if !proven {
		return layoutSequential
	}
	return layout
}

// bucketCount is the kernel's n_buckets for a hash map of max_entries
// (htab_map_alloc): max_entries rounded up to a power of two. The kernel
// refuses max_entries above 1<<31.
func bucketCount(maxEntries uint32) uint32 {
	switch {
	case maxEntries <= 1:
		return 1
	case maxEntries > 1<<31:
		return 0 // no such hash map
	}
	return 1 << bits.Len32(maxEntries-1)
}

// probeRead is one read of the probe: where it started (nil: the start),
// the keys it returned (a copy), the cursor the kernel wrote, and whether
// it said the walk ended.
type probeRead struct {
	start []byte
	keys  []byte
	n     int
	out   []byte
	end   bool
}

// probeBuckets proves the hash cursor on m: reading past the last bucket
// ends at once without writing out_batch, reading from the last bucket
// ends with out_batch = n_buckets, and walks nested at the start and in
// the middle agree with each other. It returns whether the layout is
// proven, and whether a failure is final (the cursor's shape is not the
// one the split needs) or may be the map changing under the probe.
func (m *Map) probeBuckets(fd *sys.FD) (proven, final bool) {
	n := bucketCount(m.info.MaxEntries)
	if n == 0 {
		return false, true
	}
	// Past the last bucket: ENOENT, nothing read, out_batch not written.
	// (An errno is no answer: the next walk probes again.)
	r, errno := m.probeOnce(fd, bucketCursor(n), 1)
	if errno != 0 {
		return false, false
	}
	if !r.end || r.n != 0 || !bytes.Equal(r.out, probeUnwritten(4)) {
		return false, true
	}
	// From the last bucket: the end, and out_batch = n_buckets.
	if r, ok := m.probeGrow(fd, bucketCursor(n-1), 16); !ok || !r.end || r.bucket() != n {
		return false, ok
	}

	// From the start: an explicit bucket 0 is the start, and the nested
	// reads agree.
	const count = 64
	a, ok := m.probeGrow(fd, nil, count)
	if !ok {
		return false, false
	}
	if a0, ok := m.probeGrow(fd, bucketCursor(0), count); !ok || !a0.same(a) {
		return false, false
	}
	if a.end {
		return a.bucket() == n, false // the whole map in one read
	}
	if !m.probeNested(fd, a, n) {
		return false, false
	}
	// The same from the middle, which must return none of the keys the
	// start returned.
	mid := n / 2
	if mid <= a.bucket() {
		return true, false
	}
	s, ok := m.probeGrow(fd, bucketCursor(mid), count)
	if !ok || !s.end && s.bucket() <= mid || s.end && s.bucket() != n {
		return false, false
	}
	ks := int(m.info.KeySize)
	for i := range s.n {
		if keyIndex(a.keys, s.keys[i*ks:(i+1)*ks]) >= 0 {
			return false, false
		}
	}
	if s.end {
		return true, false
	}
	return m.probeNested(fd, s, n), false
}

// probeNested checks the reads around a (which did not end): b resumes at
// a's out_batch; one read of both counts from a's start returns a's keys
// and then b's, and stops where b did; a read from a bucket inside a's
// returns a suffix of a's keys and then b's.
func (m *Map) probeNested(fd *sys.FD, a probeRead, n uint32) bool {
	ks := int(m.info.KeySize)
	b, ok := m.probeGrow(fd, a.out, 64)
	if !ok || !b.end && b.bucket() <= a.bucket() || b.end && b.bucket() != n {
		return false
	}
	both := append(bytes.Clone(a.keys), b.keys...)
	if seenTwice(both, ks) {
		return false
	}
	ab, errno := m.probeOnce(fd, a.start, a.n+b.n)
	if errno != 0 || !bytes.Equal(ab.keys, both) || ab.end != b.end || ab.bucket() != b.bucket() {
		return false
	}
	first := uint32(0)
	if a.start != nil {
		first = binary.NativeEndian.Uint32(a.start)
	}
	if a.bucket()-first < 2 {
		return true
	}
	inside, ok := m.probeGrow(fd, bucketCursor(first+(a.bucket()-first)/2), a.n+b.n)
	if !ok || inside.n == 0 {
		return false
	}
	j := keyIndex(both, inside.keys[:ks])
	if j < 0 || j > a.n {
		return false
	}
	rest := both[j*ks:]
	return len(inside.keys) >= len(rest) && bytes.Equal(inside.keys[:len(rest)], rest)
}

// bucketCursor is a hash map cursor at bucket b, on the heap.
func bucketCursor(b uint32) []byte { return binary.NativeEndian.AppendUint32(make([]byte, 0, 4), b) }

// bucket is the bucket a hash map read set out_batch to.
func (r probeRead) bucket() uint32 { return binary.NativeEndian.Uint32(r.out) }

// probeUnwritten is what an out_batch buffer of size bytes holds before a
// probe read: a pattern no cursor of the probed maps has.
func probeUnwritten(size int) []byte { return bytes.Repeat([]byte{0xa5}, size) }

// probeOnce issues one read of count elements after in (nil: the start)
// and copies what it returned; out_batch is as big as the map's cursor.
func (m *Map) probeOnce(fd *sys.FD, in []byte, count int) (probeRead, unix.Errno) {
	var b walkBuf
	b.reserve(count, int(m.info.KeySize), m.stride)
	r := probeRead{start: in, out: probeUnwritten(m.cursorSize())}
	n, end, errno := lookupBatchAt(fd, in, r.out, b.keys, b.values, count, UpdateAny)
	if errno != 0 {
		return r, errno
	}
	r.keys, r.n, r.end = b.keys[:n*int(m.info.KeySize)], n, end
	return r, 0
}

// probeGrow is probeOnce that doubles count while the kernel answers
// ENOSPC (a hash bucket bigger than count).
func (m *Map) probeGrow(fd *sys.FD, in []byte, count int) (probeRead, bool) {
	for {
		r, errno := m.probeOnce(fd, in, count)
		if errno == unix.ENOSPC && uint64(2*count) <= growLimit(m) {
			count *= 2
			continue
		}
		return r, errno == 0
	}
}

// same reports whether two reads returned the same keys and cursor.
func (r probeRead) same(o probeRead) bool {
	return r.n == o.n && r.end == o.end && bytes.Equal(r.out, o.out) && bytes.Equal(r.keys, o.keys)
}

// keyIndex returns the index of key among keys (len(key) bytes each), or
// -1.
func keyIndex(keys, key []byte) int {
	ks := len(key)
	for i := 0; i+ks <= len(keys); i += ks {
		if bytes.Equal(keys[i:i+ks], key) {
			return i / ks
		}
	}
	return -1
}

// seenTwice reports whether keys (size bytes each) holds a key twice.
func seenTwice(keys []byte, size int) bool {
	seen := make(map[string]bool, len(keys)/size)
	for i := 0; i+size <= len(keys); i += size {
		k := string(keys[i : i+size])
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// growLimit is the most elements a read grown for one hash bucket may ask
// for: a bucket cannot hold more than the map (readBucket's bound).
func growLimit(m *Map) uint64 { return min(math.MaxUint32, 2*uint64(m.info.MaxEntries)+64) }

// cursorSize is the bytes the kernel writes to out_batch: a u32 bucket for
// hash maps, the last key for the others.
func (m *Map) cursorSize() int {
	if m.info.Type.hashCursor() {
		return 4
	}
	return int(m.info.KeySize)
}
