module github.com/bpfbatch/bpfbatch/cmd/bpfbatch

go 1.26.0

require (
	github.com/bpfbatch/bpfbatch v0.0.0
	github.com/cilium/ebpf v0.22.0
	golang.org/x/sys v0.50.0
)

replace github.com/bpfbatch/bpfbatch => ../..
