package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"golang.org/x/sys/unix"
)

// syncCases are the map kinds Sync is measured on: those that can delete
// (an array's "clear" would be writing zeros, another operation).
var syncCases = casesNamed("hash-u64", "percpu-hash-u64", "lpm-trie")

// syncSizes are the map sizes of BenchmarkSync; the target is about 1M.
var syncSizes = []int{1 << 20}

// syncLoad is a map's old state and the desired state Sync moves it to:
// of the n old elements, the first 1% (stale) are not desired, the next 1%
// (changed) are desired with another value, the rest unchanged; 1% new
// elements are added. The desired state has n elements again, so both
// fit a map of max_entries n, whatever order the deletes and writes take.
type syncLoad struct {
	d *data // n + p elements: [0, p) stale, [p, 2p) changed, [n, n+p) new
	n int
	p int // 1% of n

	oldKeys, oldValues   []byte // elements [0, n), the values of generation 1
	wantKeys, wantValues []byte // elements [p, n+p); [p, 2p) of generation 2
}

func newSyncLoad(c *mapCase, n, cpus int) *syncLoad {
	p := n / 100
	d := newData(c, n+p, cpus)
	d.fill(1)
	ks, stride := int(c.keySize), d.stride
	s := &syncLoad{d: d, n: n, p: p,
		oldKeys: d.keys[:n*ks], oldValues: d.values[:n*stride],
		wantKeys: d.keys[p*ks : (n+p)*ks],
	}
	s.wantValues = append([]byte(nil), d.values[p*stride:(n+p)*stride]...)
	for i := range p * stride { // the changed elements: every byte differs
		s.wantValues[i] ^= 0x5a
	}
	return s
}

// stats is what Sync must report: it writes 2% of the map and deletes 1%.
func (s *syncLoad) stats() bpfbatch.SyncStats {
	return bpfbatch.SyncStats{Added: s.p, Changed: s.p, Deleted: s.p, Unchanged: s.n - 2*s.p}
}

// want is the desired state, for checking a map's contents.
func (s *syncLoad) want() contents {
	return contents{n: s.n, keySize: int(s.d.c.keySize), stride: s.d.stride, values: s.wantValues,
		find: func(key []byte) int {
			if i := s.d.index(key); i >= s.p {
				return i - s.p
			}
			return -1
		}}
}

// old is the old state.
func (s *syncLoad) old() contents {
	return contents{n: s.n, keySize: int(s.d.c.keySize), stride: s.d.stride, values: s.oldValues,
		find: func(key []byte) int {
			if i := s.d.index(key); i < s.n {
				return i
			}
			return -1
		}}
}

// restore takes a map in the desired state back to the old one, with raw
// calls: delete the new elements, write back the stale and changed ones.
// 3% of the map: ~20 ms at 1M, where filling a fresh map takes ~0.7 s.
func (s *syncLoad) restore(fd int) error {
	ks, stride := int(s.d.c.keySize), s.d.stride
	if err := rawDelete(fd, s.d.keys[s.n*ks:], ks); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := rawUpdate(fd, s.d.keys[:2*s.p*ks], s.d.values[:2*s.p*stride], ks); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// syncImpl is one way of moving a map from the old state to the desired one.
type syncImpl struct {
	name     string
	readOnly bool // writes nothing: the map stays in the old state
	// oneThread: all the work runs on the calling goroutine's thread, so
	// its CPU time is the variant's (Workers 2 runs on other threads too).
	oneThread bool
	open      func(m *bpfbatch.Map, s *syncLoad) func() error
}

var syncImpls = []syncImpl{
	// The floor of any Sync that reads the whole map: a raw walk with
	// Sync's chunk, no diff, no writes.
	{name: "walk", readOnly: true, oneThread: true, open: openWalk},
	// Sync with DryRun: its walk and diff without the writes.
	{name: "sync-dry", readOnly: true, oneThread: true, open: openSync(bpfbatch.SyncOptions{DryRun: true})},
	{name: "sync-w1", oneThread: true, open: openSync(bpfbatch.SyncOptions{Workers: 1})},
	{name: "sync-w2", open: openSync(bpfbatch.SyncOptions{Workers: 2})},
	{name: "reload-w1", oneThread: true, open: openReload(1)},
	{name: "reload-w2", open: openReload(2)},
}

// syncChunk is the elements per call of Sync's walk: the library's
// countChunk, about 1 MiB of keys and values per call.
func syncChunk(d *data) int {
	return max(64, (1<<20)/(d.stride+int(d.c.keySize)))
}

// openWalk walks the map with the raw floor at Sync's chunk.
func openWalk(m *bpfbatch.Map, s *syncLoad) func() error {
	chunk := syncChunk(s.d)
	buf := newReadBuf(s.d, chunk)
	walk := newRawLookup(m.FD(), buf.keys, buf.values, chunk, int(s.d.c.keySize), s.d.stride).walk
	return func() error {
		n, err := walk(nil)
		return checkTotal(n, s.n, err)
	}
}

// openSync is Map.Sync with opts; its stats must say it wrote the 2% and
// deleted the 1%, nothing else.
func openSync(opts bpfbatch.SyncOptions) func(*bpfbatch.Map, *syncLoad) func() error {
	return func(m *bpfbatch.Map, s *syncLoad) func() error {
		ctx, want := context.Background(), s.stats()
		return func() error {
			st, err := m.Sync(ctx, s.wantKeys, s.wantValues, opts)
			if err == nil && st != want {
				err = fmt.Errorf("Sync says %v, want %v", st, want)
			}
			return err
		}
	}
}

// openReload is the alternative Sync is measured against: clear the map
// (DeleteBatch of every key it holds, which the caller knows here, so no
// walk is needed to find them) and write the whole desired state with
// UpdateBatchWith and Workers w.
func openReload(w int) func(*bpfbatch.Map, *syncLoad) func() error {
	return func(m *bpfbatch.Map, s *syncLoad) func() error {
		ctx, ks := context.Background(), int(s.d.c.keySize)
		return func() error {
			n, err := m.DeleteBatch(s.oldKeys, bpfbatch.UpdateAny)
			if err := checkCount(n, len(s.oldKeys)/ks, err); err != nil {
				return fmt.Errorf("clear: %w", err)
			}
			n, err = m.UpdateBatchWith(ctx, s.wantKeys, s.wantValues, bpfbatch.BatchOptions{Workers: w})
			if err := checkCount(n, s.n, err); err != nil {
				return fmt.Errorf("reload: %w", err)
			}
			return nil
		}
	}
}

// BenchmarkSync moves a 1M-element map from its old state to the desired
// one (1% stale, 1% changed, 1% new), with Sync and with clear and reload,
// at Workers 1 and 2 (and Sync with DryRun, which only reads, and walk):
// Sync/map=<case>/n=<elements>/impl=<variant>. The walk variant is a raw
// walk of the map with Sync's chunk, the least any Sync that reads the
// map can take. Single-threaded variants also report cpu-ns/elem, from the
// thread's CPU time (the map's kernel work runs on the calling thread). Each
// variant has its own fresh map, filled with the old state by raw calls.
// Every timed iteration starts from the old state: the map is restored
// between iterations with the timer stopped (restore). After the loop,
// outside the timer, a raw walk checks every element of the map against
// the desired state. ns/elem is per element of the map (n), not per
// element written.
func BenchmarkSync(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	for _, c := range syncCases {
		b.Run("map="+c.name, func(b *testing.B) {
			for _, n := range syncSizes {
				b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
					s := newSyncLoad(c, n, cpus)
					for k := range syncImpls {
						im := syncImpls[(k+round)%len(syncImpls)]
						b.Run("impl="+im.name, func(b *testing.B) { benchSync(b, im, s) })
					}
				})
			}
		})
	}
}

func benchSync(b *testing.B, im syncImpl, s *syncLoad) {
	fd, err := createMap(s.d.c, s.n)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	if err := rawUpdate(fd, s.oldKeys, s.oldValues, int(s.d.c.keySize)); err != nil {
		b.Fatal(err)
	}
	m, err := bpfbatch.NewMap(fd)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	move := im.open(m, s)
	settle(s.d)

	runtime.LockOSThread() // for threadCPU
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	fresh := true // the map holds the old state
	var cpu time.Duration
	for b.Loop() {
		if !fresh && !im.readOnly {
			b.StopTimer()
			if err := s.restore(fd); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		start := threadCPU()
		if err := move(); err != nil {
			b.Fatal(err)
		}
		cpu += threadCPU() - start
		fresh = false
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.n), "ns/elem")
	if im.oneThread {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(s.n), "cpu-ns/elem")
	}

	if err := s.after(im).check(rawWalker(fd, s.d)); err != nil {
		b.Fatal(err)
	}
}

// after is the state im leaves the map in.
func (s *syncLoad) after(im syncImpl) contents {
	if im.readOnly {
		return s.old()
	}
	return s.want()
}

// rawWalker is the floor's walk with 65536-element calls: the check of a
// map's contents that trusts no library under test.
func rawWalker(fd int, d *data) walker {
	buf := newReadBuf(d, 65536)
	return newRawLookup(fd, buf.keys, buf.values, 65536, int(d.c.keySize), d.stride).walk
}

// TestVariantsSync runs every Sync variant on a small load of every Sync
// case twice (the second time after restore), and checks the map against
// the desired state after each, and against the old state after restore.
func TestVariantsSync(t *testing.T) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range syncCases {
		s := newSyncLoad(c, 10000, cpus)
		for _, im := range syncImpls {
			t.Run(c.name+"/"+im.name, func(t *testing.T) {
				fd, err := createMap(c, s.n)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(fd)
				if err := rawUpdate(fd, s.oldKeys, s.oldValues, int(c.keySize)); err != nil {
					t.Fatal(err)
				}
				m, err := bpfbatch.NewMap(fd)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				move := im.open(m, s)
				for range 2 {
					if err := s.old().check(rawWalker(fd, s.d)); err != nil {
						t.Fatalf("before: %v", err)
					}
					if err := move(); err != nil {
						t.Fatal(err)
					}
					if err := s.after(im).check(rawWalker(fd, s.d)); err != nil {
						t.Fatalf("after: %v", err)
					}
					if im.readOnly {
						continue
					}
					if err := s.restore(fd); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}
