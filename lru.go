package bpfbatch

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/cpus"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// LRU maps evict before they are full: a write that evicts reports success,
// so what promises a map's contents must check afterwards.

// lruLocalFree is LOCAL_FREE_TARGET in kernel/bpf/bpf_lru_list.c: an LRU
// map's CPU takes this many free nodes at a time from the map's common
// list, and when fewer are left there it evicts to make up the difference,
// even though other CPUs' lists still hold free nodes.
const lruLocalFree = 128

// EvictionFreeSize returns how many elements an LRU map (LRUHash,
// LRUPerCPUHash) can hold without a write from user space evicting one:
// max_entries - 128 x PossibleCPUs() (each CPU may hold 128 free nodes
// back), or with BPF_F_NO_COMMON_LRU, where every CPU has its own
// max_entries/PossibleCPUs() nodes and one writer may run on any of them,
// max_entries/PossibleCPUs() - 1 (an update of an existing key takes a new
// node before it frees the old). Other map types do not evict: their
// max_entries. The result may be 0.
func (m *Map) EvictionFreeSize() int {
	if m == nil {
		return 0
	}
	entries := int(m.info.MaxEntries)
	if !m.info.Type.Evicts() {
		return entries
	}
	n, err := cpus.Possible()
	if err != nil || n < 1 {
		n = 1
	}
	if m.info.Flags&unix.BPF_F_NO_COMMON_LRU != 0 {
		return max(0, entries/n-1)
	}
	return max(0, entries-lruLocalFree*n)
}

// checkNotEvicted verifies, after a Sync of keys into an LRU map, that the
// kernel kept what was written: the elements written, or, when the input
// is too big for the map to hold without evicting, every input key (an
// eviction may take an unchanged one). Missing keys are ErrEvicted.
func (m *Map) checkNotEvicted(keys []byte, d *syncDiff) error {
	ks := int(m.info.KeySize)
	count := len(keys) / ks
	check := d.write
	if count > m.EvictionFreeSize() {
		check = make([]int, count) // every input key
		for i := range check {
			check[i] = i
		}
	}
	missing, first := 0, -1
	_, err := withFD(m, opSync, func(fd *sys.FD) (struct{}, error) {
		value := make([]byte, m.stride)
		for _, i := range check {
			attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], value, UpdateAny)
			switch errno := sys.MapLookupElem(&attr); errno {
			case 0:
			case unix.ENOENT:
				if missing++; first < 0 {
					first = i
				}
			default:
				return struct{}{}, m.singleError(opLookup, m.newFault(fd, cmdLookupElem, errno, UpdateAny, i), UpdateAny)
			}
		}
		return struct{}{}, nil
	})
	switch {
	case err != nil:
		return m.syncError(syncChecking, d, d.stats.Deleted, len(d.write), err)
	case missing > 0:
		e := m.syncError(syncEvicted, d, d.stats.Deleted, len(d.write), ErrEvicted)
		e.Missing, e.Checked, e.inputKeys, e.evictionFree = missing, len(check), count, m.EvictionFreeSize()
		e.firstMissing = fmt.Sprintf("element %d, key %x", first, keys[first*ks:(first+1)*ks])
		return e
	}
	return nil
}
