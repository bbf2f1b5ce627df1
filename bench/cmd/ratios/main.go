// Command ratios prints, from BenchmarkUpdate output, how bpfbatch compares
// with the raw-syscall floor and with cilium/ebpf per case and size, the
// parallel speed-up of UpdateBatchWith, and whether the project's targets
// are met. Ratios are of medians; the bracket gives the range of the same
// ratio taken round by round (samples of one round ran minutes apart at
// most, so they share the machine's state).
//
// Usage: go run ./cmd/ratios results/latest.txt
package main

import (
	"fmt"
	"log"
	"os"
	"strings"

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
	if len(s.Samples) == 0 {
		log.Fatalf("%s: no BenchmarkUpdate results", os.Args[1])
	}
	r := report{s: s}
	r.header()
	r.libraries()
	r.parallel()
	r.perElement()
	r.targets()
}

type report struct {
	s      *results.Set
	misses []string
}

func (r *report) header() {
	rounds := map[int]bool{}
	for _, v := range r.s.Samples {
		rounds[len(v)] = true
	}
	var counts []string
	for n := range rounds {
		counts = append(counts, fmt.Sprint(n))
	}
	fmt.Printf("Samples per variant: %s. GOMAXPROCS %d. ", strings.Join(counts, " or "), r.s.Procs)
	fmt.Printf("Ratios are of median ns/elem; [min-max] is the same ratio round by round.\n\n")
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

func (r *report) libraries() {
	fmt.Println("bpfbatch vs the raw floor (one pre-built BPF_MAP_UPDATE_BATCH) and vs cilium/ebpf BatchUpdate")
	fmt.Println("(ns/elem ratios: < 1 means bpfbatch is faster)")
	fmt.Println()
	fmt.Printf("%-16s %8s  %-21s %-21s %-21s %-21s  %s\n", "case", "n",
		"UpdateBatch/floor", "UpdateBatchOf/floor", "UpdateBatch/cil-byte", "UpdateBatchOf/cil-typ",
		"allocs/op: floor bpfbatch bpfbatch-of cilium-bytes cilium-typed")
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
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

func (r *report) targets() {
	fmt.Println("Targets (medians)")
	var met, total int
	var miss []string
	for _, m := range r.s.Maps {
		for _, n := range r.s.Sizes {
			if n < floorTargetMin {
				continue
			}
			if _, x, ok := r.ratio(m, n, "bpfbatch", "floor"); ok {
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
				if _, x, ok := r.ratio(m, n, pair[0], pair[1]); ok {
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
		if _, x, ok := r.speedup(m, speedupN, "with-w2", "floor"); ok {
			total++
			if x >= speedupTarget {
				met++
			} else {
				miss = append(miss, fmt.Sprintf("%s %.2fx", m, x))
			}
		}
	}
	r.line(fmt.Sprintf("UpdateBatchWith Workers=2 >= %.1fx the floor's throughput at n=%d (HASH, ARRAY)", speedupTarget, speedupN), met, total, miss)
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
