package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The typed read loop against the byte form and cilium/ebpf (issue 16: "the
// typed loop should cost about what LookupBatch into bytes costs").
//
// Every variant does what a program reading a whole map does: it walks the
// map and looks at every element, key and every value, as Go integers. The
// look is the same for all, sum.add below (a few ns, against 250-500 ns an
// element for the walk), and doubles as the check: the sum of a mix of
// every (key, CPU, value) and the count must equal the map's, in every
// timed walk, so a variant that skips, repeats or misreads an element
// fails the benchmark.

// typedReadCases are the maps of the comparison: u32 keys, u64 values.
var typedReadCases = casesNamed("hash-u64", "percpu-hash-u64", "array-u64")

// typedReadChunk is the elements per syscall of every batch variant:
// Iterate's own batch, so all make the same syscalls.
const typedReadChunk = 4096

// typedReads are the variants, in the order of the tables; bytes2 is the
// A/A control (bytes again).
var typedReads = []string{"bytes", "bytes2", "lookup-of", "iterate", "cilium-batch", "cilium-iterate"}

// readSum is what a walk saw: the number of elements, and a sum of a mix
// of every (key, CPU, value), which does not depend on the order.
type readSum struct {
	n   int
	sum uint64
}

func (s *readSum) add(k uint32, cpu int, v uint64) {
	s.sum += mix(v ^ uint64(k)<<32 ^ uint64(cpu))
}

// typedWalk walks the whole map once.
type typedWalk func() (readSum, error)

// wantSum is what a walk of d's map must see.
func (d *data) wantSum() readSum {
	s := readSum{n: d.n}
	for i := range d.n {
		k := binary.NativeEndian.Uint32(d.keys[4*i:])
		for c := range d.cpus {
			s.add(k, c, binary.NativeEndian.Uint64(d.values[i*d.stride+8*c:]))
		}
	}
	return s
}

// openTypedRead returns variant name's walk of the map fd holds (d's
// contents, u32 keys, u64 values), and what releases it.
func openTypedRead(name string, fd int, d *data) (typedWalk, func() error, error) {
	name = strings.TrimSuffix(name, "2") // bytes2: bytes once more
	if strings.HasPrefix(name, "cilium-") {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, nil, err
		}
		cm, err := ebpf.NewMapFromFD(dup) // takes over dup
		if err != nil {
			return nil, nil, err
		}
		if name == "cilium-batch" {
			return ciliumBatchSum(cm, d), cm.Close, nil
		}
		return ciliumIterateSum(cm, d), cm.Close, nil
	}
	m, err := bpfbatch.NewMap(fd) // duplicates fd
	if err != nil {
		return nil, nil, err
	}
	var w typedWalk
	switch name {
	case "bytes":
		w = lookupBatchSum(m, d)
	case "lookup-of":
		w = lookupBatchOfSum(m, d)
	case "iterate":
		w = iterateSum(m, d)
	default:
		m.Close()
		return nil, nil, fmt.Errorf("no typed read variant %q", name)
	}
	return w, m.Close, nil
}

// lookupBatchSum: Map.LookupBatch into []byte, the values decoded with
// encoding/binary, as a program using the byte form does.
func lookupBatchSum(m *bpfbatch.Map, d *data) typedWalk {
	stride := m.ValueStride()
	keys, values := make([]byte, typedReadChunk*4), make([]byte, typedReadChunk*stride)
	var c bpfbatch.Cursor
	return func() (readSum, error) {
		c.Reset()
		var s readSum
		for {
			n, err := m.LookupBatch(&c, keys, values, bpfbatch.UpdateAny)
			if err != nil || n == 0 {
				return s, err
			}
			for i := range n {
				k := binary.NativeEndian.Uint32(keys[4*i:])
				for cpu := range d.cpus {
					s.add(k, cpu, binary.NativeEndian.Uint64(values[i*stride+8*cpu:]))
				}
			}
			s.n += n
		}
	}
}

// lookupBatchOfSum: LookupBatchOf into []uint32 and []uint64 (per-CPU:
// element-major, cpus values per key).
func lookupBatchOfSum(m *bpfbatch.Map, d *data) typedWalk {
	keys, values := make([]uint32, typedReadChunk), make([]uint64, typedReadChunk*d.cpus)
	var c bpfbatch.Cursor
	return func() (readSum, error) {
		c.Reset()
		var s readSum
		for {
			n, err := bpfbatch.LookupBatchOf(m, &c, keys, values, bpfbatch.UpdateAny)
			if err != nil || n == 0 {
				return s, err
			}
			for i, k := range keys[:n] {
				for cpu, v := range values[i*d.cpus : (i+1)*d.cpus] {
					s.add(k, cpu, v)
				}
			}
			s.n += n
		}
	}
}

// iterateSum: for k, v := range Iterate[uint32, uint64](m).All() (per-CPU:
// AllCPUs).
func iterateSum(m *bpfbatch.Map, d *data) typedWalk {
	it := bpfbatch.Iterate[uint32, uint64](m, bpfbatch.UpdateAny)
	if d.c.perCPU {
		return func() (readSum, error) {
			var s readSum
			for k, vs := range it.AllCPUs() {
				for cpu, v := range vs {
					s.add(k, cpu, v)
				}
				s.n++
			}
			return s, it.Err()
		}
	}
	return func() (readSum, error) {
		var s readSum
		for k, v := range it.All() {
			s.add(k, 0, v)
			s.n++
		}
		return s, it.Err()
	}
}

// ciliumBatchSum: cilium's BatchLookup into []uint32 and []uint64 (per-CPU:
// the flat element-major slice), a new cursor per walk; the end is
// ErrKeyNotExist, with the last batch's count.
func ciliumBatchSum(cm *ebpf.Map, d *data) typedWalk {
	keys, values := make([]uint32, typedReadChunk), make([]uint64, typedReadChunk*d.cpus)
	return func() (readSum, error) {
		var cursor ebpf.MapBatchCursor
		var s readSum
		for {
			n, err := cm.BatchLookup(&cursor, keys, values, nil)
			end := errors.Is(err, ebpf.ErrKeyNotExist)
			if err != nil && !end {
				return s, err
			}
			for i, k := range keys[:n] {
				for cpu, v := range values[i*d.cpus : (i+1)*d.cpus] {
					s.add(k, cpu, v)
				}
			}
			s.n += n
			if end {
				return s, nil
			}
		}
	}
}

// ciliumIterateSum: cilium's MapIterator, one BPF_MAP_GET_NEXT_KEY and one
// BPF_MAP_LOOKUP_ELEM per element, into variables that outlive the walk
// (per-CPU: a slice of one value per CPU).
func ciliumIterateSum(cm *ebpf.Map, d *data) typedWalk {
	var k uint32
	var v uint64
	vs := make([]uint64, d.cpus)
	return func() (readSum, error) {
		var s readSum
		it := cm.Iterate()
		if d.c.perCPU {
			for it.Next(&k, vs) {
				for cpu, v := range vs {
					s.add(k, cpu, v)
				}
				s.n++
			}
		} else {
			for it.Next(&k, &v) {
				s.add(k, 0, v)
				s.n++
			}
		}
		return s, it.Err()
	}
}

// heapObjects is the number of heap allocations the process made so far.
// ReadMemStats stops the world (tens of µs, outside the timed walks) but,
// unlike runtime/metrics, counts what the Ps' caches have not flushed yet:
// the few allocations of a walk would otherwise go unseen.
func heapObjects() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkTypedRead walks one map with every variant in alternation, walk
// by walk, in an order rotated from one group of walks to the next, so all
// see the same machine state; bytes2 is the A/A control. It reports per
// variant <variant>-ns/elem (wall clock), <variant>-cpu-ns/elem (the
// walking thread's CPU time) and <variant>-allocs/elem; ns/op is one walk
// of every variant and means nothing alone. Every timed walk is checked
// (readSum). TypedRead/map=<case>/n=<elements>.
func BenchmarkTypedRead(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	names := typedReads
	if only := os.Getenv("TYPED_READS"); only != "" { // typed.sh leaves cilium-iterate out of most rounds
		names = strings.Split(only, ",")
	}
	for _, c := range typedReadCases {
		b.Run("map="+c.name, func(b *testing.B) {
			b.Run("n=1048576", func(b *testing.B) {
				d, fd := sharedMap(b, c, 1<<20, cpus)
				interleaveTypedReads(b, names, d, fd(), round)
			})
		})
	}
}

type typedVariant struct {
	name          string
	walk          typedWalk
	elapsed, cpu  time.Duration
	allocs, walks uint64
}

func interleaveTypedReads(b *testing.B, names []string, d *data, fd, round int) {
	want := d.wantSum()
	vs := make([]*typedVariant, 0, len(names))
	for _, name := range names {
		walk, release, err := openTypedRead(name, fd, d)
		if err != nil {
			b.Fatal(err)
		}
		defer release()
		vs = append(vs, &typedVariant{name: name, walk: walk})
	}
	// One checked walk per variant first: its probes, buffers and cache.
	for _, v := range vs {
		if got, err := v.walk(); err != nil || got != want {
			b.Fatalf("%s: untimed walk: %v", v.name, sumError(got, want, err))
		}
	}
	settle(d)

	runtime.LockOSThread() // for threadCPU
	defer runtime.UnlockOSThread()
	groups := round
	for b.Loop() {
		for k := range vs {
			v := vs[(k+groups)%len(vs)]
			objects := heapObjects()
			start, cpu := time.Now(), threadCPU()
			got, err := v.walk()
			v.cpu += threadCPU() - cpu
			v.elapsed += time.Since(start)
			v.allocs += heapObjects() - objects
			v.walks++
			if err != nil || got != want {
				b.Fatalf("%s: %v", v.name, sumError(got, want, err))
			}
		}
		groups++
	}
	for _, v := range vs {
		elems := float64(v.walks) * float64(d.n)
		b.ReportMetric(float64(v.elapsed.Nanoseconds())/elems, v.name+"-ns/elem")
		b.ReportMetric(float64(v.cpu.Nanoseconds())/elems, v.name+"-cpu-ns/elem")
		b.ReportMetric(float64(v.allocs)/elems, v.name+"-allocs/elem")
	}
}

func sumError(got, want readSum, err error) error {
	switch {
	case err != nil:
		return err
	case got.n != want.n:
		return fmt.Errorf("walked %d elements, want %d", got.n, want.n)
	case got.sum != want.sum:
		return fmt.Errorf("the elements' checksum is %#x, want %#x: a value misread, or an element repeated and another missed", got.sum, want.sum)
	}
	return nil
}

// TestTypedReadVariants walks a small map of every case with every typed
// read variant, twice (the second walk reuses cursors and buffers), and
// checks each walk's count and checksum; then shows the checksum catches a
// changed value.
func TestTypedReadVariants(t *testing.T) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range typedReadCases {
		d := newData(c, 8192, cpus) // two batches of 4096, and more
		d.fill(1)
		fd, err := filledMap(d)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		want := d.wantSum()
		for _, name := range typedReads {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				walk, release, err := openTypedRead(name, fd, d)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				for range 2 {
					if got, err := walk(); err != nil || got != want {
						t.Fatal(sumError(got, want, err))
					}
				}
			})
		}
		d.values[len(d.values)-1] ^= 1 // one bit of one value
		if d.wantSum() == want {
			t.Errorf("%s: the checksum does not see a changed value", c.name)
		}
	}
}

// TestTypedReadAllocsPerWalk asserts that the typed loops allocate per
// walk, not per element: Iterate's All and AllCPUs and LookupBatchOf
// allocate as often on a map of 65536 elements as on one of 8192.
func TestTypedReadAllocsPerWalk(t *testing.T) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range typedReadCases {
		var perSize []float64
		for _, n := range []int{8192, 65536} {
			d := newData(c, n, cpus)
			d.fill(1)
			fd, err := filledMap(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"lookup-of", "iterate"} {
				walk, release, err := openTypedRead(name, fd, d)
				if err != nil {
					t.Fatal(err)
				}
				perSize = append(perSize, testing.AllocsPerRun(5, func() {
					if _, err := walk(); err != nil {
						t.Fatal(err)
					}
				}))
				release()
			}
			unix.Close(fd)
		}
		// perSize: lookup-of and iterate at 8192, then at 65536.
		t.Logf("%s: allocs per walk at 8192 / 65536 elements: LookupBatchOf %v / %v, Iterate %v / %v", c.name, perSize[0], perSize[2], perSize[1], perSize[3])
		if perSize[0] != 0 || perSize[2] != 0 {
			t.Errorf("%s: LookupBatchOf allocates %v / %v times per walk, want 0", c.name, perSize[0], perSize[2])
		}
		if perSize[3] > perSize[1] || perSize[1] > 16 {
			t.Errorf("%s: Iterate allocates %v times per walk of 8192 elements and %v of 65536: want a few per walk, not per element", c.name, perSize[1], perSize[3])
		}
	}
}
