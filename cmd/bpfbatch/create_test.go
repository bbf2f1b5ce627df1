package main

import (
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
)

func TestParseMapType(t *testing.T) {
	tests := map[string]bpfbatch.MapType{
		"hash":                         bpfbatch.Hash,
		"Hash":                         bpfbatch.Hash,
		"lpm_trie":                     bpfbatch.LPMTrie,
		"LPMTrie":                      bpfbatch.LPMTrie,
		"lpm-trie":                     bpfbatch.LPMTrie,
		"BPF_MAP_TYPE_PERCPU_HASH":     bpfbatch.PerCPUHash,
		"lru_percpu_hash":              bpfbatch.LRUPerCPUHash,
		"percpu_array":                 bpfbatch.PerCPUArray,
		"prog_array":                   bpfbatch.ProgramArray,
		"bloom_filter":                 bpfbatch.BloomFilter,
		"devmap_hash":                  bpfbatch.DevMapHash,
		"BPF_MAP_TYPE_ARRAY_OF_MAPS":   bpfbatch.ArrayOfMaps,
		"bpf_map_type_lru_percpu_hash": bpfbatch.LRUPerCPUHash,
	}
	for in, want := range tests {
		if got, err := parseMapType(in); err != nil || got != want {
			t.Errorf("parseMapType(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "hashh", "unspecifiedmap2", "MapType(99)"} {
		if got, err := parseMapType(in); err == nil {
			t.Errorf("parseMapType(%q) = %v, want an error", in, got)
		}
	}
}

// BPF_F_RDONLY and BPF_F_WRONLY restrict the creating fd, not the map: a
// map "created read-only" would be an ordinary map behind a read-only fd
// that is closed at once. create refuses them and says so; the _PROG
// variants are real map flags.
func TestCreateRefusesFdOnlyFlags(t *testing.T) {
	for _, f := range []string{"rdonly", "wronly", "BPF_F_RDONLY", "0x8", "no-prealloc,0x10"} {
		code, _, stderr := runCLI("create", "/nonexistent/pin", "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "1", "--map-flags", f)
		if code != exitUsage || !strings.Contains(stderr, "fd flag") || !strings.Contains(stderr, "rdonly-prog") {
			t.Errorf("create --map-flags %s: exit %d, stderr %q; want exit 2 explaining fd flags", f, code, stderr)
		}
	}
	if got, err := parseMapFlags("rdonly-prog,wronly-prog"); err != nil || got != 1<<7|1<<8 {
		t.Errorf("parseMapFlags(rdonly-prog,wronly-prog) = %#x, %v", got, err)
	}
}
