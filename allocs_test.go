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

// Steady-state reads and deletes allocate nothing.
func TestReadAndDeleteAllocateNothing(t *testing.T) {
	const n = 256
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2 * n})
	arr := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: n})
	keys, values := indexKeys(n), make([]byte, n*8)
	kb, vb, pb := make([]byte, 64*4), make([]byte, 64*8), make([]byte, 64*arr.ValueStride())
	var c, pc Cursor
	walkAll := func(m *Map, c *Cursor, vb []byte) {
		c.Reset()
		for {
			k, err := m.LookupBatch(c, kb, vb, UpdateAny)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				return
			}
		}
	}
	for name, f := range map[string]func(){
		"LookupBatch/Hash":        func() { walkAll(m, &c, vb) },
		"LookupBatch/PerCPUArray": func() { walkAll(arr, &pc, pb) },
		"DeleteBatch": func() {
			if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
				t.Fatal(err)
			}
			if k, err := m.DeleteBatch(keys, UpdateAny); k != n || err != nil {
				t.Fatal(k, err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f() // warm up: probes, the cursor's buffer
			if a := testing.AllocsPerRun(20, f); a != 0 {
				t.Fatalf("%v allocations per run, want 0", a)
			}
		})
	}
}
