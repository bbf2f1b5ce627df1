package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mapFlag is a BPF_F_* map flag (include/uapi/linux/bpf.h).
type mapFlag struct {
	bit          uint32
	name, kernel string
}

// fdOnlyFlags are BPF_F_RDONLY and BPF_F_WRONLY: at BPF_MAP_CREATE (and
// BPF_OBJ_GET) they set the access mode of the fd returned, and the kernel
// does not keep them in the map's flags (bpf_map_flags_retain_permanent).
const fdOnlyFlags = unix.BPF_F_RDONLY | unix.BPF_F_WRONLY

// BPF_F_SEGV_ON_FAULT and BPF_F_NO_USER_CONV (arena maps, Linux 6.9) are
// newer than x/sys/unix.
const (
	flagSegvOnFault = 1 << 17
	flagNoUserConv  = 1 << 18
)

var mapFlags = []mapFlag{
	{unix.BPF_F_NO_PREALLOC, "no-prealloc", "BPF_F_NO_PREALLOC"},
	{unix.BPF_F_NO_COMMON_LRU, "no-common-lru", "BPF_F_NO_COMMON_LRU"},
	{unix.BPF_F_NUMA_NODE, "numa-node", "BPF_F_NUMA_NODE"},
	{unix.BPF_F_RDONLY, "rdonly", "BPF_F_RDONLY"},
	{unix.BPF_F_WRONLY, "wronly", "BPF_F_WRONLY"},
	{unix.BPF_F_STACK_BUILD_ID, "stack-build-id", "BPF_F_STACK_BUILD_ID"},
	{unix.BPF_F_ZERO_SEED, "zero-seed", "BPF_F_ZERO_SEED"},
	{unix.BPF_F_RDONLY_PROG, "rdonly-prog", "BPF_F_RDONLY_PROG"},
	{unix.BPF_F_WRONLY_PROG, "wronly-prog", "BPF_F_WRONLY_PROG"},
	{unix.BPF_F_CLONE, "clone", "BPF_F_CLONE"},
	{unix.BPF_F_MMAPABLE, "mmapable", "BPF_F_MMAPABLE"},
	{unix.BPF_F_PRESERVE_ELEMS, "preserve-elems", "BPF_F_PRESERVE_ELEMS"},
	{unix.BPF_F_INNER_MAP, "inner-map", "BPF_F_INNER_MAP"},
	{flagSegvOnFault, "segv-on-fault", "BPF_F_SEGV_ON_FAULT"},
	{flagNoUserConv, "no-user-conv", "BPF_F_NO_USER_CONV"},
}

// describeMapFlags prints e.g. "0x1 (BPF_F_NO_PREALLOC)".
func describeMapFlags(f uint32) string {
	if f == 0 {
		return "0"
	}
	var names []string
	rest := f
	for _, mf := range mapFlags {
		if f&mf.bit != 0 {
			names = append(names, mf.kernel)
			rest &^= mf.bit
		}
	}
	if rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return fmt.Sprintf("%#x (%s)", f, strings.Join(names, "|"))
}

// mapFlagNames lists the names create accepts: not the fd-only flags.
func mapFlagNames() string {
	var names []string
	for _, f := range mapFlags {
		if f.bit&fdOnlyFlags == 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ", ")
}

// parseMapFlags reads "no-prealloc,mmapable" or numbers such as 0x400.
func parseMapFlags(s string) (uint32, error) {
	var flags uint32
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if v, err := strconv.ParseUint(part, 0, 32); err == nil {
			flags |= uint32(v)
			continue
		}
		found := false
		for _, f := range mapFlags {
			if strings.EqualFold(part, f.name) || strings.EqualFold(part, f.kernel) {
				flags |= f.bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown map flag %q (want %s, or a number)", part, mapFlagNames())
		}
	}
	return flags, nil
}
