package input

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"testing"
)

// A key repeated in the input is one entry: its last line's value, at the
// last line's place, so that the order of writes cannot matter.
func TestDedupeKeepsLastOccurrence(t *testing.T) {
	in := "1 10\n2 20\n1 11\n3 30\n2 21\n1 12\n"
	b := mustRead(t, in, Options{Layout: hash4x8, Key: U32, Value: U64})
	if dropped := b.Dedupe(hash4x8); dropped != 3 {
		t.Errorf("dropped %d entries, want 3", dropped)
	}
	wantBatch(t, b, cat(ne32(3), ne32(2), ne32(1)), cat(ne64(30), ne64(21), ne64(12)), []int{4, 5, 6})
	if dropped := b.Dedupe(hash4x8); dropped != 0 || b.Len() != 3 {
		t.Errorf("second Dedupe dropped %d, left %d", dropped, b.Len())
	}
}

// Per-CPU values move whole, every CPU's slot with its key.
func TestDedupePerCPU(t *testing.T) {
	opts := Options{Layout: percpu4, Key: U32, Value: U32}
	b := mustRead(t, "1 10 11\n2 20 21\n1 12 13\n", opts)
	if dropped := b.Dedupe(opts.Layout); dropped != 1 {
		t.Fatalf("dropped %d, want 1", dropped)
	}
	slot := func(v uint32) []byte { return cat(ne32(v), make([]byte, 4)) }
	if want := cat(slot(20), slot(21), slot(12), slot(13)); !bytes.Equal(b.Values, want) {
		t.Errorf("values = %x, want %x", b.Values, want)
	}
}

// LPM trie keys that differ only beyond the prefix length are one prefix to
// the trie, so they are duplicates; the last line's key bytes are kept.
func TestDedupeLPMMasksHostBits(t *testing.T) {
	l := Layout{KeySize: 8, ValueSize: 4, LPM: true}
	line := func(key []byte, value string) string { return hex.EncodeToString(key) + " " + value + "\n" }
	in := line(lpm(8, "0a000000"), "01000000") + line(lpm(16, "0a010000"), "02000000") + line(lpm(8, "0aff0000"), "03000000")
	b := mustRead(t, in, Options{Layout: l})
	if dropped := b.Dedupe(l); dropped != 1 {
		t.Fatalf("dropped %d, want 1", dropped)
	}
	if want := cat(lpm(16, "0a010000"), lpm(8, "0aff0000")); !bytes.Equal(b.Keys, want) {
		t.Errorf("keys = %x, want %x", b.Keys, want)
	}
	// Without LPM the same bytes are different keys.
	b = mustRead(t, in, Options{Layout: Layout{KeySize: 8, ValueSize: 4}})
	if dropped := b.Dedupe(Layout{KeySize: 8, ValueSize: 4}); dropped != 0 {
		t.Errorf("hash keys: dropped %d, want 0", dropped)
	}
}

// Maps without keys (queue, stack, bloom filter) have nothing to dedupe:
// every value is an entry of its own.
func TestDedupeKeyless(t *testing.T) {
	l := Layout{ValueSize: 4}
	b := mustRead(t, "1\n1\n2\n", Options{Layout: l, Value: U32})
	if dropped := b.Dedupe(l); dropped != 0 || b.Len() != 3 {
		t.Errorf("keyless: dropped %d, left %d", dropped, b.Len())
	}
}

// BenchmarkDedupe finds the repeated keys among a million 8-byte keys (one
// in 16 repeated), with Dedupe's table of entry indices and, for
// comparison, with a Go map of strings (bench/README.md).
func BenchmarkDedupe(b *testing.B) {
	const n = 1 << 20
	keys := make([]byte, 0, 8*n)
	for i := range n {
		keys = binary.NativeEndian.AppendUint64(keys, uint64(i%(n-n/16))*0x9e3779b97f4a7c15)
	}
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			earlier[uint32](keys, 8, n)
		}
	})
	b.Run("gomap", func(b *testing.B) {
		for b.Loop() {
			earlierGoMap(keys, 8, n)
		}
	})
}

// earlierGoMap is earlier with a Go map: the reference of the tests.
func earlierGoMap(keys []byte, ks, n int) (drop []bool, dropped int) {
	last := make(map[string]int, n)
	drop = make([]bool, n)
	for i := range n {
		k := string(keys[i*ks : (i+1)*ks])
		if j, ok := last[k]; ok {
			drop[j] = true
			dropped++
		}
		last[k] = i
	}
	return drop, dropped
}

// earlier marks what a Go map marks: short keys and long, few repeats and
// many, with either index type.
func TestEarlierMatchesAGoMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 3, 100, 4096, 3*4096 + 17, 100_000} {
		for _, ks := range []int{1, 4, 8, 13} {
			for _, distinct := range []int{1, n/2 + 1, n} {
				keys := make([]byte, 0, n*ks)
				for range n {
					v := rng.IntN(distinct)
					k := binary.LittleEndian.AppendUint64(make([]byte, 0, 16), uint64(v)*0x9e3779b97f4a7c15)
					k = append(k, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), 7)
					keys = append(keys, k[:ks]...)
				}
				wantDrop, wantN := earlierGoMap(keys, ks, n)
				for name, got := range map[string]func() ([]bool, int){
					"uint32": func() ([]bool, int) { return earlier[uint32](keys, ks, n) },
					"uint64": func() ([]bool, int) { return earlier[uint64](keys, ks, n) },
				} {
					drop, dropped := got()
					if dropped != wantN || !slices.Equal(drop, wantDrop) {
						t.Fatalf("n %d, key size %d, %d distinct, %s: dropped %d, want %d (marks equal: %v)", n, ks, distinct, name, dropped, wantN, slices.Equal(drop, wantDrop))
					}
				}
			}
		}
	}
}
