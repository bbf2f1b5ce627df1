package bpfbatch

import (
	"context"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// The typed forms of the read side: the same rules for K and V as
// UpdateBatchOf.

// LookupBatchOf is the typed form of Map.LookupBatch: it reads the elements
// after c into keys and values and advances c, with LookupBatch's contract
// (it returns how many it read; (0, nil) means the walk is complete; a
// short count is not the end). K and V follow UpdateBatchOf's rules: for
// per-CPU maps values holds len(keys) x PossibleCPUs() entries,
// element-major, or one V per key with OnCPU.
//
// Where the Go layout is the kernel's, the kernel writes into keys and
// values directly. Types with padding get their padding zeroed after the
// read (so what a later typed write carries back is what the map held); a
// per-CPU V of value_size not a multiple of 8 is read through a scratch
// buffer, a bounded number of elements per call.
func LookupBatchOf[K, V any](m *Map, c *Cursor, keys []K, values []V, flags Flags) (int, error) {
	return readTyped(m, c, keys, values, flags, false)
}

// LookupAndDeleteBatchOf is the typed form of Map.LookupAndDeleteBatch:
// LookupBatchOf that also deletes what it returns (hash maps only).
func LookupAndDeleteBatchOf[K, V any](m *Map, c *Cursor, keys []K, values []V, flags Flags) (int, error) {
	return readTyped(m, c, keys, values, flags, true)
}

func readTyped[K, V any](m *Map, c *Cursor, keys []K, values []V, flags Flags, del bool) (int, error) {
	op := readOp(del)
	return withFD(m, op, func(fd *sys.FD) (int, error) {
		v, err := viewTyped(m, op, keys, values, flags)
		if err != nil {
			return 0, err
		}
		perKey := 1 // Vs per key
		if m.cpus > 0 && !flags.onePerElement() && v.lay == kernelLayout {
			perKey = m.cpus
		}
		if v.lay == kernelLayout {
			n, err := m.readChecked(fd, op, c, v.keys, v.values, flags, del)
			v.clearPadding(n, n*perKey)
			return n, err
		}
		return m.readUnpadded(fd, op, c, v, len(keys), flags, del)
	})
}

// readUnpadded reads per-CPU values whose V is value_size bytes, not the
// kernel's 8-byte slot, through a scratch buffer: at most what fits the
// scratch buffer per call.
func (m *Map) readUnpadded(fd *sys.FD, op string, c *Cursor, v typedView, nkeys int, flags Flags, del bool) (int, error) {
	if want := nkeys * m.cpus * v.valueSize; len(v.values) != want {
		return 0, m.sizeError(SizeError{Op: op, Buffer: "values", Got: len(v.values), Want: want, Elements: nkeys, Entry: v.valueSize, Flags: flags})
	}
	per := max(1, min(nkeys, scratchLimit/max(1, m.stride)))
	buf, owned := m.takeScratch(per * m.stride)
	defer m.giveScratch(owned)
	n, err := m.readChecked(fd, op, c, v.keys[:per*v.keySize], buf, flags, del)
	m.unpadInto(v.values, buf, n)
	v.clearPadding(n, n*m.cpus)
	return n, err
}

// DeleteBatchOf is the typed form of Map.DeleteBatch: K as in
// UpdateBatchOf, unsafe.Sizeof(K) == key_size; a K with padding is copied
// with the padding zeroed.
func DeleteBatchOf[K any](m *Map, keys []K, flags Flags) (int, error) {
	kb, err := withFD(m, opDelete, func(*sys.FD) ([]byte, error) {
		return keyView(m, opDelete, keys)
	})
	if err != nil {
		return 0, err
	}
	return m.DeleteBatch(kb, flags)
}

// SyncOf is the typed form of Map.Sync: K and V as in UpdateBatchOf (for
// per-CPU maps values holds len(keys) x PossibleCPUs() entries,
// element-major), with Sync's contract and options.
func SyncOf[K, V any](ctx context.Context, m *Map, keys []K, values []V, opts SyncOptions) (SyncStats, error) {
	type bytesOf struct{ keys, values []byte }
	b, err := withFD(m, opSync, func(*sys.FD) (bytesOf, error) {
		v, err := viewTyped(m, opSync, keys, values, UpdateAny)
		if err != nil {
			return bytesOf{}, err
		}
		kb, vb := v.forWrite()
		if v.lay == unpaddedPerCPU {
			if want := len(keys) * m.cpus * v.valueSize; len(vb) != want {
				return bytesOf{}, m.sizeError(SizeError{Op: opSync, Buffer: "values", Got: len(vb), Want: want, Elements: len(keys), Entry: v.valueSize})
			}
			// Sync compares and writes in the kernel's layout.
			padded := make([]byte, len(keys)*m.stride)
			m.padInto(padded, vb, len(keys))
			vb = padded
		}
		return bytesOf{kb, vb}, nil
	})
	if err != nil {
		return SyncStats{}, err
	}
	return m.Sync(ctx, b.keys, b.values, opts)
}
