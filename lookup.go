package bpfbatch

import (
	"fmt"
	"math"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Cursor is a position in a batch walk of a map; the zero value starts at
// the beginning. A Cursor belongs to one map: the first LookupBatch or
// LookupAndDeleteBatch binds it. It is not safe for concurrent use.
type Cursor struct {
	m     *Map
	began bool // the kernel has written a position to batch
	done  bool // the kernel said the walk is complete

	// batch is the kernel's cursor, read as in_batch and written as
	// out_batch: a u32 bucket index for hash maps
	// (__htab_map_lookup_and_delete_batch), the last key returned for the
	// others (generic_map_lookup_batch).
	batch []byte

	// last is the last key of a per-element walk (GET_NEXT_KEY), for maps
	// without BPF_MAP_LOOKUP_BATCH.
	last []byte

	// Elements the kernel returned beyond what the caller's buffers held:
	// a hash bucket is copied whole or not at all, and the kernel answers
	// ENOSPC when the buffer is smaller than the bucket.
	pendKeys, pendValues []byte
	pendStride           int
	pendOff, pendN       int
}

// Reset makes c start a new walk, of any map.
func (c *Cursor) Reset() {
	*c = Cursor{batch: c.batch[:0], last: c.last[:0], pendKeys: c.pendKeys[:0], pendValues: c.pendValues[:0]}
}

// Done reports whether the walk is complete: the next LookupBatch returns
// (0, nil).
func (c *Cursor) Done() bool { return c.done && c.pendN == 0 }

// LookupBatch reads the elements after c into keys and values and advances
// c: up to len(keys)/key_size elements, values in UpdateBatch's layout (for
// per-CPU maps every CPU's slot; with OnCPU(n) one value_size value each).
// values must be exactly len(keys)/key_size x the value stride. It returns
// how many elements it read; (0, nil) means the walk is complete. A short
// count is not the end: the kernel returns whole hash buckets only.
//
// It never hands the caller the kernel's ENOSPC (a hash bucket bigger than
// the buffers): it reads the bucket through a buffer of its own and returns
// the rest on the next calls. Maps without BPF_MAP_LOOKUP_BATCH (and
// kernels before 5.6) are walked with BPF_MAP_GET_NEXT_KEY and
// BPF_MAP_LOOKUP_ELEM under the same contract. Each element of a map not
// modified during the walk is returned exactly once; elements added or
// deleted meanwhile may be seen or not. Maps walked by key (arrays, LPM
// tries, and every map walked per element) restart from their first key
// when the key the cursor holds is deleted (the kernel's get_next_key of a
// missing key), so a walk beside deletions may return elements twice; hash
// maps, walked by bucket, do not. flags may be UpdateLock or OnCPU.
func (m *Map) LookupBatch(c *Cursor, keys, values []byte, flags Flags) (int, error) {
	return m.read(c, keys, values, flags, false)
}

// LookupAndDeleteBatch is LookupBatch that also deletes what it returns,
// with BPF_MAP_LOOKUP_AND_DELETE_BATCH. Hash maps only (Hash, PerCPUHash,
// LRUHash, LRUPerCPUHash, HashOfMaps); other types give ErrNotSupported
// before any syscall. The elements it returns are gone from the map even
// when the caller's buffers held only part of a bucket: the Cursor keeps the
// rest for the next call, so do not drop a Cursor before it is Done.
func (m *Map) LookupAndDeleteBatch(c *Cursor, keys, values []byte, flags Flags) (int, error) {
	return m.read(c, keys, values, flags, true)
}

func (m *Map) read(c *Cursor, keys, values []byte, flags Flags, del bool) (int, error) {
	op := "lookup batch"
	if del {
		op = "lookup and delete batch"
	}
	return withFD(m, op, func(fd *sys.FD) (int, error) {
		max, err := m.checkRead(fd, op, c, keys, values, flags, del)
		if err != nil {
			return 0, err
		}
		if c.pendN > 0 {
			return c.takePending(keys, values, max, int(m.info.KeySize)), nil
		}
		if c.done {
			return 0, nil
		}
		var n int
		var f fault
		if path, errno := m.probeBatch(fd, &m.readPath, sys.MapLookupBatch); errno == 0 && path == PerElementPath {
			n, f = m.readElems(fd, c, keys, values, max, flags, del)
		} else {
			n, f = m.readBatch(fd, c, keys, values, max, flags, del)
		}
		return n, m.elemError(f, flags, max, n, nil)
	})
}

// checkRead validates a batch read before any syscall and returns how many
// elements the buffers hold.
func (m *Map) checkRead(fd *sys.FD, op string, c *Cursor, keys, values []byte, flags Flags, del bool) (int, error) {
	fail := func(sentinel error, format string, args ...any) (int, error) {
		return 0, fmt.Errorf("bpfbatch: %s on %s: %w: %s", op, m.info.describe(), sentinel, fmt.Sprintf(format, args...))
	}
	if err := m.checkFlags(op, flags, true); err != nil {
		return 0, err
	}
	ks := int(m.info.KeySize)
	switch {
	case c == nil:
		return 0, fmt.Errorf("bpfbatch: %s on %s: nil *Cursor; pass &Cursor{} to start a walk", op, m.info.describe())
	case c.m != nil && c.m != m:
		return 0, fmt.Errorf("bpfbatch: %s on %s: the Cursor walks %s; use a Cursor per map (or Reset it)", op, m.info.describe(), c.m.info.describe())
	case ks == 0:
		return fail(ErrNotSupported, "%s maps have no keys to walk", m.info.Type)
	case del && !m.info.Type.hashCursor():
		return fail(ErrNotSupported, "%s maps have no BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps only)", m.info.Type)
	case del && flags&flagCPU != 0:
		// The kernel's lookup-and-delete takes no BPF_F_CPU (EINVAL on
		// 7.2): deleting an element removes every CPU's value anyway.
		return fail(ErrNotSupported, "%s: BPF_MAP_LOOKUP_AND_DELETE_BATCH reads every CPU's value; use LookupBatch with OnCPU, or no OnCPU here", flags)
	}
	stride := m.strideFor(flags)
	if len(keys) == 0 || len(keys)%ks != 0 {
		return 0, &SizeError{Buffer: "keys", Got: len(keys), Want: ks, Op: op, Map: m.info, CPUs: m.cpus, Flags: flags}
	}
	max := len(keys) / ks
	if uint64(max) > math.MaxUint32 {
		return 0, fmt.Errorf("bpfbatch: %s on %s: %d elements exceed the kernel's u32 count; use smaller buffers", op, m.info.describe(), max)
	}
	if len(values) != max*stride {
		return 0, &SizeError{Buffer: "values", Got: len(values), Want: max * stride, Op: op, Map: m.info, Elements: max, CPUs: m.cpus, Flags: flags}
	}
	if c.pendN > 0 && c.pendStride != stride {
		return 0, fmt.Errorf("bpfbatch: %s on %s: %w: the Cursor holds elements read with other per-CPU flags; keep the flags of a walk", op, m.info.describe(), ErrInvalidFlags)
	}
	if err := m.checkOnCPU(fd, op, flags); err != nil {
		return 0, err
	}
	c.m = m
	return max, nil
}

// readBatch reads with one BPF_MAP_LOOKUP(_AND_DELETE)_BATCH into the
// caller's buffers, or through the Cursor's when a bucket does not fit.
func (m *Map) readBatch(fd *sys.FD, c *Cursor, keys, values []byte, max int, flags Flags, del bool) (int, fault) {
	n, errno := c.call(fd, keys, values, max, flags, del)
	if errno == unix.ENOSPC {
		return m.readBucket(fd, c, keys, values, max, flags, del)
	}
	if errno != 0 {
		return 0, m.newFault(fd, readOp(del), errno, flags, -1)
	}
	return n, fault{}
}

// call issues one batch read of up to count elements after c into keys and
// values. ENOENT (the end) is success with c done; the count that comes
// with it is the last partial batch.
func (c *Cursor) call(fd *sys.FD, keys, values []byte, count int, flags Flags, del bool) (int, unix.Errno) {
	// The kernel writes out_batch (a u32 bucket, or a key) at every call:
	// size it for this map now, whatever walk the Cursor served before a
	// Reset.
	c.batch = grow(c.batch, max(4, int(c.m.info.KeySize)))
	attr := newBatchAttr(fd, keys, values, count, flags)
	if c.began {
		attr.InBatch = sys.SlicePointer(c.batch)
	}
	attr.OutBatch = sys.SlicePointer(c.batch)
	var errno unix.Errno
	if del {
		errno = sys.MapLookupAndDeleteBatch(&attr)
	} else {
		errno = sys.MapLookupBatch(&attr)
	}
	n := int(min(attr.Count, uint32(count)))
	switch errno {
	case 0:
		c.began = true
		return n, 0
	case unix.ENOENT:
		c.done = true
		return n, 0
	case unix.ENOSPC:
		// Nothing was copied; out_batch holds the bucket that did not fit.
		c.began = true
	}
	return 0, errno
}

// readBucket reads into the Cursor's own buffers, doubling them until the
// bucket fits, hands the caller what its buffers hold and keeps the rest.
func (m *Map) readBucket(fd *sys.FD, c *Cursor, keys, values []byte, max int, flags Flags, del bool) (int, fault) {
	ks, stride := int(m.info.KeySize), m.strideFor(flags)
	for size := 2 * max; ; size *= 2 {
		if uint64(size) > min(math.MaxUint32, 2*uint64(m.info.MaxEntries)+64) {
			// A bucket cannot hold more than the map; the kernel keeps
			// saying ENOSPC for another reason.
			return 0, m.newFault(fd, readOp(del), unix.ENOSPC, flags, -1)
		}
		c.pendKeys = grow(c.pendKeys, size*ks)
		c.pendValues = grow(c.pendValues, size*stride)
		n, errno := c.call(fd, c.pendKeys, c.pendValues, size, flags, del)
		if errno == unix.ENOSPC {
			continue
		}
		if errno != 0 {
			return 0, m.newFault(fd, readOp(del), errno, flags, -1)
		}
		c.pendOff, c.pendN, c.pendStride = 0, n, stride
		return c.takePending(keys, values, max, ks), fault{}
	}
}

// grow returns b with length n, reusing its memory when it can.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n)
}

// takePending copies up to max held-back elements into keys and values.
func (c *Cursor) takePending(keys, values []byte, max, ks int) int {
	n := min(max, c.pendN)
	off, stride := c.pendOff, c.pendStride
	copy(keys, c.pendKeys[off*ks:(off+n)*ks])
	copy(values, c.pendValues[off*stride:(off+n)*stride])
	c.pendOff += n
	c.pendN -= n
	return n
}

func readOp(del bool) string {
	if del {
		return opLookupAndDeleteBatch
	}
	return opLookupBatch
}

// readElems walks the map one key at a time (BPF_MAP_GET_NEXT_KEY, then
// BPF_MAP_LOOKUP_ELEM, and BPF_MAP_DELETE_ELEM for del), for maps without
// batch lookups. A key deleted between the two calls is skipped.
func (m *Map) readElems(fd *sys.FD, c *Cursor, keys, values []byte, max int, flags Flags, del bool) (int, fault) {
	ks, vs := int(m.info.KeySize), m.strideFor(flags)
	n := 0
	for n < max {
		key, value := keys[n*ks:(n+1)*ks], values[n*vs:(n+1)*vs]
		var prev []byte
		if c.began && !del { // deleting: the first remaining key is next
			prev = c.last
		}
		attr := newElemAttr(fd, prev, key, 0)
		switch errno := sys.MapGetNextKey(&attr); errno {
		case 0:
		case unix.ENOENT:
			c.done = true
			return n, fault{}
		default:
			return n, m.newFault(fd, opGetNextKey, errno, flags, -1)
		}
		c.began = true
		c.last = append(c.last[:0], key...)
		attr = newElemAttr(fd, key, value, flags)
		switch errno := sys.MapLookupElem(&attr); errno {
		case 0:
		case unix.ENOENT:
			continue // deleted since GET_NEXT_KEY
		default:
			return n, m.newFault(fd, opLookupElem, errno, flags, n)
		}
		if del {
			attr = newElemAttr(fd, key, nil, 0)
			if errno := sys.MapDeleteElem(&attr); errno == unix.ENOENT {
				continue // someone else deleted it: not ours to return
			} else if errno != 0 {
				return n, m.newFault(fd, opDeleteElem, errno, flags, n)
			}
		}
		n++
	}
	return n, fault{}
}

// Count returns the number of elements in the map: a batch walk of its keys
// (values are read too: the kernel keeps no count). On a map that changes
// meanwhile the count is of some moment of the walk.
func (m *Map) Count() (int, error) {
	var c Cursor
	chunk := countChunk(m.ValueStride(), int(m.Info().KeySize))
	keys := make([]byte, chunk*int(m.Info().KeySize))
	values := make([]byte, chunk*m.ValueStride())
	total := 0
	for {
		n, err := m.LookupBatch(&c, keys, values, UpdateAny)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// countChunk sizes the buffers of a whole-map read: about 1 MiB.
func countChunk(stride, keySize int) int {
	return max(64, (1<<20)/max(1, stride+keySize))
}
