package bpfbatch

import (
	"context"
	"testing"
)

// The hot paths allocate nothing per call. Allocation counts are
// deterministic, so unlike timings they can be asserted.
func TestZeroAllocations(t *testing.T) {
	const n = 256
	hash := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	perCPU := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	padded := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: n})
	queue := createMap(t, MapSpec{Type: Queue, ValueSize: 8, MaxEntries: n})
	cpus, _ := PossibleCPUs()

	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = uint32(i)
	}
	values := make([]uint64, n)
	perCPUValues := make([]uint64, n*cpus)
	paddedValues := make([]val12, n*cpus)
	keyBytes, valueBytes, perCPUBytes := asBytes(keys), asBytes(values), asBytes(perCPUValues)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		f    func() (int, error)
	}{
		{"UpdateBatch/Hash", func() (int, error) { return hash.UpdateBatch(keyBytes, valueBytes, UpdateAny) }},
		{"UpdateBatch/PerCPUHash", func() (int, error) { return perCPU.UpdateBatch(keyBytes, perCPUBytes, UpdateAny) }},
		{"UpdateBatch/Exist per element", func() (int, error) { return hash.UpdateBatch(keyBytes, valueBytes, UpdateExist) }},
		{"UpdateBatch/Queue per element", func() (int, error) {
			n, err := queue.UpdateBatch(nil, valueBytes[:8*8], UpdateExist) // BPF_EXIST on a queue: replace the oldest
			return n, err
		}},
		{"UpdateBatchOf/Hash zero-copy", func() (int, error) { return UpdateBatchOf(hash, keys, values, UpdateAny) }},
		{"UpdateBatchOf/PerCPUHash zero-copy", func() (int, error) { return UpdateBatchOf(perCPU, keys, perCPUValues, UpdateAny) }},
		{"UpdateBatchOf/PerCPUArray padded scratch", func() (int, error) { return UpdateBatchOf(padded, keys, paddedValues, UpdateAny) }},
		{"UpdateBatchWith/sequential", func() (int, error) {
			return hash.UpdateBatchWith(ctx, keyBytes, valueBytes, BatchOptions{Chunk: 64})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.f(); err != nil { // warm up: probe, scratch buffer
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(50, func() {
				if _, err := tc.f(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per call, want 0", allocs)
			}
		})
	}
}
