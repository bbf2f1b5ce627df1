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
		log.Fatal(err) // e.g. "bpfbatch: create Hash map: EPERM: the process lacks CAP_BPF ..."
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

// Read a whole map in batches of up to 4096 elements. The Cursor keeps the
// kernel's position; (0, nil) means the walk is complete.
func ExampleMap_LookupBatch() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 10_000})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	keys := make([]uint32, 10_000)
	for i := range keys {
		keys[i] = uint32(i)
	}
	if _, err := bpfbatch.UpdateBatchOf(m, keys, make([]uint64, len(keys)), bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	const per = 4096
	kbuf, vbuf := make([]byte, per*4), make([]byte, per*m.ValueStride())
	var c bpfbatch.Cursor
	total := 0
	for {
		n, err := m.LookupBatch(&c, kbuf, vbuf, bpfbatch.UpdateAny)
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n // elements i < n: kbuf[4*i:4*i+4], vbuf[8*i:8*i+8]
	}
	fmt.Println(total)
}

// Make a map equal a desired state: delete what is not in it, write only
// what is new or changed.
func ExampleMap_Sync() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	// Desired: 1 unchanged, 2 changed, 3 gone, 4 new.
	var keys, values []byte
	for _, kv := range [][2]uint64{{1, 10}, {2, 21}, {4, 40}} {
		keys = binary.NativeEndian.AppendUint32(keys, uint32(kv[0]))
		values = binary.NativeEndian.AppendUint64(values, kv[1])
	}
	stats, err := m.Sync(context.Background(), keys, values, bpfbatch.SyncOptions{})
	fmt.Println(stats, err)
}

// UpdateAllCPUs writes one value per element to every CPU of a per-CPU
// map: natively on Linux 7.0 and later, laid out by bpfbatch before.
func ExampleUpdateAllCPUs() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	n, err := bpfbatch.UpdateBatchOf(m, []uint32{0, 1}, []uint64{5, 6}, bpfbatch.UpdateAllCPUs)
	fmt.Println(n, err)
}

func ExampleFlags_String() {
	fmt.Println(bpfbatch.UpdateExist | bpfbatch.UpdateLock)
	fmt.Println(bpfbatch.UpdateAny)
	fmt.Println(bpfbatch.OnCPU(3) | bpfbatch.UpdateNoExist)
	// Output:
	// UpdateExist|UpdateLock
	// UpdateAny
	// UpdateNoExist|OnCPU(3)
}
