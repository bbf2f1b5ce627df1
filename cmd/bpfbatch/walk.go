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

// walk reads every entry of m with LookupBatch, up to chunk entries per
// call, and hands each batch to each: n keys, and n values of the stride
// that flags give (value_size with OnCPU). It stops when ctx is done
// (returning ctx.Err()) or at each's error, and returns the entries read.
func walk(ctx context.Context, m *bpfbatch.Map, chunk int, flags bpfbatch.Flags, each func(keys, values []byte, n int) error) (int, error) {
	info := m.Info()
	ks, stride := int(info.KeySize), m.ValueStride()
	if onePerElement(flags) {
		stride = int(info.ValueSize)
	}
	keys, values := make([]byte, chunk*ks), make([]byte, chunk*stride)
	var cur bpfbatch.Cursor
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := m.LookupBatch(&cur, keys, values, flags)
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		if err := each(keys[:n*ks], values[:n*stride], n); err != nil {
			return total, err
		}
		total += n
	}
}
