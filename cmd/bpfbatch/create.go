package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

func (c *cli) create(args []string) int {
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
	typ := cmd.fs.String("type", "", "map `TYPE` (required)")
	keySize := cmd.fs.Uint("key-size", 0, "key size in `bytes` (required except for queue, stack, bloom_filter)")
	valueSize := cmd.fs.Uint("value-size", 0, "value size in `bytes` (required)")
	maxEntries := cmd.fs.Uint("max-entries", 0, "maximum number of elements (required)")
	name := cmd.fs.String("name", "", "map name shown by bpftool and info, up to 15 letters, digits, '_' or '.'")
	flagList := cmd.fs.String("map-flags", "", "map flags, comma-separated names or numbers: "+mapFlagNames())
	pos, code, ok := c.parse(cmd, args, "PIN")
	if !ok {
		return code
	}
	pin := pos[0]
	if *typ == "" {
		return c.usageError(cmd, "--type is required")
	}
	t, err := parseMapType(*typ)
	if err != nil {
		return c.usageError(cmd, "--type: %v", err)
	}
	if t == bpfbatch.ArrayOfMaps || t == bpfbatch.HashOfMaps {
		return c.usageError(cmd, "--type %s needs an inner map fd, which create cannot provide", *typ)
	}
	flags, err := parseMapFlags(*flagList)
	if err != nil {
		return c.usageError(cmd, "--map-flags: %v", err)
	}
	if flags&fdOnlyFlags != 0 {
		return c.usageError(cmd, "--map-flags %s: BPF_F_RDONLY and BPF_F_WRONLY are fd flags: they limit the fd create holds until it exits, not the map, "+
			"so the pinned map would be an ordinary read-write map. For a map BPF programs may only read or only write, use rdonly-prog "+
			"or wronly-prog; to keep user space from writing it, freeze it (BPF_MAP_FREEZE) from its loader", *flagList)
	}
	if t == bpfbatch.LPMTrie {
		flags |= 1 // BPF_F_NO_PREALLOC: trie_alloc refuses LPM tries without it
	}
	if *valueSize == 0 || *maxEntries == 0 {
		return c.usageError(cmd, "--value-size and --max-entries are required")
	}
	if *keySize > 1<<16 || *valueSize > 1<<30 || *maxEntries > 1<<32-1 {
		return c.usageError(cmd, "--key-size, --value-size or --max-entries out of range")
	}
	if _, err := os.Lstat(pin); err == nil {
		return c.failf(exitFailed, "create %s: something is already pinned there; remove it first (rm %s)", pin, pin)
	}
	if err := checkBPFFS(pin); err != nil {
		return c.failf(exitFailed, "create %s: %v", pin, err)
	}
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{
		Type:       t,
		KeySize:    uint32(*keySize),
		ValueSize:  uint32(*valueSize),
		MaxEntries: uint32(*maxEntries),
		Flags:      flags,
		Name:       *name,
	})
	if err != nil {
		return c.failf(exitFailed, "%s", trimPrefix(err))
	}
	defer m.Close()
	if err := m.Pin(pin); err != nil {
		return c.failf(exitFailed, "create %s: %v", pin, err)
	}
	info := m.Info()
	fmt.Fprintf(c.stdout, "created %s: key %d bytes, value %d bytes, max_entries %d, flags %s; pinned at %s\n",
		m, info.KeySize, info.ValueSize, info.MaxEntries, describeMapFlags(info.Flags), pin)
	return exitOK
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

// checkBPFFS explains the usual pinning mistake before creating anything:
// the kernel answers a pin outside a bpf filesystem with a bare EPERM.
func checkBPFFS(pin string) error {
	dir := filepath.Dir(pin)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("pin directory %s: %w", dir, err)
	}
	if uint32(st.Type) != uint32(unix.BPF_FS_MAGIC) {
		return fmt.Errorf("%s is not on a bpf filesystem; mount one (mount -t bpf bpf /sys/fs/bpf) and pin there", dir)
	}
	return nil
}
