// Command quickstart shows bpfbatch at work: it creates a hash map and a
// per-CPU hash map, writes 100 000 entries into each with one UpdateBatch
// call, reads them back with LookupBatch and says how long it took.
//
//	go run ./examples/quickstart   # as root, or with CAP_BPF
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bpfbatch/bpfbatch"
)

const entries = 100_000

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", explain(err))
		os.Exit(1)
	}
}

func run() error {
	// Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK (64 KiB by
	// default): lift it there. Elsewhere this does nothing.
	if err := bpfbatch.RemoveMemlock(); err != nil {
		return err
	}
	// A u32 -> u64 hash map, filled from typed slices in place.
	hash, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: entries, Name: "quickstart"})
	if err != nil {
		return err
	}
	defer hash.Close()
	keys := make([]uint32, entries)
	values := make([]uint64, entries)
	for i := range keys {
		keys[i] = uint32(i) * 2654435761 // scattered, distinct
		values[i] = uint64(i) * 1000
	}
	start := time.Now()
	n, err := bpfbatch.UpdateBatchOf(hash, keys, values, bpfbatch.UpdateAny)
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Printf("%s: wrote %d entries with one BPF_MAP_UPDATE_BATCH in %v (%.0f ns/entry)\n",
		hash, n, took.Round(time.Microsecond), float64(took.Nanoseconds())/float64(n))
	for _, i := range []int{0, 1, entries - 1} {
		got := make([]byte, hash.ValueStride())
		if err := hash.Lookup(binary.NativeEndian.AppendUint32(nil, keys[i]), got); err != nil {
			return err
		}
		fmt.Printf("  key 0x%08x -> %d\n", keys[i], binary.NativeEndian.Uint64(got))
	}

	// Read the whole map back in batches of 4096 entries.
	const per = 4096
	kbuf, vbuf := make([]byte, per*4), make([]byte, per*hash.ValueStride())
	var cursor bpfbatch.Cursor
	read, sum := 0, uint64(0)
	start = time.Now()
	for {
		n, err := hash.LookupBatch(&cursor, kbuf, vbuf, bpfbatch.UpdateAny)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		for i := range n {
			sum += binary.NativeEndian.Uint64(vbuf[8*i:])
		}
		read += n
	}
	readTook := time.Since(start)
	if want := uint64(entries) * (entries - 1) / 2 * 1000; read != entries || sum != want {
		return fmt.Errorf("read back %d entries summing to %d, want %d summing to %d", read, sum, entries, want)
	}
	fmt.Printf("read all %d entries back with BPF_MAP_LOOKUP_BATCH in %v (%.0f ns/entry)\n",
		read, readTook.Round(time.Microsecond), float64(readTook.Nanoseconds())/float64(read))

	// The same load element by element, for comparison: UpdateNoExist
	// goes through one BPF_MAP_UPDATE_ELEM per entry, because the kernel's
	// batch command refuses that flag.
	slow, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: entries})
	if err != nil {
		return err
	}
	defer slow.Close()
	start = time.Now()
	if _, err := bpfbatch.UpdateBatchOf(slow, keys, values, bpfbatch.UpdateNoExist); err != nil {
		return err
	}
	perElem := time.Since(start)
	fmt.Printf("same load, one syscall per entry: %v (batch was %.1fx faster)\n",
		perElem.Round(time.Microsecond), float64(perElem)/float64(took))

	// A per-CPU hash map: every entry holds one value per possible CPU,
	// element-major (all CPUs of entry 0, then entry 1, ...).
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		return err
	}
	perCPU, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: entries, Name: "quickstart_pcpu"})
	if err != nil {
		return err
	}
	defer perCPU.Close()
	perCPUValues := make([]uint64, entries*cpus)
	for i := range perCPUValues {
		perCPUValues[i] = uint64(i/cpus)*10 + uint64(i%cpus) // entry*10 + cpu
	}
	start = time.Now()
	n, err = bpfbatch.UpdateBatchOf(perCPU, keys, perCPUValues, bpfbatch.UpdateAny)
	if err != nil {
		return err
	}
	took = time.Since(start)
	fmt.Printf("%s: wrote %d entries x %d possible CPUs in one call in %v (%.0f ns/entry)\n",
		perCPU, n, cpus, took.Round(time.Microsecond), float64(took.Nanoseconds())/float64(n))
	got := make([]byte, perCPU.ValueStride())
	if err := perCPU.Lookup(binary.NativeEndian.AppendUint32(nil, keys[7]), got); err != nil {
		return err
	}
	fmt.Printf("  key 0x%08x ->", keys[7])
	for c := range cpus {
		fmt.Printf(" cpu%d=%d", c, binary.NativeEndian.Uint64(got[c*8:]))
	}
	fmt.Println()
	return nil
}

// explain turns the most common failures into one plain sentence.
func explain(err error) string {
	var be *bpfbatch.BatchError
	switch {
	case errors.Is(err, bpfbatch.ErrPermission):
		return "this needs permission to use BPF: run it as root (sudo) or give the binary CAP_BPF.\n" + err.Error()
	case errors.Is(err, bpfbatch.ErrNotSupported):
		return "this kernel lacks what the example uses; it needs Linux 5.6 or newer."
	case errors.As(err, &be):
		return fmt.Sprintf("the kernel stopped the load after %d of %d entries: %v", be.Processed, be.Requested, err)
	}
	return err.Error()
}
