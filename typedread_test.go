package bpfbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// walkTyped reads the whole map with LookupBatchOf in buffers of per keys
// (and perKey values each), failing on a repeated key.
func walkTyped[K comparable, V any](t *testing.T, m *Map, per, perKey int, flags Flags) (keys []K, values []V) {
	t.Helper()
	kb, vb := make([]K, per), make([]V, per*perKey)
	var c Cursor
	seen := map[K]bool{}
	for {
		n, err := LookupBatchOf(m, &c, kb, vb, flags)
		if err != nil {
			t.Fatalf("LookupBatchOf after %d elements: %v", len(keys), err)
		}
		if n == 0 {
			return keys, values
		}
		for i := range n {
			if seen[kb[i]] {
				t.Fatalf("key %v returned twice", kb[i])
			}
			seen[kb[i]] = true
		}
		keys = append(keys, kb[:n]...)
		values = append(values, vb[:n*perKey]...)
	}
}

// LookupBatchOf reads what the kernel holds, as a raw lookup reads it, into
// plain, struct, padded and per-CPU types, whatever the buffer size.
func TestLookupBatchOfReadsEveryElement(t *testing.T) {
	t.Run("u32 to u64", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1000})
		keys, values := make([]uint32, 700), make([]uint64, 700)
		for i := range keys {
			keys[i], values[i] = uint32(i*7919+1), uint64(i)<<40|uint64(i)
		}
		if _, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil {
			t.Fatal(err)
		}
		for _, per := range []int{1, 7, 4096} {
			gotK, gotV := walkTyped[uint32, uint64](t, m, per, 1, UpdateAny)
			checkWalk(t, m, asBytes(keys), bytesEach(gotK), bytesEach(gotV))
		}
	})
	t.Run("padded struct key and value", func(t *testing.T) {
		type key struct {
			Proto uint8
			Port  uint16 // 1 byte of padding before
		}
		type value struct {
			Hits uint32
			Flag uint8 // 3 bytes of padding after, on every architecture
		}
		m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 100})
		keys := []key{{6, 80}, {17, 53}, {6, 443}}
		values := []value{{1, 1}, {2, 0}, {3, 1}}
		if _, err := UpdateBatchOf(m, keys, values, UpdateAny); err != nil {
			t.Fatal(err)
		}
		// Another tool wrote garbage into the value's padding bytes.
		raw := binary.NativeEndian.AppendUint32(nil, 9)
		raw = append(raw, 1, 0xee, 0xee, 0xee)
		rawKey := append([]byte{6, 0}, binary.NativeEndian.AppendUint16(nil, 790)...)
		if err := testutil.Update(m.FD(), rawKey, raw, 0); err != nil {
			t.Fatal(err)
		}
		gotK, gotV := walkTyped[key, value](t, m, 2, 1, UpdateAny)
		if len(gotK) != 4 {
			t.Fatalf("read %d elements, want 4", len(gotK))
		}
		for i, k := range gotK {
			if pad := asBytes(gotV[i : i+1])[5:]; !allZero(pad) {
				t.Fatalf("key %v: value padding read back as %x, want zeros", k, pad)
			}
			if k == (key{6, 790}) && gotV[i] != (value{9, 1}) {
				t.Fatalf("key %v = %v, want {9 1}", k, gotV[i])
			}
		}
	})
	for _, vs := range []uint32{8, 12, 4} {
		t.Run("per-CPU value_size "+strconv.Itoa(int(vs)), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: vs, MaxEntries: 500})
			cpus := m.ValueStride() / slotSize(vs)
			rng := rand.New(rand.NewPCG(1, uint64(vs)))
			keys := testKeys(m, 300, rng)
			values := testValues(t, m, 300, rng, false, nil)
			if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
				t.Fatal(err)
			}
			// V of value_size bytes: one per CPU, no padding.
			type v4 [4]byte
			type v12 [12]byte
			var gotK []uint32
			var gotV []byte
			switch vs {
			case 8:
				k, v := walkTyped[uint32, uint64](t, m, 7, cpus, UpdateAny)
				gotK, gotV = k, asBytes(v)
			case 12:
				k, v := walkTyped[uint32, v12](t, m, 7, cpus, UpdateAny)
				gotK, gotV = k, asBytes(v)
			case 4:
				k, v := walkTyped[uint32, v4](t, m, 7, cpus, UpdateAny)
				gotK, gotV = k, asBytes(v)
			}
			if len(gotK) != 300 {
				t.Fatalf("read %d elements, want 300", len(gotK))
			}
			for i, k := range gotK {
				raw := perCPUSlots(t, m, binary.NativeEndian.AppendUint32(nil, k))
				for c := range cpus {
					got := gotV[(i*cpus+c)*int(vs) : (i*cpus+c+1)*int(vs)]
					if !bytes.Equal(got, raw[c][:vs]) {
						t.Fatalf("key %d CPU %d: read %x, raw lookup %x", k, c, got, raw[c][:vs])
					}
				}
			}
		})
	}
}

// bytesEach views each element of s as its bytes.
func bytesEach[T any](s []T) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = asBytes(s[i : i+1])
	}
	return out
}

// LookupAndDeleteBatchOf drains, DeleteBatchOf deletes typed keys (padding
// zeroed), SyncOf syncs typed input: each read back independently.
func TestTypedDrainDeleteAndSync(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 100})
	if _, err := UpdateBatchOf(m, []uint32{1, 2, 3, 4}, []uint64{10, 20, 30, 40}, UpdateAny); err != nil {
		t.Fatal(err)
	}
	if n, err := DeleteBatchOf(m, []uint32{2, 4}, UpdateAny); n != 2 || err != nil {
		t.Fatalf("DeleteBatchOf = %d, %v", n, err)
	}
	checkMissing(t, m, u32s(2, 4))
	stats, err := SyncOf(context.Background(), m, []uint32{1, 5}, []uint64{11, 50}, SyncOptions{})
	if err != nil || stats != (SyncStats{Added: 1, Changed: 1, Deleted: 1}) {
		t.Fatalf("SyncOf = %v, %v", stats, err)
	}
	checkWritten(t, m, u32s(1, 5), u64s(11, 50), nil)
	checkMissing(t, m, u32s(3))
	var c Cursor
	keys, values := make([]uint32, 1), make([]uint64, 1)
	got := map[uint32]uint64{}
	for {
		n, err := LookupAndDeleteBatchOf(m, &c, keys, values, UpdateAny)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got[keys[0]] = values[0]
	}
	if len(got) != 2 || got[1] != 11 || got[5] != 50 {
		t.Fatalf("drained %v", got)
	}
	if n, _ := m.Count(); n != 0 {
		t.Fatalf("%d elements after draining", n)
	}
}

// The typed reads check types as the typed write does, before any syscall.
func TestTypedReadsRefuseBadTypes(t *testing.T) {
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 8), &fakeKernel{})
	var c Cursor
	if _, err := LookupBatchOf(m, &c, make([]uint64, 1), make([]uint64, 1), UpdateAny); !isSizeError("keys")(err) {
		t.Fatalf("LookupBatchOf with 8-byte keys of a 4-byte map = %v", err)
	}
	if _, err := LookupBatchOf(m, &c, make([]uint32, 1), make([]*int, 1), UpdateAny); !errors.Is(err, ErrInvalidType) {
		t.Fatalf("LookupBatchOf into pointers = %v", err)
	}
	if _, err := DeleteBatchOf(m, make([]uint16, 1), UpdateAny); !isSizeError("keys")(err) {
		t.Fatalf("DeleteBatchOf with 2-byte keys = %v", err)
	}
	if _, err := SyncOf(context.Background(), m, []uint32{1}, []uint32{1}, SyncOptions{}); !isSizeError("values")(err) {
		t.Fatalf("SyncOf with 4-byte values of an 8-byte map = %v", err)
	}
}
