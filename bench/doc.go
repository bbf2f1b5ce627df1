// Package bench compares bpfbatch with github.com/cilium/ebpf and with raw
// bpf(2) calls when writing and reading BPF maps in bulk, and Map.Sync with
// clearing and reloading a map. It lives in its own module so that the
// library's go.mod keeps golang.org/x/sys as its only dependency.
//
// The package has no code outside its tests: the write benchmarks are in
// update_test.go and interleaved_test.go, the read ones in lookup_test.go,
// Sync in sync_test.go, the raw floors in raw_test.go; run.sh runs them,
// summarises them with benchstat and ./cmd/ratios and renders
// results/chart.png and results/chart-read.png with ./cmd/chart. See
// README.md.
package bench
