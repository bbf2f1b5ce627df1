package bpfbatch_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"maps"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"

	"github.com/bpfbatch/bpfbatch"
)

// The examples that need the kernel (root or CAP_BPF) print what they do
// but carry no "Output:" comment, so `go test` compiles them without running
// them; TestKernelExamplesPrintWhatTheySay runs each where bpf(2) works and
// checks what it prints. Those that pin maps use /sys/fs/bpf, which that
// test gives a bpf filesystem of its own.

// Write Go values into a map, range over it, and make it equal a desired
// state: the typed forms, which take fixed-size Go types whose layout is the
// kernel's and pass them without a copy.
func Example() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err) // e.g. "bpfbatch: create Hash map: EPERM: the process lacks CAP_BPF ..."
	}
	defer m.Close()

	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	var sum uint64
	for _, v := range it.All() {
		sum += v
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sum:", sum)

	// Desired: 1 gone, 2 unchanged, 3 changed, 4 new.
	stats, err := bpfbatch.SyncOf(context.Background(), m, []uint32{2, 3, 4}, []uint64{20, 31, 40}, bpfbatch.SyncOptions{})
	fmt.Println(stats, err)
}

// Write a batch of u32 -> u64 elements into a hash map as flat bytes in the
// kernel's layout, then read one back: the low level under UpdateBatchOf.
func ExampleMap_UpdateBatch() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
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

// A struct key: its fields are laid out as the kernel's struct, and a
// struct with padding is copied with the padding zeroed (declare padding as
// a blank field to keep the zero-copy path).
func ExampleUpdateBatchOf_struct() {
	type flow struct {
		Src, Dst uint32
		Port     uint16
		_        [2]byte // explicit padding: 12 bytes, no hidden bytes
	}
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 12, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	n, err := bpfbatch.UpdateBatchOf(m, []flow{{Src: 1, Dst: 2, Port: 80}, {Src: 1, Dst: 3, Port: 443}}, []uint64{5, 6}, bpfbatch.UpdateAny)
	fmt.Println(n, err)
}

// A big load in chunks of 4096 elements, two syscalls in flight at once.
func ExampleUpdateBatchOfWith() {
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

// UpdateBatchWith takes flat bytes like UpdateBatch, in chunks, and reports
// progress after each chunk (never concurrently).
func ExampleMap_UpdateBatchWith() {
	const n = 10_000
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	var keys, values []byte
	for i := range uint32(n) {
		keys = binary.NativeEndian.AppendUint32(keys, i)
		values = binary.NativeEndian.AppendUint64(values, uint64(i))
	}
	chunks := 0
	written, err := m.UpdateBatchWith(context.Background(), keys, values, bpfbatch.BatchOptions{
		Chunk:    4096,
		Progress: func(written int) { chunks++ },
	})
	fmt.Println(written, err, chunks)
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

// A buffer that does not match the map's layout is refused before any
// syscall, with what the map needs.
func ExampleSizeError() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	_, err = bpfbatch.UpdateBatchOf(m, []uint32{1, 2}, []uint32{10, 20}, bpfbatch.UpdateAny) // 4-byte values for an 8-byte value_size
	var se *bpfbatch.SizeError
	if errors.As(err, &se) {
		fmt.Println(se.Buffer, se.Type, se.Got, se.Want)
	}
}

// Operations on a map as a whole (create, open, pin) and calls refused
// before any syscall return a *MapError that says what failed and why.
func ExampleMapError() {
	_, err := bpfbatch.OpenPinned("/proc/version") // not on a bpf filesystem
	var me *bpfbatch.MapError
	if errors.As(err, &me) {
		fmt.Println(me.Op, me.Path)
		fmt.Println(me.Hint)
	}
}

// A Sync that fails after it began says how far it got. Here the map is
// too small for the input: the third key does not fit.
func ExampleSyncError() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	_, err = bpfbatch.SyncOf(context.Background(), m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.SyncOptions{})
	var se *bpfbatch.SyncError
	if errors.As(err, &se) {
		fmt.Println(se.Stats, "|", se.Deleted, "deleted,", se.Written, "written |", errors.Is(err, bpfbatch.ErrMapFull))
	}
}

// Read a whole map into typed slices, 4096 elements per syscall. The
// Cursor keeps the kernel's position; (0, nil) means the walk is complete.
func ExampleLookupBatchOf() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 10_000})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	in := make([]uint32, 10_000)
	for i := range in {
		in[i] = uint32(i)
	}
	if _, err := bpfbatch.UpdateBatchOf(m, in, make([]uint64, len(in)), bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	keys, values := make([]uint32, 4096), make([]uint64, 4096)
	var c bpfbatch.Cursor
	total := 0
	for {
		n, err := bpfbatch.LookupBatchOf(m, &c, keys, values, bpfbatch.UpdateAny)
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n // keys[:n], values[:n]
	}
	fmt.Println(total)
}

// The byte form of LookupBatchOf: keys and values in UpdateBatch's layout.
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

// Drain a map: read what it holds and delete it in the same syscall, so an
// element a BPF program adds meanwhile is either read or left for next
// time, never lost.
func ExampleLookupAndDeleteBatchOf() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	keys, values := make([]uint32, 256), make([]uint64, 256)
	var c bpfbatch.Cursor
	var sum uint64
	for {
		n, err := bpfbatch.LookupAndDeleteBatchOf(m, &c, keys, values, bpfbatch.UpdateAny)
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			break
		}
		for _, v := range values[:n] {
			sum += v
		}
	}
	left, err := m.Count()
	fmt.Println(sum, left, err)
}

// The byte form of LookupAndDeleteBatchOf.
func ExampleMap_LookupAndDeleteBatch() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	kbuf, vbuf := make([]byte, 256*4), make([]byte, 256*m.ValueStride())
	var c bpfbatch.Cursor
	drained := 0
	for !c.Done() {
		n, err := m.LookupAndDeleteBatch(&c, kbuf, vbuf, bpfbatch.UpdateAny)
		if err != nil {
			log.Fatal(err)
		}
		drained += n
	}
	left, err := m.Count()
	fmt.Println(drained, left, err)
}

// Delete keys given as Go values. Like UpdateBatch it stops at the first
// key that fails (a missing key: ErrKeyNotExist).
func ExampleDeleteBatchOf() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	n, err := bpfbatch.DeleteBatchOf(m, []uint32{1, 2}, bpfbatch.UpdateAny)
	fmt.Println(n, err)
	n, err = bpfbatch.DeleteBatchOf(m, []uint32{3, 9}, bpfbatch.UpdateAny)
	fmt.Println(n, errors.Is(err, bpfbatch.ErrKeyNotExist))
}

// The byte form of DeleteBatchOf.
func ExampleMap_DeleteBatch() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	keys := binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, 1), 3)
	n, err := m.DeleteBatch(keys, bpfbatch.UpdateAny)
	fmt.Println(n, err)
}

// Make a map equal a desired state given as Go values: delete what is not
// in it, write only what is new or changed.
func ExampleSyncOf() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	// Desired: 1 unchanged, 2 changed, 3 gone, 4 new.
	stats, err := bpfbatch.SyncOf(context.Background(), m, []uint32{1, 2, 4}, []uint64{10, 21, 40}, bpfbatch.SyncOptions{})
	fmt.Println(stats, err)
}

// The byte form of SyncOf: keys and values in UpdateBatch's layout.
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

// SyncFrom takes an input that is still being read (a file, a socket, a
// parser) and walks the map while it is read.
func ExampleMap_SyncFrom() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	input := strings.NewReader("1 10\n2 21\n4 40\n") // KEY VALUE lines
	stats, err := m.SyncFrom(context.Background(), func() (keys, values []byte, err error) {
		sc := bufio.NewScanner(input)
		for sc.Scan() {
			var k uint32
			var v uint64
			if _, err := fmt.Sscan(sc.Text(), &k, &v); err != nil {
				return nil, nil, fmt.Errorf("%q: %w", sc.Text(), err)
			}
			keys = binary.NativeEndian.AppendUint32(keys, k)
			values = binary.NativeEndian.AppendUint64(values, v)
		}
		return keys, values, sc.Err()
	}, bpfbatch.SyncOptions{})
	fmt.Println(stats, err)
}

// Show what a Sync would do, element by element, without writing anything:
// Changes is called for every add, change and delete (also with DryRun),
// before the write.
func ExampleSyncOptions() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	u32, u64 := binary.NativeEndian.Uint32, binary.NativeEndian.Uint64
	stats, err := bpfbatch.SyncOf(context.Background(), m, []uint32{1, 2, 4}, []uint64{10, 21, 40}, bpfbatch.SyncOptions{
		DryRun: true,
		Changes: func(c bpfbatch.Change) {
			switch c.Kind {
			case bpfbatch.Added:
				fmt.Println(c.Kind, u32(c.Key), u64(c.New))
			case bpfbatch.Changed:
				fmt.Println(c.Kind, u32(c.Key), u64(c.Old), "->", u64(c.New))
			case bpfbatch.Deleted:
				fmt.Println(c.Kind, u32(c.Key), u64(c.Old))
			}
		},
	})
	fmt.Println(stats, err)
	n, _ := m.Count()
	fmt.Println(n, "elements, untouched")
}

// KeepValues: keys in both the map and the input keep the map's value, so
// counters a BPF program keeps survive; only missing keys are written and
// stale ones deleted.
func ExampleSyncOptions_keepValues() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2}, []uint64{517, 9}, bpfbatch.UpdateAny); err != nil { // counted by a program
		log.Fatal(err)
	}

	stats, err := bpfbatch.SyncOf(context.Background(), m, []uint32{1, 3}, []uint64{0, 0}, bpfbatch.SyncOptions{KeepValues: true})
	fmt.Println(stats, err)
	fmt.Println(maps.Collect(bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny).All()))
}

// An empty input empties the map only with AllowEmpty: an empty list is
// more often a mistake upstream than a wish.
func ExampleSyncOptions_allowEmpty() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2}, []uint64{10, 20}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	var none []uint32
	_, err = bpfbatch.SyncOf(context.Background(), m, none, []uint64{}, bpfbatch.SyncOptions{})
	fmt.Println(errors.Is(err, bpfbatch.ErrInvalidArgument))
	stats, err := bpfbatch.SyncOf(context.Background(), m, none, []uint64{}, bpfbatch.SyncOptions{AllowEmpty: true})
	fmt.Println(stats, err)
}

// Range over a map as a Go iterator; batch lookups underneath.
func ExampleIterate() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	got := maps.Collect(it.All())
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(got)
}

// Breaking out of the loop ends the walk: no more syscalls.
func ExampleIterator_All() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 100_000})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{70_000}, []uint64{7}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	for k, v := range it.All() {
		if v != 0 {
			fmt.Println("first set index:", k, v)
			break
		}
	}
	fmt.Println(it.Err())
}

// Per-CPU maps yield every CPU's value of an element; the slice is reused
// for the next element.
func ExampleIterator_AllCPUs() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{0, 1}, []uint64{5, 6}, bpfbatch.UpdateAllCPUs); err != nil {
		log.Fatal(err)
	}

	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	for k, perCPU := range it.AllCPUs() {
		fmt.Println(k, perCPU)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
}

// Err says why a walk ended early: here, All on a per-CPU map, which has a
// value per CPU (AllCPUs yields them).
func ExampleIterator_Err() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	for range it.All() {
	}
	fmt.Println(errors.Is(it.Err(), bpfbatch.ErrInvalidArgument))
}

// An LPM trie of IPv4 prefixes with typed keys: LPMKey4 is the kernel's
// struct bpf_lpm_trie_key with a 4-byte address.
func ExampleLPMKey4() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{
		Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1024,
		Flags: 1, // BPF_F_NO_PREALLOC, which LPM tries require
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	var keys []bpfbatch.LPMKey4
	for _, s := range []string{"10.0.0.0/8", "192.168.1.0/24"} {
		k, err := bpfbatch.LPMKey4From(netip.MustParsePrefix(s))
		if err != nil {
			log.Fatal(err)
		}
		keys = append(keys, k)
	}
	if _, err := bpfbatch.UpdateBatchOf(m, keys, []uint32{1, 2}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	it := bpfbatch.Iterate[bpfbatch.LPMKey4, uint32](m, bpfbatch.UpdateAny)
	fmt.Println(maps.Collect(it.All()))
}

// The key of an IPv4 prefix; host bits are cleared, and an IPv6 prefix is
// refused with what to use instead.
func ExampleLPMKey4From() {
	k, err := bpfbatch.LPMKey4From(netip.MustParsePrefix("10.1.2.3/8"))
	fmt.Println(k.PrefixLen, k.Addr, k, err)

	_, err = bpfbatch.LPMKey4From(netip.MustParsePrefix("2001:db8::/32"))
	fmt.Println(errors.Is(err, bpfbatch.ErrInvalidArgument))
	fmt.Println(err)
	// Output:
	// 8 [10 0 0 0] 10.0.0.0/8 <nil>
	// true
	// bpfbatch: make an LPM trie key from 2001:db8::/32: invalid argument: an IPv6 prefix: use LPMKey6From, for a trie of 20-byte keys
}

// The key of an IPv6 prefix, for a trie with 20-byte keys.
func ExampleLPMKey6From() {
	k, err := bpfbatch.LPMKey6From(netip.MustParsePrefix("2001:db8:ffff::/32"))
	fmt.Println(k.PrefixLen, k, err)
	// Output:
	// 32 2001:db8::/32 <nil>
}

// Prefix turns a key read from a trie back into a netip.Prefix.
func ExampleLPMKey4_Prefix() {
	k := bpfbatch.LPMKey4{PrefixLen: 24, Addr: [4]byte{192, 168, 1, 0}}
	p := k.Prefix()
	fmt.Println(p, p.Contains(netip.MustParseAddr("192.168.1.77")))
	// Output:
	// 192.168.1.0/24 true
}

// Prefix turns a key read from a trie back into a netip.Prefix.
func ExampleLPMKey6_Prefix() {
	k := bpfbatch.LPMKey6{PrefixLen: 64, Addr: netip.MustParseAddr("fd00:1::").As16()}
	fmt.Println(k.Prefix())
	// Output:
	// fd00:1::/64
}

// Create a map. On kernels before 5.11, call RemoveMemlock first.
func ExampleCreateMap() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 20, Name: "conns"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.Info().Type, m.Info().MaxEntries)
}

// Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK, 64 KiB by
// default: RemoveMemlock lifts it there, and does nothing elsewhere. Call
// it once, before creating maps.
func ExampleRemoveMemlock() {
	if err := bpfbatch.RemoveMemlock(); err != nil {
		log.Fatal(err)
	}
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 64, MaxEntries: 100_000})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.Info().MaxEntries)
}

// Take a map another library opened (cilium/ebpf's m.FD(), a libbpf
// skeleton, an fd passed over a socket): NewMap duplicates the fd, so both
// sides close their own.
func ExampleNewMap() {
	other, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	fd := other.FD() // stands for the other library's fd

	m, err := bpfbatch.NewMap(fd)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.Info().Type, m.Info().KeySize, m.Info().ValueSize, m.FD() != fd)
}

// Pin a map so it outlives the process, and open it again by its path.
func ExampleOpenPinned() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024, Name: "conns"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if err := m.Pin("/sys/fs/bpf/example_conns"); err != nil {
		log.Fatal(err)
	}
	// The pin keeps the map alive until it is removed.
	defer os.Remove("/sys/fs/bpf/example_conns")

	pinned, err := bpfbatch.OpenPinned("/sys/fs/bpf/example_conns")
	if err != nil {
		log.Fatal(err)
	}
	defer pinned.Close()
	fmt.Println(pinned.Info().Name, pinned.Info().ID == m.Info().ID)
}

// Pin is shown with OpenPinned; a path that exists already is refused.
func ExampleMap_Pin() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if err := m.Pin("/sys/fs/bpf/example_pin"); err != nil {
		log.Fatal(err)
	}
	defer os.Remove("/sys/fs/bpf/example_pin")

	err = m.Pin("/sys/fs/bpf/example_pin")
	fmt.Println(errors.Is(err, fs.ErrExist))
}

// Open a pin for reading only: that needs only read permission on the pin,
// and the Map refuses writes before any syscall.
func ExampleOpenPinnedWith() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2}, []uint64{10, 20}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}
	if err := m.Pin("/sys/fs/bpf/example_ro"); err != nil {
		log.Fatal(err)
	}
	defer os.Remove("/sys/fs/bpf/example_ro")

	ro, err := bpfbatch.OpenPinnedWith("/sys/fs/bpf/example_ro", bpfbatch.OpenOptions{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	n, err := ro.Count()
	fmt.Println(n, err)
	_, err = bpfbatch.UpdateBatchOf(ro, []uint32{3}, []uint64{30}, bpfbatch.UpdateAny)
	fmt.Println(errors.Is(err, bpfbatch.ErrPermission))
}

// Open a map by its kernel ID (as `bpftool map list` shows it), e.g. one a
// running program holds and nobody pinned. Needs CAP_SYS_ADMIN.
func ExampleOpenByID() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	byID, err := bpfbatch.OpenByID(m.Info().ID)
	if err != nil {
		log.Fatal(err)
	}
	defer byID.Close()
	fmt.Println(byID.Info().Type, byID.Info().ID == m.Info().ID)
}

// OpenByID with options: here for reading only.
func ExampleOpenByIDWith() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	ro, err := bpfbatch.OpenByIDWith(m.Info().ID, bpfbatch.OpenOptions{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	_, err = bpfbatch.DeleteBatchOf(ro, []uint32{1}, bpfbatch.UpdateAny)
	fmt.Println(errors.Is(err, bpfbatch.ErrPermission))
}

// Replace a map-in-map slot's inner map with a freshly filled one in one
// update: BPF programs see the old contents or the new, never a mix.
func ExampleReplaceInner() {
	spec := bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024}
	old, err := bpfbatch.CreateMap(spec)
	if err != nil {
		log.Fatal(err)
	}
	defer old.Close()
	outer, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMapFD: old.FD()})
	if err != nil {
		log.Fatal(err)
	}
	defer outer.Close()
	slot := binary.NativeEndian.AppendUint32(nil, 0)
	if _, err := bpfbatch.UpdateBatchOf(outer, []uint32{0}, []uint32{uint32(old.FD())}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	var keys, values []byte
	for i := range uint32(3) {
		keys = binary.NativeEndian.AppendUint32(keys, i)
		values = binary.NativeEndian.AppendUint64(values, uint64(i)*100)
	}
	inner, err := bpfbatch.ReplaceInner(outer, slot, spec, keys, values)
	if err != nil {
		log.Fatal(err)
	}
	defer inner.Close()

	id := make([]byte, 4) // a map-in-map lookup returns the inner map's ID
	if err := outer.Lookup(slot, id); err != nil {
		log.Fatal(err)
	}
	n, _ := inner.Count()
	fmt.Println(binary.NativeEndian.Uint32(id) == inner.Info().ID, n)
}

// The number of possible CPUs, which sets the per-CPU layout: not
// runtime.NumCPU, not the online CPUs.
func ExamplePossibleCPUs() {
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cpus)
}

// OnCPU(n) makes a call touch only CPU n's value of a per-CPU map (Linux
// 7.0): values hold one value per element.
func ExampleOnCPU() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	_, err = bpfbatch.UpdateBatchOf(m, []uint32{1}, []uint64{42}, bpfbatch.OnCPU(0))
	switch {
	case errors.Is(err, bpfbatch.ErrNotSupported):
		fmt.Println("this kernel has no BPF_F_CPU (Linux 7.0)")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("CPU 0 of key 1 set")
	}
}

// UpdateAllCPUs writes one value per element to every CPU of a per-CPU
// map: natively on Linux 7.0 and later, laid out by bpfbatch before.
func ExampleFlags_updateAllCPUs() {
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

// Validate checks a combination of flags without a map.
func ExampleFlags_Validate() {
	fmt.Println(bpfbatch.UpdateNoExist.Validate())
	err := (bpfbatch.UpdateNoExist | bpfbatch.UpdateExist).Validate()
	fmt.Println(errors.Is(err, bpfbatch.ErrInvalidFlags))
	// Output:
	// <nil>
	// true
}

func ExampleMapType_String() {
	fmt.Println(bpfbatch.LRUPerCPUHash, bpfbatch.MapType(99))
	// Output:
	// LRUPerCPUHash MapType(99)
}

func ExampleMapType_PerCPU() {
	fmt.Println(bpfbatch.PerCPUArray.PerCPU(), bpfbatch.Array.PerCPU())
	// Output:
	// true false
}

// Lookup reads one element; a missing key is ErrKeyNotExist.
func ExampleMap_Lookup() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1}, []uint64{10}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	value := make([]byte, m.ValueStride())
	err = m.Lookup(binary.NativeEndian.AppendUint32(nil, 1), value)
	fmt.Println(binary.NativeEndian.Uint64(value), err)
	err = m.Lookup(binary.NativeEndian.AppendUint32(nil, 2), value)
	fmt.Println(errors.Is(err, bpfbatch.ErrKeyNotExist))
}

// LookupWith reads one CPU's value of a per-CPU element with OnCPU (Linux
// 7.0), or a value under its spin lock with UpdateLock.
func ExampleMap_LookupWith() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1}, []uint64{7}, bpfbatch.UpdateAllCPUs); err != nil {
		log.Fatal(err)
	}

	value := make([]byte, m.ValueStrideFor(bpfbatch.OnCPU(0))) // value_size: one CPU's value
	err = m.LookupWith(binary.NativeEndian.AppendUint32(nil, 1), value, bpfbatch.OnCPU(0))
	switch {
	case errors.Is(err, bpfbatch.ErrNotSupported):
		fmt.Println("this kernel has no BPF_F_CPU (Linux 7.0)")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(binary.NativeEndian.Uint64(value))
	}
}

// Count walks the map's keys: the kernel keeps no count.
func ExampleMap_Count() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1, 2, 3}, []uint64{10, 20, 30}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Count())
}

// Walk reads every element, handing fn a batch at a time; with Workers > 1
// several parts of the map are read at once and fn runs concurrently.
func ExampleMap_Walk() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 100_000})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	keys, values := make([]uint32, 100_000), make([]uint64, 100_000)
	for i := range keys {
		keys[i], values[i] = uint32(i), 1
	}
	if _, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}

	var sum atomic.Uint64
	err = m.Walk(context.Background(), bpfbatch.WalkOptions{Workers: 2}, func(keys, values []byte, n int) error {
		var s uint64
		for i := range n {
			s += binary.NativeEndian.Uint64(values[8*i:])
		}
		sum.Add(s)
		return nil
	})
	fmt.Println(sum.Load(), err)
}

// Close is idempotent; later calls on the Map return ErrClosed.
func ExampleMap_Close() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Close(), m.Close(), m.FD())
	_, err = m.Count()
	fmt.Println(errors.Is(err, bpfbatch.ErrClosed))
}

// FD hands the map to the kernel where it takes an fd: here as the value of
// a map-in-map slot (whose lookups then return the map's ID).
func ExampleMap_FD() {
	inner, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer inner.Close()
	outer, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 4, InnerMapFD: inner.FD()})
	if err != nil {
		log.Fatal(err)
	}
	defer outer.Close()

	if _, err := bpfbatch.UpdateBatchOf(outer, []uint32{2}, []uint32{uint32(inner.FD())}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}
	id := make([]byte, 4)
	if err := outer.Lookup(binary.NativeEndian.AppendUint32(nil, 2), id); err != nil {
		log.Fatal(err)
	}
	fmt.Println(binary.NativeEndian.Uint32(id) == inner.Info().ID)
}

// Info is what the kernel reported about the map when it was opened.
func ExampleMap_Info() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.LRUHash, KeySize: 16, ValueSize: 24, MaxEntries: 4096, Name: "flows"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	info := m.Info()
	fmt.Println(info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.Name)
}

// String names the map as errors do.
func ExampleMap_String() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: "conns"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m) // e.g. Hash map "conns" (id 7)
}

// ValueStride is the bytes one element's value takes in a values buffer:
// for per-CPU maps, one slot of value_size rounded up to 8 per possible CPU.
func ExampleMap_ValueStride() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.ValueStride() == cpus*16)
}

// With OnCPU or UpdateAllCPUs a per-CPU map takes one value_size value per
// element.
func ExampleMap_ValueStrideFor() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.ValueStrideFor(bpfbatch.UpdateAllCPUs), m.ValueStrideFor(bpfbatch.UpdateAny) == m.ValueStride())
}

// How UpdateBatch writes a map: one batch syscall, or one per element
// where the map type or kernel has no batch command (LPM tries before 5.13).
func ExampleMap_UpdatePath() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 16, Flags: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.UpdatePath())
}

// How LookupBatch, Count and Walk read a map.
func ExampleMap_ReadPath() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Queue, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.ReadPath())
}

// How DeleteBatch deletes from a map.
func ExampleMap_DeletePath() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println(m.DeletePath())
}

// An LRU map evicts before it is full; EvictionFreeSize is how many
// elements it holds without a write from user space evicting one. Sync
// checks for evictions when its input is bigger (ErrEvicted).
func ExampleMap_EvictionFreeSize() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4096})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.EvictionFreeSize() == 4096-128*cpus)
}

// Done reports that the walk is complete, an alternative to waiting for
// (0, nil).
func ExampleCursor_Done() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 10})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	keys, values := make([]uint32, 4), make([]uint64, 4)
	var c bpfbatch.Cursor
	for !c.Done() {
		n, err := bpfbatch.LookupBatchOf(m, &c, keys, values, bpfbatch.UpdateAny)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(n, " ")
	}
	fmt.Println()
}

// Reset starts a new walk and keeps the Cursor's buffers, so walks in a
// loop allocate nothing.
func ExampleCursor_Reset() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 10})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	keys, values := make([]uint32, 16), make([]uint64, 16)
	var c bpfbatch.Cursor
	for range 2 {
		c.Reset()
		n, err := bpfbatch.LookupBatchOf(m, &c, keys, values, bpfbatch.UpdateAny)
		fmt.Println(n, err, c.Done())
	}
}

// CountMissing checks which keys a map lacks, e.g. after writing into an
// LRU map, which may evict what it was given.
func ExampleMap_CountMissing() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4096})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	var keys []byte
	for k := range uint32(1000) { // fewer than EvictionFreeSize: none evicted
		keys = binary.NativeEndian.AppendUint32(keys, k)
	}
	if _, err := m.UpdateBatch(keys, make([]byte, 1000*8), bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.CountMissing(context.Background(), keys))

	if _, err := bpfbatch.DeleteBatchOf(m, []uint32{5, 7}, bpfbatch.UpdateAny); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.CountMissing(context.Background(), keys))
}

// MapIDs leads to maps nobody pinned, such as those of running programs:
// open each by ID and pick the one wanted, here by name.
func ExampleMapIDs() {
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16, Name: "ex_needle"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	for id, err := range bpfbatch.MapIDs() {
		if err != nil {
			log.Fatal(err)
		}
		other, err := bpfbatch.OpenByIDWith(id, bpfbatch.OpenOptions{ReadOnly: true})
		if err != nil {
			continue // freed meanwhile
		}
		name := other.Info().Name
		other.Close()
		if name == "ex_needle" {
			fmt.Println("found", name)
			break
		}
	}
}

// IsArray: keys are u32 indices below max_entries.
func ExampleMapType_IsArray() {
	fmt.Println(bpfbatch.Array.IsArray(), bpfbatch.ProgramArray.IsArray(), bpfbatch.Hash.IsArray())
	// Output:
	// true true false
}

// CanDelete: array elements always exist; clearing one means writing zeros.
func ExampleMapType_CanDelete() {
	fmt.Println(bpfbatch.Hash.CanDelete(), bpfbatch.Array.CanDelete(), bpfbatch.PerCPUArray.CanDelete())
	// Output:
	// true false false
}

// Evicts: LRU maps make room by evicting, so a write never fails for lack
// of room and may lose other keys.
func ExampleMapType_Evicts() {
	fmt.Println(bpfbatch.LRUHash.Evicts(), bpfbatch.LRUPerCPUHash.Evicts(), bpfbatch.Hash.Evicts())
	// Output:
	// true true false
}

// FDValues: values written as file descriptors read back as IDs, so they
// cannot be copied as bytes.
func ExampleMapType_FDValues() {
	fmt.Println(bpfbatch.ArrayOfMaps.FDValues(), bpfbatch.ProgramArray.FDValues(), bpfbatch.Hash.FDValues())
	// Output:
	// true true false
}

// The values layout of a map that does not exist yet: value_size, or for
// per-CPU types one 8-byte-aligned slot per possible CPU.
func ExampleMapType_ValueStride() {
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		log.Fatal(err)
	}
	hash, _ := bpfbatch.Hash.ValueStride(12)
	perCPU, err := bpfbatch.PerCPUHash.ValueStride(12)
	fmt.Println(hash, perCPU == cpus*16, err)
}
