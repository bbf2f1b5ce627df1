package bpfbatch

import (
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
