// Package cpus reads the number of possible CPUs, which sizes every per-CPU
// map value the kernel copies in and out.
package cpus

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// PossibleFile lists the CPUs the kernel may ever bring online. Per-CPU maps
// have one slot per possible CPU: the kernel sizes their values with
// num_possible_cpus(), the number of CPUs in this list, and its copy loops
// (for_each_possible_cpu in bpf_percpu_hash_copy) pack one slot per listed
// CPU, skipping holes. That is neither the online count nor runtime.NumCPU.
const PossibleFile = "/sys/devices/system/cpu/possible"

// Possible returns the number of possible CPUs, read once per process.
var Possible = sync.OnceValues(func() (int, error) {
	b, err := os.ReadFile(PossibleFile)
	if err != nil {
		return 0, fmt.Errorf("read possible CPUs: %w", err)
	}
	n, err := Parse(string(b))
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", PossibleFile, err)
	}
	return n, nil
})

// maxCPUs bounds parsed indices; the kernel's NR_CPUS tops out at 8192.
const maxCPUs = 1 << 16

// Parse reads a kernel CPU list such as "0", "0-3" or "0-3,8-11\n" and
// returns how many CPUs it lists: "0-3,8-11" is 8, as the kernel's
// num_possible_cpus() and libbpf's libbpf_num_possible_cpus() count it. A
// CPU listed twice counts once.
func Parse(list string) (int, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return 0, errors.New("empty CPU list")
	}
	var listed [maxCPUs / 64]uint64
	count := 0
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseIndex(lo)
		if err != nil {
			return 0, fmt.Errorf("CPU list %q: %w", list, err)
		}
		last := first
		if isRange {
			if last, err = parseIndex(hi); err != nil {
				return 0, fmt.Errorf("CPU list %q: %w", list, err)
			}
			if last < first {
				return 0, fmt.Errorf("CPU list %q: range %q runs backwards", list, part)
			}
		}
		for cpu := first; cpu <= last; cpu++ {
			if listed[cpu/64]&(1<<(cpu%64)) == 0 {
				listed[cpu/64] |= 1 << (cpu % 64)
				count++
			}
		}
	}
	return count, nil
}

func parseIndex(s string) (int, error) {
	// Only plain decimal digits: strconv.Atoi alone would take "+1" and "-0".
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad CPU index %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n >= maxCPUs {
		return 0, fmt.Errorf("CPU index %q out of range", s)
	}
	return n, nil
}
