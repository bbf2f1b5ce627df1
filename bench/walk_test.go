package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

// Map.Walk with Workers 2 against one walk (Workers 1), on the maps of the
// parallel walk targets. walk.sh runs it; README.md, "Parallel walks".

// typeLRUHash is BPF_MAP_TYPE_LRU_HASH.
const typeLRUHash = 9

// lruHash is an LRU hash with u32 keys and u64 values. Its maps get a
// quarter more max_entries than elements: an LRU map evicts before it is
// full (the library's KERNEL-NOTES), and a walk must find all n.
var lruHash = &mapCase{name: "lru-hash-u64", mapType: typeLRUHash, keySize: 4, valueSize: 8,
	bytes: layout[[4]byte, [8]byte]{}, typed: layout[uint32, uint64]{}}

// walkCases are the maps walked: the targets' hash, per-CPU hash and array,
// and the LRU hash and LPM trie.
var walkCases = append(append(casesNamed("hash-u64", "percpu-hash-u64"), lruHash), casesNamed("array-u64", "lpm-trie")...)

// walkVariants are the walks compared, in alternation: one walk, the same
// again (the A/A control), and Workers 2.
var walkVariants = []struct {
	name    string
	workers int
}{{"w1", 1}, {"w1b", 1}, {"w2", 2}}

// walkWith walks m with Walk and Workers workers, the default Batch (4096),
// handing the sink what fn gets, one call at a time. The timed walks pass
// no sink: fn then only counts, atomically (it runs on two goroutines with
// Workers 2).
func walkWith(m *bpfbatch.Map, workers int) walker {
	errStop := errors.New("sink stopped the walk")
	return func(sink func(keys, values []byte) bool) (int, error) {
		var total atomic.Int64
		var mu sync.Mutex
		err := m.Walk(context.Background(), bpfbatch.WalkOptions{Workers: workers}, func(keys, values []byte, n int) error {
			total.Add(int64(n))
			if sink == nil {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			if !sink(keys, values) {
				return errStop
			}
			return nil
		})
		if err == errStop {
			err = nil
		}
		return int(total.Load()), err
	}
}

// walkMap creates d's map, with max_entries d.n (a quarter more for the
// LRU hash), and fills it with raw BPF_MAP_UPDATE_BATCH calls.
func walkMap(d *data) (int, error) {
	maxEntries := d.n
	if d.c == lruHash {
		maxEntries += d.n / 4
	}
	fd, err := createMap(d.c, maxEntries)
	if err != nil {
		return -1, err
	}
	if err := rawUpdate(fd, d.keys, d.values, int(d.c.keySize)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("fill %s n=%d: %w", d.c.name, d.n, err)
	}
	return fd, nil
}

// BenchmarkWalk walks one 1M-element map of each case with every variant
// in alternation, walk by walk, in an order rotated from one group of walks
// to the next (and from round to round with BENCH_ROUND), so that all see
// the same machine state. Before the timed walks each variant's walk is
// checked element by element (every element once, with its value); for
// the LPM trie that first walk with Workers 2 is also the one that learns
// where to split it. It reports <variant>-ns/elem (wall clock) and
// <variant>-cpu-ns/elem (the process's CPU time, user and system, during
// the variant's walks: every thread's, so a split's extra work shows),
// and the ratios of the summed wall times: speedup = w1/w2, aa = w1/w1b.
// Walk/map=<case>/n=1048576.
func BenchmarkWalk(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	const n = 1 << 20
	for _, c := range walkCases {
		b.Run("map="+c.name, func(b *testing.B) {
			b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
				d := newData(c, n, cpus)
				d.fill(1)
				fd, err := walkMap(d)
				if err != nil {
					b.Fatal(err)
				}
				defer unix.Close(fd)
				m, err := bpfbatch.NewMap(fd)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				walks := make([]walker, len(walkVariants))
				for i, v := range walkVariants {
					walks[i] = walkWith(m, v.workers)
					if err := d.contents().check(walks[i]); err != nil {
						b.Fatalf("%s: checked walk: %v", v.name, err)
					}
				}
				settle(d)
				var took, cpu [3]time.Duration
				groups := round
				for b.Loop() {
					for k := range walkVariants {
						i := (k + groups) % len(walkVariants)
						start, c0 := time.Now(), processCPU()
						got, err := walks[i](nil)
						cpu[i] += processCPU() - c0
						took[i] += time.Since(start)
						if err := checkTotal(got, n, err); err != nil {
							b.Fatalf("%s: %v", walkVariants[i].name, err)
						}
					}
					groups++
				}
				for i, v := range walkVariants {
					b.ReportMetric(float64(took[i].Nanoseconds())/float64(b.N*n), v.name+"-ns/elem")
					b.ReportMetric(float64(cpu[i].Nanoseconds())/float64(b.N*n), v.name+"-cpu-ns/elem")
				}
				b.ReportMetric(float64(took[0])/float64(took[2]), "speedup")
				b.ReportMetric(float64(took[0])/float64(took[1]), "aa")
			})
		})
	}
}

// processCPU is the process's CPU time so far, user and system, every
// thread's.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestWalkVariants checks every walk variant on a small map of every walk
// case (32768 elements: Workers 2 splits them), twice each.
func TestWalkVariants(t *testing.T) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range walkCases {
		d := newData(c, 1<<15, cpus)
		d.fill(1)
		fd, err := walkMap(d)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		m, err := bpfbatch.NewMap(fd)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for _, v := range walkVariants {
			for range 2 {
				if err := d.contents().check(walkWith(m, v.workers)); err != nil {
					t.Fatalf("%s %s: %v", c.name, v.name, err)
				}
			}
		}
	}
}
