package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

func (c *cli) info(args []string) error {
	cmd := newCommand("info", "info PIN", `Describes the map pinned at PIN: its type, sizes, flags, how many entries
it holds (counted with one batch walk: the kernel keeps no count), the
values layout bpfbatch load expects (value stride, possible CPUs), whether
updates go through BPF_MAP_UPDATE_BATCH or one BPF_MAP_UPDATE_ELEM per
element, and the --key-format and --value-format choices that fit its sizes.
`)
	pos, err := c.parse(cmd, args, "PIN")
	if err != nil {
		return err
	}
	m, err := openMap(cmd, pos[0])
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	cpus, cpuErr := bpfbatch.PossibleCPUs()

	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%s:\t%s\n", k, fmt.Sprintf(format, args...)) }
	row("pin", "%s", pos[0])
	row("map", "%s", m)
	row("type", "%s", info.Type)
	row("key size", "%d bytes", info.KeySize)
	row("value size", "%d bytes", info.ValueSize)
	row("max entries", "%d", info.MaxEntries)
	row("entries", "%s", describeCount(m))
	row("map flags", "%s", describeMapFlags(info.Flags))
	if cpuErr != nil {
		row("possible CPUs", "unknown: %v", cpuErr)
	} else {
		row("possible CPUs", "%d", cpus)
	}
	if info.Type.PerCPU() {
		row("value stride", "%d bytes per element (%d possible CPUs x value size %d rounded up to %d, element-major)",
			m.ValueStride(), cpus, info.ValueSize, (info.ValueSize+7)&^7)
	} else {
		row("value stride", "%d bytes per element (one value, not per-CPU)", m.ValueStride())
	}
	row("update path", "%s", describePath(m))
	if why := loadRefusal(info.Type); why != "" {
		row("load", "not supported: %s", why)
	} else {
		if info.KeySize > 0 {
			row("key formats", "%s", input.FitsFor(int(info.KeySize)))
		} else {
			row("key formats", "none: the map has no keys, lines hold values only")
		}
		row("value formats", "%s", input.FitsFor(int(info.ValueSize)))
	}
	if err := w.Flush(); err != nil {
		return failed(nil, "write: %v", err)
	}
	return nil
}

// describeCount counts the map's entries with one batch walk (the kernel
// keeps no count), or says why it cannot.
func describeCount(m *bpfbatch.Map) string {
	if m.Info().KeySize == 0 {
		return fmt.Sprintf("unknown: %s maps have no keys to walk", m.Info().Type)
	}
	n, err := m.Count()
	if err != nil {
		return "unknown: " + err.Error()
	}
	if t := m.Info().Type; t == bpfbatch.Array || t == bpfbatch.PerCPUArray {
		return strconv.Itoa(n) + " (every index of an array exists)"
	}
	return strconv.Itoa(n)
}

// describePath says how `bpfbatch load` writes the map.
func describePath(m *bpfbatch.Map) string {
	p, err := m.UpdatePath()
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case p == bpfbatch.BatchPath:
		return "batch: one BPF_MAP_UPDATE_BATCH per chunk of entries (--flags noexist/exist still go per element: the kernel's batch command refuses them)"
	default:
		return fmt.Sprintf("per-element: one BPF_MAP_UPDATE_ELEM per entry (%s maps, or this kernel, have no batch update)", m.Info().Type)
	}
}

// fdValues reports whether the values of maps of type t are written as
// file descriptors (of programs, maps, sockets, ...).
func fdValues(t bpfbatch.MapType) bool {
	switch t {
	case bpfbatch.ProgramArray, bpfbatch.PerfEventArray, bpfbatch.CgroupArray, bpfbatch.ArrayOfMaps,
		bpfbatch.HashOfMaps, bpfbatch.SockMap, bpfbatch.SockHash, bpfbatch.ReusePortSockArray, bpfbatch.XSKMap:
		return true
	}
	return false
}

// loadRefusal says why load cannot fill maps of type t, or "".
func loadRefusal(t bpfbatch.MapType) string {
	if fdValues(t) {
		return fmt.Sprintf("the values of %s maps are file descriptors of the writing process, which a file cannot hold", t)
	}
	switch t {
	case bpfbatch.RingBuf, bpfbatch.UserRingBuf, bpfbatch.StructOps, bpfbatch.Arena, bpfbatch.StackTrace,
		bpfbatch.CgroupStorage, bpfbatch.PerCPUCgroupStorage, bpfbatch.SkStorage, bpfbatch.InodeStorage,
		bpfbatch.TaskStorage, bpfbatch.CgrpStorage:
		return fmt.Sprintf("%s maps are not filled with key/value updates from user space", t)
	}
	return ""
}

// mapFlag is a BPF_F_* map flag (include/uapi/linux/bpf.h).
type mapFlag struct {
	bit          uint32
	name, kernel string
}

// fdOnlyFlags are BPF_F_RDONLY and BPF_F_WRONLY: at BPF_MAP_CREATE (and
// BPF_OBJ_GET) they set the access mode of the fd returned, and the kernel
// does not keep them in the map's flags (bpf_map_flags_retain_permanent).
const fdOnlyFlags = 1<<3 | 1<<4

var mapFlags = []mapFlag{
	{1 << 0, "no-prealloc", "BPF_F_NO_PREALLOC"},
	{1 << 1, "no-common-lru", "BPF_F_NO_COMMON_LRU"},
	{1 << 2, "numa-node", "BPF_F_NUMA_NODE"},
	{1 << 3, "rdonly", "BPF_F_RDONLY"},
	{1 << 4, "wronly", "BPF_F_WRONLY"},
	{1 << 5, "stack-build-id", "BPF_F_STACK_BUILD_ID"},
	{1 << 6, "zero-seed", "BPF_F_ZERO_SEED"},
	{1 << 7, "rdonly-prog", "BPF_F_RDONLY_PROG"},
	{1 << 8, "wronly-prog", "BPF_F_WRONLY_PROG"},
	{1 << 9, "clone", "BPF_F_CLONE"},
	{1 << 10, "mmapable", "BPF_F_MMAPABLE"},
	{1 << 11, "preserve-elems", "BPF_F_PRESERVE_ELEMS"},
	{1 << 12, "inner-map", "BPF_F_INNER_MAP"},
	{1 << 17, "segv-on-fault", "BPF_F_SEGV_ON_FAULT"},
	{1 << 18, "no-user-conv", "BPF_F_NO_USER_CONV"},
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
