package bpfbatch

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// Parallel walks: Walk with Workers > 1 splits the map into parts, walked
// at once, one goroutine each, where the probe (walkprobe.go) has proven
// how the kernel's cursor addresses the map:
//
//   - Hash maps by bucket range. A read copies whole buckets until one does
//     not fit, so the last read of a part may run into the next part;
//     settle removes that overlap (see there).
//   - Arrays by index range: a read starts after in_batch = the part's
//     first index - 1 and is cut at the part's end.
//   - LPM tries by key range, in the order the kernel walks them
//     (walktrie.go).
//
// Everything else walks once, sequentially. So does a map too small for a
// split to pay: walkSplitMin.

// walkSplitMin is the number of elements each part must expect for a walk
// to be split: below it, the split's fixed costs (goroutines, the first
// read that decides, the part of a read that the end of a part reads
// twice) outweigh what a second core saves (BenchmarkWalkSplitMin; the
// numbers are in bench/README.md).
var walkSplitMin = 8192

// recordMin is the number of keys, at least, that a part records of its
// first reads for the part before it (bucketPart).
const recordMin = 64

// firstRead is the count of the first read of a hash map or array of
// maps, whose density decides the split: small, so that the other parts do
// not wait long for it.
const firstRead = 256

// walkParallel is Walk with Workers > 1.
func (m *Map) walkParallel(ctx context.Context, workers, batch int, flags Flags, fn func(keys, values []byte, n int) error) error {
	layout, err := withFD(m, opWalk, func(fd *sys.FD) (walkLayout, error) { return m.walkLayoutFor(fd, flags), nil })
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := m.newWalkRun(ctx, batch, flags, fn)
	defer r.cancel()
	m.walkProbe.parts.Store(1)
	switch layout {
	case layoutBuckets:
		return r.walkBuckets(workers)
	case layoutIndices:
		return r.walkIndices(workers)
	case layoutTrie:
		return r.walkTrie(workers)
	}
	return m.walkSequential(ctx, batch, flags, fn)
}

// walkRun is one parallel walk: what its workers share.
type walkRun struct {
	m          *Map
	parent     context.Context
	ctx        context.Context // cancelled when any worker fails
	cancel     context.CancelFunc
	flags      Flags
	batch      int
	ks, stride int
	fn         func(keys, values []byte, n int) error

	mu   sync.Mutex
	err  error        // the first failure: fn's, a read's, ctx's
	read atomic.Int64 // elements read, for errors' counts
}

func (m *Map) newWalkRun(ctx context.Context, batch int, flags Flags, fn func(keys, values []byte, n int) error) *walkRun {
	r := &walkRun{m: m, parent: ctx, flags: flags, batch: batch, fn: fn, ks: int(m.info.KeySize), stride: m.strideFor(flags)}
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// fail records the walk's first error and stops every worker.
func (r *walkRun) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.cancel()
}

// stopped reports whether the walk is over: a worker failed, or ctx is
// done (which then becomes the walk's error).
func (r *walkRun) stopped() bool {
	if r.ctx.Err() == nil {
		return false
	}
	if err := r.parent.Err(); err != nil {
		r.fail(err)
	}
	return true
}

// result is the walk's error once every worker has returned.
func (r *walkRun) result() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// run runs work(0) on the caller's goroutine and work(1..parts-1) on
// goroutines of their own, and returns the walk's error once all are done.
func (r *walkRun) run(parts int, work func(part int)) error {
	r.m.walkProbe.parts.Store(int32(parts))
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { work(p) })
	}
	work(0)
	wg.Wait()
	return r.result()
}

// deliver calls fn with elements [from, to) of b, batch at a time, unless
// the walk is over; it reports whether the walk goes on. fn gets slices
// capped at their length, so that appending to one cannot overwrite the
// elements of the next call.
func (r *walkRun) deliver(b *walkBuf, from, to int) bool {
	ks, vs := r.ks, r.stride
	for i := from; i < to; i += r.batch {
		j := min(i+r.batch, to)
		if r.stopped() {
			return false
		}
		if err := r.fn(b.keys[i*ks:j*ks:j*ks], b.values[i*vs:j*vs:j*vs], j-i); err != nil {
			r.fail(err)
			return false
		}
	}
	return true
}

// withFD runs f with the map's fd held, and turns its fault into the walk's
// error; it reports whether f succeeded.
func (r *walkRun) withFD(f func(fd *sys.FD) fault) bool {
	_, err := withFD(r.m, opWalk, func(fd *sys.FD) (struct{}, error) {
		return struct{}{}, r.m.batchError(opWalk, f(fd), nil, r.flags, 0, int(r.read.Load()), nil)
	})
	if err != nil {
		r.fail(err)
		return false
	}
	return true
}

// inconsistent stops the walk because the kernel's cursor did something
// the probe had proven it does not do: no element has been passed to fn
// twice, but the walk cannot go on exactly.
func (r *walkRun) inconsistent(what string) {
	r.fail(newMapError(opWalk, r.m.info.describe(), "", ErrNotSupported, "BPF_MAP_LOOKUP_BATCH "+what+" during a parallel walk, which the probe of this map had ruled out; walk with Workers 1"))
}

// walkBuf holds the elements of one read (or of several, appended), and
// the kernel's cursors, on the heap.
type walkBuf struct {
	keys, values []byte
	n            int // elements held
	in, out      []byte
}

// reserve makes room for count elements.
func (b *walkBuf) reserve(count, ks, stride int) {
	if len(b.keys) < count*ks {
		b.keys = make([]byte, count*ks)
	}
	if len(b.values) < count*stride {
		b.values = make([]byte, count*stride)
	}
}

// appendFrom adds the elements o holds.
func (b *walkBuf) appendFrom(o *walkBuf, ks, stride int) {
	b.keys = append(b.keys[:b.n*ks], o.keys[:o.n*ks]...)
	b.values = append(b.values[:b.n*stride], o.values[:o.n*stride]...)
	b.n += o.n
}

// key is the i-th key b holds.
func (b *walkBuf) key(i, ks int) []byte { return b.keys[i*ks : (i+1)*ks] }

// lookupBatchAt issues one BPF_MAP_LOOKUP_BATCH of up to count elements
// after the cursor in (nil: from the start) into keys and values, with the
// kernel's next cursor written to out. end reports ENOENT: the walk is
// complete, and the n elements are its last.
func lookupBatchAt(fd *sys.FD, in, out, keys, values []byte, count int, flags Flags) (n int, end bool, errno unix.Errno) {
	attr := newBatchAttr(fd, keys, values, count, flags)
	if in != nil {
		attr.InBatch = sys.SlicePointer(in)
	}
	attr.OutBatch = sys.SlicePointer(out)
	errno = sys.MapLookupBatch(&attr)
	n = int(min(attr.Count, uint32(count)))
	switch errno {
	case 0:
		return n, false, 0
	case unix.ENOENT:
		return n, true, 0
	}
	return 0, false, errno
}
