package bpfbatch

import (
	"errors"
	"testing"
)

// All yields every element once, with the value a raw lookup reads;
// breaking out stops the syscalls; the next loop starts again; Err is nil
// after both.
func TestIterateAll(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 10000})
	const n = 9000 // more than one batch of 4096
	keys, values := make([]uint32, n), make([]uint64, n)
	for i := range keys {
		keys[i], values[i] = uint32(i), uint64(i)*3
	}
	if _, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil {
		t.Fatal(err)
	}
	it := Iterate[uint32, uint64](m, UpdateAny)
	seen := make(map[uint32]bool, n)
	for k, v := range it.All() {
		if seen[k] || v != uint64(k)*3 {
			t.Fatalf("key %d: value %d, seen before %v", k, v, seen[k])
		}
		seen[k] = true
	}
	if it.Err() != nil || len(seen) != n {
		t.Fatalf("All yielded %d of %d elements, Err %v", len(seen), n, it.Err())
	}
	count := 0
	for range it.All() {
		if count++; count == 10 {
			break
		}
	}
	if it.Err() != nil || count != 10 {
		t.Fatalf("a loop broken after 10: count %d, Err %v", count, it.Err())
	}
	again := 0
	for range it.All() {
		again++
	}
	if again != n {
		t.Fatalf("the loop after a break yielded %d, want %d (from the start)", again, n)
	}
}

// AllCPUs yields every CPU's value of a per-CPU map; All there (without
// OnCPU), AllCPUs on a plain map, and a write-only map yield nothing and
// say why.
func TestIterateAllCPUsAndMisuse(t *testing.T) {
	m := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 3})
	cpus, _ := PossibleCPUs()
	values := make([]uint32, 3*cpus)
	for i := range values {
		values[i] = uint32(i)
	}
	if _, err := UpdateBatchOf(m, []uint32{0, 1, 2}, values, UpdateAny); err != nil {
		t.Fatal(err)
	}
	it := Iterate[uint32, uint32](m, UpdateAny)
	got := 0
	for k, vs := range it.AllCPUs() {
		if len(vs) != cpus {
			t.Fatalf("key %d: %d values, want %d", k, len(vs), cpus)
		}
		for c, v := range vs {
			if v != uint32(int(k)*cpus+c) {
				t.Fatalf("key %d CPU %d = %d", k, c, v)
			}
		}
		got++
	}
	if got != 3 || it.Err() != nil {
		t.Fatalf("AllCPUs yielded %d, Err %v", got, it.Err())
	}
	for range it.All() {
		t.Fatal("All yielded on a per-CPU map without OnCPU")
	}
	if !errors.Is(it.Err(), ErrInvalidArgument) {
		t.Fatalf("All on a per-CPU map: Err = %v", it.Err())
	}
	plain := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 3})
	pit := Iterate[uint32, uint32](plain, UpdateAny)
	for range pit.AllCPUs() {
		t.Fatal("AllCPUs yielded on a plain map")
	}
	if !errors.Is(pit.Err(), ErrInvalidArgument) {
		t.Fatalf("AllCPUs on a plain map: Err = %v", pit.Err())
	}
}

// The typed loop allocates nothing per element: a walk of 10 000 elements
// allocates what one walk of one element does.
func TestIterateAllocatesNothingPerElement(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 20000})
	keys := make([]uint32, 10000)
	for i := range keys {
		keys[i] = uint32(i)
	}
	if _, err := UpdateBatchOf(m, keys, make([]uint64, len(keys)), UpdateAny); err != nil {
		t.Fatal(err)
	}
	one := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 20000})
	if _, err := UpdateBatchOf(one, keys[:1], make([]uint64, 1), UpdateAny); err != nil {
		t.Fatal(err)
	}
	allocs := func(m *Map) float64 {
		return testing.AllocsPerRun(5, func() {
			it := Iterate[uint32, uint64](m, UpdateAny)
			for range it.All() {
			}
		})
	}
	if big, small := allocs(m), allocs(one); big > small {
		t.Fatalf("a walk of 10000 elements allocates %v times, of one element %v", big, small)
	}
}
