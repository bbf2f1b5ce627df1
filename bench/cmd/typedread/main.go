// Command typedread reports BenchmarkTypedRead (typedread_test.go): for
// every map, each variant's walk against LookupBatch into bytes, as the
// median of per-sample ratios with their range (the variants of a sample
// walked the same map in alternation), from wall-clock and from thread CPU
// time, with bytes2/bytes as the A/A control; then median ns, CPU ns and
// allocations per element. A variant measured in fewer samples than the
// others (typed.sh runs cilium's Iterate in some rounds only) has their
// number after its ratio.
//
//	go run ./cmd/typedread results/typed-read.txt
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

// variants in table order, with the names the tables give them.
var variants = []struct{ name, title string }{
	{"bytes2", "A/A bytes2/bytes"},
	{"lookup-of", "LookupBatchOf/bytes"},
	{"iterate", "Iterate.All/bytes"},
	{"cilium-batch", "cil BatchLookup/bytes"},
	{"cilium-iterate", "cil Iterate/bytes"},
}

const base = "bytes"

// sample is one benchmark line: per variant, its metrics by unit suffix
// ("ns/elem", "cpu-ns/elem", "allocs/elem").
type sample map[string]map[string]float64

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: typedread FILE")
		os.Exit(2)
	}
	if err := run(os.Stdout, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "typedread:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var cases []string
	samples := map[string][]sample{}
	sizes := map[string]int{} // elements in each case's map
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		name := res.Name.String()
		rest, ok := strings.CutPrefix(name, "TypedRead/map=")
		if !ok {
			continue
		}
		c, size, _ := strings.Cut(rest, "/")
		if n, err := strconv.Atoi(strings.TrimPrefix(strings.Split(size, "-")[0], "n=")); err == nil {
			sizes[c] = n
		}
		s := sample{}
		for _, v := range res.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			for _, metric := range []string{"cpu-ns/elem", "ns/elem", "allocs/elem"} {
				if impl, ok := strings.CutSuffix(unit, "-"+metric); ok {
					if s[impl] == nil {
						s[impl] = map[string]float64{}
					}
					s[impl][metric] = val
					break
				}
			}
		}
		if s[base] == nil {
			return fmt.Errorf("%s: %s has no %s-ns/elem", path, name, base)
		}
		if !slices.Contains(cases, c) {
			cases = append(cases, c)
		}
		samples[c] = append(samples[c], s)
	}
	if err := r.Err(); err != nil {
		return err
	}
	if len(cases) == 0 {
		return fmt.Errorf("%s: no BenchmarkTypedRead results", path)
	}

	for _, metric := range []string{"ns/elem", "cpu-ns/elem"} {
		what := "wall clock"
		if metric == "cpu-ns/elem" {
			what = "the walking thread's CPU time"
		}
		fmt.Fprintf(w, "Typed reads of a 1M-element map against LookupBatch into bytes (%s): median of per-sample ratios [range]; < 1 is faster\n\n", what)
		fmt.Fprintf(w, "%-16s", "case")
		for _, v := range variants {
			fmt.Fprintf(w, "  %-26s", v.title)
		}
		fmt.Fprintln(w, "  samples")
		for _, c := range cases {
			fmt.Fprintf(w, "%-16s", c)
			for _, v := range variants {
				var ratios []float64
				for _, s := range samples[c] {
					if x, ok := s[v.name][metric]; ok {
						ratios = append(ratios, x/s[base][metric])
					}
				}
				cell := ratioCell(ratios)
				if len(ratios) > 0 && len(ratios) < len(samples[c]) {
					cell += fmt.Sprintf(" (%d)", len(ratios)) // a variant left out of some rounds
				}
				fmt.Fprintf(w, "  %-26s", cell)
			}
			fmt.Fprintf(w, "  %d\n", len(samples[c]))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "Medians per element: ns (wall) / ns (thread CPU) / allocations (per walk, where fewer than one per element)\n\n")
	fmt.Fprintf(w, "%-16s", "case")
	names := append([]string{base}, variantNames()...)
	for _, n := range names {
		fmt.Fprintf(w, "  %-34s", n)
	}
	fmt.Fprintln(w)
	for _, c := range cases {
		fmt.Fprintf(w, "%-16s", c)
		for _, n := range names {
			cell := "-"
			if wall, ok := median(samples[c], n, "ns/elem"); ok {
				cpu, _ := median(samples[c], n, "cpu-ns/elem")
				allocs, _ := median(samples[c], n, "allocs/elem")
				cell = fmt.Sprintf("%.1f / %.1f / %s", wall, cpu, allocCell(allocs, sizes[c]))
			}
			fmt.Fprintf(w, "  %-34s", cell)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func variantNames() []string {
	var out []string
	for _, v := range variants {
		out = append(out, v.name)
	}
	return out
}

func ratioCell(ratios []float64) string {
	if len(ratios) == 0 {
		return "-"
	}
	m, _ := results.Median(ratios)
	return fmt.Sprintf("%.3f [%.2f-%.2f]", m, slices.Min(ratios), slices.Max(ratios))
}

// allocCell prints allocations per element: 0, a count, or where it is a
// small fraction (per walk or per batch, not per element) also the count
// per walk of n elements.
func allocCell(a float64, n int) string {
	switch {
	case a == 0:
		return "0"
	case a < 0.01:
		return fmt.Sprintf("%.1e (%.0f/walk)", a, a*float64(n))
	}
	return fmt.Sprintf("%.2f", a)
}

func median(samples []sample, impl, metric string) (float64, bool) {
	var xs []float64
	for _, s := range samples {
		if x, ok := s[impl][metric]; ok {
			xs = append(xs, x)
		}
	}
	return results.Median(xs)
}
