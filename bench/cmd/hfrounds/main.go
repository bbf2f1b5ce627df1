// Command hfrounds summarises hyperfine runs made in rounds (one JSON
// export per round, the commands in a new order each round, as
// sync_vs_load.sh and dump_vs_bpftool.sh make them): per command the
// median wall time of all its runs with their range, and its CPU time
// (user + sys, hyperfine's means, median over the rounds); then each
// requested ratio as the median and [min-max] of per-round ratios of the
// commands' median times, and the targets met or missed.
//
//	go run ./cmd/hfrounds [-ratio A/B]... [-target 'A/B<=0.6']... round*.json
//
// A ratio A/B < 1 means A is faster. A target is a ratio with <= or >=
// and a bound; it is met when the median of the per-round ratios is
// within the bound.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

type result struct {
	Command   string    `json:"command"`
	Median    float64   `json:"median"`
	User      float64   `json:"user"`
	System    float64   `json:"system"`
	Times     []float64 `json:"times"`
	ExitCodes []int     `json:"exit_codes"`
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var ratios, targets list
	flag.Var(&ratios, "ratio", "a ratio A/B of two commands' names (repeatable)")
	flag.Var(&targets, "target", "a target such as 'A/B<=0.6' or 'B/A>=5' (repeatable; also reported as a ratio)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: hfrounds [-ratio A/B]... [-target 'A/B<=x']... ROUND.json...")
		os.Exit(2)
	}
	if err := run(os.Stdout, flag.Args(), ratios, targets); err != nil {
		fmt.Fprintln(os.Stderr, "hfrounds:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, files []string, ratios, targets []string) error {
	var order []string
	rounds := make([]map[string]result, 0, len(files))
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc struct{ Results []result }
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		r := map[string]result{}
		for _, res := range doc.Results {
			for _, c := range res.ExitCodes {
				if c != 0 {
					return fmt.Errorf("%s: %s exited %d", path, res.Command, c)
				}
			}
			if !slices.Contains(order, res.Command) {
				order = append(order, res.Command)
			}
			r[res.Command] = res
		}
		rounds = append(rounds, r)
	}
	slices.Sort(order)

	fmt.Fprintf(w, "%-28s %9s %19s %9s %6s\n", "command", "median s", "range of runs", "CPU s", "runs")
	for _, c := range order {
		var times, cpu []float64
		for _, r := range rounds {
			if res, ok := r[c]; ok {
				times = append(times, res.Times...)
				cpu = append(cpu, res.User+res.System)
			}
		}
		fmt.Fprintf(w, "%-28s %9.3f %19s %9.3f %6d\n", c, median(times),
			fmt.Sprintf("[%.3f-%.3f]", slices.Min(times), slices.Max(times)), median(cpu), len(times))
	}
	fmt.Fprintf(w, "\n(median s: of all runs; CPU: user + sys, hyperfine's mean per round, median over %d rounds)\n", len(rounds))

	type spec struct {
		a, b, op string
		bound    float64
	}
	var specs []spec
	parse := func(s string, target bool) error {
		sp := spec{}
		if target {
			for _, op := range []string{"<=", ">="} {
				if i := strings.Index(s, op); i >= 0 {
					v, err := strconv.ParseFloat(s[i+2:], 64)
					if err != nil {
						return fmt.Errorf("target %q: %v", s, err)
					}
					sp.op, sp.bound, s = op, v, s[:i]
				}
			}
			if sp.op == "" {
				return fmt.Errorf("target %q: no <= or >=", s)
			}
		}
		a, b, ok := strings.Cut(s, "/")
		if !ok || !slices.Contains(order, a) || !slices.Contains(order, b) {
			return fmt.Errorf("ratio %q: want A/B of two commands of %q", s, order)
		}
		sp.a, sp.b = a, b
		specs = append(specs, sp)
		return nil
	}
	for _, s := range ratios {
		if err := parse(s, false); err != nil {
			return err
		}
	}
	for _, s := range targets {
		if err := parse(s, true); err != nil {
			return err
		}
	}
	if len(specs) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%-48s %-22s %-22s\n", "ratio (per round, of the commands' median times)", "wall: median [range]", "CPU: median [range]")
	var verdicts []string
	for _, sp := range specs {
		var wall, cpu []float64
		for _, r := range rounds {
			ra, oka := r[sp.a]
			rb, okb := r[sp.b]
			if oka && okb {
				wall = append(wall, median(ra.Times)/median(rb.Times))
				cpu = append(cpu, (ra.User+ra.System)/(rb.User+rb.System))
			}
		}
		fmt.Fprintf(w, "%-48s %-22s %-22s\n", sp.a+" / "+sp.b, results.Spread(wall), results.Spread(cpu))
		if sp.op != "" {
			m := median(wall)
			met := m <= sp.bound
			if sp.op == ">=" {
				met = m >= sp.bound
			}
			v := "met   "
			if !met {
				v = "MISSED"
			}
			verdicts = append(verdicts, fmt.Sprintf("  %s %s / %s = %.3f %s %g", v, sp.a, sp.b, m, sp.op, sp.bound))
		}
	}
	if len(verdicts) > 0 {
		fmt.Fprintln(w, "\nTargets (median of the per-round wall-clock ratios):")
		for _, v := range verdicts {
			fmt.Fprintln(w, v)
		}
	}
	return nil
}

// median is results.Median, 0 for no samples.
func median(xs []float64) float64 {
	m, _ := results.Median(xs)
	return m
}
