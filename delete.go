package bpfbatch

import (
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// DeleteBatch deletes len(keys)/key_size keys in order, with one
// BPF_MAP_DELETE_BATCH (or one BPF_MAP_DELETE_ELEM each where the map type
// or kernel has none). The contract is UpdateBatch's: it returns the number
// of keys deleted; on error, keys [0, n) are gone, key n failed (a missing
// key: ErrKeyNotExist) and nothing after it was deleted. Array maps cannot
// delete: ErrNotSupported before any syscall. flags must be UpdateAny.
func (m *Map) DeleteBatch(keys []byte, flags Flags) (int, error) {
	return withFD(m, opDelete, func(fd *sys.FD) (int, error) {
		count, err := m.checkDelete(keys, flags)
		if err != nil || count == 0 {
			return 0, err
		}
		n, f := m.deleteKeys(fd, keys, count, 0)
		return n, m.batchError(opDelete, f, nil, flags, count, n, nil)
	})
}

// checkDelete validates a delete before any syscall and returns the key
// count.
func (m *Map) checkDelete(keys []byte, flags Flags) (int, error) {
	if err := m.checkWritable(opDelete); err != nil {
		return 0, err
	}
	ks := int(m.info.KeySize)
	switch {
	case flags != UpdateAny:
		return 0, m.refuse(opDelete, ErrInvalidFlags, "%s: deletes take no flags", flags)
	case !m.info.Type.CanDelete():
		return 0, m.refuse(opDelete, ErrNotSupported, "the elements of %s maps always exist; write zero values instead", m.info.Type)
	case ks == 0:
		return 0, m.refuse(opDelete, ErrNotSupported, "%s maps have no keys to delete", m.info.Type)
	case len(keys)%ks != 0:
		return 0, m.sizeError(SizeError{Op: opDelete, Buffer: "keys", Got: len(keys), Want: ks})
	}
	return len(keys) / ks, m.checkCount(opDelete, len(keys)/ks)
}

// deleteKeys deletes count validated keys; base is the index of the first
// in the caller's call.
func (m *Map) deleteKeys(fd *sys.FD, keys []byte, count, base int) (int, fault) {
	if m.perElement(fd, &m.deletePath, sys.MapDeleteBatch) {
		ks := int(m.info.KeySize)
		for i := range count {
			attr := newElemAttr(fd, keys[i*ks:(i+1)*ks], nil, 0)
			if errno := sys.MapDeleteElem(&attr); errno != 0 {
				return i, m.newFault(fd, cmdDeleteElem, errno, 0, base+i)
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
		return 0, m.newFault(fd, cmdDeleteBatch, errno, 0, -1)
	}
	return int(attr.Count), m.newFault(fd, cmdDeleteBatch, errno, 0, base+int(attr.Count))
}
