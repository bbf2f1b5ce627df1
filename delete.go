package bpfbatch

import (
	"fmt"
	"math"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// DeleteBatch deletes len(keys)/key_size keys in order, with one
// BPF_MAP_DELETE_BATCH (or one BPF_MAP_DELETE_ELEM each where the map type
// or kernel has none). The contract is UpdateBatch's: it returns the number
// of keys deleted; on error, keys [0, n) are gone, key n failed (a missing
// key: ErrKeyNotExist) and nothing after it was deleted. Array maps cannot
// delete: ErrNotSupported before any syscall. flags must be UpdateAny.
func (m *Map) DeleteBatch(keys []byte, flags Flags) (int, error) {
	return withFD(m, "delete batch", func(fd *sys.FD) (int, error) {
		count, err := m.checkDelete(keys, flags)
		if err != nil || count == 0 {
			return 0, err
		}
		n, f := m.deleteKeys(fd, keys, count, 0)
		return n, m.elemError(f, flags, count, n, nil)
	})
}

// checkDelete validates a delete before any syscall and returns the key
// count.
func (m *Map) checkDelete(keys []byte, flags Flags) (int, error) {
	const op = "delete batch"
	fail := func(sentinel error, format string, args ...any) (int, error) {
		return 0, fmt.Errorf("bpfbatch: %s on %s: %w: %s", op, m.info.describe(), sentinel, fmt.Sprintf(format, args...))
	}
	ks := int(m.info.KeySize)
	switch {
	case flags != UpdateAny:
		return fail(ErrInvalidFlags, "%s: deletes take no flags", flags)
	case !m.info.Type.canDelete():
		return fail(ErrNotSupported, "the elements of %s maps always exist; write zero values instead", m.info.Type)
	case ks == 0:
		return fail(ErrNotSupported, "%s maps have no keys to delete", m.info.Type)
	case len(keys)%ks != 0:
		return 0, &SizeError{Buffer: "keys", Got: len(keys), Want: ks, Op: op, Map: m.info, CPUs: m.cpus}
	case uint64(len(keys)/ks) > math.MaxUint32:
		return 0, fmt.Errorf("bpfbatch: %s on %s: %d keys exceed the kernel's u32 count; split the batch", op, m.info.describe(), len(keys)/ks)
	}
	return len(keys) / ks, nil
}

// deleteKeys deletes count validated keys; base is the index of the first
// in the caller's call.
func (m *Map) deleteKeys(fd *sys.FD, keys []byte, count, base int) (int, fault) {
	if path, errno := m.probeBatch(fd, &m.deletePath, sys.MapDeleteBatch); errno == 0 && path == PerElementPath {
		ks := int(m.info.KeySize)
		for i := range count {
			attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], nil, 0)
			if errno := sys.MapDeleteElem(&attr); errno != 0 {
				return i, m.newFault(fd, opDeleteElem, errno, 0, base+i)
			}
		}
		return count, fault{}
	}
	attr := newBatchAttr(fd, keys, nil, count, 0)
	errno := sys.MapDeleteBatch(&attr)
	switch {
	case errno == 0:
		return count, fault{}
	case attr.Count >= uint32(count): // refused before generic_map_delete_batch's loop
		return 0, m.newFault(fd, opDeleteBatch, errno, 0, -1)
	}
	return int(attr.Count), m.newFault(fd, opDeleteBatch, errno, 0, base+int(attr.Count))
}
