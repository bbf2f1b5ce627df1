// Command cilium-interop shows bpfbatch working on maps that
// github.com/cilium/ebpf made: cilium/ebpf creates each map (as it would
// load one from an ELF collection), bpfbatch takes it with
// bpfbatch.NewMap(m.FD()), bulk-loads it and reads it back, and cilium's
// own Lookup and Iterate check every element, per-CPU values included.
//
//	cd examples/cilium-interop && go run .   # as root, or with CAP_BPF
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"

	"github.com/bpfbatch/bpfbatch"
)

const entries = 100_000

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cilium-interop:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	// Kernels before 5.11 charge map memory to RLIMIT_MEMLOCK (cilium's
	// rlimit.RemoveMemlock does the same).
	if err := bpfbatch.RemoveMemlock(); err != nil {
		return err
	}
	if err := hash(w); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	if err := perCPUHash(w); err != nil {
		return fmt.Errorf("per-CPU hash: %w", err)
	}
	return nil
}

// hash loads a u32 -> u64 hash map that cilium/ebpf created.
func hash(w io.Writer) error {
	cm, err := ebpf.NewMap(&ebpf.MapSpec{Name: "conns", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: entries})
	if err != nil {
		return err
	}
	defer cm.Close()

	// NewMap duplicates the fd: cilium's Map and bpfbatch's each close their own.
	m, err := bpfbatch.NewMap(cm.FD())
	if err != nil {
		return err
	}
	defer m.Close()

	keys, values := make([]uint32, entries), make([]uint64, entries)
	for i := range keys {
		keys[i], values[i] = key(i), value(i)
	}
	n, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny)
	if err != nil {
		return err
	}
	read := 0
	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	for k, v := range it.All() {
		if v != wantValue(k) {
			return fmt.Errorf("bpfbatch reads key %#x as %d, want %d", k, v, wantValue(k))
		}
		read++
	}
	if err := it.Err(); err != nil {
		return err
	}
	if read != entries {
		return fmt.Errorf("bpfbatch read %d elements back, want %d", read, entries)
	}
	checked, err := checkHash(cm, keys, values)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: bpfbatch wrote %d elements and read %d back; cilium/ebpf Lookup and Iterate agree on %d\n", m, n, read, checked)

	// The other way round: cilium/ebpf deletes, bpfbatch sees it.
	deleted, err := cm.BatchDelete(keys[:1000], nil)
	if err != nil {
		return err
	}
	left, err := m.Count()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "cilium/ebpf deleted %d; bpfbatch counts %d\n", deleted, left)
	return nil
}

// checkHash reads the map through cilium/ebpf only: Lookup of every key
// loaded, and an Iterate that must return exactly those keys.
func checkHash(cm *ebpf.Map, keys []uint32, values []uint64) (int, error) {
	var v uint64
	for i, k := range keys {
		if err := cm.Lookup(k, &v); err != nil {
			return 0, fmt.Errorf("cilium Lookup(%#x): %w", k, err)
		}
		if v != values[i] {
			return 0, fmt.Errorf("cilium Lookup(%#x) = %d, want %d", k, v, values[i])
		}
	}
	var k uint32
	n := 0
	it := cm.Iterate()
	for it.Next(&k, &v) {
		if v != wantValue(k) {
			return 0, fmt.Errorf("cilium Iterate returns key %#x with %d, want %d", k, v, wantValue(k))
		}
		n++
	}
	if err := it.Err(); err != nil {
		return 0, err
	}
	if n != len(keys) {
		return 0, fmt.Errorf("cilium Iterate returns %d elements, want %d", n, len(keys))
	}
	return n, nil
}

// perCPUHash loads a per-CPU hash map that cilium/ebpf created. The two
// libraries lay per-CPU values out differently: bpfbatch takes one flat
// slice, element-major (all CPUs of element 0, then element 1, ...),
// where cilium's Lookup fills one slice per key.
func perCPUHash(w io.Writer) error {
	cm, err := ebpf.NewMap(&ebpf.MapSpec{Name: "hits", Type: ebpf.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: entries})
	if err != nil {
		return err
	}
	defer cm.Close()
	m, err := bpfbatch.NewMap(cm.FD())
	if err != nil {
		return err
	}
	defer m.Close()

	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		return err
	}
	keys, values := make([]uint32, entries), make([]uint64, entries*cpus)
	for i := range keys {
		keys[i] = key(i)
		for c := range cpus {
			values[i*cpus+c] = value(i) + uint64(c)
		}
	}
	n, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny)
	if err != nil {
		return err
	}
	read := 0
	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	for k, perCPU := range it.AllCPUs() {
		for c, v := range perCPU {
			if v != wantValue(k)+uint64(c) {
				return fmt.Errorf("bpfbatch reads key %#x CPU %d as %d, want %d", k, c, v, wantValue(k)+uint64(c))
			}
		}
		read++
	}
	if err := it.Err(); err != nil {
		return err
	}

	if read != entries {
		return fmt.Errorf("bpfbatch read %d elements back, want %d", read, entries)
	}

	got := make([]uint64, cpus) // cilium: one value per possible CPU
	for i, k := range keys {
		if err := cm.Lookup(k, got); err != nil {
			return fmt.Errorf("cilium Lookup(%#x): %w", k, err)
		}
		for c := range cpus {
			if got[c] != values[i*cpus+c] {
				return fmt.Errorf("cilium Lookup(%#x) CPU %d = %d, want %d", k, c, got[c], values[i*cpus+c])
			}
		}
	}
	fmt.Fprintf(w, "%s: bpfbatch wrote %d elements x %d CPUs and read %d back; cilium/ebpf Lookup agrees on all\n", m, n, cpus, read)
	return nil
}

// key and value are element i's key and value: keys scattered over the
// u32 range (distinct: the multiplier is odd), values derived from the key
// so a reader can check any element it meets.
func key(i int) uint32          { return uint32(i) * 0x9E3779B1 }
func value(i int) uint64        { return wantValue(key(i)) }
func wantValue(k uint32) uint64 { return uint64(k)<<8 | 0x5a }
