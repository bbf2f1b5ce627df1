// Command ratios prints, from the benchmarks' output, how bpfbatch compares
// with the raw-syscall floor and with cilium/ebpf per case and size, the
// parallel speed-up of UpdateBatchWith, and whether the project's targets
// are met: first the write side (BenchmarkUpdate and its companions), then
// the read side (BenchmarkLookup, BenchmarkLookupInterleaved,
// BenchmarkSync; read.go). Ratios are of medians; the bracket gives the
// range of the same ratio taken round by round (samples of one round ran
// minutes apart at most, so they share the machine's state).
//
// Usage: go run ./cmd/ratios results/latest.txt
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

// The targets from the project's issue.
const (
	floorTarget    = 1.02    // UpdateBatch / floor at n >= floorTargetMinN
	floorTargetMin = 4096    // smallest n the floor target applies to
	speedupTarget  = 1.8     // with-w2 throughput / floor throughput
	speedupN       = 1 << 20 // the load the speed-up target is about
)

// speedupMaps are the cases the speed-up target is about: HASH and ARRAY.
var speedupMaps = []string{"hash-u64", "hash-v64", "array-u64"}

func main() {
	log.SetFlags(0)
	if len(os.Args) != 2 {
		log.Fatal("usage: ratios results/latest.txt")
	}
	s, err := results.Load(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	if len(s.Samples) == 0 && len(s.Interleaved) == 0 {
		log.Fatalf("%s: no BenchmarkUpdate or BenchmarkInterleaved results", os.Args[1])
	}
	r := report{s: s}
	interleaved := func(a, b results.Key) (results.Ratio, bool) {
		return r.s.CompareInterleaved(a, a.Impl, b.Impl)
	}
	if len(s.Maps) > 0 {
		r.header()
		r.medians()
		r.libraries()
		r.parallel()
		r.perElement()
		r.interleaved()
		r.overhead()
		r.targets("BenchmarkUpdate, ratio of medians", r.s.Compare)
		if r.hasInterleaved("") {
			r.targets("BenchmarkInterleaved, median of per-sample ratios", interleaved)
		}
	}
	r.reads()
	r.readTargets("BenchmarkLookup and BenchmarkSync, ratio of medians", r.s.Compare, r.s.CompareCPU, false)
	if r.hasInterleaved(results.Lookup) {
		r.readTargets("BenchmarkLookupInterleaved, median of per-sample ratios", interleaved, func(a, b results.Key) (results.Ratio, bool) {
			return r.s.CompareInterleaved(a, a.Impl+"-cpu", b.Impl+"-cpu")
		}, true)
	}
}

// hasInterleaved reports whether the file has interleaved samples of bench.
func (r *report) hasInterleaved(bench string) bool {
	for k := range r.s.Interleaved {
		if k.Bench == bench {
			return true
		}
	}
	return false
}

type report struct {
	s *results.Set
}

func (r *report) header() {
	fmt.Printf("WRITE SIDE. Samples per variant: %s. GOMAXPROCS %d. ", r.samples(""), r.s.Procs)
	fmt.Printf("Ratios are of median ns/elem; [min-max] is the same ratio round by round.\n\n")
}

// has reports whether BenchmarkUpdate measured the floor at m and n.
func (r *report) has(m string, n int) bool {
	return len(r.s.Samples[r.key(m, n, "floor")]) > 0
}

func (r *report) key(m string, n int, impl string) results.Key {
	return results.Key{Map: m, N: n, Impl: impl}
}

// ratio formats a/b, or "-" when either is missing.
func (r *report) ratio(m string, n int, a, b string) (string, results.Ratio, bool) {
	x, ok := r.s.Compare(r.key(m, n, a), r.key(m, n, b))
	if !ok {
		return "-", x, false
	}
	return fmt.Sprintf("%.3f [%.2f-%.2f]", x.Median, x.Min, x.Max), x, true
}

// speedup formats b/a: a's throughput relative to b's.
func (r *report) speedup(m string, n int, a, b string) (string, float64, bool) {
	x, ok := r.s.Compare(r.key(m, n, b), r.key(m, n, a))
	if !ok {
		return "-", 0, false
	}
	return fmt.Sprintf("%.2fx [%.2f-%.2f]", x.Median, x.Min, x.Max), x.Median, true
}

func (r *report) allocs(m string, n int, impl string) string {
	a, ok := r.s.MedianAllocs(r.key(m, n, impl))
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f", a)
}

// mediansShown are the variants of the medians table, one column each.
var mediansShown = []string{"floor", "bpfbatch", "bpfbatch-of", "with-w1", "with-w2", "with-wmax", "cilium-bytes", "cilium-typed", "cilium-put", "elem"}

func (r *report) medians() {
	fmt.Println("Median ns/elem (BenchmarkUpdate)")
	fmt.Println()
	fmt.Printf("%-16s %8s", "case", "n")
	for _, im := range mediansShown {
		fmt.Printf(" %12s", im)
	}
	fmt.Println()
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			if !r.has(m, n) {
				continue
			}
			fmt.Printf("%-16s %8d", m, n)
			for _, im := range mediansShown {
				if v, ok := r.s.Median(r.key(m, n, im)); ok {
					fmt.Printf(" %12.1f", v)
				} else {
					fmt.Printf(" %12s", "-")
				}
			}
			fmt.Println()
		}
	}
	fmt.Println()
}

func (r *report) libraries() {
	fmt.Println("bpfbatch vs the raw floor (one pre-built BPF_MAP_UPDATE_BATCH) and vs cilium/ebpf BatchUpdate")
	fmt.Println("(ns/elem ratios: < 1 means bpfbatch is faster)")
	fmt.Println()
	fmt.Printf("%-16s %8s  %-21s %-21s %-21s %-21s  %s\n", "case", "n",
		"UpdateBatch/floor", "UpdateBatchOf/floor", "UpdateBatch/cil-byte", "UpdateBatchOf/cil-typ",
		"allocs/op: floor bpfbatch bpfbatch-of cilium-bytes cilium-typed")
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			if !r.has(m, n) {
				continue
			}
			a, _, _ := r.ratio(m, n, "bpfbatch", "floor")
			b, _, _ := r.ratio(m, n, "bpfbatch-of", "floor")
			c, _, _ := r.ratio(m, n, "bpfbatch", "cilium-bytes")
			d, _, _ := r.ratio(m, n, "bpfbatch-of", "cilium-typed")
			fmt.Printf("%-16s %8d  %-21s %-21s %-21s %-21s  %s %s %s %s %s\n", m, n, a, b, c, d,
				r.allocs(m, n, "floor"), r.allocs(m, n, "bpfbatch"), r.allocs(m, n, "bpfbatch-of"),
				r.allocs(m, n, "cilium-bytes"), r.allocs(m, n, "cilium-typed"))
		}
	}
	fmt.Println()
}

func (r *report) parallel() {
	fmt.Printf("UpdateBatchWith: throughput relative to the single-call floor (> 1 is faster; wmax = GOMAXPROCS = %d)\n\n", r.s.Procs)
	impls := []string{"with-w1", "with-w2", "with-wmax", "with-w1-c4096", "with-w2-c4096", "with-w2-c65536"}
	fmt.Printf("%-16s %8s", "case", "n")
	for _, im := range impls {
		fmt.Printf("  %-19s", im)
	}
	fmt.Printf("  %s\n", "allocs/op: w1 w2 wmax")
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			if !r.has(m, n) {
				continue
			}
			fmt.Printf("%-16s %8d", m, n)
			for _, im := range impls {
				x, _, _ := r.speedup(m, n, im, "floor")
				fmt.Printf("  %-19s", x)
			}
			fmt.Printf("  %s %s %s\n", r.allocs(m, n, "with-w1"), r.allocs(m, n, "with-w2"), r.allocs(m, n, "with-wmax"))
		}
	}
	fmt.Println()
}

func (r *report) perElement() {
	fmt.Println("One syscall per element: ns/elem relative to the floor (> 1 is slower)")
	fmt.Println()
	fmt.Printf("%-16s %8s  %-21s %-21s  %s\n", "case", "n", "raw UPDATE_ELEM/floor", "cilium Put/floor", "allocs/op: elem cilium-put")
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			a, _, okA := r.ratio(m, n, "elem", "floor")
			b, _, okB := r.ratio(m, n, "cilium-put", "floor")
			if !okA && !okB {
				continue
			}
			fmt.Printf("%-16s %8d  %-21s %-21s  %s %s\n", m, n, a, b, r.allocs(m, n, "elem"), r.allocs(m, n, "cilium-put"))
		}
	}
	fmt.Println()
}

// overhead prints what each variant adds to the floor per call, from the
// one-element calls of BenchmarkCallOverhead, and what that adds at each
// size given the floor's time per element there.
func (r *report) overhead() {
	const m = "array-u64"
	floor, ok := r.s.Median(r.key(m, 1, "floor"))
	if !ok {
		return
	}
	fmt.Printf("Per-call overhead (BenchmarkCallOverhead: one element per call to %s; floor %.0f ns a call)\n\n", m, floor)
	fmt.Printf("%-14s %14s   %s\n", "variant", "ns/call-floor", "the same as a fraction of one floor call at n = 64, 4096, 65536, 1048576 (hash-u64 ns/elem)")
	for _, im := range []string{"bpfbatch", "bpfbatch-of", "with-w1", "with-w2", "cilium-bytes", "cilium-typed", "cilium-put", "elem"} {
		v, ok := r.s.Median(r.key(m, 1, im))
		if !ok {
			continue
		}
		fmt.Printf("%-14s %+14.0f  ", im, v-floor)
		for _, n := range []int{64, 4096, 65536, 1 << 20} {
			if f, ok := r.s.Median(r.key("hash-u64", n, "floor")); ok {
				fmt.Printf(" %+.5f", (v-floor)/(f*float64(n)))
			}
		}
		fmt.Println()
	}
	fmt.Println()
}

// interleaved prints BenchmarkInterleaved's ratios, where the compared
// calls alternated and so saw the same machine state.
func (r *report) interleaved() {
	if !r.hasInterleaved("") {
		return
	}
	fmt.Println("Interleaved calls (BenchmarkInterleaved): median of per-sample ratios [range]")
	fmt.Println()
	fmt.Printf("%-16s %8s  %-21s %-21s %-21s %-21s %-21s %-19s %s\n", "case", "n", "A/A: floor2/floor",
		"UpdateBatch/floor", "UpdateBatchOf/floor", "UpdateBatch/cil-byte", "UpdateBatchOf/cil-typ", "speed-up Workers=2", "samples")
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			k := r.key(m, n, "")
			if len(r.s.Interleaved[k]) == 0 {
				continue
			}
			cells := []string{}
			for _, pair := range [][2]string{{"floor2", "floor"}, {"bpfbatch", "floor"}, {"bpfbatch-of", "floor"}, {"bpfbatch", "cilium-bytes"}, {"bpfbatch-of", "cilium-typed"}} {
				x, ok := r.s.CompareInterleaved(k, pair[0], pair[1])
				cells = append(cells, format(x, ok, "%.3f"))
			}
			x, ok := r.s.CompareInterleaved(k, "floor", "with-w2")
			fmt.Printf("%-16s %8d  %-21s %-21s %-21s %-21s %-21s %-19s %d\n", m, n, cells[0], cells[1], cells[2], cells[3], cells[4],
				format(x, ok, "%.2fx"), len(r.s.Interleaved[k]))
		}
	}
	fmt.Println()
}

func format(x results.Ratio, ok bool, verb string) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf(verb+" [%.2f-%.2f]", x.Median, x.Min, x.Max)
}

// compare is Set.Compare or its interleaved counterpart.
type compare func(a, b results.Key) (results.Ratio, bool)

func (r *report) targets(source string, cmp compare) {
	fmt.Printf("Targets, from %s\n", source)
	var met, total int
	var miss []string
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			if n < floorTargetMin {
				continue
			}
			if x, ok := cmp(r.key(m, n, "bpfbatch"), r.key(m, n, "floor")); ok {
				total++
				if x.Median <= floorTarget {
					met++
				} else {
					miss = append(miss, fmt.Sprintf("%s n=%d %.3f", m, n, x.Median))
				}
			}
		}
	}
	r.line(fmt.Sprintf("UpdateBatch/floor <= %.2f at n >= %d", floorTarget, floorTargetMin), met, total, miss)

	met, total, miss = 0, 0, nil
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			for _, pair := range [][2]string{{"bpfbatch", "cilium-bytes"}, {"bpfbatch-of", "cilium-typed"}} {
				if x, ok := cmp(r.key(m, n, pair[0]), r.key(m, n, pair[1])); ok {
					total++
					if x.Median <= 1 {
						met++
					} else {
						miss = append(miss, fmt.Sprintf("%s n=%d %s/%s %.3f", m, n, pair[0], pair[1], x.Median))
					}
				}
			}
		}
	}
	r.line("bpfbatch <= cilium (UpdateBatch vs bytes, UpdateBatchOf vs typed), every case and n", met, total, miss)

	met, total, miss = 0, 0, nil
	for _, m := range speedupMaps {
		if x, ok := cmp(r.key(m, speedupN, "floor"), r.key(m, speedupN, "with-w2")); ok {
			total++
			if x.Median >= speedupTarget {
				met++
			} else {
				miss = append(miss, fmt.Sprintf("%s %.2fx", m, x.Median))
			}
		}
	}
	r.line(fmt.Sprintf("UpdateBatchWith Workers=2 >= %.1fx the floor's throughput at n=%d (HASH, ARRAY)", speedupTarget, speedupN), met, total, miss)
	fmt.Println()
}

func (r *report) line(what string, met, total int, miss []string) {
	verdict := "MET"
	if met < total || total == 0 {
		verdict = "MISSED"
	}
	fmt.Printf("  %-6s %d/%d  %s\n", verdict, met, total, what)
	for _, m := range miss {
		fmt.Printf("           miss: %s\n", m)
	}
}
