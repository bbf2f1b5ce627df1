package bpfbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// walked collects what a walk passed to fn, from every goroutine fn runs
// on, and notes a key passed twice.
type walked struct {
	mu           sync.Mutex
	ks           int
	seen         map[string]bool
	keys, values [][]byte
	calls        int
	twice        []byte
}

func newWalked(m *Map) *walked { return &walked{ks: int(m.Info().KeySize), seen: map[string]bool{}} }

func (w *walked) fn(keys, values []byte, n int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	stride := len(values) / n
	for i := range n {
		k := bytes.Clone(keys[i*w.ks : (i+1)*w.ks])
		if w.seen[string(k)] && w.twice == nil {
			w.twice = k
		}
		w.seen[string(k)] = true
		w.keys = append(w.keys, k)
		w.values = append(w.values, bytes.Clone(values[i*stride:(i+1)*stride]))
	}
	return nil
}

// walkAll walks m with opts and fails the test on an error or a key
// passed to fn twice.
func walkAll(t testing.TB, m *Map, opts WalkOptions) *walked {
	t.Helper()
	w := newWalked(m)
	if err := m.Walk(context.Background(), opts, w.fn); err != nil {
		t.Fatalf("Walk(%+v): %v", opts, err)
	}
	if w.twice != nil {
		t.Fatalf("Walk(%+v) passed key %x to fn twice", opts, w.twice)
	}
	return w
}

// splitAlways makes every walk with Workers > 1 split, however small the
// map, for the rest of the test.
func splitAlways(t testing.TB) {
	old := walkSplitMin
	walkSplitMin = 1
	t.Cleanup(func() { walkSplitMin = old })
}

// wantLayout is how this kernel lets a parallel walk split a map of type
// typ: by bucket, index or key where it has BPF_MAP_LOOKUP_BATCH for the
// type (5.6; per-CPU arrays and LPM tries 5.13; map-in-map types 5.19),
// else not at all.
func wantLayout(typ MapType) walkLayout {
	if !hasBatchOps(typ) {
		return layoutSequential
	}
	switch {
	case typ.hashCursor():
		return layoutBuckets
	case typ == LPMTrie:
		return layoutTrie
	}
	return layoutIndices
}

// Every element of every map type is passed to fn exactly once, with the
// value a raw lookup reads, whatever Workers and Batch are; where this
// kernel lets the walk split the map it does (every walk with Workers > 1
// after the first of an LPM trie, which learns where to split), elsewhere
// it walks once.
func TestWalkEveryMapTypeExactlyOnce(t *testing.T) {
	splitAlways(t)
	// 2000 elements: parts of 500-1000, many reads each at Batch 1 and 7.
	// 12000 at Batch 4096: parts of 6000 with Workers 2 (a part's first
	// read stays inside it), of 3000 with Workers 4 (it runs past).
	// Map-in-map types get 500 at Batch 1 and 7 only: their syscalls are
	// slow in the CI's emulated VMs (seconds per thousand on 5.10 and 6.1).
	for _, size := range []struct {
		n       int
		batches []int
	}{{2000, []int{1, 7}}, {12000, []int{4096}}} {
		for _, spec := range batchMapSpecs(uint32(size.n)) {
			n := size.n
			if spec.Type == ArrayOfMaps || spec.Type == HashOfMaps {
				if size.n > 2000 {
					continue
				}
				n, spec.MaxEntries = 500, 500
			}
			t.Run(fmt.Sprintf("%s/n=%d", specName(spec), n), func(t *testing.T) {
				inner := needsInner(t, &spec)
				m := createMap(t, spec)
				rng := rand.New(rand.NewPCG(11, uint64(spec.Type)))
				keys := testKeys(m, n, rng)
				if _, err := m.UpdateBatch(keys, testValues(t, m, n, rng, true, inner), UpdateAny); err != nil {
					t.Fatal(err)
				}
				want := rawContents(t, m, keys)
				layout := wantLayout(spec.Type)
				learned := false
				for workers := 1; workers <= 4; workers++ {
					if layout == layoutSequential && workers%3 != 1 {
						continue // Workers 1 and 4 show it: one walk either way
					}
					for _, batch := range size.batches {
						opts := WalkOptions{Workers: workers, Batch: batch}
						want.check(t, walkAll(t, m, opts))
						if workers == 1 {
							continue
						}
						parts := int(m.walkProbe.parts.Load())
						switch {
						case layout == layoutSequential && parts != 1:
							t.Fatalf("kernel %s: %+v split a %s map it cannot split into %d parts", testutil.KernelRelease(), opts, spec.Type, parts)
						case layout == layoutTrie && !learned:
							learned = true // the first walk learns where to split
						case layout != layoutSequential && parts != workers:
							t.Fatalf("kernel %s: %+v walked a %s map in %d parts, want %d", testutil.KernelRelease(), opts, spec.Type, parts, workers)
						}
					}
				}
				if got := m.walkProbe.layout; got != layout {
					t.Fatalf("kernel %s: the probe decided %d for a %s map, want %d", testutil.KernelRelease(), got, spec.Type, layout)
				}
			})
		}
	}
}

// contents is what a map holds, read with a raw BPF_MAP_LOOKUP_ELEM per
// key, once, for the walks of a map that does not change.
type contents map[string][]byte

func rawContents(t testing.TB, m *Map, keys []byte) contents {
	t.Helper()
	ks := int(m.Info().KeySize)
	c := contents{}
	for i := 0; i < len(keys); i += ks {
		v, err := testutil.Lookup(m.FD(), keys[i:i+ks], m.ValueStride())
		if err != nil {
			t.Fatalf("key %x: raw lookup: %v", keys[i:i+ks], err)
		}
		c[string(keys[i:i+ks])] = v
	}
	return c
}

// check asserts that the walk passed every key once (walkAll checked that
// none came twice), with the value the raw lookup read, and nothing else.
func (c contents) check(t testing.TB, w *walked) {
	t.Helper()
	if len(w.keys) != len(c) {
		t.Fatalf("the walk passed %d elements, the map holds %d", len(w.keys), len(c))
	}
	for i, k := range w.keys {
		v, ok := c[string(k)]
		if !ok {
			t.Fatalf("the walk passed key %x, which was never written", k)
		}
		if !bytes.Equal(v, w.values[i]) {
			t.Fatalf("key %x: the walk passed %x, a raw lookup reads %x", k, w.values[i], v)
		}
	}
}

// On a map that does not change, every part end a read runs past is
// settled by the next part's boundary, also when parts hold fewer elements
// than a read (a part's first read then runs past its end, and its
// boundary takes in the next part's).
func TestWalkHashPartEndsSettledByBoundaries(t *testing.T) {
	splitAlways(t)
	const n = 20000
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	keys := testKeys(m, n, rand.New(rand.NewPCG(5, 5)))
	if _, err := m.UpdateBatch(keys, make([]byte, n*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{64, 6000} {
		m.walkProbe.byRecord.Store(0)
		m.walkProbe.byAttribute.Store(0)
		w := walkAll(t, m, WalkOptions{Workers: 4, Batch: batch})
		checkWalk(t, m, keys, w.keys, w.values)
		// A part's last read may also end at the part's end exactly.
		if rec, attr := m.walkProbe.byRecord.Load(), m.walkProbe.byAttribute.Load(); rec == 0 || rec > 3 || attr != 0 {
			t.Fatalf("Batch %d: %d part ends settled by boundaries, %d by attribute; want 1-3 and 0", batch, rec, attr)
		}
	}
}

// Under churn of other keys (a goroutine adding and deleting them during
// every walk), each key that stays in a hash map is passed to fn exactly
// once, with its value, and no key twice. On an LPM trie no key comes
// twice either, but a key that stays may be missed: the kernel's
// trie_get_next_key, every walk of a trie goes through, can skip keys while
// others are added or deleted (seen on 6.18 with raw BPF_MAP_LOOKUP_BATCH
// walks: about one skip per two million steps), so misses are counted,
// not failed. LPM tries walked sequentially (5.10, whose tries have no
// batch lookup) are not covered: a sequential walk by key starts again
// from the first key when the key it stood on is deleted.
func TestWalkUnderChurnReturnsEachUntouchedKeyOnce(t *testing.T) {
	splitAlways(t)
	const stay, churn = 1500, 1500
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: stay + churn},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: stay + churn},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4 * (stay + churn)},
		{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: stay + churn, Flags: noPrealloc},
	} {
		t.Run(specName(spec), func(t *testing.T) {
			m := createMap(t, spec)
			if wantLayout(spec.Type) == layoutSequential {
				w := walkAll(t, m, WalkOptions{Workers: 2})
				if len(w.keys) != 0 || m.walkProbe.layout != layoutSequential {
					t.Fatalf("kernel %s: %s walks in parts", testutil.KernelRelease(), spec.Type)
				}
				return
			}
			rng := rand.New(rand.NewPCG(9, uint64(spec.Type)))
			all := testKeys(m, stay+churn, rng)
			ks, stride := int(spec.KeySize), m.ValueStride()
			staying, churning := all[:stay*ks], all[stay*ks:]
			values := testValues(t, m, stay+churn, rng, false, nil)
			if _, err := m.UpdateBatch(staying, values[:stay*stride], UpdateAny); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			var churned atomic.Int64
			var wg sync.WaitGroup
			churner := func() {
				r := rand.New(rand.NewPCG(1, 1))
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := r.IntN(churn)
					key := churning[i*ks : (i+1)*ks]
					if r.IntN(2) == 0 {
						testutil.Update(m.FD(), key, values[(stay+i)*stride:(stay+i+1)*stride], 0)
					} else {
						testutil.Delete(m.FD(), key)
					}
					churned.Add(1)
				}
			}
			wg.Go(churner)
			defer func() { close(stop); wg.Wait() }()

			inAll := map[string]bool{}
			for i := range stay + churn {
				inAll[string(all[i*ks:(i+1)*ks])] = true
			}
			if spec.Type == LPMTrie {
				// The first walk learns where to split the trie, walking
				// it once by key, as LookupBatch does: a walk that starts
				// again from the first key when the key it stood on is
				// deleted. It must see a trie that does not change.
				close(stop)
				wg.Wait()
				walkAll(t, m, WalkOptions{Workers: 2})
				stop = make(chan struct{})
				wg.Go(churner)
			}
			for _, workers := range []int{1, 2, 4} {
				if workers == 1 && spec.Type == LPMTrie {
					continue // a sequential walk of a trie is by key
				}
				// Batch 700: parts of about 500 with Workers 4 (first
				// reads run past their end); 16: many reads.
				for _, batch := range []int{16, 700, 4096} {
					before := churned.Load()
					w := newWalked(m)
					err := m.Walk(context.Background(), WalkOptions{Workers: workers, Batch: batch}, func(keys, values []byte, n int) error {
						// Let the churn run between reads: at least one
						// change during each call.
						for c := churned.Load(); churned.Load() == c; {
							time.Sleep(10 * time.Microsecond)
						}
						return w.fn(keys, values, n)
					})
					if err != nil || w.twice != nil {
						t.Fatalf("Workers %d, Batch %d: %v; key passed twice: %x", workers, batch, err, w.twice)
					}
					got := map[string][]byte{}
					for i, k := range w.keys {
						if !inAll[string(k)] {
							t.Fatalf("Workers %d, Batch %d: key %x was never written", workers, batch, k)
						}
						got[string(k)] = w.values[i]
					}
					for i := range stay {
						k := staying[i*ks : (i+1)*ks]
						v, ok := got[string(k)]
						if !ok && spec.Type == LPMTrie {
							t.Logf("Workers %d, Batch %d: the kernel's walk skipped key %x, in the map throughout", workers, batch, k)
							continue
						}
						if !ok {
							t.Fatalf("Workers %d, Batch %d: key %x, in the map throughout, was not passed to fn", workers, batch, k)
						}
						if want := asStored(m, values[i*stride:(i+1)*stride]); !bytes.Equal(v, want) {
							t.Fatalf("Workers %d, Batch %d: key %x: %x, want %x", workers, batch, k, v, want)
						}
					}
					if churned.Load() == before {
						t.Fatalf("Workers %d, Batch %d: no churn during the walk", workers, batch)
					}
				}
			}
		})
	}
}

// Empty maps: fn is never called, with any Workers. Arrays are never
// empty: every index exists.
func TestWalkEmptyMaps(t *testing.T) {
	splitAlways(t)
	for _, spec := range batchMapSpecs(1000) {
		if spec.Type.IsArray() && spec.Type != ArrayOfMaps {
			continue
		}
		t.Run(specName(spec), func(t *testing.T) {
			needsInner(t, &spec)
			m := createMap(t, spec)
			for _, workers := range []int{1, 4} {
				if w := walkAll(t, m, WalkOptions{Workers: workers, Batch: 7}); w.calls != 0 {
					t.Fatalf("Workers %d: fn called %d times on an empty map", workers, w.calls)
				}
			}
		})
	}
}

// A sparse map (few elements, many buckets or slots) walks once with the
// default split threshold: its first read, which reaches far to fill a
// batch, says there is too little to split. Split anyway, it still passes
// every element once.
func TestWalkSparseMaps(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 20, Flags: noPrealloc},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 16},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 18, Flags: noPrealloc},
		{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1 << 12},
	} {
		t.Run(specName(spec), func(t *testing.T) {
			inner := needsInner(t, &spec)
			m := createMap(t, spec)
			n := 100
			if spec.Type == ArrayOfMaps {
				n = 10
			}
			rng := rand.New(rand.NewPCG(3, uint64(spec.Type)))
			keys := testKeys(m, n, rng)
			if spec.Type == ArrayOfMaps { // scattered slots
				for i := range n {
					binary.NativeEndian.PutUint32(keys[4*i:], uint32(i)*2654435761%(1<<12))
				}
			}
			if _, err := m.UpdateBatch(keys, testValues(t, m, n, rng, false, inner), UpdateAny); err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{2, 4} {
				w := walkAll(t, m, WalkOptions{Workers: workers})
				checkWalk(t, m, keys, w.keys, w.values)
				if parts := m.walkProbe.parts.Load(); parts != 1 {
					t.Fatalf("Workers %d: a map of %d elements walked in %d parts", workers, n, parts)
				}
			}
			splitAlways(t)
			for _, batch := range []int{1, 7, 4096} {
				w := walkAll(t, m, WalkOptions{Workers: 4, Batch: batch})
				checkWalk(t, m, keys, w.keys, w.values)
			}
		})
	}
}

// An error from fn ends the walk and is returned as is; after it, at most
// Workers further fn calls start (none with one worker).
func TestWalkStopsAtFnError(t *testing.T) {
	splitAlways(t)
	m := filledHash(t, 20000)
	errStop := errors.New("stop")
	for workers := 1; workers <= 4; workers++ {
		var calls, after atomic.Int64
		var failed atomic.Bool
		err := m.Walk(context.Background(), WalkOptions{Workers: workers, Batch: 7}, func(_, _ []byte, _ int) error {
			if failed.Load() {
				// The walk learns of the error when the failing call
				// returns, a moment after failed is set (longer if its
				// thread is preempted): a call that starts in between
				// takes long enough for the walk to know by its end, so
				// a part starts one call after failed at most.
				after.Add(1)
				time.Sleep(50 * time.Millisecond)
				return nil
			}
			if calls.Add(1) == 20 {
				failed.Store(true)
				return errStop
			}
			return nil
		})
		if err != errStop {
			t.Fatalf("Workers %d: Walk = %v, want fn's error", workers, err)
		}
		if limit := int64(workers - 1); after.Load() > limit {
			t.Fatalf("Workers %d: %d fn calls started after fn failed, want at most %d", workers, after.Load(), limit)
		}
	}
}

// ctx cancelled during the walk ends it with ctx.Err(); after the cancel at
// most Workers further fn calls start. A ctx done before the walk starts
// calls fn never.
func TestWalkStopsAtCancel(t *testing.T) {
	splitAlways(t)
	m := filledHash(t, 20000)
	for workers := 1; workers <= 4; workers++ {
		ctx, cancel := context.WithCancel(context.Background())
		var calls, after atomic.Int64
		var cancelled atomic.Bool
		err := m.Walk(ctx, WalkOptions{Workers: workers, Batch: 7}, func(_, _ []byte, _ int) error {
			if cancelled.Load() {
				after.Add(1)
			}
			if calls.Add(1) == 20 {
				cancel()
				cancelled.Store(true)
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Workers %d: Walk = %v, want context.Canceled", workers, err)
		}
		if after.Load() > int64(workers) {
			t.Fatalf("Workers %d: %d fn calls started after the cancel, want at most %d", workers, after.Load(), workers)
		}
		calls.Store(0)
		if err := m.Walk(ctx, WalkOptions{Workers: workers}, func(_, _ []byte, _ int) error { calls.Add(1); return nil }); !errors.Is(err, context.Canceled) || calls.Load() != 0 {
			t.Fatalf("Workers %d: Walk with a done ctx = %v after %d fn calls", workers, err, calls.Load())
		}
	}
}

// With Workers > 1, fn runs on several goroutines at once: the first call
// of each part waits here until every part has made one.
func TestWalkRunsFnAtOnce(t *testing.T) {
	splitAlways(t)
	m := filledHash(t, 20000)
	for _, workers := range []int{2, 4} {
		var arrived sync.WaitGroup
		arrived.Add(workers)
		var once sync.Map
		all := make(chan struct{})
		go func() { arrived.Wait(); close(all) }()
		var waits atomic.Int64
		err := m.Walk(context.Background(), WalkOptions{Workers: workers, Batch: 64}, func(keys, _ []byte, n int) error {
			// A part's first call is the first of its goroutine; tell
			// goroutines apart by the first key they see only once.
			if _, loaded := once.LoadOrStore(goroutineID(), true); !loaded {
				arrived.Done()
				select {
				case <-all:
				case <-time.After(10 * time.Second):
					return errors.New("the other parts never called fn meanwhile")
				}
				waits.Add(1)
			}
			return nil
		})
		if err != nil || waits.Load() != int64(workers) {
			t.Fatalf("Workers %d: %v (%d parts waited for each other)", workers, err, waits.Load())
		}
	}
}

// goroutineID is the calling goroutine's number, from its stack header.
func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := bytes.Fields(b)
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// An LPM trie splits at keys the previous walk saw, in the kernel's walk
// order, also when those keys have been deleted since (a part then starts
// after an earlier key, or at the start, and skips what is not its own).
// The trie mixes prefix lengths, so the order checked along the first walk
// is post-order, not address order.
func TestWalkTrieSplitsAtKeysItSaw(t *testing.T) {
	if !hasBatchOps(LPMTrie) {
		m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 16, Flags: noPrealloc})
		walkAll(t, m, WalkOptions{Workers: 2})
		if m.walkProbe.layout != layoutSequential {
			t.Fatalf("kernel %s: an LPM trie without batch lookups walks in parts", testutil.KernelRelease())
		}
		return
	}
	splitAlways(t)
	const n = 6000
	m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: n, Flags: noPrealloc})
	rng := rand.New(rand.NewPCG(4, 4))
	seen := map[netip.Prefix]bool{}
	var keys []byte
	for len(seen) < n {
		bitsLen := []int{8, 16, 20, 24, 28, 32}[rng.IntN(6)]
		p, _ := netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))}).Prefix(bitsLen)
		if seen[p] {
			continue
		}
		seen[p] = true
		keys = append(keys, lpmKey4(p)...)
	}
	if _, err := m.UpdateBatch(keys, make([]byte, n*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	w := walkAll(t, m, WalkOptions{Workers: 4, Batch: 64})
	checkWalk(t, m, keys, w.keys, w.values)
	trie := m.walkProbe.trieSamples()
	if m.walkProbe.parts.Load() != 1 || trie == nil || trie.total != n || m.walkProbe.layout != layoutTrie {
		t.Fatalf("the first walk did not learn the trie: %d parts, samples %v", m.walkProbe.parts.Load(), trie)
	}
	for _, batch := range []int{1, 64, 4096} {
		w = walkAll(t, m, WalkOptions{Workers: 4, Batch: batch})
		checkWalk(t, m, keys, w.keys, w.values)
		if parts := m.walkProbe.parts.Load(); parts != 4 {
			t.Fatalf("Batch %d: %d parts, want 4", batch, parts)
		}
	}
	// Delete every key the parts would start after: each part starts
	// after a key from before, or at the start.
	trie = m.walkProbe.trieSamples()
	if _, err := m.DeleteBatch(trie.keys, UpdateAny); err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for i := 0; i < len(trie.keys); i += 8 {
		gone[string(trie.keys[i:i+8])] = true
	}
	var left []byte
	for i := 0; i < len(keys); i += 8 {
		if !gone[string(keys[i:i+8])] {
			left = append(left, keys[i:i+8]...)
		}
	}
	for _, batch := range []int{7, 4096} {
		w = walkAll(t, m, WalkOptions{Workers: 4, Batch: batch})
		checkWalk(t, m, left, w.keys, w.values)
	}
}

// trieCompare is the order of the example in kernel/bpf/lpm_trie.c's
// trie_get_next_key: more specific prefixes first, then by address.
func TestTrieCompareIsPostOrder(t *testing.T) {
	var ordered [][]byte
	for _, s := range []string{"10.0.0.0/8", "192.168.0.7/32", "192.168.0.9/32", "192.168.0.0/24", "192.168.1.0/24", "192.168.128.0/24", "192.168.0.0/16", "192.169.0.0/16"} {
		ordered = append(ordered, lpmKey4(netip.MustParsePrefix(s)))
	}
	for i := range ordered {
		for j := range ordered {
			if got, want := trieCompare(ordered[i], ordered[j]), cmpInt(i, j); got != want {
				t.Errorf("trieCompare(%x, %x) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	// Host bits past the prefix length do not count.
	a := append(binary.NativeEndian.AppendUint32(nil, 16), 192, 168, 7, 7)
	if trieCompare(a, ordered[6]) != 0 {
		t.Error("host bits changed the order")
	}
}

// lpmKey4 is the 8-byte LPM trie key of an IPv4 prefix.
func lpmKey4(p netip.Prefix) []byte {
	a := p.Masked().Addr().As4()
	return append(binary.NativeEndian.AppendUint32(nil, uint32(p.Bits())), a[:]...)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// filledHash is a hash map of n elements, keys 0..n-1.
func filledHash(t testing.TB, n int) *Map {
	t.Helper()
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: uint32(n)})
	if _, err := m.UpdateBatch(indexKeys(n), make([]byte, n*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	return m
}

// The kernel facts the hash probe relies on, on this kernel: in_batch =
// n_buckets ends at once without writing out_batch; in_batch =
// n_buckets-1 ends with out_batch = n_buckets.
func TestWalkHashCursorFacts(t *testing.T) {
	for _, max := range []uint32{1, 5, 1000, 1024} {
		m := filledHash(t, int(max))
		n := bucketCount(max)
		kb, vb := make([]byte, 4*2048), make([]byte, 8*2048)
		out := probeUnwritten(4)
		count, errno := testutil.LookupBatch(m.FD(), bucketCursor(n), out, kb, vb, 2048)
		if errno != unix.ENOENT || count != 0 || !bytes.Equal(out, probeUnwritten(4)) {
			t.Fatalf("max_entries %d: from bucket %d: count %d, %v, out %x", max, n, count, errno, out)
		}
		count, errno = testutil.LookupBatch(m.FD(), bucketCursor(n-1), out, kb, vb, 2048)
		if errno != unix.ENOENT || binary.NativeEndian.Uint32(out) != n || count > max {
			t.Fatalf("max_entries %d: from bucket %d: count %d, %v, out %d; want ENOENT at %d", max, n-1, count, errno, binary.NativeEndian.Uint32(out), n)
		}
	}
}

// fakeHash is a hash map as __htab_map_lookup_and_delete_batch walks it,
// behind the fake kernel (fake_test.go): u32 keys in fixed buckets, u64
// values, whole buckets per read. lie makes its cursor other than the
// kernel's, in ways a sequential walk does not notice:
//   - "offsets": the cursor counts elements, not buckets;
//   - "double": twice the buckets the kernel has for max_entries;
//   - "stateful": a read goes on where the last one stopped, whatever
//     in_batch says (but for NULL and the last buckets).
type fakeHash struct {
	mu      sync.Mutex
	buckets [][]uint32
	values  map[uint32]uint64
	lie     string
	next    uint32
	// before and after, if set, run around each read with a count, with
	// in_batch (-1: NULL), without f.mu held.
	before, after func(in int64)
	reads         []int64 // in_batch of each read with a count, -1 for NULL
}

func newFakeHash(maxEntries uint32, keys int, lie string) *fakeHash {
	n := bucketCount(maxEntries)
	if lie == "double" {
		n *= 2
	}
	f := &fakeHash{buckets: make([][]uint32, n), values: map[uint32]uint64{}, lie: lie}
	for k := range uint32(keys) {
		f.add(k)
	}
	return f
}

func (f *fakeHash) bucket(k uint32) int { return int(k*2654435761>>7) % len(f.buckets) }

func (f *fakeHash) add(k uint32) {
	b := f.bucket(k)
	f.buckets[b] = append([]uint32{k}, f.buckets[b]...) // hlist_nulls_add_head
	f.values[k] = uint64(k)*3 + 1
}

func (f *fakeHash) remove(k uint32) {
	b := f.bucket(k)
	f.buckets[b] = bytesDelete(f.buckets[b], k)
	delete(f.values, k)
}

func bytesDelete(s []uint32, k uint32) []uint32 {
	for i, x := range s {
		if x == k {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

// newMap returns a Hash map of maxEntries whose syscalls go to f, as
// newFakeMap does; but calls are not serialized, so that a read can wait
// for reads of other parts.
func (f *fakeHash) newMap(t *testing.T, maxEntries uint32) *Map {
	t.Helper()
	raw, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sys.NewFD(raw)
	if err != nil {
		t.Fatal(err)
	}
	remove := sys.InjectFake(fd.Int(), func(cmd int, attr []byte) (uintptr, unix.Errno) { return 0, f.call(cmd, attr) })
	info := fakeInfo(Hash, 4, 8, maxEntries)
	m, err := mapFromInfo(fd, &info, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		remove()
		m.Close()
	})
	return m
}

// call is the fake kernel's answer to every command on the map.
func (f *fakeHash) call(cmd int, attr []byte) unix.Errno {
	if cmd == unix.BPF_MAP_LOOKUP_BATCH && decodeBatch(attr).Count > 0 {
		a := decodeBatch(attr)
		in := int64(-1)
		if a.InBatch != 0 {
			in = int64(binary.NativeEndian.Uint32(peek(a.InBatch, 4)))
		}
		if f.before != nil {
			f.before(in)
		}
		if f.after != nil {
			defer f.after(in)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd {
	case unix.BPF_MAP_LOOKUP_BATCH:
		return f.lookupBatch(attr)
	case unix.BPF_MAP_LOOKUP_ELEM:
		key := binary.NativeEndian.Uint32(peek(binary.NativeEndian.Uint64(attr[8:]), 4))
		v, ok := f.values[key]
		if !ok {
			return unix.ENOENT
		}
		poke(binary.NativeEndian.Uint64(attr[16:]), binary.NativeEndian.AppendUint64(nil, v))
		return 0
	}
	return unix.EINVAL
}

func (f *fakeHash) lookupBatch(attr []byte) unix.Errno {
	a := decodeBatch(attr)
	if a.Count == 0 {
		return 0 // the library's probe for the command
	}
	binary.NativeEndian.PutUint32(attr[uapiCount:], 0)
	in := int64(-1)
	if a.InBatch != 0 {
		in = int64(binary.NativeEndian.Uint32(peek(a.InBatch, 4)))
	}
	f.reads = append(f.reads, in)
	var order []uint32 // what the read returns, in order
	nb := uint32(len(f.buckets))
	start := uint32(max(in, 0))
	var out uint32
	errno := unix.Errno(0)
	if f.lie == "offsets" {
		var all []uint32
		for _, b := range f.buckets {
			all = append(all, b...)
		}
		if start >= uint32(len(all)) {
			return unix.ENOENT
		}
		order = all[start:min(uint32(len(all)), start+a.Count)]
		out = start + uint32(len(order))
		if out == uint32(len(all)) {
			errno = unix.ENOENT
		}
	} else {
		if f.lie == "stateful" && in >= 0 && start < nb-1 {
			start = f.next
		}
		if start >= nb {
			return unix.ENOENT
		}
		b := start
		for {
			if b >= nb {
				out, errno = nb, unix.ENOENT
				break
			}
			size := uint32(len(f.buckets[b]))
			if size == 0 {
				b++
				continue
			}
			if size > a.Count-uint32(len(order)) {
				out = b
				if len(order) == 0 {
					errno = unix.ENOSPC
				}
				break
			}
			order = append(order, f.buckets[b]...)
			b++
		}
		f.next = out
	}
	var keys, values []byte
	for _, k := range order {
		keys = binary.NativeEndian.AppendUint32(keys, k)
		values = binary.NativeEndian.AppendUint64(values, f.values[k])
	}
	poke(a.Keys, keys)
	poke(a.Values, values)
	poke(a.OutBatch, binary.NativeEndian.AppendUint32(nil, out))
	binary.NativeEndian.PutUint32(attr[uapiCount:], uint32(len(order)))
	return errno
}

// peek and poke read and write this process's memory at an address a
// fake kernel got in an attr. The address is reinterpreted, not converted,
// to a pointer: checkptr (under -race) rejects a uintptr-to-pointer
// conversion with no pointer operand, and process_vm_readv, which would avoid
// pointers altogether, is missing under qemu-user, where these tests run too.
// The caller keeps the memory alive for the call, as it does for the kernel.
func peek(addr uint64, n int) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(addrPointer(addr)), n)...)
}

func poke(addr uint64, b []byte) {
	if len(b) == 0 {
		return
	}
	copy(unsafe.Slice((*byte)(addrPointer(addr)), len(b)), b)
}

func addrPointer(addr uint64) unsafe.Pointer {
	u := uintptr(addr)
	return *(*unsafe.Pointer)(unsafe.Pointer(&u))
}

// walkFake walks a fake hash map with Workers 4 and checks that every key
// comes once, with its value.
func walkFake(t *testing.T, m *Map, f *fakeHash, batch int) {
	t.Helper()
	w := walkAll(t, m, WalkOptions{Workers: 4, Batch: batch})
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(w.keys) != len(f.values) {
		t.Fatalf("the walk passed %d keys, the map holds %d", len(w.keys), len(f.values))
	}
	for i, k := range w.keys {
		key := binary.NativeEndian.Uint32(k)
		if v, ok := f.values[key]; !ok || binary.NativeEndian.Uint64(w.values[i]) != v {
			t.Fatalf("key %d: %x, want %d (in the map: %v)", key, w.values[i], v, ok)
		}
	}
}

// A kernel whose batch cursor is not the bucket index the split needs
// (the fake lies) fails the probe: the walk does not split, and still
// passes every element once. The same fake telling the truth passes the
// probe and splits.
func TestWalkProbeFallsBackOnALyingCursor(t *testing.T) {
	splitAlways(t)
	for _, lie := range []string{"", "offsets", "double", "stateful"} {
		t.Run("lie="+lie, func(t *testing.T) {
			f := newFakeHash(1000, 700, lie)
			m := f.newMap(t, 1000)
			for _, batch := range []int{1, 7, 64} {
				walkFake(t, m, f, batch)
				parts := m.walkProbe.parts.Load()
				if lie == "" && (parts != 4 || m.walkProbe.layout != layoutBuckets) || lie != "" && parts != 1 {
					t.Fatalf("Batch %d: %d parts (layout %d)", batch, parts, m.walkProbe.layout)
				}
			}
			if lie != "" && m.walkProbe.layout != layoutSequential {
				t.Fatalf("after %d walks the probe still has not settled on one walk: layout %d", probeRetries, m.walkProbe.layout)
			}
		})
	}
}

// When every key a part's boundary lists is deleted before the part
// before it reads past its end, that part's last read cannot be settled by
// the boundary: attribute reads the buckets again and looks keys up. A key
// the part owning its bucket passed on, and deleted before that second
// read, is passed on once: the lookup drops it.
func TestWalkAttributesWhenTheBoundaryIsGone(t *testing.T) {
	splitAlways(t)
	// 64 buckets, 4 parts of 16, reads of 10. One key in each of buckets
	// 0-25 and 32-63. Part 1's first read returns buckets 16-25 and ends at
	// 32, its end: its boundary lists them, up to bucket 32. Part 0 reads
	// 0-9, then, once parts 1 and 2 have read and keys 16-25 are deleted,
	// 10-15 and 32-35, past the boundary, which lists none of them. The
	// victim, in bucket 32, is part 2's and in its first read; it is
	// deleted after part 0's read, before attribute's.
	f := newFakeHash(64, 0, "")
	for b := range 64 {
		if b >= 26 && b < 32 {
			continue
		}
		for k := uint32(0); len(f.buckets[b]) == 0; k++ {
			if _, taken := f.values[k]; !taken && f.bucket(k) == b {
				f.add(k)
			}
		}
	}
	victim := f.buckets[32][0]
	var gone []uint32
	for b := 16; b < 26; b++ {
		gone = append(gone, f.buckets[b][0])
	}
	total := len(f.values) - len(gone)
	read16, read32 := make(chan struct{}), make(chan struct{})
	var once16, once32 sync.Once
	f.before = func(in int64) {
		if in == 10 {
			for _, c := range []chan struct{}{read16, read32} {
				select {
				case <-c:
				case <-time.After(10 * time.Second):
					panic("parts 1 and 2 never read")
				}
			}
			f.mu.Lock()
			for _, k := range gone {
				f.remove(k)
			}
			f.mu.Unlock()
		}
	}
	f.after = func(in int64) {
		switch in {
		case 16:
			once16.Do(func() { close(read16) })
		case 32:
			once32.Do(func() { close(read32) })
		case 10:
			f.mu.Lock()
			f.remove(victim)
			f.mu.Unlock()
		}
	}
	m := f.newMap(t, 64)
	w := walkAll(t, m, WalkOptions{Workers: 4, Batch: 10})
	if m.walkProbe.parts.Load() != 4 || m.walkProbe.byAttribute.Load() != 1 || m.walkProbe.byRecord.Load() != 1 {
		t.Fatalf("%d parts, part ends settled %d by attribute and %d by record", m.walkProbe.parts.Load(), m.walkProbe.byAttribute.Load(), m.walkProbe.byRecord.Load())
	}
	// Every key once: keys 16-25 from part 1 (before they were deleted),
	// the victim from part 2.
	if len(w.keys) != total+len(gone) {
		t.Fatalf("%d keys passed on, want %d", len(w.keys), total+len(gone))
	}
}

// BenchmarkWalkSplitMin measures where splitting starts to pay: a hash map
// and an array of n elements walked with Workers 1 and, split whatever its
// size, Workers 2, walk by walk in alternation (alternateWalks). speedup
// is Workers 1's time over Workers 2's, aa Workers 1's over Workers 1's
// again: walkSplitMin is where speedup passes 1 with room.
func BenchmarkWalkSplitMin(b *testing.B) {
	for _, typ := range []MapType{Hash, Array} {
		for _, n := range []int{2048, 4096, 8192, 16384, 32768, 65536} {
			b.Run(fmt.Sprintf("map=%s/n=%d", typ, n), func(b *testing.B) {
				m := createMap(b, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: uint32(n)})
				keys := indexKeys(n)
				if typ == Hash {
					keys = testKeys(m, n, rand.New(rand.NewPCG(1, 1)))
				}
				if _, err := m.UpdateBatch(keys, make([]byte, 8*n), UpdateAny); err != nil {
					b.Fatal(err)
				}
				splitAlways(b)
				took := alternateWalks(b, m)
				b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N*n), "w1-ns/elem")
				b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N*n), "w2-ns/elem")
				b.ReportMetric(float64(took[0])/float64(took[1]), "speedup")
				b.ReportMetric(float64(took[0])/float64(took[2]), "aa")
			})
		}
	}
}

// alternateWalks walks m b.N times with Workers 1, Workers 2 and Workers 1
// again (the A/A control), in an order rotated from one group of walks to
// the next, and returns each one's total time.
func alternateWalks(b *testing.B, m *Map) [3]time.Duration {
	var took [3]time.Duration
	count := func(_, _ []byte, _ int) error { return nil }
	group := 0
	for b.Loop() {
		for k := range 3 {
			i := (k + group) % 3
			start := time.Now()
			if err := m.Walk(context.Background(), WalkOptions{Workers: []int{1, 2, 1}[i]}, count); err != nil {
				b.Fatal(err)
			}
			took[i] += time.Since(start)
		}
		group++
	}
	return took
}

// BenchmarkWalkSparse walks hash maps of 1M buckets holding few elements
// with Workers 1 and 2 (default split threshold), walk by walk in
// alternation (alternateWalks): a sparse map must not walk slower with
// Workers 2 than with one.
func BenchmarkWalkSparse(b *testing.B) {
	for _, n := range []int{100, 1000, 5000, 10000, 100000} {
		b.Run(fmt.Sprintf("map=Hash/max=1M/n=%d", n), func(b *testing.B) {
			m := createMap(b, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 20, Flags: noPrealloc})
			keys := testKeys(m, n, rand.New(rand.NewPCG(1, 1)))
			if _, err := m.UpdateBatch(keys, make([]byte, 8*n), UpdateAny); err != nil {
				b.Fatal(err)
			}
			took := alternateWalks(b, m)
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "w1-ns/walk")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "w2-ns/walk")
			b.ReportMetric(float64(took[0])/float64(took[1]), "speedup")
			b.ReportMetric(float64(took[0])/float64(took[2]), "aa")
			b.ReportMetric(float64(m.walkProbe.parts.Load()), "parts")
		})
	}
}

// A map read element by element (no BPF_MAP_LOOKUP_BATCH for its type on
// this kernel, here forced) and a walk of one CPU's values (OnCPU, Linux
// 7.0) walk once, whatever Workers is.
func TestWalkOnceWhereNoSplitIsProven(t *testing.T) {
	splitAlways(t)
	m := filledHash(t, 1000)
	m.readPath.Store(uint32(PerElementPath))
	w := walkAll(t, m, WalkOptions{Workers: 4, Batch: 64})
	checkWalk(t, m, indexKeys(1000), w.keys, w.values)
	if parts := m.walkProbe.parts.Load(); parts != 1 || m.walkProbe.layout != layoutSequential {
		t.Fatalf("per element: %d parts, layout %d", parts, m.walkProbe.layout)
	}

	p := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 1000})
	values := make([]byte, 1000*p.ValueStride())
	for i := range values {
		values[i] = byte(i * 7)
	}
	if _, err := p.UpdateBatch(indexKeys(1000), values, UpdateAny); err != nil {
		t.Fatal(err)
	}
	cpus, _ := PossibleCPUs()
	cpu := cpus - 1
	got := newWalked(p)
	err := p.Walk(context.Background(), WalkOptions{Workers: 4, Flags: OnCPU(cpu)}, got.fn)
	if !cpuFlagsKernel {
		if err == nil {
			t.Fatalf("kernel %s: Walk with OnCPU succeeded", testutil.KernelRelease())
		}
		return
	}
	if err != nil || len(got.keys) != 1000 || p.walkProbe.parts.Load() != 1 {
		t.Fatalf("OnCPU(%d): %v, %d keys, %d parts", cpu, err, len(got.keys), p.walkProbe.parts.Load())
	}
	for i, k := range got.keys {
		e := int(binary.NativeEndian.Uint32(k))
		if want := values[e*p.ValueStride()+cpu*8 : e*p.ValueStride()+cpu*8+8]; !bytes.Equal(got.values[i], want) {
			t.Fatalf("key %d CPU %d: %x, want %x", e, cpu, got.values[i], want)
		}
	}
}

// fakeArray is an array map as generic_map_lookup_batch walks it: the
// cursor is the last index returned. With lie "next" the cursor is the
// next index instead, which a sequential walk does not notice.
type fakeArray struct {
	max uint32
	lie string
}

func (f *fakeArray) call(cmd int, attr []byte) (uintptr, unix.Errno) {
	if cmd != unix.BPF_MAP_LOOKUP_BATCH {
		return 0, unix.EINVAL
	}
	a := decodeBatch(attr)
	if a.Count == 0 {
		return 0, 0
	}
	next := uint32(0)
	if a.InBatch != 0 {
		next = binary.NativeEndian.Uint32(peek(a.InBatch, 4))
		if f.lie == "" {
			next++
		}
	}
	binary.NativeEndian.PutUint32(attr[uapiCount:], 0)
	if next >= f.max {
		return 0, unix.ENOENT
	}
	n := min(a.Count, f.max-next)
	var keys, values []byte
	for i := next; i < next+n; i++ {
		keys = binary.NativeEndian.AppendUint32(keys, i)
		values = binary.NativeEndian.AppendUint64(values, uint64(i)*5)
	}
	poke(a.Keys, keys)
	poke(a.Values, values)
	out := next + n - 1
	if f.lie == "next" {
		out++
	}
	poke(a.OutBatch, binary.NativeEndian.AppendUint32(nil, out))
	binary.NativeEndian.PutUint32(attr[uapiCount:], n)
	if next+n == f.max {
		return 0, unix.ENOENT
	}
	return 0, 0
}

// The same for arrays: a cursor that is the next index rather than the
// last one returned fails the probe, and the walk does not split.
func TestWalkProbeFallsBackOnALyingArrayCursor(t *testing.T) {
	splitAlways(t)
	for _, lie := range []string{"", "next"} {
		f := &fakeArray{max: 1000, lie: lie}
		m := newFakeMap(t, fakeInfo(Array, 4, 8, 1000), &fakeKernel{other: func(cmd int, attr []byte) unix.Errno {
			_, errno := f.call(cmd, attr)
			return errno
		}})
		for _, batch := range []int{1, 7, 64} {
			w := walkAll(t, m, WalkOptions{Workers: 4, Batch: batch})
			if len(w.keys) != 1000 {
				t.Fatalf("lie %q, Batch %d: %d indices, want 1000", lie, batch, len(w.keys))
			}
			for i, k := range w.keys {
				if e := binary.NativeEndian.Uint32(k); binary.NativeEndian.Uint64(w.values[i]) != uint64(e)*5 {
					t.Fatalf("lie %q: index %d: %x", lie, e, w.values[i])
				}
			}
			wantParts := map[string]int32{"": 4, "next": 1}[lie]
			if parts := m.walkProbe.parts.Load(); parts != wantParts {
				t.Fatalf("lie %q, Batch %d: %d parts, want %d", lie, batch, parts, wantParts)
			}
		}
	}
}
