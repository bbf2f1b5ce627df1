package bpfbatch

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// BatchOptions tunes UpdateBatchWith, the form for big loads.
type BatchOptions struct {
	// Flags are the update flags, as for UpdateBatch.
	Flags Flags
	// Chunk is the number of elements per syscall. 0 splits the load
	// evenly over Workers (one chunk when Workers <= 1), but gives no
	// worker fewer than 2048 elements, so a small load
	// stays one call. Pick a Chunk for how often cancellation and Progress
	// should get a say: the batch command's gain is nearly complete from 64
	// elements per call on.
	Chunk int
	// Workers is the number of syscalls in flight at once; 0 or 1 means
	// one at a time, in order. The kernel updates different hash buckets
	// and array slots in parallel, so idle cores speed a load up (the
	// README shows by how much).
	Workers int
	// Progress, if set, is called after each chunk with the number of
	// elements written so far. Calls never overlap and the number never
	// decreases.
	Progress func(written int)
}

// minParallelShare is the smallest load per worker that Chunk 0 splits
// off: below it, a second syscall and goroutine cost more than they save
// (measured in bench/).
const minParallelShare = 2048

// UpdateBatchWith writes keys and values like UpdateBatch, but in chunks,
// several at once when opts.Workers > 1, and stops between chunks when ctx
// is done or m is closed. Validation happens once, up front, with nothing
// written on bad input.
//
// With Workers <= 1 the contract is UpdateBatch's: elements [0, n) are
// written and, on error, element n failed or was not attempted. With
// Workers > 1 chunks land in any order, so a key repeated in two chunks may
// keep either value; n counts the elements written, and the error (a
// *BatchError) lists them in Written and names the first failing element in
// Index (-1 when the kernel refused a chunk as a whole). Once an error is
// seen no new chunk starts.
//
// Every error after validation is a *BatchError; cancellation and Close
// unwrap to ctx.Err() and ErrClosed.
func (m *Map) UpdateBatchWith(ctx context.Context, keys, values []byte, opts BatchOptions) (int, error) {
	return m.updateWith(ctx, keys, values, opts, kernelLayout)
}

func (m *Map) updateWith(ctx context.Context, keys, values []byte, opts BatchOptions, lay layout) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	count, err := withFD(m, opUpdate, func(fd *sys.FD) (int, error) {
		if err := m.checkNotNegative(opUpdate, option{"Chunk", opts.Chunk}, option{"Workers", opts.Workers}); err != nil {
			return 0, err
		}
		return m.checkWrite(fd, keys, values, opts.Flags, lay)
	})
	if err != nil || count == 0 {
		return 0, err
	}
	workers := max(opts.Workers, 1)
	chunk := opts.Chunk
	if chunk == 0 {
		workers = max(1, min(workers, count/minParallelShare))
		chunk = (count + workers - 1) / workers
	}
	chunk = min(chunk, count)
	nchunks := (count + chunk - 1) / chunk
	c := chunkedWrite{m: m, keys: keys, values: values, count: count, chunk: chunk, flags: opts.Flags, lay: lay, progress: opts.Progress}
	if workers == 1 || nchunks == 1 {
		return c.sequential(ctx)
	}
	return c.parallel(ctx, min(workers, nchunks), nchunks)
}

// chunkedWrite is one UpdateBatchWith call, validated.
type chunkedWrite struct {
	m            *Map
	keys, values []byte
	count, chunk int
	flags        Flags
	lay          layout
	progress     func(int)
}

// chunkResult is what one chunk did.
type chunkResult struct {
	written int
	fault   fault
	closed  bool // the Map was closed before the chunk started
}

// write writes chunk c, holding the fd for it, so that Close can come
// between two chunks but never during one.
func (c *chunkedWrite) write(i int) chunkResult {
	m := c.m
	start := i * c.chunk
	end := min(start+c.chunk, c.count)
	r, err := withFD(m, opUpdate, func(fd *sys.FD) (chunkResult, error) {
		ks, vs := int(m.info.KeySize), m.srcStride(c.flags, c.lay)
		n, f := m.write(fd, c.keys[start*ks:end*ks], c.values[start*vs:end*vs], end-start, start, c.flags, c.lay)
		return chunkResult{written: n, fault: f}, nil
	})
	if err != nil {
		return chunkResult{closed: true}
	}
	return r
}

func (c *chunkedWrite) sequential(ctx context.Context) (int, error) {
	done := 0
	for i := 0; done < c.count; i++ {
		if err := ctx.Err(); err != nil {
			return done, c.stopped(done, nil, err)
		}
		r := c.write(i)
		if r.closed {
			return done, c.stopped(done, nil, ErrClosed)
		}
		done += r.written
		if c.progress != nil && r.written > 0 {
			c.progress(done)
		}
		if r.fault.failed() {
			return done, c.m.batchError(opUpdate, r.fault, nil, c.flags, c.count, done, nil)
		}
	}
	return done, nil
}

// parallel takes c by value: its goroutines capture it, which must not
// move the sequential path's chunkedWrite to the heap.
func (c chunkedWrite) parallel(ctx context.Context, workers, nchunks int) (int, error) {
	results := make([]chunkResult, nchunks)
	var (
		next       atomic.Int64 // next chunk to start
		failed     atomic.Bool  // stop starting chunks
		progressMu sync.Mutex
		total      int
		wg         sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= nchunks {
					return
				}
				r := c.write(i)
				results[i] = r
				if r.fault.failed() || r.closed {
					failed.Store(true)
				}
				progressMu.Lock()
				total += r.written
				if c.progress != nil && r.written > 0 {
					c.progress(total)
				}
				progressMu.Unlock()
			}
		})
	}
	wg.Wait()

	var written []Range
	n := 0
	var first *chunkResult // the first chunk, in input order, that failed
	for i := range results {
		r := &results[i]
		start := i * c.chunk
		n += r.written
		if r.written > 0 {
			if k := len(written); k > 0 && written[k-1].End == start {
				written[k-1].End = start + r.written
			} else {
				written = append(written, Range{start, start + r.written})
			}
		}
		if first == nil && (r.fault.failed() || r.closed) {
			first = r
		}
	}
	written = slices.Clip(written)
	switch {
	case first != nil && first.closed:
		return n, c.stopped(n, written, ErrClosed)
	case first != nil:
		return n, c.m.batchError(opUpdate, first.fault, nil, c.flags, c.count, n, written)
	}
	if err := ctx.Err(); err != nil && n < c.count {
		return n, c.stopped(n, written, err)
	}
	return n, nil
}

// stopped reports a load that stopped for a reason other than an errno:
// cancellation or Close.
func (c *chunkedWrite) stopped(processed int, written []Range, cause error) error {
	return c.m.batchError(opUpdate, fault{}, cause, c.flags, c.count, processed, written)
}
