package keyset

import (
	"encoding/binary"
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
