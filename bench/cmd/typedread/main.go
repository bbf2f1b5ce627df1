// Command typedread reports BenchmarkTypedRead (typedread_test.go): for
// every map, each variant's walk against LookupBatch into bytes, as the
// median of per-sample ratios with their range (the variants of a sample
// walked the same map in alternation), from wall-clock and from thread CPU
// time, with bytes2/bytes as the A/A control; then median ns, CPU ns and
// allocations per element.
//
//	go run ./cmd/typedread results/typed-read.txt
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
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
		c, _, _ := strings.Cut(rest, "/")
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
			fmt.Fprintf(w, "  %-22s", v.title)
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
				fmt.Fprintf(w, "  %-22s", ratioCell(ratios))
			}
			fmt.Fprintf(w, "  %d\n", len(samples[c]))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "Medians per element: ns (wall) / ns (thread CPU) / allocations\n\n")
	fmt.Fprintf(w, "%-16s", "case")
	names := append([]string{base}, variantNames()...)
	for _, n := range names {
		fmt.Fprintf(w, "  %-26s", n)
	}
	fmt.Fprintln(w)
	for _, c := range cases {
		fmt.Fprintf(w, "%-16s", c)
		for _, n := range names {
			cell := "-"
			if wall, ok := median(samples[c], n, "ns/elem"); ok {
				cpu, _ := median(samples[c], n, "cpu-ns/elem")
				allocs, _ := median(samples[c], n, "allocs/elem")
				cell = fmt.Sprintf("%.1f / %.1f / %s", wall, cpu, allocCell(allocs))
			}
			fmt.Fprintf(w, "  %-26s", cell)
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
	m, _ := medianOf(ratios)
	return fmt.Sprintf("%.3f [%.2f-%.2f]", m, slices.Min(ratios), slices.Max(ratios))
}

// allocCell prints allocations per element: 0, a small fraction (per walk
// or per batch, not per element) in scientific notation, or a count.
func allocCell(a float64) string {
	switch {
	case a == 0:
		return "0"
	case a < 0.01:
		return fmt.Sprintf("%.1e", a)
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
	return medianOf(xs)
}

func medianOf(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	xs = slices.Sorted(slices.Values(xs))
	if len(xs)%2 == 1 {
		return xs[len(xs)/2], true
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2, true
}
