package bpfbatch

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Parallel walks of arrays, by index range (walkparallel.go has the
// overview).
// walkIndices walks an array in up to workers parts of indices. Every
// index of an Array or PerCPUArray exists, so a read of count elements
// after index i-1 returns indices [i, i+count); an ArrayOfMaps skips unset
// slots, and a read may run past the part's end: it is cut there, by
// index.
func (r *walkRun) walkIndices(workers int) error {
	entries := r.m.info.MaxEntries
	var first *walkBuf
	expect := uint64(entries)
	var last int64 = -1
	end := false
	if r.m.info.Type == ArrayOfMaps {
		// How many slots are set: the first read says.
		first = new(walkBuf)
		var ok bool
		if end, ok = r.readIndices(first, -1, min(r.batch, firstRead)); !ok {
			return r.result()
		}
		if first.n > 0 {
			last = int64(binary.NativeEndian.Uint32(first.key(first.n-1, 4)))
			expect = uint64(first.n) * uint64(entries) / uint64(last+1)
		}
	}
	parts := int(min(uint64(workers), expect/uint64(max(1, walkSplitMin)), uint64(entries)))
	if parts < 2 || end {
		if first == nil {
			return r.m.walkSequential(r.parent, r.batch, r.flags, r.fn)
		}
		if !r.deliver(first, 0, first.n) || end {
			return r.result()
		}
		c := Cursor{m: r.m, began: true, batch: binary.NativeEndian.AppendUint32(nil, uint32(last))}
		return r.m.walkSequentialFrom(r.parent, c, first.n, r.batch, r.flags, r.fn)
	}
	ends := make([]uint32, parts+1)
	for p := range parts + 1 {
		ends[p] = uint32(uint64(p) * uint64(entries) / uint64(parts))
	}
	return r.run(parts, func(p int) {
		if p == 0 && first != nil {
			r.indexPart(ends[0], ends[1], first)
		} else {
			r.indexPart(ends[p], ends[p+1], nil)
		}
	})
}

// indexPart walks indices [lo, hi), starting with first when part 0's
// first read is done already.
func (r *walkRun) indexPart(lo, hi uint32, first *walkBuf) {
	buf := first
	if buf == nil {
		buf = new(walkBuf)
	}
	next := lo
	for next < hi {
		end := false
		if first != nil {
			first = nil
		} else {
			var ok bool
			if end, ok = r.readIndices(buf, int64(next)-1, int(min(uint64(r.batch), uint64(hi-next)))); !ok {
				return
			}
		}
		// Indices come in increasing order, from next on; cut at hi.
		prev, keep := int64(next)-1, 0
		for ; keep < buf.n; keep++ {
			i := int64(binary.NativeEndian.Uint32(buf.key(keep, 4)))
			if i <= prev {
				r.inconsistent("returned indices out of order")
				return
			}
			if i >= int64(hi) {
				break
			}
			prev = i
		}
		if !r.deliver(buf, 0, keep) || keep < buf.n || end || buf.n == 0 {
			return
		}
		next = uint32(prev + 1)
	}
}

// readIndices reads up to count elements after index after (-1: from the
// start) into b. At the end of the array it returns fewer.
func (r *walkRun) readIndices(b *walkBuf, after int64, count int) (end, ok bool) {
	if b.out == nil {
		b.in, b.out = make([]byte, 4), make([]byte, 4)
	}
	in := b.in
	if after < 0 {
		in = nil
	} else {
		binary.NativeEndian.PutUint32(b.in, uint32(after))
	}
	ok = r.withFD(func(fd *sys.FD) fault {
		b.reserve(count, r.ks, r.stride)
		var errno unix.Errno
		b.n, end, errno = lookupBatchAt(fd, in, b.out, b.keys, b.values, count, r.flags)
		if errno != 0 {
			return r.m.newFault(fd, cmdLookupBatch, errno, r.flags, -1)
		}
		return fault{}
	})
	if ok {
		r.read.Add(int64(b.n))
	}
	return end, ok
}

// probeIndices proves the array cursor on m: the walk starts at the
// lowest index, in_batch = the last index ends it, and in_batch = i-1
// resumes at index i or the next one set (array of maps: unset slots are
// skipped); out_batch is the last index returned.
func (m *Map) probeIndices(fd *sys.FD) (proven, final bool) {
	max := m.info.MaxEntries
	if m.info.KeySize != 4 || max == 0 {
		return false, true
	}
	dense := m.info.Type != ArrayOfMaps // every index exists
	errored := false
	// read reads count elements after in, which must be the indices from
	// from on (dense), or set ones above from-1 (not), in order; out_batch
	// is the last one.
	read := func(in []byte, from uint32, count int) bool {
		r, errno := m.probeOnce(fd, in, count)
		if errno != 0 {
			errored = true
			return false
		}
		prev := int64(from) - 1
		for i := range r.n {
			k := binary.NativeEndian.Uint32(r.keys[4*i:])
			if int64(k) <= prev || k >= max || dense && int64(k) != prev+1 {
				return false
			}
			prev = int64(k)
		}
		if dense && r.n != int(min(uint32(count), max-from)) || from >= max && (!r.end || r.n != 0) {
			return false
		}
		return r.n == 0 || int64(binary.NativeEndian.Uint32(r.out)) == prev
	}
	ok := read(nil, 0, 2) && // from the start
		read(bucketCursor(max-1), max, 1) && // past the last index: the end
		(max < 4 || read(bucketCursor(max/2-1), max/2, 2)) // from the middle
	return ok, !errored
}
