package bench

import (
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// interleavedImpls are the variants the targets compare, measured again by
// BenchmarkInterleaved. floor2 is the floor once more: the A/A control,
// whose ratio to floor shows how far two identical variants drift apart.
var interleavedImpls = []string{"floor", "floor2", "bpfbatch", "bpfbatch-of", "cilium-bytes", "cilium-typed", "with-w2"}

// mapsPerVariant is how many maps each variant of BenchmarkInterleaved
// writes in turn: a fresh map's speed depends on where its memory landed
// (and for hash maps on its random hash seed), by a few percent below 1M
// and up to ~15% at 1M on this VM, so averaging over several maps narrows
// the spread. At 1M, where a map costs seconds to fill, only one.
func mapsPerVariant(n int) int {
	if n >= 1<<20 {
		return 1
	}
	return 4
}

// BenchmarkInterleaved measures the variants the targets compare in one
// loop, alternating their calls: every variant writes one of its own fresh
// maps, then every variant the next one, and so on, in an order rotated
// from one group of calls to the next. On this
// VM the speed of the same call drifts by up to 30% over a few seconds
// (host contention); separate benchmarks, even in alternating rounds, see
// different parts of that drift, while alternating calls see the same.
//
// It reports <variant>-ns/elem for each variant: the variant's total time
// over all its calls per element. Its ns/op is the time of writing every
// map of every variant once and means nothing on its own. What is timed is the same overwrite as in
// BenchmarkUpdate.
func BenchmarkInterleaved(b *testing.B) {
	cpus, err := bpfPossibleCPUs()
	if err != nil {
		b.Fatal(err)
	}
	chosen := []impl{}
	for _, name := range interleavedImpls {
		if name == "floor2" {
			chosen = append(chosen, impl{name: name, open: openFloor})
			continue
		}
		for _, im := range impls {
			if im.name == name {
				chosen = append(chosen, im)
			}
		}
	}
	round, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	for _, c := range cases {
		b.Run("map="+c.name, func(b *testing.B) {
			for _, n := range sizes {
				b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
					interleave(b, chosen, newData(c, n, cpus), round)
				})
			}
		})
	}
}

// target is one map of one variant, ready to write.
type target struct {
	fd      int
	update  updater
	release func() error
}

// variant is one impl with its maps and the time spent writing them.
type variant struct {
	name    string
	maps    []target
	elapsed time.Duration
}

func interleave(b *testing.B, chosen []impl, d *data, round int) {
	vs := make([]*variant, len(chosen))
	for i, im := range chosen {
		vs[i] = &variant{name: im.name}
	}
	defer func() {
		for _, v := range vs {
			for _, t := range v.maps {
				if err := t.release(); err != nil {
					b.Error(err)
				}
				unix.Close(t.fd)
			}
		}
	}()
	// Create the maps round-robin over the variants, starting at a variant
	// that changes from round to round, so that no variant's maps are
	// systematically the first or last allocated.
	d.fill(1)
	for j := range mapsPerVariant(d.n) {
		for k := range chosen {
			i := (k + j + round) % len(chosen)
			fd, err := createMap(d.c, d.n)
			if err != nil {
				b.Fatal(err)
			}
			update, release, err := chosen[i].open(fd, d)
			if err != nil {
				unix.Close(fd)
				b.Fatal(err)
			}
			vs[i].maps = append(vs[i].maps, target{fd: fd, update: update, release: release})
			if err := update(); err != nil {
				b.Fatalf("%s: warm-up insert: %v", chosen[i].name, err)
			}
		}
	}
	d.fill(2)
	settle(d)

	// One iteration writes every map of every variant once: for each of a
	// variant's maps in turn, one call per variant, in an order rotated
	// from call group to call group.
	b.ReportAllocs()
	groups := 0
	for b.Loop() {
		for j := range len(vs[0].maps) {
			for k := range vs {
				v := vs[(k+groups)%len(vs)]
				start := time.Now()
				err := v.maps[j].update()
				v.elapsed += time.Since(start)
				if err != nil {
					b.Fatalf("%s: %v", v.name, err)
				}
			}
			groups++
		}
	}
	for _, v := range vs {
		b.ReportMetric(float64(v.elapsed.Nanoseconds())/float64(groups)/float64(d.n), v.name+"-ns/elem")
		for _, t := range v.maps {
			if err := d.verify(t.fd); err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
		}
	}
}
