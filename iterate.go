package bpfbatch

import (
	"iter"
)

// iterateBatch is the number of elements an Iterator reads per syscall.
const iterateBatch = 4096

// Iterator walks a map with batch lookups (4096 elements per syscall) as a
// Go iterator:
//
//	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
//	for k, v := range it.All() {
//		...
//	}
//	if err := it.Err(); err != nil {
//		...
//	}
//
// K and V follow UpdateBatchOf's rules. Breaking out of the loop ends the
// walk: no more syscalls. Each loop over All or AllCPUs walks the map from
// the start, with LookupBatch's exactly-once contract. An Iterator is not
// safe for concurrent use.
type Iterator[K, V any] struct {
	m     *Map
	flags Flags
	err   error
}

// Iterate returns an Iterator over m's elements. flags: UpdateAny,
// UpdateLock or OnCPU(n).
func Iterate[K, V any](m *Map, flags Flags) *Iterator[K, V] {
	return &Iterator[K, V]{m: m, flags: flags}
}

// All yields every element with one V per element: for maps without
// per-CPU values, or per-CPU maps with OnCPU(n). On a per-CPU map without
// OnCPU it yields nothing and Err says to use AllCPUs.
func (it *Iterator[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if it.m != nil && it.m.cpus > 0 && !it.flags.onePerElement() {
			it.err = it.m.refuse(opWalk, ErrInvalidArgument, "%s holds one value per CPU: use AllCPUs, or OnCPU(n) for one CPU's", it.m.info.describe())
			return
		}
		it.walk(1, func(k *K, v []V) bool { return yield(*k, v[0]) })
	}
}

// AllCPUs yields every element of a per-CPU map with its PossibleCPUs()
// values, one per CPU. The slice is reused for the next element: copy it
// to keep it. On a map without per-CPU values it yields nothing and Err
// says to use All.
func (it *Iterator[K, V]) AllCPUs() iter.Seq2[K, []V] {
	return func(yield func(K, []V) bool) {
		if it.m != nil && (it.m.cpus == 0 || it.flags.onePerElement()) {
			it.err = it.m.refuse(opWalk, ErrInvalidArgument, "%s holds one value per element (with these flags): use All", it.m.info.describe())
			return
		}
		n := 1
		if it.m != nil {
			n = it.m.cpus
		}
		it.walk(n, func(k *K, v []V) bool { return yield(*k, v) })
	}
}

// Err returns the error that ended the last walk: nil after a complete walk
// or one the loop broke out of.
func (it *Iterator[K, V]) Err() error { return it.err }

// walk reads the map in batches and calls yield with each key and its
// perKey values, until yield returns false or the walk ends.
func (it *Iterator[K, V]) walk(perKey int, yield func(k *K, v []V) bool) {
	it.err = nil
	keys := make([]K, iterateBatch)
	values := make([]V, iterateBatch*perKey)
	var c Cursor
	for {
		n, err := LookupBatchOf(it.m, &c, keys, values, it.flags)
		if err != nil {
			it.err = err
			return
		}
		if n == 0 {
			return
		}
		for i := range n {
			if !yield(&keys[i], values[i*perKey:(i+1)*perKey:(i+1)*perKey]) {
				return
			}
		}
	}
}
