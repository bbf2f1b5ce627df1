package bpfbatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// Parallel and chunked loads of distinct keys end in the same map contents
// as one UpdateBatch, on every batch map type.
func TestUpdateBatchWithEqualsSequentialOnEveryType(t *testing.T) {
	const n = 5000 // Chunk 0 with Workers 2 splits it in two (> 2 x minParallelShare)
	for _, spec := range batchMapSpecs(n) {
		for _, opts := range []BatchOptions{{Workers: 1, Chunk: 128}, {Workers: 2}, {Workers: 4, Chunk: 100}} {
			t.Run(specName(spec), func(t *testing.T) {
				inner := needsInner(t, &spec)
				m := createMap(t, spec)
				rng := rand.New(rand.NewPCG(4, uint64(spec.Type)))
				keys := testKeys(m, n, rng)
				values := testValues(t, m, n, rng, false, inner)
				var mu sync.Mutex
				last, calls := 0, 0
				opts.Progress = func(w int) {
					if !mu.TryLock() {
						t.Error("Progress called concurrently")
						return
					}
					defer mu.Unlock()
					if w < last {
						t.Errorf("Progress went from %d back to %d", last, w)
					}
					last = w
					calls++
				}
				got, err := m.UpdateBatchWith(context.Background(), keys, values, opts)
				if err != nil || got != n {
					t.Fatalf("UpdateBatchWith(%+v) = %d, %v", opts, got, err)
				}
				if last != n || calls == 0 {
					t.Fatalf("Progress ended at %d after %d calls, want %d", last, calls, n)
				}
				checkWritten(t, m, keys, values, inner)
			})
		}
	}
}

// One chunk fails (the map fills up); the others are written, and the error
// lists exactly what was.
func TestUpdateBatchWithParallelErrorListsWritten(t *testing.T) {
	m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1000})
	const n = 1000
	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = uint32(i)
	}
	keys[450] = 5000 // out of range: chunk [400,500) fails at 450
	values := make([]uint64, n)
	for i := range values {
		values[i] = uint64(i) + 1
	}
	got, err := m.UpdateBatchWith(context.Background(), asBytes(keys), asBytes(values), BatchOptions{Workers: 2, Chunk: 100})
	var be *BatchError
	if !errors.As(err, &be) || !errors.Is(err, ErrMapFull) || be.Index != 450 {
		t.Fatalf("UpdateBatchWith = %d, %v; want ErrMapFull at element 450", got, err)
	}
	total := 0
	for _, r := range be.Written {
		total += r.End - r.Start
		for i := r.Start; i < r.End; i++ {
			if v, err := lookupU64(t, m, keys[i]); err != nil || v != values[i] {
				t.Fatalf("element %d listed as written reads %d, %v", i, v, err)
			}
		}
	}
	if total != got || be.Processed != got {
		t.Fatalf("Written %v sums to %d; n=%d Processed=%d", be.Written, total, got, be.Processed)
	}
	if v, _ := lookupU64(t, m, 451); v != 0 {
		t.Fatalf("element after the failure in its chunk was written: %d", v)
	}
	t.Log(err)
}

func TestUpdateBatchWithSequentialErrorIsPrefix(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 250})
	keys := make([]uint32, 400)
	for i := range keys {
		keys[i] = uint32(i)
	}
	got, err := updateTypedWith(m, keys, make([]uint64, 400), BatchOptions{Chunk: 64})
	var be *BatchError
	if got != 250 || !errors.As(err, &be) || be.Index != 250 || be.Processed != 250 || be.Requested != 400 || be.Written != nil {
		t.Fatalf("= %d, %v (%+v)", got, err, be)
	}
}

// updateTypedWith is a shorthand for typed slices.
func updateTypedWith[K, V any](m *Map, keys []K, values []V, opts BatchOptions) (int, error) {
	return m.UpdateBatchWith(context.Background(), asBytes(keys), asBytes(values), opts)
}

func TestUpdateBatchWithCancel(t *testing.T) {
	for _, workers := range []int{1, 2} {
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 10000})
		keys := make([]uint32, 10000)
		for i := range keys {
			keys[i] = uint32(i)
		}
		ctx, cancel := context.WithCancel(context.Background())
		got, err := m.UpdateBatchWith(ctx, asBytes(keys), asBytes(make([]uint64, len(keys))), BatchOptions{
			Workers: workers, Chunk: 100,
			Progress: func(w int) {
				if w >= 3000 {
					cancel()
				}
			},
		})
		var be *BatchError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &be) || got < 3000 || got >= len(keys) || be.Processed != got {
			t.Fatalf("workers %d: cancelled load = %d, %v", workers, got, err)
		}
		if workers == 1 {
			checkWritten(t, m, asBytes(keys[:got]), asBytes(make([]uint64, got)), nil)
			checkMissing(t, m, asBytes(keys[got:]))
		}
		t.Log(err)
		got, err = m.UpdateBatchWith(ctx, asBytes(keys), asBytes(make([]uint64, len(keys))), BatchOptions{Workers: workers})
		if got != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("load with a done ctx = %d, %v", got, err)
		}
	}
}

func TestUpdateBatchWithValidatesFirst(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	for _, opts := range []BatchOptions{{Workers: 2}, {Chunk: -1}, {Workers: -1}, {Flags: 64}} {
		if n, err := m.UpdateBatchWith(context.Background(), make([]byte, 8), make([]byte, 15), opts); n != 0 || err == nil {
			t.Fatalf("%+v: = %d, %v", opts, n, err)
		}
	}
	if f.total() != 0 {
		t.Fatalf("%d syscalls for invalid input", f.total())
	}
}

func TestUpdateBatchOfWithPadsPerCPUValues(t *testing.T) {
	cpus, _ := PossibleCPUs()
	const n = 5000
	m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: n})
	keys, values := val12Load(n, cpus)
	got, err := UpdateBatchOfWith(context.Background(), m, keys, values, BatchOptions{Workers: 2, Chunk: 512})
	if err != nil || got != n {
		t.Fatalf("UpdateBatchOfWith = %d, %v", got, err)
	}
	checkPaddedVal12(t, m, values, 0, 777, n-1)
	if _, err := UpdateBatchOfWith(context.Background(), m, keys, values[1:], BatchOptions{}); !isSizeError("values")(err) {
		t.Fatalf("short values = %v, want *SizeError", err)
	}
}

// With Chunk 0, a load too small to gain from a second worker goes in one
// call: no goroutines, one Progress call.
func TestUpdateBatchWithSmallLoadIsOneCall(t *testing.T) {
	var calls []int
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 1<<20), f)
	for _, tc := range []struct{ n, wantCalls int }{{64, 1}, {minParallelShare*2 - 1, 1}, {minParallelShare * 2, 2}, {minParallelShare * 8, 4}} {
		calls = calls[:0]
		before := f.count(unix.BPF_MAP_UPDATE_BATCH)
		got, err := m.UpdateBatchWith(context.Background(), make([]byte, 4*tc.n), make([]byte, 8*tc.n), BatchOptions{Workers: 4, Progress: func(w int) { calls = append(calls, w) }})
		if err != nil || got != tc.n {
			t.Fatalf("n=%d: = %d, %v", tc.n, got, err)
		}
		batches := f.count(unix.BPF_MAP_UPDATE_BATCH) - before
		if before == 0 {
			batches-- // the support probe
		}
		if batches != tc.wantCalls || len(calls) != tc.wantCalls {
			t.Fatalf("n=%d: %d batch calls, %d Progress calls; want %d", tc.n, batches, len(calls), tc.wantCalls)
		}
	}
}

// A parallel load into a map the kernel refuses as a whole (frozen) blames
// no element: Index -1, as the sequential form says.
func TestUpdateBatchWithParallelRefusedWholeHasNoIndex(t *testing.T) {
	const n = 8192
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
			if err := testutil.Freeze(m.FD()); err != nil {
				t.Fatal(err)
			}
			keys := make([]uint32, n)
			for i := range keys {
				keys[i] = uint32(i)
			}
			got, err := UpdateBatchOfWith(context.Background(), m, keys, make([]uint64, n), BatchOptions{Workers: workers, Chunk: 1024})
			be := wantBatchError(t, got, err, unix.EPERM, ErrPermission, 0, -1, "frozen", "0 of 8192 elements written")
			if strings.Contains(err.Error(), "element ") {
				t.Fatalf("error blames an element: %v", err)
			}
			if len(be.Written) != 0 {
				t.Fatalf("Written = %v, want none", be.Written)
			}
		})
	}
}
