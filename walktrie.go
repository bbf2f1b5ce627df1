package bpfbatch

import (
	"bytes"
	"cmp"
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// LPM tries split by key. The kernel walks a trie in post-order
// (trie_get_next_key): a prefix after every prefix inside it, prefixes side
// by side in address order. That is an order on keys alone, trieCompare,
// whatever the trie's shape, so a part can be a range of keys: (from, to].
// A read can only start after a key the trie holds (for any other key
// trie_get_next_key starts again from the first key), so parts start at
// keys an earlier walk saw (trieSamples), and the first key a read returns
// says whether it started there: a key above the start key, or the walk
// went back to the first key. The first parallel walk of a Map therefore
// walks once, checking every step against trieCompare and keeping keys at
// even positions; later ones split at those keys, and refresh them.

// trieSampleMax is about how many keys a walk keeps to split later walks
// at (between trieSampleMax and twice as many).
const trieSampleMax = 64

// trieCompare orders LPM trie keys (struct bpf_lpm_trie_key: a u32
// prefix length in host order, then the address in network order) as
// trie_get_next_key walks them: by the last address a prefix covers, then
// the longer prefix first. Address bits past the prefix length do not
// count, as in the trie.
func trieCompare(a, b []byte) int {
	pa, pb := binary.NativeEndian.Uint32(a), binary.NativeEndian.Uint32(b)
	if full := uint32(8 * (len(a) - 4)); pa == full && pb == full {
		return bytes.Compare(a[4:], b[4:]) // host routes: no bits to set
	}
	for i := 4; i < len(a); i++ {
		x, y := lastAddressByte(a[i], pa, i-4), lastAddressByte(b[i], pb, i-4)
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(pb, pa)
}

// lastAddressByte is byte i of the last address of a prefix of length
// plen whose byte i is b: the bits past the prefix set.
func lastAddressByte(b byte, plen uint32, i int) byte {
	bit := uint32(8 * i)
	switch {
	case plen >= bit+8:
		return b
	case plen <= bit:
		return 0xff
	}
	return b | 0xff>>(plen-bit)
}

// trieSamples is what a complete walk of a trie saw: keys at evenly spaced
// positions of the walk, in order.
type trieSamples struct {
	keys  []byte
	pos   []int // the position of each key in that walk
	total int   // the elements the walk returned
}

// trieSampler watches a walk: it checks that the keys come in
// trieCompare's order and keeps one key every step elements (step doubles
// as the walk goes on).
type trieSampler struct {
	ks      int
	step    int
	count   int
	keys    []byte
	pos     []int
	last    []byte
	ordered bool
}

func newTrieSampler(ks int) *trieSampler { return &trieSampler{ks: ks, step: 1, ordered: true} }

// observe takes the next n keys of a walk that has not checked their
// order.
func (s *trieSampler) observe(keys []byte, n int) {
	ks := s.ks
	for i := range n {
		prev := s.last
		if i > 0 {
			prev = keys[(i-1)*ks : i*ks]
		}
		if (i > 0 || s.count > 0) && trieCompare(prev, keys[i*ks:(i+1)*ks]) >= 0 {
			s.ordered = false
		}
	}
	s.sample(keys, n)
	if n > 0 {
		s.last = append(s.last[:0], keys[(n-1)*ks:n*ks]...)
	}
}

// sample takes the next n keys of the walk, in order.
func (s *trieSampler) sample(keys []byte, n int) {
	ks := s.ks
	for i := range n {
		k := keys[i*ks : (i+1)*ks]
		if s.count%s.step == 0 {
			s.keys = append(s.keys, k...)
			s.pos = append(s.pos, s.count)
			if len(s.pos) == 2*trieSampleMax {
				s.thin()
			}
		}
		s.count++
	}
}

// thin keeps every other sample, and doubles step.
func (s *trieSampler) thin() {
	ks, j := s.ks, 0
	for i := 0; i < len(s.pos); i += 2 {
		copy(s.keys[j*ks:], s.keys[i*ks:(i+1)*ks])
		s.pos[j] = s.pos[i]
		j++
	}
	s.keys, s.pos, s.step = s.keys[:j*ks], s.pos[:j], 2*s.step
}

// trieSamples returns what the last complete walk of the trie saw, or nil.
func (p *walkProbe) trieSamples() *trieSamples {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trie
}

// learnTrie keeps what the walks of parts saw (in order), after a complete
// walk. A walk that saw keys out of trieCompare's order proves the order
// wrong for this map or kernel (or the trie changed under a sequential
// walk, which then starts again from the first key): after probeRetries
// such walks the map walks sequentially for good.
func (p *walkProbe) learnTrie(parts []*trieSampler) {
	t := &trieSamples{}
	for _, s := range parts {
		if !s.ordered {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.failures++; p.failures >= probeRetries {
				p.layout, p.trie = layoutSequential, nil
			}
			return
		}
		t.keys = append(t.keys, s.keys...)
		for _, pos := range s.pos {
			t.pos = append(t.pos, t.total+pos)
		}
		t.total += s.count
	}
	// At most 2*trieSampleMax samples, evenly spaced.
	ks := 0
	if len(parts) > 0 {
		ks = parts[0].ks
	}
	if every := (len(t.pos) + 2*trieSampleMax - 1) / (2 * trieSampleMax); every > 1 {
		j := 0
		for i := 0; i < len(t.pos); i += every {
			copy(t.keys[j*ks:], t.keys[i*ks:(i+1)*ks])
			t.pos[j] = t.pos[i]
			j++
		}
		t.keys, t.pos = t.keys[:j*ks], t.pos[:j]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trie = t
}

// walkTrie walks an LPM trie in up to workers parts of keys, split at keys
// the last complete walk saw; without them, or for a trie too small to
// split, once, sequentially, learning them.
func (r *walkRun) walkTrie(workers int) error {
	m, ks := r.m, r.ks
	t := m.walkProbe.trieSamples()
	var starts []int // the sample each part after the first starts after
	if t != nil {
		parts := min(workers, t.total/max(1, walkSplitMin))
		for p := 1; p < parts; p++ {
			want := p * t.total / parts
			j := 0
			for j+1 < len(t.pos) && t.pos[j+1] <= want {
				j++
			}
			if len(starts) == 0 || j > starts[len(starts)-1] {
				starts = append(starts, j)
			}
		}
	}
	if len(starts) == 0 {
		s := newTrieSampler(ks)
		err := m.walkSequential(r.parent, r.batch, r.flags, func(keys, values []byte, n int) error {
			s.observe(keys, n)
			return r.fn(keys, values, n)
		})
		if err == nil {
			m.walkProbe.learnTrie([]*trieSampler{s})
		}
		return err
	}
	sample := func(j int) []byte { return bytes.Clone(t.keys[j*ks : (j+1)*ks]) }
	parts := len(starts) + 1
	samplers := make([]*trieSampler, parts)
	err := r.run(parts, func(p int) {
		var from, to []byte
		var seeks [][]byte
		if p > 0 {
			from = sample(starts[p-1])
			// If from is gone, a few samples before it, nearest first.
			for j := starts[p-1] - 1; j >= 0 && len(seeks) < 4; j-- {
				seeks = append(seeks, sample(j))
			}
		}
		if p < parts-1 {
			to = sample(starts[p])
		}
		samplers[p] = newTrieSampler(ks)
		r.triePart(from, to, seeks, samplers[p])
	})
	if err == nil {
		m.walkProbe.learnTrie(samplers)
	}
	return err
}

// triePart walks the keys in (from, to] (nil: no bound) and passes them to
// fn in order. Each read starts after the last key passed on; when that
// key is gone, the kernel goes back to the trie's first key, which the
// first key returned shows, and the part starts again after an earlier
// key: one it read before, one of seeks (keys before from), or the start,
// passing on only keys above the last one passed on. So within a part the
// keys passed on only go up, none twice, and the part skips none that
// stayed in the trie (the kernel's own step may, while the trie changes:
// see Walk).
func (r *walkRun) triePart(from, to []byte, seeks [][]byte, s *trieSampler) {
	ks := r.ks
	buf := &walkBuf{out: make([]byte, ks)}
	lower := bytes.Clone(from) // what was passed on, or belongs to an earlier part, is not above it
	in := lower                // the read starts after it (nil: the start)
	var back [][]byte          // keys reads started after, oldest first
	for {
		n, end, ok := r.readTrie(buf, in)
		if !ok {
			return
		}
		if in != nil && n > 0 && trieCompare(buf.key(0, ks), in) <= 0 {
			// in is gone: start after an earlier key.
			switch {
			case len(back) > 0:
				in, back = back[len(back)-1], back[:len(back)-1]
			case len(seeks) > 0:
				in, seeks = seeks[0], seeks[1:]
			default:
				in = nil
			}
			continue
		}
		// Keys go up until a key the read stood on went away under it
		// (then the kernel went back to the first key).
		valid := n
		for i := 1; i < n; i++ {
			if trieCompare(buf.key(i-1, ks), buf.key(i, ks)) >= 0 {
				valid = i
				break
			}
		}
		lo := 0
		for lo < valid && lower != nil && trieCompare(buf.key(lo, ks), lower) <= 0 {
			lo++
		}
		hi := valid
		if to != nil && lo < valid && trieCompare(buf.key(valid-1, ks), to) > 0 {
			for hi = lo; trieCompare(buf.key(hi, ks), to) <= 0; hi++ {
			}
		}
		s.sample(buf.keys[lo*ks:], hi-lo)
		if !r.deliver(buf, lo, hi) || hi < valid || n == 0 || end && valid == n {
			return
		}
		last := bytes.Clone(buf.key(valid-1, ks))
		if lower == nil || trieCompare(last, lower) > 0 {
			lower = last
		}
		if in != nil {
			back = append(back, in)
			if len(back) > 8 {
				back = back[1:]
			}
		}
		in = last
	}
}

// readTrie reads up to a batch of elements after key in (nil: from the
// start) into b.
func (r *walkRun) readTrie(b *walkBuf, in []byte) (n int, end, ok bool) {
	ok = r.withFD(func(fd *sys.FD) fault {
		b.reserve(r.batch, r.ks, r.stride)
		var errno unix.Errno
		b.n, end, errno = lookupBatchAt(fd, in, b.out, b.keys, b.values, r.batch, r.flags)
		if errno != 0 {
			return r.m.newFault(fd, cmdLookupBatch, errno, r.flags, -1)
		}
		return fault{}
	})
	if ok {
		r.read.Add(int64(b.n))
	}
	return b.n, end, ok
}
