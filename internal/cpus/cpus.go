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
// have one slot per possible CPU (num_possible_cpus(), really the highest
// possible index + 1 for the copy loops in bpf_percpu_hash_copy), which is
// neither the online count nor runtime.NumCPU.
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
// returns the highest listed index + 1: per-CPU maps size their values by
// the index range, so holes in the list still take a slot.
func Parse(list string) (int, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return 0, errors.New("empty CPU list")
	}
	highest := -1
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
		highest = max(highest, last)
	}
	return highest + 1, nil
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
