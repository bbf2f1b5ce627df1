package main

import (
	"fmt"
	"strconv"
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
			m.ValueStride(), cpus, info.ValueSize, m.ValueStride()/max(cpus, 1))
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
		return outputError(err)
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
	if !m.Info().Type.CanDelete() {
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
