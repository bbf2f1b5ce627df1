// Command chart renders BenchmarkUpdate output as a PNG: one panel per map
// case, a group of bars per load size, one bar per variant, each the median
// ns per element. The title carries the machine, date and the command that
// reproduces the run, taken from the "key: value" lines run.sh writes at the
// top of the results file. With -read it renders the read side instead
// (BenchmarkLookup and BenchmarkSync; read.go).
//
// Usage: go run ./cmd/chart -in results/latest.txt -out results/chart.png
//
//	go run ./cmd/chart -read -in results/latest.txt -out results/chart-read.png
package main

import (
	"flag"
	"fmt"
	"image/color"
	"log"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/bpfbatch/bpfbatch/bench/internal/results"
)

// series are the variants drawn, in bar order, with their legend text. The
// chunked UpdateBatchWith forms are left to the tables.
var series = []bar{
	{"floor", "raw: one BPF_MAP_UPDATE_BATCH (floor)", color.RGBA{110, 110, 110, 255}},
	{"bpfbatch", "bpfbatch UpdateBatch", color.RGBA{31, 119, 180, 255}},
	{"bpfbatch-of", "bpfbatch UpdateBatchOf (typed)", color.RGBA{125, 180, 225, 255}},
	{"with-w1", "bpfbatch UpdateBatchWith, Workers 1", color.RGBA{23, 140, 120, 255}},
	{"with-w2", "bpfbatch UpdateBatchWith, Workers 2", color.RGBA{44, 160, 44, 255}},
	{"with-wmax", "bpfbatch UpdateBatchWith, GOMAXPROCS", color.RGBA{150, 210, 120, 255}},
	{"cilium-bytes", "cilium/ebpf BatchUpdate, [][N]byte", color.RGBA{255, 127, 14, 255}},
	{"cilium-typed", "cilium/ebpf BatchUpdate, typed", color.RGBA{255, 187, 120, 255}},
	{"cilium-put", "cilium/ebpf Put, per element", color.RGBA{214, 39, 40, 255}},
	{"elem", "raw BPF_MAP_UPDATE_ELEM, per element", color.RGBA{140, 86, 75, 255}},
}

func main() {
	in := flag.String("in", "results/latest.txt", "go test -bench output")
	out := flag.String("out", "results/chart.png", "PNG to write")
	read := flag.Bool("read", false, "render the read side (BenchmarkLookup, BenchmarkSync)")
	flag.Parse()
	log.SetFlags(0)

	s, err := results.Load(*in)
	if err != nil {
		log.Fatal(err)
	}
	if *read {
		if len(s.Reads.Maps) == 0 {
			log.Fatalf("%s: no BenchmarkLookup results", *in)
		}
		if err := renderRead(s, *out); err != nil {
			log.Fatal(err)
		}
		return
	}
	if len(s.Maps) == 0 {
		log.Fatalf("%s: no BenchmarkUpdate results", *in)
	}
	if err := render(s, *out); err != nil {
		log.Fatal(err)
	}
}

// Page layout: a title block over a grid of panels.
const (
	width, height = 17 * vg.Inch, 11 * vg.Inch
	titleHeight   = 1.4 * vg.Inch
	cols, rows    = 3, 2
)

func render(s *results.Set, out string) error {
	// Title block: what, where, when, how to reproduce.
	title := []string{
		fmt.Sprintf("BPF map bulk update: ns per element, median of %s runs per bar (lower is better); each variant overwrites n distinct keys in its own fresh map", runs(s, "")),
		machine(s),
		reproduce(s),
	}
	plots := grid()
	for i, m := range s.Maps {
		if i >= rows*cols-1 {
			return fmt.Errorf("%d map cases do not fit the %dx%d grid", len(s.Maps), cols, rows)
		}
		p, err := panel(s, m)
		if err != nil {
			return err
		}
		plots[i/cols][i%cols] = p
	}
	plots[rows-1][cols-1] = legend(series)
	return writePage(title, plots, out)
}

func machine(s *results.Set) string {
	return fmt.Sprintf("Machine: %s, %s cores, %s; GOMAXPROCS %d; %s; %s", cfg(s, "cpu"), cfg(s, "cores"), cfg(s, "kernel"), s.Procs, cfg(s, "go"), cfg(s, "date"))
}

func reproduce(s *results.Set) string {
	return fmt.Sprintf("Reproduce: %s    (raw data: results/latest.txt, tables: results/benchstat.txt, results/ratios.txt)", cfg(s, "command"))
}

// grid is an empty rows x cols grid of panels.
func grid() [][]*plot.Plot {
	plots := make([][]*plot.Plot, rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, cols)
	}
	return plots
}

// writePage draws the title lines (the first one larger) over the grid of
// plots (nil tiles stay empty) and writes the PNG to out.
func writePage(title []string, plots [][]*plot.Plot, out string) error {
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(100))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	for i, line := range title {
		sty := draw.TextStyle{
			Color:   color.Black,
			Font:    font.From(plot.DefaultFont, 13),
			Handler: plot.DefaultTextHandler,
		}
		if i == 0 {
			sty.Font = font.From(plot.DefaultFont, 16)
		}
		dc.FillText(sty, vg.Point{X: 0.3 * vg.Inch, Y: height - vg.Length(i+1)*0.33*vg.Inch}, line)
	}

	body := draw.Canvas{Canvas: img, Rectangle: dc.Rectangle}
	body.Max.Y -= titleHeight
	tiles := draw.Tiles{Cols: cols, Rows: rows, PadX: 0.2 * vg.Inch, PadY: 0.2 * vg.Inch,
		PadLeft: 0.1 * vg.Inch, PadRight: 0.2 * vg.Inch, PadBottom: 0.1 * vg.Inch}
	canvases := plot.Align(plots, tiles, body)
	for r := range plots {
		for c := range plots[r] {
			if plots[r][c] != nil {
				plots[r][c].Draw(canvases[r][c])
			}
		}
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runs says how many samples the medians of bench's keys are of, e.g.
// "4-8".
func runs(s *results.Set, bench string) string {
	lo, hi := 0, 0
	for k, v := range s.Samples {
		if k.Bench != bench {
			continue
		}
		if lo == 0 || len(v) < lo {
			lo = len(v)
		}
		hi = max(hi, len(v))
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func cfg(s *results.Set, key string) string {
	if v := s.Config[key]; v != "" {
		return v
	}
	return "(" + key + " unknown)"
}

// panel draws one map case: a group of bars per size.
func panel(s *results.Set, m string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = m
	p.Y.Label.Text = "ns per element"
	p.X.Label.Text = "elements per load (n)"
	p.Y.Min = 0
	const barWidth = 7 // points
	top := 0.0
	// n=1 is BenchmarkCallOverhead, for one case only: it is in the tables.
	var sizes []int
	var names []string
	for _, n := range s.Sizes {
		if n > 1 {
			sizes = append(sizes, n)
			names = append(names, sizeName(n))
		}
	}
	for i, sr := range series {
		vals := make(plotter.Values, len(sizes))
		for j, n := range sizes {
			// A variant not run at a size (per-element at 1M) gets no bar.
			vals[j], _ = s.Median(results.Key{Map: m, N: n, Impl: sr.impl})
			top = max(top, vals[j])
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return nil, err
		}
		bars.Color = sr.color
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(series)-1)/2) * barWidth
		p.Add(bars)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)
	p.NominalX(names...)
	p.Y.Max = top * 1.05
	return p, nil
}

// bar is one series of bars: a variant, its legend text and colour.
type bar struct {
	impl, label string
	color       color.RGBA
}

// legend is the grid's last tile: the series' colours and names.
func legend(series ...[]bar) *plot.Plot {
	p := plot.New()
	p.HideAxes()
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font = font.From(plot.DefaultFont, 12)
	p.Legend.Padding = 0.05 * vg.Inch
	p.Legend.ThumbnailWidth = 0.4 * vg.Inch
	for _, set := range series {
		for _, sr := range set {
			bars, _ := plotter.NewBarChart(plotter.Values{0}, 1)
			bars.Color = sr.color
			bars.LineStyle.Width = 0
			p.Legend.Add(sr.label, bars)
		}
	}
	return p
}

func sizeName(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + "Mi (" + strconv.Itoa(n) + ")"
	}
	return strconv.Itoa(n)
}
