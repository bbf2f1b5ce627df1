package bpfbatch_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"

	"github.com/bpfbatch/bpfbatch"
)

// Write a batch of u32 -> u64 elements into a hash map, then read one back.
func ExampleMap_UpdateBatch() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err) // e.g. "... EPERM (needs CAP_BPF or root) ..."
	}
	defer m.Close()

	// Keys and values in the kernel's layout: native byte order, packed.
	var keys, values []byte
	for i := range uint32(3) {
		keys = binary.NativeEndian.AppendUint32(keys, i)
		values = binary.NativeEndian.AppendUint64(values, uint64(10*i))
	}
	n, err := m.UpdateBatch(keys, values, bpfbatch.UpdateAny)
	fmt.Println(n, err)

	value := make([]byte, m.ValueStride())
	if err := m.Lookup(binary.NativeEndian.AppendUint32(nil, 2), value); err != nil {
		log.Fatal(err)
	}
	fmt.Println(binary.NativeEndian.Uint64(value))
}

// The typed form: fixed-size Go types whose layout is the kernel's are
// passed in place, without a copy.
func ExampleUpdateBatchOf() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	keys := []uint32{1, 2, 3}
	values := []uint64{100, 200, 300}
	n, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny)
	fmt.Println(n, err)
}

// Per-CPU maps take one value per possible CPU for every element,
// element-major: all CPUs of element 0, then all CPUs of element 1.
func ExampleUpdateBatchOf_perCPU() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		log.Fatal(err)
	}
	keys := []uint32{7, 8}
	values := make([]uint64, len(keys)*cpus)
	for i := range values {
		values[i] = uint64(i) // element i/cpus, CPU i%cpus
	}
	n, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny)
	fmt.Println(n, err)
}

// Errors carry the number of elements written and match sentinels.
func ExampleBatchError() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	n, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{1, 2, 3}, bpfbatch.UpdateAny)
	var be *bpfbatch.BatchError
	if errors.As(err, &be) {
		fmt.Println(n, be.Processed, be.Index, be.Errno, errors.Is(err, bpfbatch.ErrMapFull))
	}
}

// A big load in chunks of 4096 elements, two syscalls in flight at once.
func ExampleMap_UpdateBatchWith() {
	const n = 100_000
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: n})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	keys := make([]uint32, n)
	values := make([]uint64, n)
	for i := range keys {
		keys[i], values[i] = uint32(i), uint64(i)*3
	}
	written, err := bpfbatch.UpdateBatchOfWith(context.Background(), m, keys, values, bpfbatch.BatchOptions{Chunk: 4096, Workers: 2})
	fmt.Println(written, err)
}

func ExampleFlags_String() {
	fmt.Println(bpfbatch.UpdateExist | bpfbatch.UpdateLock)
	fmt.Println(bpfbatch.UpdateAny)
	// Output:
	// UpdateExist|UpdateLock
	// UpdateAny
}
