package main

import (
	"flag"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

func (c *cli) create(args []string) error {
	cmd := newCommand("create", "create [flags] PIN --type TYPE --key-size N --value-size N --max-entries N", `Creates a map and pins it at PIN, which must be on a bpf filesystem (mount
one with: mount -t bpf bpf /sys/fs/bpf). Meant for tests and demos; real
maps usually come from the BPF program's loader.

TYPE is a kernel map type without the BPF_MAP_TYPE_ prefix, in either case,
with or without '_' (hash, array, percpu_hash, percpu_array, lru_hash,
lru_percpu_hash, lpm_trie, ...). lpm_trie gets no-prealloc, which the kernel
requires for it.

Example:
  bpfbatch create /sys/fs/bpf/blocklist --type lpm_trie --key-size 8 --value-size 4 --max-entries 1000000
`)
	var shape specFlags
	shape.register(cmd.fs, "required")
	pos, err := c.parse(cmd, args, "PIN")
	if err != nil {
		return err
	}
	pin := pos[0]
	var spec bpfbatch.MapSpec
	if err := shape.apply(cmd.fs, &spec); err != nil {
		return cmd.usageError("%v", err)
	}
	switch {
	case spec.Type == bpfbatch.UnspecifiedMap:
		return cmd.usageError("--type is required")
	case spec.ValueSize == 0 || spec.MaxEntries == 0:
		return cmd.usageError("--value-size and --max-entries are required")
	}
	c.removeMemlock()
	m, err := bpfbatch.CreateMap(spec)
	if err != nil {
		return err
	}
	defer m.Close()
	// A pin outside a bpf filesystem, or on an existing file, fails here,
	// and the library's error says which; the map is freed with m.
	if err := m.Pin(pin); err != nil {
		return err
	}
	info := m.Info()
	c.print(c.stdout, "created %s: key %d bytes, value %d bytes, max_entries %d, flags %s; pinned at %s\n",
		m, info.KeySize, info.ValueSize, info.MaxEntries, describeMapFlags(info.Flags), pin)
	return nil
}

// specFlags describe a map's shape: create's flags, which replace takes
// too for the inner map of an empty slot.
type specFlags struct {
	typ                            string
	keySize, valueSize, maxEntries uint
	name, mapFlags                 string
}

// register adds the flags; note is added to the usage of the shape's
// main flags: "required" for create, where the default comes from for
// replace.
func (f *specFlags) register(fs *flag.FlagSet, note string) {
	req := func(what string) string { return what + " (" + note + ")" }
	fs.StringVar(&f.typ, "type", "", req("map `TYPE`"))
	fs.UintVar(&f.keySize, "key-size", 0, req("key size in `bytes`")+"; not for queue, stack, bloom_filter")
	fs.UintVar(&f.valueSize, "value-size", 0, req("value size in `bytes`"))
	fs.UintVar(&f.maxEntries, "max-entries", 0, req("maximum number of elements"))
	fs.StringVar(&f.name, "name", "", "map name shown by bpftool and info, up to 15 letters, digits, '_' or '.'")
	fs.StringVar(&f.mapFlags, "map-flags", "", "map flags, comma-separated names or numbers: "+mapFlagNames())
}

// apply sets the fields of spec that the command line gives (fs tells
// which were given) and checks them. LPM tries get BPF_F_NO_PREALLOC,
// which the kernel requires of them.
func (f *specFlags) apply(fs *flag.FlagSet, spec *bpfbatch.MapSpec) error {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		switch fl.Name {
		case "type":
			spec.Type, err = parseMapType(f.typ)
			if err == nil && (spec.Type == bpfbatch.ArrayOfMaps || spec.Type == bpfbatch.HashOfMaps) {
				err = fmt.Errorf("--type %s needs an inner map fd, which bpfbatch cannot provide", f.typ)
			}
			if err != nil {
				err = fmt.Errorf("--type: %w", err)
			}
		case "key-size":
			spec.KeySize, err = sizeFlag(fl.Name, f.keySize, 1<<16)
		case "value-size":
			spec.ValueSize, err = sizeFlag(fl.Name, f.valueSize, 1<<30)
		case "max-entries":
			spec.MaxEntries, err = sizeFlag(fl.Name, f.maxEntries, 1<<32-1)
		case "name":
			spec.Name = f.name
		case "map-flags":
			spec.Flags, err = parseMapFlags(f.mapFlags)
			if err != nil {
				err = fmt.Errorf("--map-flags: %w", err)
			} else if spec.Flags&fdOnlyFlags != 0 {
				err = fmt.Errorf("--map-flags %s: BPF_F_RDONLY and BPF_F_WRONLY are fd flags: they limit the fd bpfbatch holds until it exits, not the map, "+
					"so the map would be an ordinary read-write map. For a map BPF programs may only read or only write, use rdonly-prog "+
					"or wronly-prog; to keep user space from writing it, freeze it (BPF_MAP_FREEZE) from its loader", f.mapFlags)
			}
		}
	})
	if spec.Type == bpfbatch.LPMTrie {
		spec.Flags |= unix.BPF_F_NO_PREALLOC // trie_alloc refuses LPM tries without it
	}
	return err
}

// sizeFlag checks a size flag's value against the kernel's bound.
func sizeFlag(name string, v uint, bound uint64) (uint32, error) {
	if uint64(v) > bound {
		return 0, fmt.Errorf("--%s %d is out of range (at most %d)", name, v, bound)
	}
	return uint32(v), nil
}

// parseMapType accepts the kernel's names (lpm_trie), the library's
// (LPMTrie), in any case, with or without '_' and '-'.
func parseMapType(s string) (bpfbatch.MapType, error) {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(strings.TrimPrefix(strings.ToUpper(s), "BPF_MAP_TYPE_")))
	}
	want := norm(s)
	if want == "progarray" {
		return bpfbatch.ProgramArray, nil // the kernel's BPF_MAP_TYPE_PROG_ARRAY
	}
	for t := bpfbatch.MapType(1); !strings.HasPrefix(t.String(), "MapType("); t++ {
		if norm(t.String()) == want {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown map type %q (try hash, array, percpu_hash, percpu_array, lru_hash, lru_percpu_hash, lpm_trie)", s)
}
