// Command syncratios reports BenchmarkSyncInterleaved (syncinterleaved_test.go),
// run by sync.sh: per case, the median milliseconds per call of every
// variant (wall clock and the process's CPU time), Sync against clear and
// reload as the median and [min-max] of per-round ratios with sync-w2b/sync-w2
// as the A/A control, each target met or missed, and where Sync's time goes:
// walk (the walk floor), diff (Sync with DryRun less the walk floor) and
// writes (Sync less Sync with DryRun).
//
//	go run ./cmd/syncratios results/sync.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

// round is one benchmark line: every variant's metrics by unit
// ("sync-w1-ms", "sync-w1-cpu-ms", ...).
type round map[string]float64

// targets are the issue's: Sync <= x of clear and reload, same Workers.
var targets = map[string]float64{"hash-u64": 0.35, "percpu-hash-u64": 0.5}

var variants = []string{"walk-w1", "walk-w2", "dry-w1", "dry-w2", "sync-w1", "sync-w2", "sync-w2b", "reload-w1", "reload-w2"}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: syncratios FILE")
		os.Exit(2)
	}
	if err := run(os.Stdout, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "syncratios:", err)
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
	rounds := map[string][]round{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !strings.HasPrefix(fs[0], "BenchmarkSyncInterleaved/map=") {
			continue
		}
		c := strings.SplitN(strings.TrimPrefix(fs[0], "BenchmarkSyncInterleaved/map="), "/", 2)[0]
		r := round{}
		for i := 2; i+1 < len(fs); i += 2 {
			v, err := strconv.ParseFloat(fs[i], 64)
			if err != nil {
				return fmt.Errorf("%s: %q: %v", path, fs[0], err)
			}
			r[fs[i+1]] = v
		}
		if _, ok := rounds[c]; !ok {
			cases = append(cases, c)
		}
		rounds[c] = append(rounds[c], r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(cases) == 0 {
		return fmt.Errorf("%s: no BenchmarkSyncInterleaved lines", path)
	}

	fmt.Fprintln(w, "Sync vs clear and reload, 1M elements (1% stale, 1% changed, 1% new), variants interleaved call by call on one map")
	fmt.Fprintln(w, "median ms per call over the rounds (each round the mean of its calls); walk-w1 = raw BPF_MAP_LOOKUP_BATCH walk at Sync's chunk,")
	fmt.Fprintln(w, "walk-w2 = Map.Walk Workers 2 at the same batch; dry = Sync with DryRun (walk and diff); reload = DeleteBatch of every key + UpdateBatchWith")
	fmt.Fprintln(w)
	header := func() {
		fmt.Fprintf(w, "%-16s", "case")
		for _, v := range variants {
			fmt.Fprintf(w, " %9s", v)
		}
		fmt.Fprintf(w, " %7s\n", "rounds")
	}
	header()
	for _, c := range cases {
		fmt.Fprintf(w, "%-16s", c)
		for _, v := range variants {
			fmt.Fprintf(w, " %9.1f", median(metric(rounds[c], v+"-ms")))
		}
		fmt.Fprintf(w, " %7d\n", len(rounds[c]))
	}
	fmt.Fprintln(w, "\nThe same, CPU time of the whole process (every thread) per call, ms")
	fmt.Fprintln(w)
	header()
	for _, c := range cases {
		fmt.Fprintf(w, "%-16s", c)
		for _, v := range variants {
			fmt.Fprintf(w, " %9.1f", median(metric(rounds[c], v+"-cpu-ms")))
		}
		fmt.Fprintf(w, " %7d\n", len(rounds[c]))
	}

	ratios := []struct{ title, a, b string }{
		{"A/A sync-w2b/w2", "sync-w2b", "sync-w2"},
		{"sync/reload W1", "sync-w1", "reload-w1"},
		{"sync/reload W2", "sync-w2", "reload-w2"},
		{"walk/reload W1", "walk-w1", "reload-w1"},
		{"walk/reload W2", "walk-w2", "reload-w2"},
		{"dry/reload W1", "dry-w1", "reload-w1"},
		{"dry/reload W2", "dry-w2", "reload-w2"},
		{"sync W1/W2", "sync-w1", "sync-w2"},
	}
	for _, unit := range []string{"-ms", "-cpu-ms"} {
		if unit == "-ms" {
			fmt.Fprintln(w, "\nRatios, wall clock: median of per-round ratios [min-max]; < 1: the first is faster")
		} else {
			fmt.Fprintln(w, "\nThe same from the process's CPU time (the work done, whichever thread did it)")
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-16s", "case")
		for _, r := range ratios {
			fmt.Fprintf(w, " %-21s", r.title)
		}
		fmt.Fprintln(w)
		for _, c := range cases {
			fmt.Fprintf(w, "%-16s", c)
			for _, r := range ratios {
				fmt.Fprintf(w, " %-21s", results.Spread(ratio(rounds[c], r.a+unit, r.b+unit)))
			}
			fmt.Fprintln(w)
		}
	}

	fmt.Fprintln(w, "\nWhere Sync's time goes (medians of per-round differences, ms): walk = the walk floor; diff = Sync DryRun - walk floor")
	fmt.Fprintln(w, "(grouping the walked elements and the input, the join); writes = Sync - Sync DryRun (deletes and writes of the 3%, and")
	fmt.Fprintln(w, "on LRU maps the check that nothing was evicted)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-16s %-36s %-36s %-36s\n", "case", "W1 wall: walk + diff + writes", "W2 wall: walk + diff + writes", "W1 CPU: walk + diff + writes")
	for _, c := range cases {
		rs := rounds[c]
		split := func(unit, walk, dry, sync string) string {
			return fmt.Sprintf("%.0f + %.0f + %.0f = %.0f", median(metric(rs, walk+unit)), median(diff(rs, dry+unit, walk+unit)),
				median(diff(rs, sync+unit, dry+unit)), median(metric(rs, sync+unit)))
		}
		fmt.Fprintf(w, "%-16s %-36s %-36s %-36s\n", c, split("-ms", "walk-w1", "dry-w1", "sync-w1"),
			split("-ms", "walk-w2", "dry-w2", "sync-w2"), split("-cpu-ms", "walk-w1", "dry-w1", "sync-w1"))
	}

	fmt.Fprintln(w, "\nAllocated per call, MB (median): Sync's copies of the input and of the walked elements, grouped by part")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-16s", "case")
	for _, v := range variants {
		fmt.Fprintf(w, " %9s", v)
	}
	fmt.Fprintln(w)
	for _, c := range cases {
		fmt.Fprintf(w, "%-16s", c)
		for _, v := range variants {
			fmt.Fprintf(w, " %9.1f", median(metric(rounds[c], v+"-MB")))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "\nTargets (issue 17): Sync <= x clear and reload, same Workers, median of per-round wall-clock ratios")
	for _, c := range cases {
		t, ok := targets[c]
		if !ok {
			continue
		}
		for _, wk := range []string{"w1", "w2"} {
			med := median(ratio(rounds[c], "sync-"+wk+"-ms", "reload-"+wk+"-ms"))
			verdict := "met   "
			if med > t {
				verdict = "MISSED"
			}
			floor := median(ratio(rounds[c], "walk-"+wk+"-ms", "reload-"+wk+"-ms"))
			fmt.Fprintf(w, "  %s %-16s %s sync/reload %.3f <= %.2f (the walk floor alone: %.3f)\n", verdict, c, strings.ToUpper(wk), med, t, floor)
		}
	}
	return nil
}

func metric(rs []round, unit string) []float64 {
	var out []float64
	for _, r := range rs {
		if v, ok := r[unit]; ok {
			out = append(out, v)
		}
	}
	return out
}

func ratio(rs []round, a, b string) []float64 {
	var out []float64
	for _, r := range rs {
		if r[b] > 0 {
			out = append(out, r[a]/r[b])
		}
	}
	return out
}

func diff(rs []round, a, b string) []float64 {
	var out []float64
	for _, r := range rs {
		out = append(out, r[a]-r[b])
	}
	return out
}

// median is results.Median, 0 for no samples.
func median(xs []float64) float64 {
	m, _ := results.Median(xs)
	return m
}
