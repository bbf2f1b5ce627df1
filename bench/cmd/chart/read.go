package main

import (
	"fmt"
	"image/color"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

// readSeries are the walk variants, in bar order. The batch variants share
// the write chart's colours for the same library.
var readSeries = []bar{
	{"floor", "raw: BPF_MAP_LOOKUP_BATCH calls (floor)", color.RGBA{110, 110, 110, 255}},
	{"bpfbatch", "bpfbatch LookupBatch", color.RGBA{31, 119, 180, 255}},
	{"cilium-bytes", "cilium/ebpf BatchLookup, [][N]byte", color.RGBA{255, 127, 14, 255}},
	{"cilium-typed", "cilium/ebpf BatchLookup, typed", color.RGBA{255, 187, 120, 255}},
	{"cilium-iterate", "cilium/ebpf Iterate, per element", color.RGBA{214, 39, 40, 255}},
}

// syncSeries are the Sync panel's variants.
var syncSeries = []bar{
	{"walk", "raw walk at Sync's chunk (Sync's floor)", color.RGBA{110, 110, 110, 255}},
	{"sync-dry", "Sync DryRun (walk and diff only)", color.RGBA{174, 199, 232, 255}},
	{"sync-w1", "Sync, Workers 1", color.RGBA{23, 140, 120, 255}},
	{"sync-w2", "Sync, Workers 2", color.RGBA{44, 160, 44, 255}},
	{"reload-w1", "clear + reload, Workers 1", color.RGBA{148, 103, 189, 255}},
	{"reload-w2", "clear + reload, Workers 2", color.RGBA{197, 176, 213, 255}},
}

// renderRead draws the read side at the largest map size walked: one panel
// per map case (a group of bars per chunk, the per-element walk last), a
// panel for Sync, and the legend.
func renderRead(s *results.Set, out string) error {
	n := slices.Max(s.Reads.Sizes)
	title := []string{
		fmt.Sprintf("BPF map full walk of a %d-element map: ns per element (lower is better), all variants walking the same map; Sync: ms per call", n),
		fmt.Sprintf("Batch walks: median of %d alternating walks per bar (BenchmarkLookupInterleaved); Iterate: BenchmarkLookup, %s run(s); Sync: median of %s run(s)",
			interleavedSamples(s, n), runs(s, results.Lookup), runs(s, results.Sync)),
		machine(s),
		reproduce(s),
	}
	plots := grid()
	panels := len(s.Reads.Maps)
	if len(s.Syncs.Maps) > 0 {
		panels++
	}
	if panels > rows*cols-1 {
		return fmt.Errorf("%d panels do not fit the %dx%d grid", panels, cols, rows)
	}
	for i, m := range s.Reads.Maps {
		p, err := readPanel(s, m, n)
		if err != nil {
			return err
		}
		plots[i/cols][i%cols] = p
	}
	if len(s.Syncs.Maps) > 0 {
		p, err := syncPanel(s)
		if err != nil {
			return err
		}
		i := len(s.Reads.Maps)
		plots[i/cols][i%cols] = p
	}
	plots[rows-1][cols-1] = legend(readSeries, syncSeries)
	return writePage(title, plots, out)
}

// readPanel draws one map case's walks of n elements: a group of batch
// variants per chunk, then cilium's Iterate alone. Iterate takes several
// times longer than any batch walk; drawn to scale it would flatten the
// batch bars, which are the comparison that needs reading, so its bar is
// cut at 1.35x the tallest batch bar and labelled with its value.
func readPanel(s *results.Set, m string, n int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s, n=%s", m, sizeName(n))
	p.Y.Label.Text = "ns per element"
	p.X.Label.Text = "elements per call"
	p.Y.Min = 0
	var chunks []int
	var names []string
	for _, c := range s.Reads.Chunks {
		if c > 1 {
			chunks = append(chunks, c)
			names = append(names, strconv.Itoa(c))
		}
	}
	batch, iterate := readSeries[:len(readSeries)-1], readSeries[len(readSeries)-1]
	top, err := addBars(p, batch, len(chunks)+1, func(impl string, j int) float64 {
		if j == len(chunks) {
			return 0
		}
		// The interleaved walks where measured: they alternate on one map,
		// where BenchmarkLookup's variants run one after another.
		k := results.Key{Bench: results.Lookup, Map: m, N: n, Chunk: chunks[j]}
		if v, ok := s.InterleavedMedian(k, impl); ok {
			return v
		}
		k.Impl = impl
		v, _ := s.Median(k)
		return v
	})
	if err != nil {
		return nil, err
	}
	limit := top * 1.35
	if v, ok := s.Median(results.Key{Bench: results.Lookup, Map: m, N: n, Chunk: 1, Impl: iterate.impl}); ok {
		vals := make(plotter.Values, len(chunks)+1)
		vals[len(chunks)] = min(v, limit)
		bars, err := plotter.NewBarChart(vals, 3*9)
		if err != nil {
			return nil, err
		}
		bars.Color = iterate.color
		bars.LineStyle.Width = 0
		p.Add(bars)
		text := fmt.Sprintf("%.0f", v)
		if v > limit {
			text += " (cut)"
		}
		labels, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: float64(len(chunks)), Y: min(v, limit)}},
			Labels: []string{text},
		})
		if err != nil {
			return nil, err
		}
		labels.TextStyle[0].XAlign = draw.XCenter
		labels.Offset.Y = 3
		p.Add(labels)
		top = max(top, min(v, limit))
	}
	p.NominalX(append(names, "1 (Iterate)")...)
	p.Y.Max = top * 1.08
	return p, nil
}

// syncPanel draws BenchmarkSync: a group per map case, ms per call.
func syncPanel(s *results.Set) (*plot.Plot, error) {
	n := slices.Max(s.Syncs.Sizes)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Sync of n=%s (1%% stale, 1%% changed, 1%% new) vs clear + reload", sizeName(n))
	p.Y.Label.Text = "ms per call"
	p.X.Label.Text = "map case"
	p.Y.Min = 0
	maps := s.Syncs.Maps
	top, err := addBars(p, syncSeries, len(maps), func(impl string, j int) float64 {
		v, _ := s.Median(results.Key{Bench: results.Sync, Map: maps[j], N: n, Impl: impl})
		return v * float64(n) / 1e6
	})
	if err != nil {
		return nil, err
	}
	p.NominalX(maps...)
	p.Y.Max = top * 1.05
	return p, nil
}

// addBars adds one bar chart per series with groups values each (value
// gives series impl's value in group j; 0 draws no bar) and returns the
// tallest value.
func addBars(p *plot.Plot, series []bar, groups int, value func(impl string, j int) float64) (float64, error) {
	const barWidth = 9 // points
	top := 0.0
	for i, sr := range series {
		vals := make(plotter.Values, groups)
		for j := range groups {
			vals[j] = value(sr.impl, j)
			top = max(top, vals[j])
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return 0, err
		}
		bars.Color = sr.color
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(series)-1)/2) * barWidth
		p.Add(bars)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	return top, nil
}

// interleavedSamples is the fewest samples of BenchmarkLookupInterleaved at
// n over the cases and chunks.
func interleavedSamples(s *results.Set, n int) int {
	fewest := 0
	for k, v := range s.Interleaved {
		if k.Bench == results.Lookup && k.N == n && (fewest == 0 || len(v) < fewest) {
			fewest = len(v)
		}
	}
	return fewest
}
