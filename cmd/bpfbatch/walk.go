package main

import (
	"context"

	"github.com/bpfbatch/bpfbatch"
)

// walkChunk is the entries read per BPF_MAP_LOOKUP_BATCH: as for writes,
// the batch command's gain is there from a few dozen entries on, and a
// chunk bounds the memory of a walk and the time between two looks at a
// signal.
const walkChunk = 4096

// walkBatch is one LookupBatch's result.
type walkBatch struct {
	keys, values []byte
	n            int
	err          error
}

// walk reads every entry of m with LookupBatch, up to chunk entries per
// call, and hands each batch to each, in order: n keys, and n values of the
// stride that flags give (value_size with OnCPU). It stops when ctx is done
// (returning ctx.Err()) or at each's error, and returns the entries handed
// to each.
//
// The reads run on a goroutine of their own, one batch ahead of each: the
// kernel's walk and the caller's formatting then use two cores (an LPM
// trie's walk alone is most of a dump's time). That goroutine has ended
// when walk returns, so m may be closed then.
func walk(ctx context.Context, m *bpfbatch.Map, chunk int, flags bpfbatch.Flags, each func(keys, values []byte, n int) error) (int, error) {
	ks, stride := int(m.Info().KeySize), m.ValueStrideFor(flags)
	// Two buffers circulate: the kernel fills one while each reads the
	// other. Each channel holds both, so no send ever blocks.
	free, full := make(chan *walkBatch, 2), make(chan *walkBatch, 2)
	for range 2 {
		free <- &walkBatch{keys: make([]byte, chunk*ks), values: make([]byte, chunk*stride)}
	}
	stop := make(chan struct{})
	go func() {
		defer close(full)
		var cur bpfbatch.Cursor
		for {
			var b *walkBatch
			select {
			case b = <-free:
			case <-stop:
				return
			}
			if b.err = ctx.Err(); b.err == nil {
				b.n, b.err = m.LookupBatch(&cur, b.keys, b.values, flags)
			}
			full <- b
			if b.err != nil || b.n == 0 {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		for range full { // wait for the reader's last call
		}
	}()
	total := 0
	for b := range full {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if b.err != nil || b.n == 0 {
			return total, b.err
		}
		if err := each(b.keys[:b.n*ks], b.values[:b.n*stride], b.n); err != nil {
			return total, err
		}
		total += b.n
		free <- b
	}
	return total, nil
}
