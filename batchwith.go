package bpfbatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// BatchOptions tunes UpdateBatchWith, the form for big loads.
type BatchOptions struct {
	// Flags are the update flags, as for UpdateBatch.
	Flags Flags
	// Chunk is the number of elements per syscall; 0 splits the load
	// evenly over Workers (one chunk when Workers <= 1), except that a
	// load gets no more workers than it has 2048-element shares: below
	// that, a second syscall and goroutine cost more than they save
	// (measured in bench/). Batches of 64 elements and more already get
	// nearly all of the batch command's gain, so pick Chunk for how often
	// cancellation and Progress should get a say; 4096 to 65536 cost
	// nothing measurable against one call.
	Chunk int
	// Workers is the number of syscalls in flight at once; 0 or 1 means
	// one at a time, in order. The kernel updates different hash buckets
	// and array slots in parallel, so on a machine with idle cores 2
	// workers load about twice as fast as one (see the README's numbers).
	Workers int
	// Progress, if set, is called after each chunk with the number of
	// elements written so far. Calls never overlap and the number never
	// decreases.
	Progress func(written int)
}

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
// Index. Once an error is seen no new chunk starts.
//
// Every error after validation is a *BatchError; cancellation and Close
// unwrap to ctx.Err() and ErrClosed.
func (m *Map) UpdateBatchWith(ctx context.Context, keys, values []byte, opts BatchOptions) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("bpfbatch: UpdateBatchWith on nil *Map: %w", ErrClosed)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Chunk < 0 || opts.Workers < 0 {
		return 0, fmt.Errorf("bpfbatch: UpdateBatchWith on %s: Chunk %d and Workers %d must not be negative", m.info.describe(), opts.Chunk, opts.Workers)
	}
	m.mu.RLock()
	if !m.open {
		m.mu.RUnlock()
		return 0, m.closedError("update batch")
	}
	count, err := m.checkUpdate(keys, values, opts.Flags)
	m.mu.RUnlock()
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
	if workers == 1 || nchunks == 1 {
		return m.updateSequential(ctx, keys, values, count, chunk, opts)
	}
	return m.updateParallel(ctx, keys, values, count, chunk, min(workers, nchunks), opts)
}

// minParallelShare is the smallest load per worker that Chunk 0 splits
// off: at 4096 elements two workers were 1.25-1.67x faster than one call,
// at 64 elements 0.57-0.89x (bench/README.md).
const minParallelShare = 2048

// updateChunk writes elements [start, end) while holding the fd.
func (m *Map) updateChunk(keys, values []byte, start, end int, flags Flags) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.open {
		return 0, ErrClosed
	}
	ks := int(m.info.KeySize)
	return m.update(keys[start*ks:end*ks], values[start*m.stride:end*m.stride], end-start, flags)
}

func (m *Map) updateSequential(ctx context.Context, keys, values []byte, count, chunk int, opts BatchOptions) (int, error) {
	done := 0
	for done < count {
		if err := ctx.Err(); err != nil {
			return done, m.stoppedError(opts.Flags, count, done, nil, err)
		}
		end := min(done+chunk, count)
		written, err := m.updateChunk(keys, values, done, end, opts.Flags)
		if err != nil {
			if be, ok := err.(*BatchError); ok {
				if opts.Progress != nil && written > 0 {
					opts.Progress(done + written)
				}
				return done + written, rebase(be, done, count)
			}
			return done, m.stoppedError(opts.Flags, count, done, nil, err)
		}
		done += written
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
	return done, nil
}

// chunkResult is what one chunk of a parallel load did.
type chunkResult struct {
	written int
	err     error
}

func (m *Map) updateParallel(ctx context.Context, keys, values []byte, count, chunk, workers int, opts BatchOptions) (int, error) {
	nchunks := (count + chunk - 1) / chunk
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
				c := int(next.Add(1) - 1)
				if c >= nchunks {
					return
				}
				start := c * chunk
				end := min(start+chunk, count)
				written, err := m.updateChunk(keys, values, start, end, opts.Flags)
				results[c] = chunkResult{written, err}
				if err != nil {
					failed.Store(true)
				}
				progressMu.Lock()
				total += written
				if opts.Progress != nil && written > 0 {
					opts.Progress(total)
				}
				progressMu.Unlock()
			}
		})
	}
	wg.Wait()

	var written []Range
	n := 0
	firstFail, failIndex := -1, -1
	for c, r := range results {
		start := c * chunk
		n += r.written
		if r.written > 0 {
			if k := len(written); k > 0 && written[k-1].End == start {
				written[k-1].End = start + r.written
			} else {
				written = append(written, Range{start, start + r.written})
			}
		}
		if r.err != nil && firstFail < 0 {
			firstFail, failIndex = c, start+r.written
		}
	}
	if firstFail >= 0 {
		err := results[firstFail].err
		if be, ok := err.(*BatchError); ok {
			// The chunk's own indices give way to the whole load's.
			be.Requested, be.Processed, be.Index, be.Written = count, n, failIndex, written
			return n, be
		}
		return n, m.stoppedError(opts.Flags, count, n, written, err)
	}
	if err := ctx.Err(); err != nil && n < count {
		return n, m.stoppedError(opts.Flags, count, n, written, err)
	}
	return n, nil
}

// stoppedError reports a load that stopped for a reason other than an errno:
// cancellation or Close.
func (m *Map) stoppedError(flags Flags, requested, processed int, written []Range, cause error) *BatchError {
	return &BatchError{
		Op:        "UpdateBatchWith",
		Map:       m.info,
		Flags:     flags,
		Requested: requested,
		Processed: processed,
		Index:     -1,
		Written:   slices.Clip(written),
		Cause:     cause,
	}
}
