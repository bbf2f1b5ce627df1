package bpfbatch

import (
	"math"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Lookup reads the value of key into value (BPF_MAP_LOOKUP_ELEM). value must
// be ValueStride() bytes: for per-CPU maps every possible CPU's slot, in the
// layout UpdateBatch takes. A missing key gives ErrKeyNotExist. For
// map-in-map types the value read back is the inner map's ID, not an fd.
// On a Queue or Stack (nil key) it reads the next value without removing
// it.
func (m *Map) Lookup(key, value []byte) error {
	return m.LookupWith(key, value, UpdateAny)
}

// LookupWith is Lookup with flags: UpdateLock (BPF_F_LOCK: read the value
// under its bpf_spin_lock) or OnCPU(n) (Linux 7.0: read CPU n's value of a
// per-CPU map; value is then value_size bytes). Other flags are refused
// before the syscall.
func (m *Map) LookupWith(key, value []byte, flags Flags) error {
	_, err := withFD(m, opLookup, func(fd *sys.FD) (struct{}, error) {
		if err := m.checkReadable(opLookup); err != nil {
			return struct{}{}, err
		}
		if err := m.checkFlags(opLookup, flags, true); err != nil {
			return struct{}{}, err
		}
		if len(key) != int(m.info.KeySize) {
			return struct{}{}, m.sizeError(SizeError{Op: opLookup, Buffer: "keys", Got: len(key), Want: int(m.info.KeySize), Elements: 1, Flags: flags, single: true})
		}
		if want := m.strideFor(flags); len(value) != want {
			return struct{}{}, m.sizeError(SizeError{Op: opLookup, Buffer: "values", Got: len(value), Want: want, Elements: 1, Flags: flags, single: true})
		}
		if err := m.checkOnCPU(fd, opLookup, flags); err != nil {
			return struct{}{}, err
		}
		attr := newElemAttr(fd, key, value, flags)
		if errno := sys.MapLookupElem(&attr); errno != 0 {
			return struct{}{}, m.singleError(opLookup, m.newFault(fd, cmdLookupElem, errno, flags, 0), flags)
		}
		return struct{}{}, nil
	})
	return err
}

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
	op := readOp(del)
	return withFD(m, op, func(fd *sys.FD) (int, error) {
		return m.readChecked(fd, op, c, keys, values, flags, del)
	})
}

// readOp is the operation of a batch read.
func readOp(del bool) string {
	if del {
		return opLookupAndDelete
	}
	return opLookup
}

// readChecked is a batch read once the fd is held: checked, then done.
func (m *Map) readChecked(fd *sys.FD, op string, c *Cursor, keys, values []byte, flags Flags, del bool) (int, error) {
	max, err := m.checkRead(fd, op, c, keys, values, flags, del)
	if err != nil {
		return 0, err
	}
	n, f := m.readNext(fd, c, keys, values, max, flags, del)
	return n, m.batchError(op, f, nil, flags, max, n, nil)
}

// readNext reads up to max elements after c, validated, into keys and
// values: what the Cursor holds back first, then from the kernel.
func (m *Map) readNext(fd *sys.FD, c *Cursor, keys, values []byte, max int, flags Flags, del bool) (int, fault) {
	if c.pendN > 0 {
		return c.takePending(keys, values, max, int(m.info.KeySize)), fault{}
	}
	if c.done {
		return 0, fault{}
	}
	if m.perElement(fd, &m.readPath, sys.MapLookupBatch) {
		return m.readElems(fd, c, keys, values, max, flags, del)
	}
	return m.readBatch(fd, c, keys, values, max, flags, del)
}

// checkRead validates a batch read before any syscall and returns how many
// elements the buffers hold.
func (m *Map) checkRead(fd *sys.FD, op string, c *Cursor, keys, values []byte, flags Flags, del bool) (int, error) {
	if err := m.checkWalk(op, flags, del); err != nil {
		return 0, err
	}
	switch {
	case c == nil:
		return 0, m.refuse(op, ErrInvalidArgument, "nil *Cursor; pass &Cursor{} to start a walk")
	case c.m != nil && c.m != m:
		return 0, m.refuse(op, ErrInvalidArgument, "the Cursor walks %s; use a Cursor per map (or Reset it)", c.m.info.describe())
	}
	ks, stride := int(m.info.KeySize), m.strideFor(flags)
	if len(keys) == 0 || len(keys)%ks != 0 {
		return 0, m.sizeError(SizeError{Op: op, Buffer: "keys", Got: len(keys), Want: ks, Flags: flags})
	}
	max := len(keys) / ks
	if err := m.checkCount(op, max); err != nil {
		return 0, err
	}
	if len(values) != max*stride {
		return 0, m.sizeError(SizeError{Op: op, Buffer: "values", Got: len(values), Want: max * stride, Elements: max, Flags: flags})
	}
	if c.pendN > 0 && c.pendStride != stride {
		return 0, m.refuse(op, ErrInvalidFlags, "the Cursor holds elements read with other per-CPU flags; keep the flags of a walk")
	}
	if err := m.checkOnCPU(fd, op, flags); err != nil {
		return 0, err
	}
	c.m = m
	return max, nil
}

// checkWalk checks, before any syscall, that m can be walked by op (which
// deletes what it reads when del is set) with flags.
func (m *Map) checkWalk(op string, flags Flags, del bool) error {
	if err := m.checkReadable(op); err != nil {
		return err
	}
	if del {
		if err := m.checkWritable(op); err != nil {
			return err
		}
	}
	if err := m.checkFlags(op, flags, true); err != nil {
		return err
	}
	switch {
	case m.info.KeySize == 0:
		return m.refuse(op, ErrNotSupported, "%s maps have no keys to walk", m.info.Type)
	case del && !m.info.Type.hashCursor():
		return m.refuse(op, ErrNotSupported, "%s maps have no BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps only)", m.info.Type)
	case del && flags&flagCPU != 0:
		// The kernel's lookup-and-delete takes no BPF_F_CPU (EINVAL on
		// 7.2): deleting an element removes every CPU's value anyway.
		return m.refuse(op, ErrNotSupported, "%s: BPF_MAP_LOOKUP_AND_DELETE_BATCH reads every CPU's value; use LookupBatch with OnCPU, or no OnCPU here", flags)
	}
	return nil
}

// readBatch reads with one BPF_MAP_LOOKUP(_AND_DELETE)_BATCH into the
// caller's buffers, or through the Cursor's when a bucket does not fit.
func (m *Map) readBatch(fd *sys.FD, c *Cursor, keys, values []byte, max int, flags Flags, del bool) (int, fault) {
	n, errno := c.call(fd, keys, values, max, flags, del)
	if errno == unix.ENOSPC {
		return m.readBucket(fd, c, keys, values, max, flags, del)
	}
	if errno != 0 {
		return 0, m.newFault(fd, readCmd(del), errno, flags, -1)
	}
	return n, fault{}
}

// readBucket reads into the Cursor's own buffers, doubling them until the
// bucket fits, hands the caller what its buffers hold and keeps the rest.
func (m *Map) readBucket(fd *sys.FD, c *Cursor, keys, values []byte, max int, flags Flags, del bool) (int, fault) {
	ks, stride := int(m.info.KeySize), m.strideFor(flags)
	for size := 2 * max; ; size *= 2 {
		if uint64(size) > min(math.MaxUint32, 2*uint64(m.info.MaxEntries)+64) {
			// A bucket cannot hold more than the map; the kernel keeps
			// saying ENOSPC for another reason.
			return 0, m.newFault(fd, readCmd(del), unix.ENOSPC, flags, -1)
		}
		c.pendKeys = grow(c.pendKeys, size*ks)
		c.pendValues = grow(c.pendValues, size*stride)
		n, errno := c.call(fd, c.pendKeys, c.pendValues, size, flags, del)
		if errno == unix.ENOSPC {
			continue
		}
		if errno != 0 {
			return 0, m.newFault(fd, readCmd(del), errno, flags, -1)
		}
		c.pendOff, c.pendN, c.pendStride = 0, n, stride
		return c.takePending(keys, values, max, ks), fault{}
	}
}

func readCmd(del bool) string {
	if del {
		return cmdLookupAndDeleteBatch
	}
	return cmdLookupBatch
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
			return n, m.newFault(fd, cmdGetNextKey, errno, flags, -1)
		}
		c.began = true
		c.last = append(c.last[:0], key...)
		attr = newElemAttr(fd, key, value, flags)
		switch errno := sys.MapLookupElem(&attr); errno {
		case 0:
		case unix.ENOENT:
			continue // deleted since GET_NEXT_KEY
		default:
			return n, m.newFault(fd, cmdLookupElem, errno, flags, n)
		}
		if del {
			attr = newElemAttr(fd, key, nil, 0)
			if errno := sys.MapDeleteElem(&attr); errno == unix.ENOENT {
				continue // someone else deleted it: not ours to return
			} else if errno != 0 {
				return n, m.newFault(fd, cmdDeleteElem, errno, flags, n)
			}
		}
		n++
	}
	return n, fault{}
}
