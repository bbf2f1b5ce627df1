package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

// The read targets from the project's issue.
const (
	readFloorTarget = 1.05    // LookupBatch / floor
	iterateTarget   = 3       // Iterate's time / LookupBatch's
	syncTarget      = 0.5     // Sync's time / clear and reload's
	readTargetN     = 1 << 20 // the map size the read targets are about
)

// readImpls are the Lookup variants, one column each; the last walks per
// element (chunk=1).
var readImpls = []string{"floor", "bpfbatch", "cilium-bytes", "cilium-typed", "cilium-iterate"}

// syncImpls are the Sync variants, one column each.
var syncImpls = []string{"walk", "sync-dry", "sync-w1", "sync-w2", "reload-w1", "reload-w2"}

func (r *report) lookupKey(m string, n, chunk int, impl string) results.Key {
	return results.Key{Bench: results.Lookup, Map: m, N: n, Chunk: chunk, Impl: impl}
}

// batchChunks are the read chunks of the batch variants (not 1).
func (r *report) batchChunks() []int {
	var out []int
	for _, c := range r.s.Reads.Chunks {
		if c > 1 {
			out = append(out, c)
		}
	}
	return out
}

// samples describes how many samples the keys of one benchmark family have.
func (r *report) samples(bench string) string {
	counts := map[int]bool{}
	for k, v := range r.s.Samples {
		if k.Bench == bench {
			counts[len(v)] = true
		}
	}
	var out []string
	for n := range counts {
		out = append(out, fmt.Sprint(n))
	}
	slices.Sort(out)
	return strings.Join(out, " or ")
}

// reads prints the read side: walk medians, ratios, allocations, the
// interleaved walks and Sync.
func (r *report) reads() {
	r.walks()
	r.lookupOverhead()
	r.syncs()
}

// walks prints BenchmarkLookup's and BenchmarkLookupInterleaved's tables.
func (r *report) walks() {
	if len(r.s.Reads.Maps) == 0 {
		return
	}
	fmt.Printf("READ SIDE. Samples per variant: %s (BenchmarkLookup). Every variant walks the same map per case and size.\n\n", r.samples(results.Lookup))
	r.walkMedians("Median ns/elem of a full walk (BenchmarkLookup, wall clock); chunk = elements per call, 1 = cilium Iterate (per element)", r.s.Median)
	r.walkMedians("The same from the walking thread's CPU time (cpu-ns/elem: without the time the walk waited for a core)", r.s.MedianCPU)
	fmt.Println("LookupBatch vs the raw floor (BPF_MAP_LOOKUP_BATCH, same chunk), cilium/ebpf BatchLookup and Iterate")
	fmt.Println("(ratios of median ns/elem, [min-max] round by round: < 1 means bpfbatch is faster; Iterate/LookupBatch > 1 means Iterate is slower)")
	fmt.Println()
	fmt.Printf("%-16s %8s %6s  %-21s %-21s %-21s %-21s %-21s  %s\n", "case", "n", "chunk",
		"LookupBatch/floor", "same, CPU time", "LookupBatch/cil-byte", "LookupBatch/cil-typ", "Iterate/LookupBatch",
		"allocs/walk: floor bpfbatch cil-bytes cil-typed iterate | allocs/call: bpfbatch cil-bytes cil-typed")
	for _, m := range r.s.Reads.Maps {
		for _, n := range r.s.Reads.Sizes {
			for _, chunk := range r.batchChunks() {
				if _, ok := r.s.Median(r.lookupKey(m, n, chunk, "floor")); !ok {
					continue
				}
				cells := []string{}
				x, ok := r.s.Compare(r.lookupKey(m, n, chunk, "bpfbatch"), r.lookupKey(m, n, chunk, "floor"))
				cells = append(cells, format(x, ok, "%.3f"))
				x, ok = r.s.CompareCPU(r.lookupKey(m, n, chunk, "bpfbatch"), r.lookupKey(m, n, chunk, "floor"))
				cells = append(cells, format(x, ok, "%.3f"))
				for _, c := range []string{"cilium-bytes", "cilium-typed"} {
					x, ok := r.s.Compare(r.lookupKey(m, n, chunk, "bpfbatch"), r.lookupKey(m, n, chunk, c))
					cells = append(cells, format(x, ok, "%.3f"))
				}
				x, ok = r.s.Compare(r.lookupKey(m, n, 1, "cilium-iterate"), r.lookupKey(m, n, chunk, "bpfbatch"))
				cells = append(cells, format(x, ok, "%.2fx"))
				allocs := []string{}
				for _, im := range readImpls {
					c := chunk
					if im == "cilium-iterate" {
						c = 1
					}
					allocs = append(allocs, r.allocsOf(r.lookupKey(m, n, c, im)))
				}
				perCall := []string{}
				for _, im := range []string{"bpfbatch", "cilium-bytes", "cilium-typed"} {
					perCall = append(perCall, r.allocsPerCall(r.lookupKey(m, n, chunk, im)))
				}
				fmt.Printf("%-16s %8d %6d  %-21s %-21s %-21s %-21s %-21s  %s | %s\n", m, n, chunk, cells[0], cells[1], cells[2], cells[3], cells[4],
					strings.Join(allocs, " "), strings.Join(perCall, " "))
			}
		}
	}
	fmt.Println()
	r.lookupInterleaved()
}

// walkMedians prints the median of every walk, by median.
func (r *report) walkMedians(title string, median func(results.Key) (float64, bool)) {
	fmt.Println(title)
	fmt.Println()
	fmt.Printf("%-16s %8s %6s", "case", "n", "chunk")
	for _, im := range readImpls {
		fmt.Printf(" %14s", im)
	}
	fmt.Printf("  %s\n", "calls/walk")
	for _, m := range r.s.Reads.Maps {
		for _, n := range r.s.Reads.Sizes {
			for _, chunk := range r.s.Reads.Chunks {
				found := false
				line := fmt.Sprintf("%-16s %8d %6d", m, n, chunk)
				calls := "-"
				for _, im := range readImpls {
					k := r.lookupKey(m, n, chunk, im)
					if v, ok := median(k); ok {
						line += fmt.Sprintf(" %14.1f", v)
						found = true
						if s := r.s.Samples[k]; calls == "-" && len(s) > 0 && s[0].BatchesPerOp > 0 {
							calls = fmt.Sprintf("%.0f", s[0].BatchesPerOp)
						}
					} else {
						line += fmt.Sprintf(" %14s", "-")
					}
				}
				if found {
					fmt.Printf("%s  %s\n", line, calls)
				}
			}
		}
	}
	fmt.Println()
}

// callKey is BenchmarkLookupCallOverhead's key.
func (r *report) callKey() results.Key {
	return results.Key{Bench: results.LookupCall, Map: "array-u64", N: 4096}
}

// lookupOverhead prints what each wrapper adds to a call of the floor, from
// BenchmarkLookupCallOverhead's alternating one-element walks, and what
// that is as a fraction of one floor call at the chunks measured on the 1M
// maps.
func (r *report) lookupOverhead() {
	k := r.callKey()
	floor, ok := r.s.InterleavedMedian(k, "floor")
	if !ok {
		return
	}
	floorCPU, _ := r.s.InterleavedMedian(k, "floor-cpu")
	fmt.Printf("Per-call overhead (BenchmarkLookupCallOverhead: walks of %s n=%d, one element per call, variants alternating; %d samples;\n", k.Map, k.N, len(r.s.Interleaved[k]))
	fmt.Printf("floor %.0f ns a call, %.0f ns CPU). Medians of per-sample differences to the floor [range]; floor2 is the A/A control.\n\n", floor, floorCPU)
	fmt.Printf("%-14s %-20s %-20s   %s\n", "variant", "ns/call - floor", "cpu-ns/call - floor", "cpu overhead as a fraction of one floor call at n=1048576, chunk 4096 | 65536 (floor cpu-ns/elem x chunk)")
	for _, im := range []string{"floor2", "bpfbatch", "cilium-bytes", "cilium-typed", "cilium-boxed"} {
		d, lo, hi, ok := r.s.InterleavedDiff(k, im, "floor")
		if !ok {
			continue
		}
		c, clo, chi, _ := r.s.InterleavedDiff(k, im+"-cpu", "floor-cpu")
		fmt.Printf("%-14s %-20s %-20s  ", im, fmt.Sprintf("%+.0f [%+.0f %+.0f]", d, lo, hi), fmt.Sprintf("%+.0f [%+.0f %+.0f]", c, clo, chi))
		for _, mm := range r.s.Reads.Maps {
			fmt.Printf(" %s", mm)
			for _, chunk := range r.batchChunks() {
				if f, ok := r.readFloorCPU(mm, chunk); ok {
					fmt.Printf(" %+.5f", c/(f*float64(chunk)))
				}
			}
		}
		fmt.Println()
	}
	fmt.Println()
}

// readFloorCPU is the floor's CPU ns per element of a 1M walk at chunk:
// the interleaved walks' median where measured, else BenchmarkLookup's.
func (r *report) readFloorCPU(m string, chunk int) (float64, bool) {
	if v, ok := r.s.InterleavedMedian(r.lookupKey(m, readTargetN, chunk, ""), "floor-cpu"); ok {
		return v, true
	}
	return r.s.MedianCPU(r.lookupKey(m, readTargetN, chunk, "floor"))
}

func (r *report) allocsOf(k results.Key) string {
	a, ok := r.s.MedianAllocs(k)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f", a)
}

// allocsPerCall is allocs/op over the calls of a walk.
func (r *report) allocsPerCall(k results.Key) string {
	a, ok := r.s.MedianAllocs(k)
	s := r.s.Samples[k]
	if !ok || len(s) == 0 || s[0].BatchesPerOp == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/s[0].BatchesPerOp)
}

func (r *report) lookupInterleaved() {
	var keys []results.Key
	for _, m := range r.s.Reads.Maps {
		for _, n := range r.s.Reads.Sizes {
			for _, chunk := range r.batchChunks() {
				if k := r.lookupKey(m, n, chunk, ""); len(r.s.Interleaved[k]) > 0 {
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	fmt.Println("Interleaved walks (BenchmarkLookupInterleaved: one map, the variants' walks alternating): median of per-sample ratios [range]")
	fmt.Println()
	for _, suffix := range []string{"", "-cpu"} {
		if suffix != "" {
			fmt.Println("The same from the walking thread's CPU time")
			fmt.Println()
		}
		fmt.Printf("%-16s %8s %6s  %-21s %-21s %-21s %-21s %s\n", "case", "n", "chunk", "A/A: floor2/floor",
			"LookupBatch/floor", "LookupBatch/cil-byte", "LookupBatch/cil-typ", "samples")
		for _, k := range keys {
			cells := []string{}
			for _, pair := range [][2]string{{"floor2", "floor"}, {"bpfbatch", "floor"}, {"bpfbatch", "cilium-bytes"}, {"bpfbatch", "cilium-typed"}} {
				x, ok := r.s.CompareInterleaved(k, pair[0]+suffix, pair[1]+suffix)
				cells = append(cells, format(x, ok, "%.3f"))
			}
			fmt.Printf("%-16s %8d %6d  %-21s %-21s %-21s %-21s %d\n", k.Map, k.N, k.Chunk, cells[0], cells[1], cells[2], cells[3], len(r.s.Interleaved[k]))
		}
		fmt.Println()
	}
}

func (r *report) syncKey(m string, n int, impl string) results.Key {
	return results.Key{Bench: results.Sync, Map: m, N: n, Impl: impl}
}

func (r *report) syncs() {
	if len(r.s.Syncs.Maps) == 0 {
		return
	}
	fmt.Printf("Sync vs clear and reload (BenchmarkSync: 1%% stale, 1%% changed, 1%% new; samples per variant: %s)\n", r.samples(results.Sync))
	fmt.Println("median ms per call; walk = a raw walk with Sync's chunk (the least any Sync that reads the map takes); sync-dry = Sync with DryRun")
	fmt.Println("(its walk and diff); reload = DeleteBatch of every key + UpdateBatchWith")
	fmt.Println()
	fmt.Printf("%-16s %8s", "case", "n")
	for _, im := range syncImpls {
		fmt.Printf(" %10s", im)
	}
	fmt.Printf("  %-21s %-21s %-21s %-21s  %s\n", "sync-w1/reload-w1", "sync-w2/reload-w2", "walk/reload-w1", "sync-dry/reload-w1", "allocs/op: sync-w1 sync-w2 reload-w1 reload-w2")
	for _, m := range r.s.Syncs.Maps {
		for _, n := range r.s.Syncs.Sizes {
			fmt.Printf("%-16s %8d", m, n)
			for _, im := range syncImpls {
				if v, ok := r.s.Median(r.syncKey(m, n, im)); ok {
					fmt.Printf(" %10.0f", v*float64(n)/1e6)
				} else {
					fmt.Printf(" %10s", "-")
				}
			}
			cells := []string{}
			for _, pair := range [][2]string{{"sync-w1", "reload-w1"}, {"sync-w2", "reload-w2"}, {"walk", "reload-w1"}, {"sync-dry", "reload-w1"}} {
				x, ok := r.s.Compare(r.syncKey(m, n, pair[0]), r.syncKey(m, n, pair[1]))
				cells = append(cells, format(x, ok, "%.3f"))
			}
			fmt.Printf("  %-21s %-21s %-21s %-21s  %s %s %s %s\n", cells[0], cells[1], cells[2], cells[3],
				r.allocsOf(r.syncKey(m, n, "sync-w1")), r.allocsOf(r.syncKey(m, n, "sync-w2")),
				r.allocsOf(r.syncKey(m, n, "reload-w1")), r.allocsOf(r.syncKey(m, n, "reload-w2")))
		}
	}
	fmt.Println()
	fmt.Println("The same from the calling thread's CPU time (single-threaded variants), and Sync's CPU time split:")
	fmt.Println("walk = the raw walk; diff = sync-dry - walk (its index of the input, lookups, compares); writes = sync-w1 - sync-dry")
	fmt.Println()
	fmt.Printf("%-16s %8s %10s %10s %10s %10s  %-21s  %s\n", "case", "n", "walk", "sync-dry", "sync-w1", "reload-w1", "sync-w1/reload-w1", "split of sync-w1: walk diff writes (ms)")
	for _, m := range r.s.Syncs.Maps {
		for _, n := range r.s.Syncs.Sizes {
			ms := map[string]float64{}
			fmt.Printf("%-16s %8d", m, n)
			for _, im := range []string{"walk", "sync-dry", "sync-w1", "reload-w1"} {
				if v, ok := r.s.MedianCPU(r.syncKey(m, n, im)); ok && v > 0 {
					ms[im] = v * float64(n) / 1e6
					fmt.Printf(" %10.0f", ms[im])
				} else {
					fmt.Printf(" %10s", "-")
				}
			}
			x, ok := r.s.CompareCPU(r.syncKey(m, n, "sync-w1"), r.syncKey(m, n, "reload-w1"))
			split := "-"
			if len(ms) == 4 {
				split = fmt.Sprintf("%.0f %.0f %.0f", ms["walk"], ms["sync-dry"]-ms["walk"], ms["sync-w1"]-ms["sync-dry"])
			}
			fmt.Printf("  %-21s  %s\n", format(x, ok, "%.3f"), split)
		}
	}
	fmt.Println()
}

// readTargets checks the read targets at readTargetN: cmp is Set.Compare
// (medians) or, with interleaved, the interleaved walks' ratios (which
// cover the floor and cilium targets only); cpu is the same on the thread
// CPU time, for the walk targets.
func (r *report) readTargets(source string, cmp, cpu compare, interleaved bool) {
	if len(r.s.Reads.Maps) == 0 && len(r.s.Syncs.Maps) == 0 {
		return
	}
	fmt.Printf("Read targets, from %s, at n=%d\n", source, readTargetN)
	var met, total int
	var miss []string
	check := func(ok bool, x results.Ratio, good bool, what string) {
		if !ok {
			return
		}
		total++
		if good {
			met++
		} else {
			miss = append(miss, fmt.Sprintf("%s %.3f", what, x.Median))
		}
	}
	flush := func(what string) {
		if total > 0 { // nothing measured: no line
			r.line(what, met, total, miss)
		}
		met, total, miss = 0, 0, nil
	}
	for _, clock := range []struct {
		name string
		cmp  compare
	}{{"wall clock", cmp}, {"thread CPU time", cpu}} {
		for _, m := range r.s.Reads.Maps {
			for _, chunk := range r.batchChunks() {
				x, ok := clock.cmp(r.lookupKey(m, readTargetN, chunk, "bpfbatch"), r.lookupKey(m, readTargetN, chunk, "floor"))
				check(ok, x, x.Median <= readFloorTarget, fmt.Sprintf("%s chunk=%d", m, chunk))
			}
		}
		flush(fmt.Sprintf("LookupBatch/floor <= %.2f (full walk, same chunk), every case and chunk; %s", readFloorTarget, clock.name))
		for _, m := range r.s.Reads.Maps {
			for _, chunk := range r.batchChunks() {
				for _, c := range []string{"cilium-bytes", "cilium-typed"} {
					x, ok := clock.cmp(r.lookupKey(m, readTargetN, chunk, "bpfbatch"), r.lookupKey(m, readTargetN, chunk, c))
					check(ok, x, x.Median < 1, fmt.Sprintf("%s chunk=%d bpfbatch/%s", m, chunk, c))
				}
			}
		}
		flush(fmt.Sprintf("LookupBatch faster than cilium BatchLookup (byte arrays and typed), every case and chunk; %s", clock.name))
	}
	if interleaved {
		fmt.Println()
		return
	}
	// The same two targets per call, where the wrappers' own cost is
	// resolved: what LookupBatch adds to a floor call, against 5% of a
	// floor call at each chunk, and against what cilium adds.
	if bpf, _, _, ok := r.s.InterleavedDiff(r.callKey(), "bpfbatch-cpu", "floor-cpu"); ok {
		for _, m := range r.s.Reads.Maps {
			for _, chunk := range r.batchChunks() {
				if f, ok := r.readFloorCPU(m, chunk); ok {
					x := 1 + bpf/(f*float64(chunk))
					check(true, results.Ratio{Median: x}, x <= readFloorTarget, fmt.Sprintf("%s chunk=%d", m, chunk))
				}
			}
		}
		flush(fmt.Sprintf("LookupBatch/floor <= %.2f by the per-call overhead: 1 + (LookupBatch - floor, CPU ns per call) / (floor CPU ns per call at the chunk)", readFloorTarget))
		for _, c := range []string{"cilium-bytes", "cilium-typed"} {
			if d, _, _, ok := r.s.InterleavedDiff(r.callKey(), "bpfbatch-cpu", c+"-cpu"); ok {
				check(true, results.Ratio{Median: d}, d < 0, "bpfbatch - "+c+" (CPU ns per call)")
			}
		}
		flush("LookupBatch adds less to a call than cilium BatchLookup (byte arrays and typed): median per-sample difference < 0, BenchmarkLookupCallOverhead CPU time")
		if d, _, _, ok := r.s.InterleavedDiff(r.callKey(), "bpfbatch-cpu", "cilium-boxed-cpu"); ok {
			check(true, results.Ratio{Median: d}, d < 0, "bpfbatch - cilium-boxed (CPU ns per call)")
		}
		flush("the same against cilium at its cheapest: byte arrays boxed into `any` once by the caller (0 allocations per call)")
	}
	for _, m := range r.s.Reads.Maps {
		for _, chunk := range r.batchChunks() {
			x, ok := cmp(r.lookupKey(m, readTargetN, 1, "cilium-iterate"), r.lookupKey(m, readTargetN, chunk, "bpfbatch"))
			check(ok, x, x.Median >= iterateTarget, fmt.Sprintf("%s chunk=%d Iterate/LookupBatch", m, chunk))
		}
	}
	flush(fmt.Sprintf("LookupBatch at least %.0fx faster than cilium Iterate, every case and chunk", float64(iterateTarget)))
	for _, m := range r.s.Reads.Maps {
		for _, chunk := range r.batchChunks() {
			k := r.lookupKey(m, readTargetN, chunk, "bpfbatch")
			if s := r.s.Samples[k]; len(s) > 0 {
				worst := 0.0
				for _, x := range s {
					worst = max(worst, x.AllocsPerOp)
				}
				check(true, results.Ratio{Median: worst}, worst == 0, fmt.Sprintf("%s chunk=%d allocs/walk", m, chunk))
			}
		}
	}
	flush("LookupBatch allocates nothing in steady state (every sample's allocs/walk = 0, so 0 per call)")
	for _, m := range r.s.Syncs.Maps {
		for _, w := range []string{"w1", "w2"} {
			x, ok := cmp(r.syncKey(m, readTargetN, "sync-"+w), r.syncKey(m, readTargetN, "reload-"+w))
			check(ok, x, x.Median <= syncTarget, fmt.Sprintf("%s sync-%s/reload-%s", m, w, w))
		}
	}
	flush(fmt.Sprintf("Sync <= %.1fx the time of clear and reload (1%% stale, 1%% changed, 1%% new; same Workers)", syncTarget))
	for _, m := range r.s.Syncs.Maps {
		x, ok := r.s.CompareCPU(r.syncKey(m, readTargetN, "sync-w1"), r.syncKey(m, readTargetN, "reload-w1"))
		check(ok, x, x.Median <= syncTarget, fmt.Sprintf("%s sync-w1/reload-w1", m))
	}
	flush("the same, Workers 1, thread CPU time")
	for _, m := range r.s.Syncs.Maps {
		x, ok := r.s.Compare(r.syncKey(m, readTargetN, "walk"), r.syncKey(m, readTargetN, "reload-w1"))
		check(ok, x, x.Median <= syncTarget, fmt.Sprintf("%s walk/reload-w1", m))
	}
	flush(fmt.Sprintf("reachable at all: a raw walk of the map alone <= %.1fx clear and reload (Workers 1)", syncTarget))
	fmt.Println()
}
