package bpfbatch

import (
	"context"
	"runtime"
	"sync/atomic"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// WalkOptions tunes Map.Walk.
type WalkOptions struct {
	// Workers is the number of walks in flight at once over disjoint parts
	// of the map; 0 or 1: one sequential walk.
	Workers int
	// Batch is the number of elements per syscall (and per call of fn, at
	// most); 0 means 4096.
	Batch int
	// Flags are UpdateAny, UpdateLock or OnCPU(n), as for LookupBatch.
	Flags Flags
}

// defaultWalkBatch is WalkOptions.Batch when 0: past a few hundred elements
// per call, a walk costs what the kernel's copy costs.
const defaultWalkBatch = 4096

// walkAhead is the number of batches a sequential walk reads ahead of fn,
// so that the kernel's copy and fn's work overlap.
const walkAhead = 4

// Walk reads every element of the map, calling fn with n elements at a
// time: keys and values in LookupBatch's layout (per-CPU maps: every CPU's
// slot; with OnCPU(n) one value_size value each). The slices are reused
// after fn returns: copy what you keep. Each element of a map not modified
// during the walk is passed to fn exactly once, whatever Workers is;
// elements added or deleted meanwhile at most once. An error from fn, or
// ctx's, stops the walk and is returned.
//
// With Workers <= 1 one walk reads the map in the kernel's order, one batch
// ahead of fn on a goroutine of its own, and fn is called on the caller's
// goroutine, one call at a time; after an error no further fn call starts.
//
// With Workers > 1 the map is split into up to Workers parts, walked at
// once, and fn runs on several goroutines at once (the caller's among
// them), each part's elements in the kernel's order; after an error at
// most Workers further fn calls start. Hash maps split by bucket range,
// arrays by index range, LPM tries by key range in the kernel's walk
// order, at keys the previous walk with Workers > 1 saw (the first one
// walks once and learns them). Before a map is split, a probe proves on
// the map itself, once, that the kernel's cursor behaves as the split
// needs; map types or kernels where it cannot (other types, maps without
// BPF_MAP_LOOKUP_BATCH, OnCPU) walk once, sequentially, as do maps with
// too few elements for a split to pay.
//
// LPM tries: the kernel's step from one key to the next
// (trie_get_next_key), which every walk of a trie takes, can skip a key
// while other keys are added or deleted, so on a trie that changes during
// the walk an unmodified key may be missed, whatever Workers is.
func (m *Map) Walk(ctx context.Context, opts WalkOptions, fn func(keys, values []byte, n int) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	batch, err := withFD(m, opWalk, func(fd *sys.FD) (int, error) {
		if fn == nil {
			return 0, m.refuse(opWalk, ErrInvalidArgument, "nil fn")
		}
		if err := m.checkNotNegative(opWalk, option{"Workers", opts.Workers}, option{"Batch", opts.Batch}); err != nil {
			return 0, err
		}
		if err := m.checkWalk(opWalk, opts.Flags, false); err != nil {
			return 0, err
		}
		batch := opts.Batch
		if batch == 0 {
			batch = defaultWalkBatch
		}
		return batch, m.checkCount(opWalk, batch)
	})
	if err != nil {
		return err
	}
	if opts.Workers > 1 {
		return m.walkParallel(ctx, opts.Workers, batch, opts.Flags, fn)
	}
	return m.walkSequential(ctx, batch, opts.Flags, fn)
}

// walkBuffer is one batch of a walk.
type walkBuffer struct {
	keys, values []byte
	n            int
}

// walkSequential is Walk with one Cursor, reading on a goroutine of its
// own up to walkAhead batches ahead of fn.
func (m *Map) walkSequential(ctx context.Context, batch int, flags Flags, fn func(keys, values []byte, n int) error) error {
	return m.walkSequentialFrom(ctx, Cursor{}, 0, batch, flags, fn)
}

// walkSequentialFrom is walkSequential continuing the walk at c, after read
// elements (for errors' counts).
func (m *Map) walkSequentialFrom(ctx context.Context, c Cursor, read int, batch int, flags Flags, fn func(keys, values []byte, n int) error) error {
	ks, stride := int(m.info.KeySize), m.strideFor(flags)
	filled := make(chan walkBuffer, walkAhead)
	free := make(chan walkBuffer, walkAhead+1)
	for range walkAhead + 1 {
		free <- walkBuffer{keys: make([]byte, batch*ks), values: make([]byte, batch*stride)}
	}
	stop := make(chan struct{})
	var readErr error // written before filled is closed
	go func() {
		defer close(filled)
		for {
			var b walkBuffer
			select {
			case <-stop:
				return
			case b = <-free:
			}
			if readErr = ctx.Err(); readErr != nil {
				return
			}
			b.n, readErr = withFD(m, opWalk, func(fd *sys.FD) (int, error) {
				c.m = m
				n, f := m.readNext(fd, &c, b.keys, b.values, batch, flags, false)
				return n, m.batchError(opWalk, f, nil, flags, 0, read+n, nil)
			})
			if readErr != nil || b.n == 0 {
				return
			}
			read += b.n
			select {
			case filled <- b:
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range filled { // wait for the reader to end
		}
	}()
	for b := range filled {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(b.keys[:b.n*ks], b.values[:b.n*stride], b.n); err != nil {
			return err
		}
		free <- b
	}
	return readErr
}

// Count returns the number of elements in the map: a walk of its keys
// (values are read too: the kernel keeps no count), on every core where
// Walk can split the map. On a map that changes meanwhile the count is of
// some moment of the walk.
func (m *Map) Count() (int, error) {
	var total atomic.Int64
	err := m.Walk(context.Background(), WalkOptions{Workers: runtime.GOMAXPROCS(0), Batch: countBatch(m)}, func(_, _ []byte, n int) error {
		total.Add(int64(n))
		return nil
	})
	return int(total.Load()), err
}

// countBatch sizes the batches of a whole-map read: about 1 MiB.
func countBatch(m *Map) int {
	if m == nil {
		return 0
	}
	return max(64, (1<<20)/max(1, m.stride+int(m.info.KeySize)))
}
