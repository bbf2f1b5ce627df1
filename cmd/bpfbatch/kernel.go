package main

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

// removeMemlockFunc is bpfbatch.RemoveMemlock; tests replace it to see how
// the command takes a failure.
var removeMemlockFunc = bpfbatch.RemoveMemlock

// removeMemlock lifts RLIMIT_MEMLOCK before a command creates or fills
// maps: kernels before 5.11 charge map memory to it, 64 KiB by default
// even for root, and refuse a bigger map with EPERM. Newer kernels do not,
// and the library then changes nothing. A failure (no CAP_SYS_RESOURCE) is
// only a warning: the map may fit under the limit there is.
func (c *cli) removeMemlock() {
	if err := removeMemlockFunc(); err != nil {
		c.print(c.stderr, "%s\nbpfbatch: warning: going on, the maps may still fit\n", causeLine(err))
	}
}

// checkCPU checks --cpu N for a command on m, pinned at pin: a per-CPU
// map, a possible CPU, and a kernel with BPF_F_CPU (Linux 7.0), which the
// library reports as ErrNotSupported; untouched says what the command did
// not do then, instead what to do without --cpu.
func checkCPU(cmd *command, pin string, m *bpfbatch.Map, cpu int, untouched, instead string) error {
	info := m.Info()
	if !info.Type.PerCPU() {
		return cmd.usageError("--cpu applies to per-CPU maps only; %s has one value per element", m)
	}
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		return err
	}
	if cpu >= cpus {
		return cmd.usageError("--cpu %d: this machine has %d possible CPUs, 0 to %d", cpu, cpus, cpus-1)
	}
	// The library refuses OnCPU on an older kernel before any syscall; a
	// lookup of one key asks it without reading a whole input first. (An
	// empty UpdateBatch does not ask: it returns before the check.)
	key, value := make([]byte, info.KeySize), make([]byte, info.ValueSize)
	if err := m.LookupWith(key, value, bpfbatch.OnCPU(cpu)); errors.Is(err, bpfbatch.ErrNotSupported) {
		return failed(nil, "%s %s: --cpu needs BPF_F_CPU, which came with Linux 7.0; this kernel (%s) lacks it, so %s. %s",
			cmd.name, pin, kernelRelease(), untouched, instead)
	}
	return nil
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
