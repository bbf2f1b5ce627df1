package keyset

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

func TestFindsEveryKeyAndNoOther(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000, 100000} {
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		keys := make([]byte, 0, 8*n)
		seen := map[uint64]bool{}
		for len(keys) < 8*n {
			k := rng.Uint64()
			if !seen[k] {
				seen[k] = true
				keys = binary.NativeEndian.AppendUint64(keys, k)
			}
		}
		s, dup, first := New(keys, 8)
		if dup != -1 || first != -1 || s.Len() != n {
			t.Fatalf("n=%d: dup %d, first %d, Len %d", n, dup, first, s.Len())
		}
		for i := range n {
			if got := s.Find(keys[8*i : 8*i+8]); got != i {
				t.Fatalf("n=%d: Find(key %d) = %d", n, i, got)
			}
		}
		for range 1000 {
			k := rng.Uint64()
			if !seen[k] {
				if got := s.Find(binary.NativeEndian.AppendUint64(nil, k)); got != -1 {
					t.Fatalf("n=%d: Find(absent) = %d", n, got)
				}
			}
		}
	}
}

func TestReportsTheFirstDuplicate(t *testing.T) {
	keys := []byte{1, 2, 3, 4, 5, 2, 6, 4}
	_, dup, first := New(keys, 1)
	if dup != 5 || first != 1 {
		t.Fatalf("dup %d, first %d; want 5, 1", dup, first)
	}
}

func TestAllocatesOnlyInNew(t *testing.T) {
	keys := make([]byte, 4*1000)
	for i := range 1000 {
		binary.NativeEndian.PutUint32(keys[4*i:], uint32(i))
	}
	s, _, _ := New(keys, 4)
	if a := testing.AllocsPerRun(100, func() { s.Find(keys[40:44]) }); a != 0 {
		t.Fatalf("Find allocates %v times", a)
	}
}

func TestLongAndShortKeys(t *testing.T) {
	for _, size := range []int{1, 3, 8, 9, 20} {
		n := 3000
		if size == 1 {
			n = 256
		}
		keys := make([]byte, n*size)
		for i := range n {
			k := keys[i*size : (i+1)*size]
			for b := range k {
				k[b] = byte(i >> (8 * (b % 4)))
			}
			if size > 8 {
				k[size-1] = byte(i) ^ 0x5a // keys differ in their last byte too
			}
		}
		s, dup, _ := New(keys, size)
		if dup >= 0 {
			t.Fatalf("size %d: dup %d among distinct keys", size, dup)
		}
		for i := range n {
			if got := s.Find(keys[i*size : (i+1)*size]); got != i {
				t.Fatalf("size %d: Find(%d) = %d", size, i, got)
			}
		}
		absent := bytes.Repeat([]byte{0xff}, size)
		absent[0] = 0xfe
		if got := s.Find(absent); got != -1 && size > 1 {
			t.Fatalf("size %d: Find(absent) = %d", size, got)
		}
		// Reset reuses the table for a smaller key set.
		if dup, first := s.Reset(keys[:10*size], size); dup != -1 || first != -1 || s.Find(keys[11*size:12*size]) != -1 || s.Find(keys[9*size:10*size]) != 9 {
			t.Fatalf("size %d: Reset did not index exactly the new keys", size)
		}
	}
}

func TestPartitionsSpreadKeys(t *testing.T) {
	p := NewPartitions(1 << 20)
	if p.Count() != 256 {
		t.Fatalf("%d parts for 1M keys, want 256", p.Count())
	}
	counts := make([]int, p.Count())
	var k [4]byte
	for i := range 1 << 20 {
		binary.NativeEndian.PutUint32(k[:], uint32(i))
		counts[p.Of(k[:])]++
	}
	for part, c := range counts {
		if c < PartSize/2 || c > 2*PartSize {
			t.Fatalf("part %d holds %d keys, want about %d", part, c, PartSize)
		}
	}
	if one := NewPartitions(10); one.Count() != 1 || one.Of([]byte{1}) != 0 {
		t.Fatal("a small input is one part")
	}
}

// BenchmarkHash: the slot hash of a key of up to 8 bytes, the Set's
// seeded mix64 against maphash.Comparable, which it replaced.
func BenchmarkHash(b *testing.B) {
	seed := maphash.MakeSeed()
	mix := maphash.Comparable(seed, uint64(0))
	var sink uint64
	b.Run("mix64", func(b *testing.B) {
		for i := range uint64(b.N) {
			sink += mix64(i ^ mix)
		}
	})
	b.Run("maphash", func(b *testing.B) {
		for i := range uint64(b.N) {
			sink += maphash.Comparable(seed, i)
		}
	})
	_ = sink
}

// Structured keys (sequential, strided, differing only in high bits)
// spread over the table as random ones do: no run of occupied slots
// grows past what a table half full of random keys shows.
func TestStructuredKeysDoNotCluster(t *testing.T) {
	const n = 1 << 16
	for name, key := range map[string]func(i uint64) uint64{
		"sequential":  func(i uint64) uint64 { return i },
		"stride 4096": func(i uint64) uint64 { return i * 4096 },
		"high bits":   func(i uint64) uint64 { return i << 48 },
		"low 32 zero": func(i uint64) uint64 { return i << 32 },
	} {
		keys := make([]byte, 0, 8*n)
		for i := range uint64(n) {
			keys = binary.LittleEndian.AppendUint64(keys, key(i))
		}
		s, dup, _ := New(keys, 8)
		if dup >= 0 {
			t.Fatalf("%s: duplicate %d", name, dup)
		}
		longest, run := 0, 0
		for _, sl := range append(s.slots, s.slots...) { // runs wrap around
			if sl.idx == 0 {
				run = 0
				continue
			}
			run++
			longest = max(longest, run)
		}
		if longest > 64 {
			t.Errorf("%s: a run of %d occupied slots (random keys: about 30)", name, longest)
		}
	}
}

// A Set reset for parts of alternating sizes keeps its biggest table:
// Sync's join resets one Set per part, and parts of about PartSize keys
// straddle a power of two.
func TestResetReusesTheBiggestTable(t *testing.T) {
	small, big := make([]byte, 4*4000), make([]byte, 4*4200)
	for i := range 4200 {
		binary.LittleEndian.PutUint32(big[4*i:], uint32(i))
	}
	copy(small, big)
	s, _, _ := New(big, 4)
	allocs := testing.AllocsPerRun(20, func() {
		s.Reset(small, 4)
		s.Reset(big, 4)
	})
	if allocs != 0 {
		t.Errorf("Reset allocated %.0f times per small and big part, want 0", allocs)
	}
	if s.Find(big[4*4100:4*4101]) != 4100 {
		t.Error("the last key of the big part is not found after the resets")
	}
}
