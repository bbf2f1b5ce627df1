module github.com/bpfbatch/bpfbatch/examples/cilium-interop

go 1.26.0

require (
	github.com/bpfbatch/bpfbatch v0.0.0
	github.com/cilium/ebpf v0.22.0
)

require golang.org/x/sys v0.50.0 // indirect

replace github.com/bpfbatch/bpfbatch => ../..
