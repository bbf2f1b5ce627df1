// Package results reads the benchmarks' output (go test -bench, as
// written to results/latest.txt) for the report and chart commands: the
// write side (BenchmarkUpdate, BenchmarkCallOverhead, BenchmarkInterleaved)
// and the read side (BenchmarkLookup, BenchmarkLookupInterleaved,
// BenchmarkSync).
package results

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// The benchmarks a Key can come from, besides the write side's "".
const (
	Lookup     = "Lookup"     // BenchmarkLookup and BenchmarkLookupInterleaved
	LookupCall = "LookupCall" // BenchmarkLookupCallOverhead (interleaved: no Impl)
	Sync       = "Sync"       // BenchmarkSync
)

// Key names one measured combination.
type Key struct {
	Bench string // "" (the write side), Lookup, LookupCall or Sync
	Map   string // "hash-u64", ...
	N     int    // elements per load, or in the map walked
	Chunk int    // Lookup: elements per call (1: per element); else 0
	Impl  string // "floor", "bpfbatch", ...
}

// Sample is one benchmark line.
type Sample struct {
	NsPerElem    float64
	AllocsPerOp  float64
	BytesPerOp   float64
	BatchesPerOp float64 // Lookup: calls of a walk that returned elements
	CPUNsPerElem float64 // Lookup: the same as NsPerElem from the thread's CPU time
}

// Axes lists the values one benchmark family's keys take, in order of
// appearance (Sizes and Chunks sorted).
type Axes struct {
	Maps   []string
	Sizes  []int
	Chunks []int
	Impls  []string
}

func (a *Axes) add(k Key) {
	a.Maps = appendNew(a.Maps, k.Map)
	a.Sizes = appendNew(a.Sizes, k.N)
	if k.Chunk > 0 {
		a.Chunks = appendNew(a.Chunks, k.Chunk)
	}
	if k.Impl != "" {
		a.Impls = appendNew(a.Impls, k.Impl)
	}
}

// Set is every sample of a file, in the order the file gives them.
type Set struct {
	// Samples holds, per key, one sample per round, in round order: the
	// k-th samples of two keys ran in the same round, minutes apart at
	// most, and share that round's noise.
	Samples map[Key][]Sample
	// Maps, Sizes and Impls list the values the write side's keys take,
	// in order of appearance.
	Maps  []string
	Sizes []int
	Impls []string
	// Reads and Syncs are the same for the Lookup and Sync keys.
	Reads, Syncs Axes
	// Config holds the file's "key: value" lines (goos, cpu, kernel, ...).
	Config map[string]string
	// Procs is GOMAXPROCS during the run, from the names' -N suffix.
	Procs int

	// Interleaved holds BenchmarkInterleaved's and
	// BenchmarkLookupInterleaved's samples (Bench "" or Lookup, no Impl):
	// per map and size (and chunk), one map from variant name to ns/elem
	// per sample. The variants of one sample ran call by call in
	// alternation. A <variant>-cpu-ns/elem metric (thread CPU time) is
	// the variant "<variant>-cpu".
	Interleaved map[Key][]map[string]float64
}

// Load reads a go test -bench output file.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &Set{Samples: map[Key][]Sample{}, Config: map[string]string{}, Interleaved: map[Key][]map[string]float64{}}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue // unit metadata or a syntax error; the latter is reported below
		}
		for _, c := range res.Config {
			if c.File {
				s.Config[c.Key] = string(c.Value)
			}
		}
		k, procs, ok := parseName(res.Name.String())
		if !ok {
			continue
		}
		s.Procs = procs
		switch k.Bench {
		case Lookup:
			s.Reads.add(k)
		case Sync:
			s.Syncs.add(k)
		case LookupCall:
		default:
			s.Maps = appendNew(s.Maps, k.Map)
			s.Sizes = appendNew(s.Sizes, k.N)
		}
		if k.Impl == "" {
			// BenchmarkInterleaved: one <variant>-ns/elem metric per variant.
			sample := map[string]float64{}
			for _, v := range res.Values {
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				if impl, ok := strings.CutSuffix(unit, "-ns/elem"); ok {
					sample[impl] = val
				}
			}
			s.Interleaved[k] = append(s.Interleaved[k], sample)
			continue
		}
		ns, ok := value(res, "ns/elem")
		if !ok {
			return nil, fmt.Errorf("%s: %s has no ns/elem", path, res.Name)
		}
		allocs, _ := value(res, "allocs/op")
		bytes, _ := value(res, "B/op")
		batches, _ := value(res, "batches/op")
		cpu, _ := value(res, "cpu-ns/elem")
		if k.Bench == "" {
			s.Impls = appendNew(s.Impls, k.Impl)
		}
		s.Samples[k] = append(s.Samples[k], Sample{NsPerElem: ns, AllocsPerOp: allocs, BytesPerOp: bytes, BatchesPerOp: batches, CPUNsPerElem: cpu})
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	slices.Sort(s.Sizes)
	for _, a := range []*Axes{&s.Reads, &s.Syncs} {
		slices.Sort(a.Sizes)
		slices.Sort(a.Chunks)
	}
	return s, nil
}

// value returns the measurement in unit as written in the file (benchfmt
// also offers it "tidied", e.g. ns/elem as sec/elem).
func value(res *benchfmt.Result, unit string) (float64, bool) {
	for _, v := range res.Values {
		switch {
		case v.OrigUnit == unit:
			return v.OrigValue, true
		case v.OrigUnit == "" && v.Unit == unit:
			return v.Value, true
		}
	}
	return 0, false
}

// parseName splits a benchmark name into its key (with no Impl for the
// interleaved benchmarks) and GOMAXPROCS (1 when go test left the suffix
// out). The names are
//
//	Update/map=hash-u64/n=64/impl=floor-2 (or CallOverhead/...)
//	Interleaved/map=hash-u64/n=64-2
//	Lookup/map=hash-u64/n=1048576/chunk=4096/impl=floor-2
//	LookupInterleaved/map=hash-u64/n=1048576/chunk=4096-2
//	LookupCallOverhead/map=array-u64/n=4096-2
//	Sync/map=hash-u64/n=1048576/impl=sync-w1-2
func parseName(name string) (k Key, procs int, ok bool) {
	parts := strings.Split(name, "/")
	interleaved := false
	switch {
	case len(parts) == 4 && (parts[0] == "Update" || parts[0] == "CallOverhead"):
	case len(parts) == 3 && parts[0] == "Interleaved":
		interleaved = true
	case len(parts) == 5 && parts[0] == "Lookup":
		k.Bench = Lookup
	case len(parts) == 4 && parts[0] == "LookupInterleaved":
		k.Bench, interleaved = Lookup, true
	case len(parts) == 4 && parts[0] == "Sync":
		k.Bench = Sync
	case len(parts) == 3 && parts[0] == "LookupCallOverhead":
		k.Bench, interleaved = LookupCall, true
	default:
		return k, 0, false
	}
	procs = 1
	last := parts[len(parts)-1]
	if i := strings.LastIndexByte(last, '-'); i >= 0 {
		if p, err := strconv.Atoi(last[i+1:]); err == nil {
			last, procs = last[:i], p
		}
	}
	parts[len(parts)-1] = last
	for _, p := range parts[1:] {
		key, val, found := strings.Cut(p, "=")
		if !found {
			return k, 0, false
		}
		switch key {
		case "map":
			k.Map = val
		case "n", "chunk":
			n, err := strconv.Atoi(val)
			if err != nil {
				return k, 0, false
			}
			if key == "n" {
				k.N = n
			} else {
				k.Chunk = n
			}
		case "impl":
			k.Impl = val
		}
	}
	if k.Bench == Lookup && k.Chunk == 0 {
		return k, 0, false
	}
	return k, procs, k.Map != "" && k.N > 0 && (k.Impl != "") != interleaved
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// Median returns the median ns/elem of k's samples, and false if there are
// none.
func (s *Set) Median(k Key) (float64, bool) {
	return median(s.Samples[k], func(x Sample) float64 { return x.NsPerElem })
}

// MedianAllocs returns the median allocs/op of k's samples.
func (s *Set) MedianAllocs(k Key) (float64, bool) {
	return median(s.Samples[k], func(x Sample) float64 { return x.AllocsPerOp })
}

func median(samples []Sample, f func(Sample) float64) (float64, bool) {
	v := make([]float64, len(samples))
	for i, x := range samples {
		v[i] = f(x)
	}
	return Median(v)
}

// Ratio compares a with b: the ratio of their median ns/elem, and the
// smallest and largest ratio of samples taken in the same round.
type Ratio struct {
	Median   float64 // median(a) / median(b)
	Min, Max float64 // over rounds: a[k] / b[k]
	Rounds   int
}

// MedianCPU returns the median cpu-ns/elem of k's samples.
func (s *Set) MedianCPU(k Key) (float64, bool) {
	return median(s.Samples[k], cpuNs)
}

func wallNs(x Sample) float64 { return x.NsPerElem }
func cpuNs(x Sample) float64  { return x.CPUNsPerElem }

// Compare returns a's ns/elem relative to b's, and false if either is
// missing.
func (s *Set) Compare(a, b Key) (Ratio, bool) {
	return s.compareBy(a, b, wallNs)
}

// CompareCPU is Compare on the thread CPU time (cpu-ns/elem), false where
// it was not measured.
func (s *Set) CompareCPU(a, b Key) (Ratio, bool) {
	return s.compareBy(a, b, cpuNs)
}

func (s *Set) compareBy(a, b Key, f func(Sample) float64) (Ratio, bool) {
	ma, okA := median(s.Samples[a], f)
	mb, okB := median(s.Samples[b], f)
	if !okA || !okB || ma == 0 || mb == 0 { // 0: not measured (cpu-ns/elem)
		return Ratio{}, false
	}
	r := Ratio{Median: ma / mb}
	sa, sb := s.Samples[a], s.Samples[b]
	for i := range min(len(sa), len(sb)) {
		x := f(sa[i]) / f(sb[i])
		if r.Rounds == 0 || x < r.Min {
			r.Min = x
		}
		if r.Rounds == 0 || x > r.Max {
			r.Max = x
		}
		r.Rounds++
	}
	return r, true
}

// InterleavedDiff returns the median over k's interleaved samples of a's
// ns/elem minus b's, with the smallest and largest difference.
func (s *Set) InterleavedDiff(k Key, a, b string) (med, lo, hi float64, ok bool) {
	var d []float64
	for _, sample := range s.Interleaved[k] {
		x, okA := sample[a]
		y, okB := sample[b]
		if okA && okB {
			d = append(d, x-y)
		}
	}
	if len(d) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(d)
	samples := make([]Sample, len(d))
	for i, x := range d {
		samples[i] = Sample{NsPerElem: x}
	}
	med, _ = median(samples, wallNs)
	return med, d[0], d[len(d)-1], true
}

// InterleavedMedian returns the median of variant a's ns/elem over k's
// interleaved samples.
func (s *Set) InterleavedMedian(k Key, a string) (float64, bool) {
	var v []Sample
	for _, sample := range s.Interleaved[k] {
		if x, ok := sample[a]; ok {
			v = append(v, Sample{NsPerElem: x})
		}
	}
	return median(v, wallNs)
}

// CompareInterleaved returns a's ns/elem relative to b's in
// BenchmarkInterleaved at k (whose Impl is ignored): Median is the median
// of the per-sample ratios, each from calls that alternated, and Min and
// Max their range.
func (s *Set) CompareInterleaved(k Key, a, b string) (Ratio, bool) {
	k.Impl = ""
	var ratios []float64
	for _, sample := range s.Interleaved[k] {
		x, okA := sample[a]
		y, okB := sample[b]
		if okA && okB && y > 0 {
			ratios = append(ratios, x/y)
		}
	}
	if len(ratios) == 0 {
		return Ratio{}, false
	}
	slices.Sort(ratios)
	samples := make([]Sample, len(ratios))
	for i, x := range ratios {
		samples[i] = Sample{NsPerElem: x}
	}
	m, _ := median(samples, func(x Sample) float64 { return x.NsPerElem })
	return Ratio{Median: m, Min: ratios[0], Max: ratios[len(ratios)-1], Rounds: len(ratios)}, true
}
