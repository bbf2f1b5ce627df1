package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

const replaceAbout = `Builds a new inner map from the entries in FILE (- for stdin) and swaps
it into slot SLOT of the map-in-map OUTER (array_of_maps or hash_of_maps;
PATH, pinned PATH, id ID or name NAME, as MAP in the other commands) with one BPF_MAP_UPDATE_ELEM (the library's ReplaceInner):
BPF programs that look the slot up see the old contents or the new, never a
mix, and never an empty map in between.

SLOT is the outer map's key in --slot-format (u32 by default: an array
index, or a u32 hash key).

The new inner map is made like the one in the slot now, which is opened by
the ID the slot holds: the same type, key and value size, max_entries, map
flags and name. --type, --key-size, --value-size, --max-entries, --map-flags
and --name (as for create) change any of them; the kernel refuses a swap
whose shape does not match the outer map's inner-map template (EINVAL),
leaving the slot as it was. An empty slot has no inner map to copy, and the
kernel does not report the template, so its shape must be given with those
flags (at least --type, --value-size, --max-entries, and --key-size for
maps with keys). 'bpfbatch create --type array_of_maps' makes an outer map.

Input: as for 'bpfbatch load', for the new inner map's layout: text or JSON
lines, --key-format and --value-format, per-CPU columns or --all-cpus. The
whole input is checked before the new map is made; a key repeated in the
input is one entry, its last line wins.

The old inner map is not deleted: it lives on while BPF programs or pins
hold it, and the kernel frees it after that.

Output: one line on stdout, e.g.
  replaced slot 3 of ArrayOfMaps map "outer" (id 7): inner map id 12 -> 15 (Hash map "rules", 1000 entries from new.txt) in 3ms
--dry-run checks the input and names the slot's map, changing nothing.

Exit status: 0 success; 1 the maps could not be opened, the new map not
made or filled, or the swap was refused (the slot is then unchanged), or a
signal came (before the swap: nothing changed; during it: the message says
it completed); 2 bad command line, bad input, or an empty slot without the
shape flags (nothing changed).

Examples:
  bpfbatch replace /sys/fs/bpf/policies 3 rules.txt --key-format u32 --value-format u64
  bpfbatch replace /sys/fs/bpf/tenants 42 cidrs.txt --key-format cidr --value-format u32 \
      --type lpm_trie --key-size 8 --value-size 4 --max-entries 100000
`

func (c *cli) replace(ctx context.Context, args []string) error {
	cmd := newCommand("replace", "replace [flags] OUTER SLOT FILE|-", replaceAbout)
	var in inputFlags
	in.register(cmd.fs, false)
	var shape specFlags
	shape.register(cmd.fs, "of the new inner map; default: as the slot's map")
	slotFormat := cmd.fs.String("slot-format", "u32", "SLOT's `format`: "+input.FormatNames())
	dryRun := cmd.fs.Bool("dry-run", false, "check the input against the new inner map's layout, change nothing")
	pos, opts, err := c.parseWithInput(cmd, args, &in, "OUTER", "SLOT", "FILE")
	if err != nil {
		return err
	}
	pin, slot, file := pos[0], pos[1], pos[2]
	slotFmt, err := input.ParseFormat(*slotFormat)
	if err != nil {
		return cmd.usageError("--slot-format: %v", err)
	}

	c.removeMemlock()
	outer, err := openMap(cmd, readWrite, mapInMap)
	if err != nil {
		return err
	}
	defer outer.Close()
	oi := outer.Info()
	key, err := slotKey(cmd, outer, slot, slotFmt)
	if err != nil {
		return err
	}
	oldID, spec, err := innerSpec(cmd, pin, outer, key, slot, &shape)
	if err != nil {
		return err
	}
	target := newInner{spec}
	innerInfo := bpfbatch.MapInfo{Type: spec.Type, KeySize: spec.KeySize, ValueSize: spec.ValueSize, MaxEntries: spec.MaxEntries}
	stride, err := spec.Type.ValueStride(spec.ValueSize)
	if err != nil {
		return err
	}
	start := time.Now()
	var b input.Batch
	s, err := c.readEntries(ctx, entryFile{cmd: cmd, pin: pin, file: file, opts: opts, formats: &in.formatFlags, info: innerInfo, stride: stride, target: target, change: swaps}, &b)
	if err != nil {
		return err
	}
	defer s.close()
	old := "empty"
	if oldID != 0 {
		old = fmt.Sprintf("inner map id %d", oldID)
	}
	if *dryRun {
		c.print(c.stdout, "dry run: %s in %s, valid for %s (key %d bytes, value %d bytes, max_entries %d, flags %s); slot %s of %s is %s; nothing changed (read in %s)%s\n",
			plural(b.Len(), "entry", "entries"), s.name, target, spec.KeySize, spec.ValueSize, spec.MaxEntries, describeMapFlags(spec.Flags), slot, outer, old, seconds(time.Since(start)), s.droppedNote())
		return nil
	}
	if ctx.Err() != nil {
		return failed(nil, "replace %s: interrupted before the new inner map was made; nothing changed", pin)
	}
	inner, err := bpfbatch.ReplaceInner(outer, key, spec, b.Keys, b.Values)
	if err != nil {
		var be *bpfbatch.BatchError
		// A failed element of the new map (not of the outer map's swap)
		// is an input line.
		if errors.As(err, &be) && be.Map.ID != oi.ID && be.Index >= 0 && be.Index < b.Len() {
			return failed(err, "replace %s: filling the new inner map failed at the entry of %s:%d; slot %s is unchanged (%s)", pin, s.name, b.Lines[be.Index], slot, old)
		}
		return failed(err, "replace %s: slot %s is unchanged (%s)", pin, slot, old)
	}
	summary := fmt.Sprintf("replaced slot %s of %s: %s -> id %d (%s, %s from %s) in %s%s",
		slot, outer, old, inner.Info().ID, inner, plural(b.Len(), "entry", "entries"), s.name, seconds(time.Since(start)), s.droppedNote())
	inner.Close() // the outer map holds it now
	if ctx.Err() != nil {
		return failed(nil, "replace %s: a signal came during the swap, which completed: %s", pin, summary)
	}
	c.print(c.stdout, "%s\n", summary)
	return nil
}

// mapInMap refuses the maps that are no map-in-map.
func mapInMap(info bpfbatch.MapInfo) string {
	if info.Type != bpfbatch.ArrayOfMaps && info.Type != bpfbatch.HashOfMaps {
		return fmt.Sprintf("%s maps are no map-in-map (array_of_maps or hash_of_maps); to fill one, use bpfbatch load or sync", info.Type)
	}
	return ""
}

// slotKey is the key of outer's slot SLOT, given in format f.
func slotKey(cmd *command, outer *bpfbatch.Map, slot string, f input.Format) ([]byte, error) {
	oi := outer.Info()
	key := make([]byte, oi.KeySize)
	if err := f.Fits(len(key)); err != nil {
		return nil, cmd.usageError("--slot-format %s does not fit %s (key_size %d): %v", f, outer, oi.KeySize, err)
	}
	if err := f.Encode(slot, key); err != nil {
		return nil, cmd.usageError("SLOT %s: %v", slot, err)
	}
	if oi.Type == bpfbatch.ArrayOfMaps && binary.NativeEndian.Uint32(key) >= oi.MaxEntries {
		return nil, cmd.usageError("SLOT %s: %s has slots 0 to %d", slot, outer, oi.MaxEntries-1)
	}
	return key, nil
}

// innerSpec returns the ID of the inner map in the slot at key of outer,
// pinned at pin (0 for an empty slot), and the spec of the new inner map:
// the slot's map's, changed by the shape flags.
func innerSpec(cmd *command, pin string, outer *bpfbatch.Map, key []byte, slot string, shape *specFlags) (uint32, bpfbatch.MapSpec, error) {
	oldID, spec, err := slotSpec(pin, outer, key, slot)
	if err != nil {
		return 0, spec, err
	}
	if err := shape.apply(cmd.fs, &spec); err != nil {
		return 0, spec, cmd.usageError("%v", err)
	}
	if oldID == 0 && (spec.Type == bpfbatch.UnspecifiedMap || spec.ValueSize == 0 || spec.MaxEntries == 0) {
		return 0, spec, cmd.usageError("slot %s of %s is empty, so the shape of its inner map is unknown (the kernel does not report the outer map's inner-map template); give it with --type, --key-size, --value-size and --max-entries (and --map-flags), as for create", slot, outer)
	}
	if why := loadRefusal(spec.Type); why != "" {
		return 0, spec, badInput("replace %s: the new inner map: %s", pin, why)
	}
	return oldID, spec, nil
}

// slotSpec returns the ID of the inner map in the slot at key of outer,
// pinned at pin (0
// for an empty slot) and a spec like it, for the new inner map.
func slotSpec(pin string, outer *bpfbatch.Map, key []byte, slot string) (id uint32, spec bpfbatch.MapSpec, err error) {
	value := make([]byte, outer.ValueStride())
	err = outer.Lookup(key, value)
	switch {
	case errors.Is(err, bpfbatch.ErrKeyNotExist):
		return 0, spec, nil
	case err != nil:
		return 0, spec, failed(err, "replace %s: reading slot %s failed", pin, slot)
	}
	// A lookup from user space gives the inner map's ID, not an fd.
	id = binary.NativeEndian.Uint32(value)
	inner, err := bpfbatch.OpenByID(id)
	if err != nil {
		return id, spec, failed(err, "replace %s: slot %s holds inner map id %d, which could not be opened to copy its shape", pin, slot, id)
	}
	defer inner.Close()
	info := inner.Info()
	return id, bpfbatch.MapSpec{
		Type: info.Type, KeySize: info.KeySize, ValueSize: info.ValueSize,
		MaxEntries: info.MaxEntries, Flags: info.Flags, Name: info.Name,
	}, nil
}

// newInner names the inner map to be made, in messages.
type newInner struct{ spec bpfbatch.MapSpec }

func (n newInner) String() string {
	if n.spec.Name == "" {
		return fmt.Sprintf("the new inner %s map", n.spec.Type)
	}
	return fmt.Sprintf("the new inner %s map %q", n.spec.Type, n.spec.Name)
}
