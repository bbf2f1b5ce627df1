// Package bench compares bpfbatch with github.com/cilium/ebpf and with raw
// bpf(2) calls when writing BPF maps in bulk. It lives in its own module so
// that the library's go.mod keeps golang.org/x/sys as its only dependency.
//
// The package has no code outside its tests: the benchmarks are in
// update_test.go, and run.sh runs them, summarises them with benchstat and
// renders results/chart.png with ./cmd/chart. See README.md.
package bench
