package bpfbatch

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// DeleteBatch has UpdateBatch's contract: keys [0, n) are gone, key n
// failed (a missing key: ErrKeyNotExist), nothing after it was deleted; on
// the batch command and on the per-element path.
func TestDeleteBatchStopsAtTheFirstMissingKey(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 64},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 256},
		{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 64, Flags: noPrealloc},
	} {
		for _, path := range pathsOf(spec.Type) {
			t.Run(specName(spec)+"/"+path.String(), func(t *testing.T) {
				m := createMap(t, spec)
				keys := testKeys(m, 10, rand.New(rand.NewPCG(1, 2)))
				if _, err := m.UpdateBatch(keys, make([]byte, 10*m.ValueStride()), UpdateAny); err != nil {
					t.Fatal(err)
				}
				wantPath := PerElementPath
				if hasBatchOps(spec.Type) {
					wantPath = BatchPath
				}
				if got, errno := m.probeBatch(m.fd, &m.deletePath, sys.MapDeleteBatch); errno != 0 || got != wantPath {
					t.Fatalf("kernel %s: delete path %v (%v), want %v", testutil.KernelRelease(), got, errno, wantPath)
				}
				m.deletePath.Store(uint32(path))
				ks := int(spec.KeySize)
				if n, err := m.DeleteBatch(keys[:3*ks], UpdateAny); n != 3 || err != nil {
					t.Fatalf("DeleteBatch = %d, %v", n, err)
				}
				checkMissing(t, m, keys[:3*ks])
				// keys 3, 4, then 1 (gone), then 5: stops at the third.
				again := append(append(bytes.Clone(keys[3*ks:5*ks]), keys[ks:2*ks]...), keys[5*ks:6*ks]...)
				n, err := m.DeleteBatch(again, UpdateAny)
				wantBatchError(t, n, err, unix.ENOENT, ErrKeyNotExist, 2, 2, "element 2", "2 of 4 elements deleted")
				checkMissing(t, m, keys[:5*ks])
				checkWritten(t, m, keys[5*ks:], make([]byte, 5*m.ValueStride()), nil)
				if c, err := m.Count(); c != 5 || err != nil {
					t.Fatalf("Count = %d, %v; want 5", c, err)
				}
			})
		}
	}
}
