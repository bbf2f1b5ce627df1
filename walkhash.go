package bpfbatch

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/keyset"
	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Parallel walks of hash maps, by bucket range (walkparallel.go has the
// overview).
// bucketSplit is a hash map cut into parts of buckets: part p walks
// buckets [ends[p], ends[p+1]).
type bucketSplit struct {
	n      uint32 // n_buckets
	ends   []uint32
	bounds []boundary // bounds[p]: what part p+1 read first, for part p
}

// boundary is what the parts from p on pass to fn from the first buckets
// of part p, for part p-1, whose last read may run into them.
type boundary struct {
	ready chan struct{} // closed once the fields below are final
	once  sync.Once
	// keys (indexed by set) are every key the parts from p on pass to fn
	// from buckets [start of part p, cover): what part p's first reads
	// returned (or, when its first read ran past its end, what it kept
	// of that read, and the next part's boundary).
	keys  []byte
	set   *keyset.Set
	cover uint32
	// usable is false when the keys cannot settle anything: the walk
	// stopped before they were known, or a read returned a key twice,
	// which the kernel does not.
	usable bool
}

// publish makes the keys of the given buffers (copied: fn may change the
// caller's) what b says, once.
func (b *boundary) publish(ks int, cover uint32, usable bool, keys ...[]byte) {
	b.once.Do(func() {
		b.cover, b.usable = cover, usable
		for _, k := range keys {
			b.keys = append(b.keys, k...)
		}
		if usable && len(b.keys) > 0 {
			set, dup, _ := keyset.New(b.keys, ks)
			b.set, b.usable = set, dup < 0
		}
		close(b.ready)
	})
}

// bucketRead is what one read of buckets did: the first bucket it did not
// copy, and whether it reached the end (out is then n_buckets).
type bucketRead struct {
	out uint32
	end bool
}

// walkBuckets walks a hash map in up to workers parts of buckets.
func (r *walkRun) walkBuckets(workers int) error {
	n := bucketCount(r.m.info.MaxEntries)
	// The first read, from the start, says how full the map is, and
	// decides the split.
	first := new(walkBuf)
	rd, ok := r.readBuckets(first, 0, min(r.batch, firstRead), n)
	if !ok {
		return r.result()
	}
	if rd.end {
		r.deliver(first, 0, first.n)
		return r.result()
	}
	expect := uint64(first.n) * uint64(n) / uint64(rd.out)
	parts := int(min(uint64(workers), expect/uint64(max(1, walkSplitMin)), uint64(n)))
	if parts < 2 {
		// One walk: go on from where the first read stopped.
		if !r.deliver(first, 0, first.n) {
			return r.result()
		}
		c := Cursor{m: r.m, began: true, batch: bucketCursor(rd.out)}
		return r.m.walkSequentialFrom(r.parent, c, first.n, r.batch, r.flags, r.fn)
	}
	s := &bucketSplit{n: n, ends: make([]uint32, parts+1), bounds: make([]boundary, parts-1)}
	for p := range parts + 1 {
		s.ends[p] = uint32(uint64(p) * uint64(n) / uint64(parts))
	}
	for p := range s.bounds {
		s.bounds[p].ready = make(chan struct{})
	}
	return r.run(parts, func(p int) {
		if p == 0 {
			r.bucketPart(s, 0, first, &rd)
		} else {
			r.bucketPart(s, p, new(walkBuf), nil)
		}
	})
}

// bucketPart walks part p of s. Part 0 starts with first, read already
// (rd). Any other part first publishes its boundary for the part before
// it: the keys of its first reads (recordMin at least, from reads that
// stay inside the part), which it passes to fn only then; or, when such a
// read runs past the part's end, what it keeps of it once the next part's
// boundary is known, together with that boundary.
func (r *walkRun) bucketPart(s *bucketSplit, p int, buf *walkBuf, pre *bucketRead) {
	lo, hi := s.ends[p], s.ends[p+1]
	pos := lo
	got := 0 // elements the part has read, for partCount
	if pre != nil {
		got = buf.n
	}
	if p > 0 {
		b := &s.bounds[p-1]
		defer b.publish(r.ks, lo, false) // the walk stopped: part p-1 waits no more
		var held walkBuf
		for {
			rd, ok := r.readBuckets(buf, pos, r.partCount(lo, hi, pos, got), s.n)
			if !ok {
				return
			}
			got += buf.n
			if rd.out > hi {
				keep, ok := r.settle(s, p, buf, rd)
				if !ok {
					return
				}
				next := &s.bounds[p]
				b.publish(r.ks, next.cover, next.usable, held.keys[:held.n*r.ks], buf.keys[:keep*r.ks], next.keys)
				if r.deliver(&held, 0, held.n) {
					r.deliver(buf, 0, keep)
				}
				return
			}
			held.appendFrom(buf, r.ks, r.stride)
			pos = rd.out
			if held.n >= recordMin || rd.out == hi {
				b.publish(r.ks, rd.out, true, held.keys[:held.n*r.ks])
				if !r.deliver(&held, 0, held.n) || rd.out == hi {
					return
				}
				break
			}
		}
	}
	for {
		var rd bucketRead
		if pre != nil {
			rd, pre = *pre, nil
		} else {
			var ok bool
			if rd, ok = r.readBuckets(buf, pos, r.partCount(lo, hi, pos, got), s.n); !ok {
				return
			}
			got += buf.n
		}
		if rd.out > hi {
			if keep, ok := r.settle(s, p, buf, rd); ok {
				r.deliver(buf, 0, keep)
			}
			return
		}
		if !r.deliver(buf, 0, buf.n) || rd.out == hi {
			return
		}
		pos = rd.out
	}
}

// partCount is the count of a part's next read, from bucket pos of
// [lo, hi) after got elements: the batch, or near the part's end what the
// part's density so far says its rest holds, and a margin, so that the
// read that runs past the end (read again by the next part) reads little
// of the next part.
func (r *walkRun) partCount(lo, hi, pos uint32, got int) int {
	if got == 0 || pos <= lo {
		return r.batch
	}
	rest := uint64(got) * uint64(hi-pos) / uint64(pos-lo)
	return int(min(uint64(r.batch), max(64, rest+rest/8+16)))
}

// readBuckets reads whole buckets from bucket pos on into b, count
// elements or fewer, or more when the first bucket does not fit (b grows
// for it, as LookupBatch's readBucket does). It checks what the probe
// proved: the read ends past pos, at n_buckets when it reached the end.
func (r *walkRun) readBuckets(b *walkBuf, pos uint32, count int, n uint32) (bucketRead, bool) {
	var rd bucketRead
	if b.in == nil {
		b.in, b.out = make([]byte, 4), make([]byte, 4)
	}
	binary.NativeEndian.PutUint32(b.in, pos)
	bad := ""
	ok := r.withFD(func(fd *sys.FD) fault {
		for {
			b.reserve(count, r.ks, r.stride)
			k, end, errno := lookupBatchAt(fd, b.in, b.out, b.keys, b.values, count, r.flags)
			if errno == unix.ENOSPC && uint64(2*count) <= growLimit(r.m) {
				count *= 2
				continue
			}
			if errno != 0 {
				return r.m.newFault(fd, cmdLookupBatch, errno, r.flags, -1)
			}
			b.n, rd.end = k, end
			rd.out = binary.NativeEndian.Uint32(b.out)
			switch {
			case end && rd.out != n:
				bad = "ended with a cursor other than n_buckets"
			case !end && (rd.out <= pos || rd.out > n):
				bad = "returned a cursor that does not move forward"
			}
			return fault{}
		}
	})
	if ok && bad != "" {
		r.inconsistent(bad)
		return rd, false
	}
	if ok {
		r.read.Add(int64(b.n))
	}
	return rd, ok
}

// settle decides what part p passes to fn of its last read (in buf),
// which ran past the part's end hi into buckets [hi, rd.out): the elements
// of its own buckets, and those of buckets from hi on that no later part
// passes to fn, so that every element goes to fn once. It returns how many
// elements, now at the front of buf, to pass on.
//
// The kernel does not say which bucket an element came from, but it
// returns buckets in order, and a key's bucket never changes. Part p+1's
// boundary lists every key the parts after p pass to fn from buckets
// [hi, cover), and no other key of those buckets goes to fn from them. So,
// in the order of buf:
//   - keys before the first listed one come from buckets up to the listed
//     key's, below cover: below hi they are part p's, and in [hi, cover)
//     no later part passes them on (they are not listed);
//   - the first listed key, and every key after it, come from buckets from
//     hi on: a later part passes each on if the key is in the map when it
//     reads the key's bucket, and always if it stays in the map.
//
// When no key of buf is listed and the read stopped at or before cover,
// all of buf is below cover: the first case. Neither holds only when the
// boundary's buckets held no key that stayed in the map until this read
// (a key that stayed would be in buf and listed): then attribute decides.
func (r *walkRun) settle(s *bucketSplit, p int, buf *walkBuf, rd bucketRead) (int, bool) {
	b := &s.bounds[p]
	select {
	case <-b.ready:
	case <-r.ctx.Done():
		r.stopped()
		return 0, false
	}
	if !b.usable {
		if r.stopped() {
			return 0, false
		}
	} else {
		for i := range buf.n {
			if b.set != nil && b.set.Find(buf.key(i, r.ks)) >= 0 {
				r.m.walkProbe.byRecord.Add(1)
				return i, true
			}
		}
		if rd.out <= b.cover {
			r.m.walkProbe.byRecord.Add(1)
			return buf.n, true
		}
	}
	r.m.walkProbe.byAttribute.Add(1)
	return r.attribute(buf, s.ends[p+1], rd.out, s.n)
}

// attribute keeps, at the front of buf, the elements of a read that ran
// past bucket hi into [hi, out) that come from buckets below hi, and
// returns how many. It reads buckets [hi, out) again: a key found there
// has its bucket there, as does every key after it in buf (buckets come in
// order). A key before it that the read does not find was either below hi
// or deleted since buf read it; a lookup tells which, and a deleted key is
// dropped: it was modified during the walk, and the part that owns its
// bucket may have passed it on.
//
// A key deleted and added again between the read and the lookup is the
// one case this cannot tell from a key below hi; it is kept, with the
// value buf read. settle calls attribute only when no key the boundary
// lists stayed in the map.
func (r *walkRun) attribute(buf *walkBuf, hi, out, n uint32) (int, bool) {
	var again walkBuf
	var seen []byte
	for pos := hi; ; {
		rd, ok := r.readBuckets(&again, pos, r.batch, n)
		if !ok {
			return 0, false
		}
		seen = append(seen, again.keys[:again.n*r.ks]...)
		if rd.end || rd.out >= out {
			break
		}
		pos = rd.out
	}
	set, dup, _ := keyset.New(seen, r.ks)
	if dup >= 0 {
		r.inconsistent("returned a key twice")
		return 0, false
	}
	q := buf.n
	for i := range buf.n {
		if set.Find(buf.key(i, r.ks)) >= 0 {
			q = i
			break
		}
	}
	kept := 0
	ok := r.withFD(func(fd *sys.FD) fault {
		value := make([]byte, r.stride)
		for i := range q {
			attr := newElemAttr(fd, buf.key(i, r.ks), value, r.flags)
			switch errno := sys.MapLookupElem(&attr); errno {
			case 0:
				copy(buf.keys[kept*r.ks:], buf.key(i, r.ks))
				copy(buf.values[kept*r.stride:], buf.values[i*r.stride:(i+1)*r.stride])
				kept++
			case unix.ENOENT:
			default:
				return r.m.newFault(fd, cmdLookupElem, errno, r.flags, -1)
			}
		}
		return fault{}
	})
	return kept, ok
}
