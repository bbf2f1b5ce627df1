package bpfbatch

import (
	"bytes"
	"context"
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
	write []int // input elements to write (new or changed), in input order
	// changed lists the input elements to write that the map holds (with
	// another value), in input order; the others in write are new.
	changed []int
	stale   []byte // keys to delete, or array indices to zero

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
	changed := d.changed // sorted, like write
	for _, i := range d.write {
		c := Change{Kind: Added, Key: keys[i*ks : (i+1)*ks], New: values[i*stride : (i+1)*stride]}
		if len(changed) > 0 && changed[0] == i {
			c.Kind, c.Old, changed = Changed, d.old[i], changed[1:]
		}
		changes(c)
	}
}

// diff walks the map once, reads the input beside the walk (checking it,
// unless checked says the caller did), and compares the two. estimate is
// about the input's size.
func (m *Map) diff(ctx context.Context, read func() ([]byte, []byte, error), estimate int, checked bool, opts SyncOptions) (*syncDiff, []byte, []byte, error) {
	parts := keyset.NewPartitions(estimate)
	mp := newMapParts(m, parts, estimate, checked)
	walkCtx, stop := context.WithCancel(ctx)
	defer stop()
	walked := make(chan error, 1)
	walkers := syncWalkers(opts.Workers, !checked)
	go func() { walked <- m.Walk(walkCtx, WalkOptions{Workers: walkers, Batch: countBatch(m)}, mp.add) }()
	// The input is read and grouped into parts here while the walk (mostly
	// kernel time) reads the map and groups it the same way.
	keys, values, err := read()
	count := 0
	if err == nil {
		count, err = len(keys)/int(m.info.KeySize), nil
		if !checked {
			count, err = m.checkSyncInput(keys, values, opts)
		}
	}
	if err != nil {
		stop()
		<-walked
		return nil, nil, nil, err
	}
	ks := int(m.info.KeySize)
	in := m.partitionInput(keys[:count*ks], values[:count*m.stride], parts)
	if err := <-walked; err != nil {
		return nil, nil, nil, m.syncError(syncReading, nil, 0, 0, err)
	}
	d, err := m.join(keys, &in, mp, opts)
	return d, keys, values, err
}

// syncWalkers is how many walkers Sync's walk uses for opts.Workers.
// Beside a read (SyncFrom), which keeps a core busy, a walker more than the
// other cores can run slows both: bpfbatch sync of 1M on 2 cores took
// 0.43 s with 2 walkers and 0.35 s with 1 (bench/results/sync-vs-load.txt).
func syncWalkers(workers int, reading bool) int {
	if reading {
		return min(workers, max(1, runtime.GOMAXPROCS(0)-1))
	}
	return workers
}

// checkSyncInput validates Sync's options and input before any syscall
// and returns the element count.
func (m *Map) checkSyncInput(keys, values []byte, opts SyncOptions) (int, error) {
	return withFD(m, opSync, func(fd *sys.FD) (int, error) {
		if err := m.checkSyncMap(opts); err != nil {
			return 0, err
		}
		if len(keys) == 0 && len(values) == 0 && !opts.AllowEmpty {
			return 0, m.refuse(opSync, ErrInvalidArgument, "the input is empty; set SyncOptions.AllowEmpty to make the map empty")
		}
		count, err := m.checkElements(fd, opSync, keys, values, UpdateAny, kernelLayout)
		if err != nil {
			return 0, err
		}
		return count, m.checkSyncKeys(keys[:count*int(m.info.KeySize)])
	})
}

// checkSyncMap checks that Sync can run on the map with opts, before any
// syscall.
func (m *Map) checkSyncMap(opts SyncOptions) error {
	if m.info.KeySize == 0 {
		return m.refuse(opSync, ErrNotSupported, "%s maps have no keys to compare", m.info.Type)
	}
	if err := m.checkNotNegative(opSync, option{"Chunk", opts.Chunk}, option{"Workers", opts.Workers}); err != nil {
		return err
	}
	if !opts.DryRun {
		if err := m.checkWritable(opSync); err != nil {
			return err
		}
	}
	return m.checkReadable(opSync)
}

// join compares the map's elements with the input, part by part on every
// core. A part's input elements are contiguous in in, so the joins mark
// disjoint ranges of seen (by position in in, which keeps each part's marks
// in cache).
func (m *Map) join(keys []byte, in *partitioned, mp *mapParts, opts SyncOptions) (*syncDiff, error) {
	ks := int(m.info.KeySize)
	seen := make([]bool, len(in.idx))
	joins := make([]partJoin, min(mp.parts.Count(), runtime.GOMAXPROCS(0), 4))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range joins {
		wg.Go(func() {
			j := &joins[w]
			j.dup, j.first, j.keepValues, j.keepOld = -1, -1, opts.KeepValues, opts.Changes != nil
			set, _, _ := keyset.New(nil, ks)
			for p := int(next.Add(1) - 1); p < mp.parts.Count(); p = int(next.Add(1) - 1) {
				m.joinPart(j, set, in, p, mp.groups, seen)
			}
		})
	}
	wg.Wait()
	d := &syncDiff{}
	dup, first := -1, -1
	for _, j := range joins {
		if j.dup >= 0 && (dup < 0 || j.dup < dup) {
			dup, first = j.dup, j.first
		}
		d.stats.Changed += j.changed
		d.stats.Unchanged += j.unchanged
		d.changed = append(d.changed, j.write...)
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
	slices.Sort(d.changed)
	d.write = append(d.write, d.changed...)
	for pos, s := range seen {
		if !s {
			d.stats.Added++
			d.write = append(d.write, int(in.idx[pos]))
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

// joinPart compares the map's elements of part p, in every walker's
// groups, with the input's.
func (m *Map) joinPart(j *partJoin, set *keyset.Set, in *partitioned, p int, groups []*partGroups, seen []bool) {
	ks := int(m.info.KeySize)
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
	for _, g := range groups {
		m.joinGroup(j, set, in, lo, g.keys[p], g.values[p], seen, scratch)
	}
}

// joinGroup compares the map's elements mk, mv with the input's part that
// set indexes, starting at input position lo.
func (m *Map) joinGroup(j *partJoin, set *keyset.Set, in *partitioned, lo int, mk, mv []byte, seen []bool, scratch []byte) {
	ks, stride := int(m.info.KeySize), m.stride
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
		case seen[lo+i]: // seen twice: the map changed during the walk
		case j.keepValues || m.sameValue(value, in.values[(lo+i)*stride:(lo+i+1)*stride]):
			seen[lo+i] = true
			j.unchanged++
		default:
			seen[lo+i] = true
			j.changed++
			j.write = append(j.write, g)
			if j.keepOld {
				j.old = append(j.old, oldValue{g, bytes.Clone(value)})
			}
		}
	}
}
