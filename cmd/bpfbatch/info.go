package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/bpfbatch/bpfbatch"
)

func (c *cli) info(args []string) error {
	cmd := newCommand("info", "info MAP", `Describes the map MAP: its type, sizes, flags, how many entries it holds
(counted with one batch walk: the kernel keeps no count), the values layout
bpfbatch load expects (value stride, possible CPUs), its BTF types, whether
updates go through BPF_MAP_UPDATE_BATCH or one BPF_MAP_UPDATE_ELEM per
element, and the --key-format and --value-format choices that fit it.

`+mapHelp+`

info opens the map read-only (BPF_F_RDONLY): read permission on a pin is
enough, and frozen maps are described too. The update path is probed
through a second, read-write fd when the process may open one.
`)
	pos, err := c.parse(cmd, args, "MAP")
	if err != nil {
		return err
	}
	m, err := openMap(cmd, readOnly)
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	cpus, cpuErr := bpfbatch.PossibleCPUs()

	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%s:\t%s\n", k, fmt.Sprintf(format, args...)) }
	if cmd.ref.by == "pinned" {
		row("pin", "%s", pos[0])
	}
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
	row("btf", "%s", describeBTF(info))
	row("update path", "%s", describePath(cmd.ref, m))
	if why := loadRefusal(info.Type); why != "" {
		row("load", "not supported: %s", why)
	} else {
		key, value := mapBTF(info)
		if info.KeySize > 0 {
			row("key formats", "%s", formatsFor(int(info.KeySize), key))
		} else {
			row("key formats", "none: the map has no keys, lines hold values only")
		}
		row("value formats", "%s", formatsFor(int(info.ValueSize), value))
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

// describePath says how `bpfbatch load` writes the map. The update probe
// needs a writable fd: on m, opened read-only, it would only report that,
// so it goes through another fd of the same map, opened read-write, if the
// process may (a failure then says why a write would fail).
func describePath(ref mapRef, m *bpfbatch.Map) string {
	var rw *bpfbatch.Map
	var err error
	if ref.by == "pinned" {
		rw, err = bpfbatch.OpenPinned(ref.arg)
	} else {
		rw, err = bpfbatch.OpenByID(m.Info().ID)
	}
	if err != nil {
		return "unknown: the process cannot open the map for writing: " + err.Error()
	}
	defer rw.Close()
	p, err := rw.UpdatePath()
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case p == bpfbatch.BatchPath:
		return "batch: one BPF_MAP_UPDATE_BATCH per chunk of entries (--flags noexist/exist still go per element: the kernel's batch command refuses them)"
	default:
		return fmt.Sprintf("per-element: one BPF_MAP_UPDATE_ELEM per entry (%s maps, or this kernel, have no batch update)", m.Info().Type)
	}
}
