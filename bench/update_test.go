package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// sizes are the elements per load. Every one is a power of two, which the
// array keys rely on.
var sizes = []int{64, 4096, 65536, 1 << 20}

// perElementMax bounds the one-syscall-per-element variants: at ~0.75 µs an
// element a 1M load would take most of the run's time budget to say what
// 65536 already says.
const perElementMax = 65536

// impl is one way of writing a load into a map.
type impl struct {
	name       string
	perElement bool // one syscall per element: sizes up to perElementMax
	chunked    bool // the Chunk sweep: 1M loads of the chunkSweep cases

	// open wraps the map fd (without taking it over) and returns the
	// function writing all of d once, and what releases the wrapper.
	open func(fd int, d *data) (updater, func() error, error)
}

var impls = []impl{
	{name: "floor", open: openFloor},
	{name: "bpfbatch", open: openBpfbatch(func(m *bpfbatch.Map, d *data) updater {
		return func() error {
			n, err := m.UpdateBatch(d.keys, d.values, bpfbatch.UpdateAny)
			return checkCount(n, d.n, err)
		}
	})},
	{name: "bpfbatch-of", open: openBpfbatch(func(m *bpfbatch.Map, d *data) updater {
		return d.c.typed.bpfbatchOf(m, d)
	})},
	{name: "with-w1", open: openWith(func() int { return 1 }, 0)},
	{name: "with-w2", open: openWith(func() int { return 2 }, 0)},
	{name: "with-wmax", open: openWith(func() int { return runtime.GOMAXPROCS(0) }, 0)},
	// Chunked forms, for the Chunk recommendation: small chunks give
	// progress and cancellation points; what do they cost?
	{name: "with-w1-c4096", chunked: true, open: openWith(func() int { return 1 }, 4096)},
	{name: "with-w2-c4096", chunked: true, open: openWith(func() int { return 2 }, 4096)},
	{name: "with-w2-c65536", chunked: true, open: openWith(func() int { return 2 }, 65536)},
	{name: "cilium-bytes", open: openCilium(func(m *ebpf.Map, d *data) updater {
		return d.c.bytes.ciliumBatch(m, d)
	})},
	{name: "cilium-typed", open: openCilium(func(m *ebpf.Map, d *data) updater {
		return d.c.typed.ciliumBatch(m, d)
	})},
	{name: "cilium-put", perElement: true, open: openCilium(func(m *ebpf.Map, d *data) updater {
		return d.c.typed.ciliumPut(m, d)
	})},
	{name: "elem", perElement: true, open: func(fd int, d *data) (updater, func() error, error) {
		r := newRawElems(fd, d.keys, d.values, int(d.c.keySize), d.stride)
		return r.update, func() error { return nil }, nil
	}},
}

// chunkSweep lists the cases where the chunked UpdateBatchWith forms run,
// at the 1M load only: enough to choose a Chunk, without spending the run's
// time budget on the slow LPM trie.
var chunkSweep = map[string]bool{"hash-u64": true, "array-u64": true, "percpu-hash-u64": true}

// runsAt reports whether im is measured on case c at n elements.
func (im impl) runsAt(c *mapCase, n int) bool {
	switch {
	case im.perElement:
		return n <= perElementMax
	case im.chunked:
		return n == 1<<20 && chunkSweep[c.name]
	}
	return true
}

func openFloor(fd int, d *data) (updater, func() error, error) {
	r := newRawBatch(fd, d.keys, d.values, d.n)
	return r.update, func() error { return nil }, nil
}

func openBpfbatch(mk func(*bpfbatch.Map, *data) updater) func(int, *data) (updater, func() error, error) {
	return func(fd int, d *data) (updater, func() error, error) {
		m, err := bpfbatch.NewMap(fd) // duplicates fd
		if err != nil {
			return nil, nil, err
		}
		return mk(m, d), m.Close, nil
	}
}

func openWith(workers func() int, chunk int) func(int, *data) (updater, func() error, error) {
	return openBpfbatch(func(m *bpfbatch.Map, d *data) updater {
		opts := bpfbatch.BatchOptions{Workers: workers(), Chunk: chunk}
		ctx := context.Background()
		return func() error {
			n, err := m.UpdateBatchWith(ctx, d.keys, d.values, opts)
			return checkCount(n, d.n, err)
		}
	})
}

func openCilium(mk func(*ebpf.Map, *data) updater) func(int, *data) (updater, func() error, error) {
	return func(fd int, d *data) (updater, func() error, error) {
		// cilium takes ownership of the fd it is given: give it a copy.
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, nil, err
		}
		m, err := ebpf.NewMapFromFD(dup)
		if err != nil {
			return nil, nil, err
		}
		return mk(m, d), m.Close, nil
	}
}

// bpfPossibleCPUs is the number of value slots per element of per-CPU
// maps. bpfbatch and cilium read it independently; a disagreement would
// make one of them write a wrong layout, so check it once here.
func bpfPossibleCPUs() (int, error) {
	n, err := bpfbatch.PossibleCPUs()
	if err != nil {
		return 0, err
	}
	m, err := ebpf.PossibleCPU()
	if err != nil {
		return 0, err
	}
	if n != m {
		return 0, fmt.Errorf("possible CPUs: bpfbatch says %d, cilium %d", n, m)
	}
	return n, nil
}

// BenchmarkUpdate writes every case's load with every variant, each into
// its own freshly created map. Sub-benchmarks are named
// map=<case>/n=<elements>/impl=<variant> for benchstat's projections.
//
// What is timed is an overwrite of all n keys: one untimed call first
// inserts them (and warms up the variant's own code paths: cilium's
// feature probes, bpfbatch's path probe), then every timed iteration
// writes all n elements again with new values.
func BenchmarkUpdate(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	// run.sh sets BENCH_ROUND to rotate the order of the variants from one
	// round to the next, so none always runs right after a map was freed.
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	for _, c := range cases {
		b.Run("map="+c.name, func(b *testing.B) {
			for _, n := range sizes {
				b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
					d := newData(c, n, cpus)
					for k := range impls {
						im := impls[(k+round)%len(impls)]
						if !im.runsAt(c, n) {
							continue
						}
						b.Run("impl="+im.name, func(b *testing.B) { benchOne(b, im, d) })
					}
				})
			}
		})
	}
}

// bigLoad is the size from which benchOne waits, before timing, for the
// kernel to finish freeing the previous variant's map.
const bigLoad = 65536

func benchOne(b *testing.B, im impl, d *data) {
	fd, err := createMap(d.c, d.n)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	update, release, err := im.open(fd, d)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := release(); err != nil {
			b.Error(err)
		}
	}()

	d.fill(1)
	if err := update(); err != nil {
		b.Fatalf("warm-up insert: %v", err)
	}
	d.fill(2)
	settle(d)

	b.ReportAllocs()
	for b.Loop() {
		if err := update(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(d.n), "ns/elem")

	if err := d.verify(fd); err != nil {
		b.Fatal(err)
	}
}

// settle prepares the machine for a timed loop: no garbage collection left
// over from the setup, and for big loads no kernel worker still freeing the
// previous map.
func settle(d *data) {
	runtime.GC()
	if d.n >= bigLoad {
		waitKernelWorkers()
	}
}

// waitKernelWorkers returns once no kernel worker thread has run for
// 50 ms (measured in scheduler ticks from /proc), or after 3 s. Closing a
// map frees it in a kworker after close returns: measured here, ~0.2 s of
// CPU for a 1M-element per-CPU hash and ~0.85 s for a 1M-node LPM trie.
// That must not overlap the next variant's timed loop, where it would take
// a core from Workers > 1. Looking only at kernel workers keeps the wait
// short when other processes load the machine.
func waitKernelWorkers() {
	deadline := time.Now().Add(3 * time.Second)
	last := kworkerTicks()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		now := kworkerTicks()
		if now == last {
			return
		}
		last = now
	}
}

// kworkerTicks sums the user and system clock ticks of every kworker
// thread (fields 14 and 15 of /proc/PID/stat).
func kworkerTicks() uint64 {
	var sum uint64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		b, err := os.ReadFile(dir + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		s := string(b)
		end := strings.LastIndexByte(s, ')')
		if end < 0 || !strings.Contains(s[:end], "(kworker") {
			continue
		}
		f := strings.Fields(s[end+1:]) // state ppid ... utime(12) stime(13)
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		sum += u + st
	}
	return sum
}

// TestVariantsWrite runs every variant once on a small load of every case
// and checks the read-back: the benchmarks' correctness without their time.
func TestVariantsWrite(t *testing.T) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		d := newData(c, 4096, cpus)
		for _, im := range impls {
			t.Run(fmt.Sprintf("%s/%s", c.name, im.name), func(t *testing.T) {
				fd, err := createMap(c, d.n)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(fd)
				update, release, err := im.open(fd, d)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				for gen := uint64(1); gen <= 2; gen++ {
					d.fill(gen)
					if err := update(); err != nil {
						t.Fatal(err)
					}
					if err := d.verify(fd); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCallOverhead writes one element per call to an array map, where
// the kernel's own work is smallest (~0.7 µs a call with the syscall), so
// what a wrapper adds per call shows in ns rather than drowning in the
// kernel's time per element. Its results join BenchmarkUpdate's as the
// array-u64 n=1 row.
func BenchmarkCallOverhead(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	var array *mapCase
	for _, c := range cases {
		if c.mapType == typeArray {
			array = c
		}
	}
	d := newData(array, 1, cpus)
	b.Run("map="+array.name, func(b *testing.B) {
		b.Run("n=1", func(b *testing.B) {
			for _, im := range impls {
				if im.runsAt(array, 1) {
					b.Run("impl="+im.name, func(b *testing.B) { benchOne(b, im, d) })
				}
			}
		})
	})
}
