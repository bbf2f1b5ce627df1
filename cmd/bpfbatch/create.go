package main

import (
	"flag"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

const createAbout = `Creates a map and pins it at PATH, which must be on a bpf filesystem
(mount one with: mount -t bpf bpf /sys/fs/bpf). Meant for tests and demos;
real maps usually come from the BPF program's loader.

TYPE is a kernel map type without the BPF_MAP_TYPE_ prefix, in either case,
with or without '_' (hash, array, percpu_hash, percpu_array, lru_hash,
lru_percpu_hash, lpm_trie, hash_of_maps, array_of_maps, ...). lpm_trie gets
no-prealloc, which the kernel requires for it.

Map-in-map types (hash_of_maps, array_of_maps) hold inner maps, all of one
shape, which the kernel learns from an inner map given at creation (it
keeps no reference to it): --inner-map MAP names an existing map of that
shape (PATH, pinned PATH, id ID or name NAME, quoted as one argument), or
--inner-type, --inner-key-size, --inner-value-size and --inner-max-entries
(and --inner-map-flags) describe one, which bpfbatch makes for the moment.
Their --value-size is 4 (a map fd, or ID when read), the default; the keys
of array_of_maps are u32 indices. 'bpfbatch replace' then fills the slots.

Examples:
  bpfbatch create /sys/fs/bpf/blocklist --type lpm_trie --key-size 8 --value-size 4 --max-entries 1000000
  bpfbatch create /sys/fs/bpf/policies --type array_of_maps --key-size 4 --max-entries 8 \
      --inner-type hash --inner-key-size 4 --inner-value-size 8 --inner-max-entries 1024
`

func (c *cli) create(args []string) error {
	cmd := newCommand("create", "create [flags] PATH --type TYPE --key-size N --value-size N --max-entries N", createAbout)
	var shape specFlags
	shape.register(cmd.fs, "required")
	var inner innerFlags
	inner.register(cmd.fs)
	pos, err := c.parse(cmd, args, "PATH")
	if err != nil {
		return err
	}
	pin := pos[0]
	var spec bpfbatch.MapSpec
	if err := shape.apply(cmd.fs, &spec); err != nil {
		return cmd.usageError("%v", err)
	}
	mapInMap := spec.Type == bpfbatch.ArrayOfMaps || spec.Type == bpfbatch.HashOfMaps
	if mapInMap && spec.ValueSize == 0 {
		spec.ValueSize = 4 // an inner map's fd
	}
	switch {
	case spec.Type == bpfbatch.UnspecifiedMap:
		return cmd.usageError("--type is required")
	case spec.ValueSize == 0 || spec.MaxEntries == 0:
		return cmd.usageError("--value-size and --max-entries are required")
	}
	if err := inner.check(cmd, mapInMap); err != nil {
		return err
	}
	c.removeMemlock()
	var innerDesc string
	if mapInMap {
		tmpl, err := inner.template(cmd)
		if err != nil {
			return err
		}
		defer tmpl.Close()
		spec.InnerMapFD = tmpl.FD()
		ti := tmpl.Info()
		innerDesc = fmt.Sprintf("; inner maps: %s, key %d bytes, value %d bytes, max_entries %d, flags %s", ti.Type, ti.KeySize, ti.ValueSize, ti.MaxEntries, describeMapFlags(ti.Flags))
	}
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
	c.print(c.stdout, "created %s: key %d bytes, value %d bytes, max_entries %d, flags %s%s; pinned at %s\n",
		m, info.KeySize, info.ValueSize, info.MaxEntries, describeMapFlags(info.Flags), innerDesc, pin)
	return nil
}

// innerFlags give the inner maps' shape of a map-in-map: an existing map
// (--inner-map), or a spec.
type innerFlags struct {
	ref                            string
	typ                            string
	keySize, valueSize, maxEntries uint
	mapFlags                       string
	given                          bool // a spec flag was given
}

func (f *innerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.ref, "inner-map", "", "map-in-map: an existing `MAP` of the inner maps' shape (PATH, or 'id ID' or 'name NAME'\nas one argument)")
	fs.StringVar(&f.typ, "inner-type", "", "map-in-map: the inner maps' `TYPE`, instead of --inner-map")
	fs.UintVar(&f.keySize, "inner-key-size", 0, "map-in-map: the inner maps' key size in `bytes`")
	fs.UintVar(&f.valueSize, "inner-value-size", 0, "map-in-map: the inner maps' value size in `bytes`")
	fs.UintVar(&f.maxEntries, "inner-max-entries", 0, "map-in-map: the inner maps' max_entries (a hash inner map may differ from it)")
	fs.StringVar(&f.mapFlags, "inner-map-flags", "", "map-in-map: the inner maps' map flags, as --map-flags")
}

// check refuses inner flags without a map-in-map type, and a map-in-map
// without them (or with both kinds).
func (f *innerFlags) check(cmd *command, mapInMap bool) error {
	cmd.fs.Visit(func(fl *flag.Flag) {
		if strings.HasPrefix(fl.Name, "inner-") && fl.Name != "inner-map" {
			f.given = true
		}
	})
	switch {
	case !mapInMap && (f.given || f.ref != ""):
		return cmd.usageError("--inner-map and --inner-* describe the inner maps of a map-in-map: --type hash_of_maps or array_of_maps")
	case !mapInMap:
		return nil
	case f.ref != "" && f.given:
		return cmd.usageError("give the inner maps' shape with --inner-map MAP or with --inner-type and its sizes, not both")
	case f.ref == "" && !f.given:
		return cmd.usageError("a map-in-map needs the shape of its inner maps: --inner-map MAP or --inner-type TYPE --inner-key-size N --inner-value-size N --inner-max-entries N")
	case f.given && (f.typ == "" || f.valueSize == 0 || f.maxEntries == 0):
		return cmd.usageError("--inner-type, --inner-value-size and --inner-max-entries are required (and --inner-key-size for maps with keys)")
	}
	return nil
}

// template opens the map given by --inner-map, or creates one of the
// --inner-* shape; the caller closes it once the outer map is made.
func (f *innerFlags) template(cmd *command) (*bpfbatch.Map, error) {
	if f.ref != "" {
		ref, rest, err := parseMapRef(strings.Fields(f.ref))
		if err == nil && len(rest) > 0 {
			err = fmt.Errorf("unexpected %q after the MAP", strings.Join(rest, " "))
		}
		if err != nil {
			return nil, cmd.usageError("--inner-map: %v", err)
		}
		return ref.open(readOnly)
	}
	spec := bpfbatch.MapSpec{KeySize: uint32(f.keySize), ValueSize: uint32(f.valueSize), MaxEntries: uint32(f.maxEntries)}
	var err error
	if spec.Type, err = parseMapType(f.typ); err != nil {
		return nil, cmd.usageError("--inner-type: %v", err)
	}
	if f.mapFlags != "" {
		if spec.Flags, err = parseMapFlags(f.mapFlags); err != nil {
			return nil, cmd.usageError("--inner-map-flags: %v", err)
		}
	}
	if spec.Type == bpfbatch.LPMTrie {
		spec.Flags |= unix.BPF_F_NO_PREALLOC
	}
	m, err := bpfbatch.CreateMap(spec)
	if err != nil {
		return nil, failed(err, "create: the inner map template could not be made")
	}
	return m, nil
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
