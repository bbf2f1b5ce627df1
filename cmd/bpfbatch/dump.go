package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

const dumpAbout = `Prints every entry of the map MAP in the input format of 'bpfbatch load',
so that 'bpfbatch dump A | bpfbatch load B -' copies a map (with the same
--key-format and --value-format on both sides, or the defaults on both).

` + mapHelp + `

dump opens the map read-only (BPF_F_RDONLY): read permission on a pin is
enough, and frozen maps dump too.

Output: one entry per line.
  text   KEY VALUE            (per-CPU maps: KEY and one VALUE per possible CPU)
  json   {"key": K, "value": V}
         K and V are numbers in the integer formats, strings otherwise;
         for per-CPU maps V is an array of one value per possible CPU.
         In the btf format K and V are bpftool's formatted JSON, and
         per-CPU values are "values": [{"cpu": N, "value": V}, ...].
--keys-only prints KEY (or {"key": K}) alone: the input of 'bpfbatch delete'.
--cpu N prints CPU N's value alone (BPF_F_CPU, Linux 7.0 or later), which
'bpfbatch load --cpu N' or '--all-cpus' reads back.

Formats: btf prints a key or value by its BTF type, as 'bpftool -j map
dump' does in "formatted" (structs and unions as objects by member name,
integers as exact numbers, char arrays as strings, enums by name, bitfields
as hex strings); it is the default with --format json for a map that has
BTF, as the maps of libbpf and cilium/ebpf programs do (reading the BTF
takes CAP_SYS_ADMIN: without it the default falls back, with a note). An
LPM trie with 8- or 20-byte keys prints cidr keys by default; otherwise
hex. 'bpfbatch info MAP' lists the formats that fit.

Order: entries come in the order the kernel's batch walk returns them (hash
order for hash maps, index order for arrays, the trie's order for LPM
tries), not sorted; with --workers above 1 the library may walk parts of
the map at once, and their batches then interleave. Sort the output where
order matters.

The map is read with BPF_MAP_LOOKUP_BATCH, 4096 entries per call (the
library's Map.Walk), and printed as it is read, through a buffer: memory
stays small whatever the map's size. Entries that BPF programs add or
delete during the dump may be printed or not; every other entry is
printed exactly once.

Map-in-map maps (array_of_maps, hash_of_maps) hold inner maps, which a
lookup from user space reports as their IDs: the values printed are those
IDs, which load cannot write back (it would need map file descriptors;
'bpfbatch replace' swaps an inner map). The text output starts with a
comment line that says so; with --format json that note goes to stderr.
The same goes for program arrays (program IDs) and the other maps of file
descriptors. Queue, stack and bloom filter maps have no keys to walk and
are refused.

A CIDR key with bits set beyond its prefix length (which the trie keeps
as written) prints as it is, e.g. 10.0.0.1/8; load refuses that line
unless --mask-host-bits, or dump and load with --key-format hex.

Exit status: 0 success, or the reader of the output closed it early (as
in 'bpfbatch dump MAP | head': it wanted no more; the dump stops quietly);
1 the map could not be opened or read, the output could not be written,
or a signal stopped the dump (the message says how many entries the
output holds, whole lines); 2 bad command line, or a map that cannot be
dumped.

Examples:
  bpfbatch dump /sys/fs/bpf/blocklist --value-format u32
  bpfbatch dump /sys/fs/bpf/a | bpfbatch load /sys/fs/bpf/b -
  bpfbatch dump name conn_stats --format json | jq .
  bpfbatch dump id 42 --format json --key-format hex
`

func (c *cli) dump(ctx context.Context, args []string) error {
	cmd := newCommand("dump", "dump [flags] MAP", dumpAbout)
	var formats formatFlags
	formats.register(cmd.fs, true)
	syntax := cmd.fs.String("format", "text", "output `syntax`: text (KEY VALUE lines) or json (JSON lines)")
	cpu := cmd.fs.Int("cpu", -1, "per-CPU maps: print CPU `N`'s value only, one column (BPF_F_CPU: Linux 7.0 or later)")
	keysOnly := cmd.fs.Bool("keys-only", false, "print the keys only, one per line: the input of 'bpfbatch delete'")
	workers := cmd.fs.Int("workers", dumpWorkers, "walks of the map in flight at once (the library's WalkOptions.Workers); 1 reads\nthe map in the kernel's order")
	pos, err := c.parse(cmd, args, "MAP")
	if err != nil {
		return err
	}
	pin := pos[0]
	if err := formats.check(cmd); err != nil {
		return err
	}
	var opts input.Options
	opts.Syntax, err = input.ParseSyntax(*syntax)
	if err != nil || opts.Syntax != input.Text && opts.Syntax != input.JSON {
		return cmd.usageError("--format %s: want text or json", *syntax)
	}
	if *keysOnly && *cpu >= 0 {
		return cmd.usageError("--cpu picks a value to print, and --keys-only prints none")
	}
	if *workers < 0 {
		return cmd.usageError("--workers must not be negative")
	}

	m, err := openMap(cmd, readOnly, keyed("to walk, and reading a value would take it out of the map"))
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	flags := bpfbatch.UpdateAny
	if *cpu >= 0 {
		if err := checkCPU(cmd, pin, m, *cpu, "nothing was printed", "Dump every CPU's value instead, without --cpu: one column per possible CPU."); err != nil {
			return err
		}
		flags = bpfbatch.OnCPU(*cpu)
	}
	opts.KeysOnly = *keysOnly
	stride := m.ValueStrideFor(flags)
	if *keysOnly {
		stride = 0
	}
	if opts.Layout, err = layoutFor(info, stride, *cpu >= 0); err != nil {
		return err
	}
	if err := formats.resolve(cmd, info, &opts, c.note); err != nil {
		return err
	}
	if err := checkFormats(cmd, opts, m); err != nil {
		return err
	}
	return c.printEntries(ctx, pin, m, bpfbatch.WalkOptions{Workers: *workers, Flags: flags}, printer{opts: opts, json: opts.Syntax == input.JSON})
}

// dumpWorkers is dump's default --workers: the library's Walk reads one
// part of the map per worker at once where it can, and the command formats
// what they read on the caller's goroutine.
const dumpWorkers = 2

// printEntries prints every entry of m, named pin, read by a Walk with
// opts, as p formats them; a failure says how many entries the output
// holds.
func (c *cli) printEntries(ctx context.Context, pin string, m *bpfbatch.Map, opts bpfbatch.WalkOptions, p printer) error {
	out := &lineCounter{w: c.stdout}
	w := bufio.NewWriterSize(out, 256<<10)
	header := 0 // comment lines before the entries
	if note := fdValuesNote(m.Info().Type); note != "" {
		if p.json {
			c.note(fmt.Sprintf("%s %s", m, note))
		} else {
			fmt.Fprintf(w, "# %s %s\n", m, note)
			header = 1
		}
	}
	formatted := 0
	var printErr error // a failure of the printing, not of the map's reading
	// Walk may call fn from more than one goroutine (Workers > 1): one at
	// a time prints, so that lines never interleave.
	var mu sync.Mutex
	err := m.Walk(ctx, opts, func(keys, values []byte, n int) error {
		mu.Lock()
		defer mu.Unlock()
		if printErr != nil {
			return printErr
		}
		ks, stride := len(keys)/n, len(values)/n
		for i := range n {
			line, err := p.appendEntry(w.AvailableBuffer(), keys[i*ks:(i+1)*ks], values[i*stride:(i+1)*stride])
			if err != nil {
				printErr = fmt.Errorf("entry %d: %w", formatted+1, err)
				return printErr
			}
			if _, err := w.Write(line); err != nil {
				printErr = fmt.Errorf("writing the output: %w", err)
				return printErr
			}
			formatted++
		}
		return nil
	})
	if flushErr := w.Flush(); flushErr != nil && err == nil {
		err, printErr = flushErr, fmt.Errorf("writing the output: %w", flushErr)
	}
	// What the output holds: the whole lines that were written, not those
	// still in the buffer when a write failed.
	printed := max(out.lines-header, 0)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return failed(nil, "dump %s: interrupted after %s; the output is incomplete", pin, plural(printed, "entry", "entries"))
	case printErr != nil && errors.Is(err, printErr) && readerGone(err):
		return errReaderGone
	case printErr != nil && errors.Is(err, printErr):
		return failed(nil, "dump %s: %v; the output is incomplete: %s printed before it", pin, printErr, plural(printed, "entry", "entries"))
	default:
		return failed(err, "dump %s: reading the map failed after %s; the output is incomplete", pin, plural(printed, "entry", "entries"))
	}
}

// lineCounter counts the lines written to w whole.
type lineCounter struct {
	w     io.Writer
	lines int
}

func (lc *lineCounter) Write(p []byte) (int, error) {
	n, err := lc.w.Write(p)
	lc.lines += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

// printer formats entries as load reads them.
type printer struct {
	opts input.Options // formats, Codecs and layout; CPUs 0 for one value per entry
	json bool
}

// appendEntry appends one line for key and value (the whole stride).
func (p *printer) appendEntry(dst, key, value []byte) ([]byte, error) {
	var err error
	if p.json {
		dst = append(dst, `{"key": `...)
		if dst, err = p.opts.AppendKey(dst, key, true); err != nil {
			return dst, fmt.Errorf("key: %w", err)
		}
		if !p.opts.KeysOnly {
			if p.opts.CPUs > 0 && p.opts.Value == input.BTF {
				// bpftool's "values": [{"cpu": 0, "value": V}, ...]
				dst = append(dst, `, "values": `...)
				if dst, err = p.opts.ValueCodec.AppendPerCPU(dst, value); err != nil {
					return dst, fmt.Errorf("values: %w", err)
				}
				return append(dst, "}\n"...), nil
			}
			dst = append(dst, `, "value": `...)
			if dst, err = p.appendValues(dst, value); err != nil {
				return dst, err
			}
		}
		return append(dst, "}\n"...), nil
	}
	if dst, err = p.opts.AppendKey(dst, key, false); err != nil {
		return dst, fmt.Errorf("key: %w", err)
	}
	if !p.opts.KeysOnly {
		dst = append(dst, ' ')
		if dst, err = p.appendValues(dst, value); err != nil {
			return dst, err
		}
	}
	return append(dst, '\n'), nil
}

// appendValues appends a value, or one per CPU: space-separated columns,
// or a JSON array.
func (p *printer) appendValues(dst, value []byte) ([]byte, error) {
	if p.opts.CPUs == 0 {
		dst, err := p.opts.AppendValue(dst, value, p.json)
		if err != nil {
			return dst, fmt.Errorf("value: %w", err)
		}
		return dst, nil
	}
	if p.json {
		dst = append(dst, '[')
	}
	slot, vs := p.opts.Slot(), p.opts.ValueSize
	for c := range p.opts.CPUs {
		if c > 0 {
			if p.json {
				dst = append(dst, ", "...)
			} else {
				dst = append(dst, ' ')
			}
		}
		var err error
		if dst, err = p.opts.AppendValue(dst, value[c*slot:c*slot+vs], p.json); err != nil {
			return dst, fmt.Errorf("value for CPU %d: %w", c, err)
		}
	}
	if p.json {
		dst = append(dst, ']')
	}
	return dst, nil
}

// fdValuesNote says what a dump's values are for the maps whose values are
// file descriptors when written, or "".
func fdValuesNote(t bpfbatch.MapType) string {
	switch {
	case t == bpfbatch.ArrayOfMaps || t == bpfbatch.HashOfMaps:
		return "holds inner maps: the values are their map IDs (bpftool map dump id ID), which load cannot write back; bpfbatch replace swaps an inner map"
	case t == bpfbatch.ProgramArray:
		return "holds programs: the values are their program IDs, which load cannot write back"
	case t.FDValues():
		return "holds file descriptors: the values are what the kernel reports for them, which load cannot write back"
	}
	return ""
}
