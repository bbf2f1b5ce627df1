package bpfbatch

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// ReplaceInner swaps a map-in-map slot to a new, filled inner map in one
// update; on failure the slot keeps the old one.
func TestReplaceInner(t *testing.T) {
	innerSpec := MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16}
	old := createMap(t, innerSpec)
	if _, err := old.UpdateBatch(u32s(1), u64s(1), UpdateAny); err != nil {
		t.Fatal(err)
	}
	outer := createMap(t, MapSpec{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 2, InnerMapFD: old.FD()})
	slot := u32s(0)
	if _, err := outer.UpdateBatch(slot, u32s(uint32(old.FD())), UpdateAny); err != nil {
		t.Fatal(err)
	}
	slotID := func() uint32 {
		v, err := testutil.Lookup(outer.FD(), slot, 4)
		if err != nil {
			t.Fatal(err)
		}
		return binary.NativeEndian.Uint32(v)
	}

	inner, err := ReplaceInner(outer, slot, innerSpec, u32s(2, 3), u64s(20, 30))
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if got := slotID(); got != inner.Info().ID {
		t.Fatalf("slot holds map %d, want the new inner map %d", got, inner.Info().ID)
	}
	checkWritten(t, inner, u32s(2, 3), u64s(20, 30), nil)
	checkWritten(t, old, u32s(1), u64s(1), nil) // the old map is untouched

	for _, tc := range []struct {
		name string
		spec MapSpec
		keys []byte
		want error
	}{
		{"incompatible inner map", MapSpec{Type: Hash, KeySize: 4, ValueSize: 16, MaxEntries: 16}, nil, unix.EINVAL},
		{"the new map cannot hold the input", MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1}, u32s(1, 2), ErrMapFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values := make([]byte, len(tc.keys)/4*int(tc.spec.ValueSize))
			m, err := ReplaceInner(outer, slot, tc.spec, tc.keys, values)
			if err == nil {
				m.Close()
				t.Fatal("ReplaceInner succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("= %v, want %v", err, tc.want)
			}
			if got := slotID(); got != inner.Info().ID {
				t.Fatalf("after a failed ReplaceInner the slot holds %d, want %d", got, inner.Info().ID)
			}
		})
	}
	if _, err := ReplaceInner(old, slot, innerSpec, nil, nil); !errors.Is(err, ErrNotSupported) {
		t.Fatalf("ReplaceInner on a hash = %v", err)
	}
}
