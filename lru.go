package bpfbatch

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/cpus"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// LRU maps evict before they are full: a write that evicts reports success,
// so what promises a map's contents must check afterwards.

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
	if !m.info.Type.Evicts() {
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
// kernel kept what was written: the elements written, or, when the input
// is too big for the map to hold without evicting, every input key (an
// eviction may take an unchanged one). Missing keys are ErrEvicted.
func (m *Map) checkNotEvicted(ctx context.Context, keys []byte, d *syncDiff) error {
	ks := int(m.info.KeySize)
	count := len(keys) / ks
	check, checked := d.write, len(d.write)
	if count > m.EvictionFreeSize() {
		check, checked = nil, count // every input key
	}
	missing, first, err := m.missing(ctx, keys, check)
	switch {
	case err != nil:
		return m.syncError(syncChecking, d, d.stats.Deleted, len(d.write), err)
	case missing > 0:
		e := m.syncError(syncEvicted, d, d.stats.Deleted, len(d.write), ErrEvicted)
		e.Missing, e.Checked, e.inputKeys, e.evictionFree = missing, checked, count, m.EvictionFreeSize()
		e.firstMissing = fmt.Sprintf("element %d, key %x", first, keys[first*ks:(first+1)*ks])
		return e
	}
	return nil
}

// CountMissing returns how many of keys (key_size bytes each) the map does
// not hold, and the index of the first of them (-1 when none), with one
// BPF_MAP_LOOKUP_ELEM per key, on several goroutines for many keys: what to
// check after writing into an LRU map, which may evict what it was given.
// It stops when ctx is done (every few thousand lookups) and returns
// ctx.Err().
func (m *Map) CountMissing(ctx context.Context, keys []byte) (missing, first int, err error) {
	if m != nil && m.info.KeySize > 0 && len(keys)%int(m.info.KeySize) != 0 {
		return 0, -1, m.sizeError(SizeError{Op: opLookup, Buffer: "keys", Got: len(keys), Want: int(m.info.KeySize)})
	}
	return m.missing(ctx, keys, nil)
}

// missingParallel is the key count from which missing looks keys up on
// several goroutines, and missingCtxEvery how many lookups it makes between
// two looks at ctx.
const (
	missingParallel = 1 << 14
	missingCtxEvery = 4096
)

// missing counts the keys (those at the indices which, or all) that the map
// does not hold, and finds the first.
func (m *Map) missing(ctx context.Context, keys []byte, which []int) (missing, first int, err error) {
	r, err := withFD(m, opLookup, func(fd *sys.FD) (missingCount, error) {
		if err := m.checkReadable(opLookup); err != nil {
			return missingCount{}, err
		}
		n := len(which)
		if which == nil {
			n = len(keys) / max(1, int(m.info.KeySize))
		}
		parts := 1
		if n >= missingParallel {
			parts = min(runtime.GOMAXPROCS(0), 8)
		}
		counts := make([]missingCount, parts)
		var wg sync.WaitGroup
		for p := range parts {
			wg.Go(func() { counts[p] = m.missingIn(ctx, fd, keys, which, p*n/parts, (p+1)*n/parts) })
		}
		wg.Wait()
		total := missingCount{first: -1}
		for _, c := range counts { // in the keys' order
			if c.err != nil {
				return total, c.err
			}
			total.missing += c.missing
			if total.first < 0 {
				total.first = c.first
			}
		}
		return total, nil
	})
	return r.missing, r.first, err
}

// missingCount is what missingIn found.
type missingCount struct {
	missing, first int
	err            error
}

// missingIn looks up keys lo to hi (of which, or of all).
func (m *Map) missingIn(ctx context.Context, fd *sys.FD, keys []byte, which []int, lo, hi int) missingCount {
	ks := int(m.info.KeySize)
	c := missingCount{first: -1}
	value := make([]byte, m.stride)
	for j := lo; j < hi; j++ {
		if (j-lo)%missingCtxEvery == 0 && ctx.Err() != nil {
			c.err = ctx.Err()
			return c
		}
		i := j
		if which != nil {
			i = which[j]
		}
		attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], value, UpdateAny)
		switch errno := sys.MapLookupElem(&attr); errno {
		case 0:
		case unix.ENOENT:
			if c.missing++; c.first < 0 {
				c.first = i
			}
		default:
			c.err = m.singleError(opLookup, m.newFault(fd, cmdLookupElem, errno, UpdateAny, i), UpdateAny)
			return c
		}
	}
	return c
}
