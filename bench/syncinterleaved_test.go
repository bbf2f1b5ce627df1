package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

// Sync against clear and reload with the parallel walk (issue 17): every
// variant works on one shared map per case, call by call in rotation, with
// an A/A control. sync.sh runs it; README.md, "Sync with parallel walks".

// syncInterCases are the maps of BenchmarkSyncInterleaved: the targets'
// hash and per-CPU hash, and the LRU hash and LPM trie for information.
var syncInterCases = append(casesNamed("hash-u64", "percpu-hash-u64"), lruHash, casesNamed("lpm-trie")[0])

// syncVariant is one way of reading or moving the shared map, and what it
// took over a round.
type syncVariant struct {
	name     string
	readOnly bool // leaves the map in the old state
	open     func(m *bpfbatch.Map, s *syncLoad) func() error

	move         func() error
	elapsed, cpu time.Duration
	alloc        uint64 // bytes allocated
}

// syncVariants: the floors of Sync's walk (a raw walk at Sync's chunk, and
// Map.Walk with Workers 2 at the same batch, fn counting), Sync's walk and
// diff alone (DryRun), Sync, and clear and reload, each at Workers 1 and 2;
// sync-w2b is sync-w2 again, the A/A control.
func syncVariants() []*syncVariant {
	return []*syncVariant{
		{name: "walk-w1", readOnly: true, open: openWalk},
		{name: "walk-w2", readOnly: true, open: openLibWalk(2)},
		{name: "dry-w1", readOnly: true, open: openSync(bpfbatch.SyncOptions{DryRun: true, Workers: 1})},
		{name: "dry-w2", readOnly: true, open: openSync(bpfbatch.SyncOptions{DryRun: true, Workers: 2})},
		{name: "sync-w1", open: openSync(bpfbatch.SyncOptions{Workers: 1})},
		{name: "sync-w2", open: openSync(bpfbatch.SyncOptions{Workers: 2})},
		{name: "sync-w2b", open: openSync(bpfbatch.SyncOptions{Workers: 2})},
		{name: "reload-w1", open: openReload(1)},
		{name: "reload-w2", open: openReload(2)},
	}
}

// openLibWalk is Map.Walk with workers and Sync's batch (the library's
// countBatch), fn only counting: the walk Sync makes, without grouping
// what it reads.
func openLibWalk(workers int) func(*bpfbatch.Map, *syncLoad) func() error {
	return func(m *bpfbatch.Map, s *syncLoad) func() error {
		ctx, opts := context.Background(), bpfbatch.WalkOptions{Workers: workers, Batch: syncChunk(s.d)}
		return func() error {
			var total atomic.Int64
			err := m.Walk(ctx, opts, func(_, _ []byte, n int) error {
				total.Add(int64(n))
				return nil
			})
			return checkTotal(int(total.Load()), s.n, err)
		}
	}
}

// syncMap creates the shared map of s's case (max_entries n, a quarter
// more for the LRU hash, which evicts before it is full) in the old state.
func syncMap(s *syncLoad) (int, error) {
	maxEntries := s.n
	if s.d.c == lruHash {
		maxEntries += s.n / 4
	}
	fd, err := createMap(s.d.c, maxEntries)
	if err != nil {
		return -1, err
	}
	if err := rawUpdate(fd, s.oldKeys, s.oldValues, int(s.d.c.keySize)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// BenchmarkSyncInterleaved moves one 1M-element map per case from its old
// state to the desired one (1% stale, 1% changed, 1% new, as BenchmarkSync)
// with every variant in turn, call by call, in a random order drawn anew
// for every group of calls (seeded by BENCH_ROUND, so a round repeats), so
// that all see the same map and the same machine state. Before each timed
// call, with the clock stopped, the map is brought back to the old state
// (raw calls, ~3% of it) where the variant before wrote it, and the
// benchmark waits for the kernel's workers to be idle (settle: an LPM
// trie's deleted nodes are freed after the call returns). Before the timed
// calls every writing variant runs once and the whole map is checked
// against the desired state (then restored and checked against the old
// one); every timed Sync must report added 1%, changed 1%, deleted 1%.
// Reported per variant: <variant>-ms (wall clock per call) and
// <variant>-cpu-ms (the CPU time of the whole process per call, every
// thread's: Sync and Workers 2 run on several) and <variant>-MB (the bytes
// it allocated per call, in millions). Every call starts with the Go heap
// returned to the OS (debug.FreeOSMemory), as a command's Sync does. ns/op is a whole group's
// time, restores and waits included.
// SyncInterleaved/map=<case>/n=1048576.
func BenchmarkSyncInterleaved(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	const n = 1 << 20
	for _, c := range syncInterCases {
		b.Run("map="+c.name, func(b *testing.B) {
			b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
				interleaveSync(b, newSyncLoad(c, n, cpus), round)
			})
		})
	}
}

func interleaveSync(b *testing.B, s *syncLoad, round int) {
	fd, err := syncMap(s)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	m, err := bpfbatch.NewMap(fd)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	check := rawWalker(fd, s.d)
	vs := syncVariants()
	for _, v := range vs {
		v.move = v.open(m, s)
		if err := v.move(); err != nil {
			b.Fatalf("%s: checked call: %v", v.name, err)
		}
		if v.readOnly {
			continue
		}
		if err := s.want().check(check); err != nil {
			b.Fatalf("%s: after the checked call: %v", v.name, err)
		}
		if err := s.restore(fd); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.old().check(check); err != nil {
		b.Fatalf("before the timed calls: %v", err)
	}

	fresh := true // the map holds the old state
	// A new order for every group: a rotation would keep each variant's
	// predecessor, and what ran just before moves a call by up to 8% here
	// (sync-w2b after sync-w2 took 0.92x of sync-w2 after sync-w1, in 5 of 5
	// rounds of a rotating run).
	rng := rand.New(rand.NewPCG(uint64(round), 17))
	order := make([]int, len(vs))
	trace, last := os.Getenv("SYNC_TRACE") != "", "-"
	for b.Loop() {
		for k, i := range rng.Perm(len(vs)) {
			order[k] = i
		}
		for _, i := range order {
			v := vs[i]
			if !fresh {
				if err := s.restore(fd); err != nil {
					b.Fatal(err)
				}
				fresh = true
			}
			// Every call starts with the Go heap returned to the OS, as in
			// a command or a daemon that syncs now and then: a Sync right
			// after another one finds its ~60 MB already mapped and ran
			// ~50 ms (13%) faster on the hash map than one after a walk.
			debug.FreeOSMemory()
			settle(s.d)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			start, c0 := time.Now(), processCPU()
			err := v.move()
			v.cpu += processCPU() - c0
			v.elapsed += time.Since(start)
			runtime.ReadMemStats(&m1)
			v.alloc += m1.TotalAlloc - m0.TotalAlloc
			if trace {
				fmt.Fprintf(os.Stderr, "trace %s %s after %s: %.1f ms, cpu %.1f ms\n", s.d.c.name, v.name, last, float64(time.Since(start).Microseconds())/1e3, float64((processCPU()-c0).Microseconds())/1e3)
			}
			last = v.name
			if err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			fresh = v.readOnly
		}
	}
	if !fresh {
		if err := s.restore(fd); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.old().check(check); err != nil {
		b.Fatalf("after the timed calls, restored: %v", err)
	}
	for _, v := range vs {
		b.ReportMetric(float64(v.elapsed.Microseconds())/1e3/float64(b.N), v.name+"-ms")
		b.ReportMetric(float64(v.cpu.Microseconds())/1e3/float64(b.N), v.name+"-cpu-ms")
		b.ReportMetric(float64(v.alloc)/1e6/float64(b.N), v.name+"-MB")
	}
}

// TestSyncInterleavedVariants runs every variant of BenchmarkSyncInterleaved
// on a map of 32768 elements of every case (Workers 2 splits it), twice,
// checking the map after each writing call and after each restore.
func TestSyncInterleavedVariants(t *testing.T) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range syncInterCases {
		s := newSyncLoad(c, 1<<15, cpus)
		fd, err := syncMap(s)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		m, err := bpfbatch.NewMap(fd)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		check := rawWalker(fd, s.d)
		for _, v := range syncVariants() {
			move := v.open(m, s)
			for range 2 {
				if err := move(); err != nil {
					t.Fatalf("%s %s: %v", c.name, v.name, err)
				}
				if v.readOnly {
					continue
				}
				if err := s.want().check(check); err != nil {
					t.Fatalf("%s %s: after: %v", c.name, v.name, err)
				}
				if err := s.restore(fd); err != nil {
					t.Fatal(err)
				}
				if err := s.old().check(check); err != nil {
					t.Fatalf("%s %s: restored: %v", c.name, v.name, err)
				}
			}
		}
	}
}
