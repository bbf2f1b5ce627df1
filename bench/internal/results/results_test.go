package results

import "testing"

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   Key
		procs int
		ok    bool
	}{
		{"Update/map=hash-u64/n=64/impl=floor-2", Key{Map: "hash-u64", N: 64, Impl: "floor"}, 2, true},
		{"CallOverhead/map=array-u64/n=1/impl=with-w2", Key{Map: "array-u64", N: 1, Impl: "with-w2"}, 1, true},
		{"Interleaved/map=hash-u64/n=64-2", Key{Map: "hash-u64", N: 64}, 2, true},
		{"Lookup/map=lpm-trie/n=1048576/chunk=4096/impl=cilium-bytes-2", Key{Bench: Lookup, Map: "lpm-trie", N: 1048576, Chunk: 4096, Impl: "cilium-bytes"}, 2, true},
		{"Lookup/map=hash-u64/n=65536/chunk=1/impl=cilium-iterate-2", Key{Bench: Lookup, Map: "hash-u64", N: 65536, Chunk: 1, Impl: "cilium-iterate"}, 2, true},
		{"LookupInterleaved/map=hash-u64/n=1048576/chunk=65536-2", Key{Bench: Lookup, Map: "hash-u64", N: 1048576, Chunk: 65536}, 2, true},
		{"LookupCallOverhead/map=array-u64/n=4096-2", Key{Bench: LookupCall, Map: "array-u64", N: 4096}, 2, true},
		{"Sync/map=percpu-hash-u64/n=1048576/impl=reload-w2-2", Key{Bench: Sync, Map: "percpu-hash-u64", N: 1048576, Impl: "reload-w2"}, 2, true},
		// Not results: parents of sub-benchmarks, a Lookup without chunk,
		// an interleaved name with an impl.
		{"Lookup/map=hash-u64/n=65536", Key{}, 0, false},
		{"Lookup/map=hash-u64/n=65536/x=1/impl=floor", Key{}, 0, false},
		{"Interleaved/map=hash-u64/impl=floor", Key{}, 0, false},
	} {
		k, procs, ok := parseName(tc.name)
		if ok != tc.ok || ok && (k != tc.key || procs != tc.procs) {
			t.Errorf("parseName(%q) = %+v, %d, %v; want %+v, %d, %v", tc.name, k, procs, ok, tc.key, tc.procs, tc.ok)
		}
	}
}
