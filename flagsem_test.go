package bpfbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	return b
}

func u64s(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.NativeEndian.AppendUint64(b, v)
	}
	return b
}

func lookupU64(t testing.TB, m *Map, key uint32) (uint64, error) {
	t.Helper()
	v, err := testutil.Lookup(m.FD(), u32s(key), 8)
	if err != nil {
		return 0, err
	}
	return binary.NativeEndian.Uint64(v), nil
}

// The kernel's batch command refuses BPF_NOEXIST; UpdateBatch keeps its
// meaning per element and stops at the first existing key.
func TestUpdateNoExistStopsAtExistingKey(t *testing.T) {
	for _, typ := range []MapType{Hash, LRUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 64})
			if err := testutil.Update(m.FD(), u32s(3), u64s(300), 0); err != nil {
				t.Fatal(err)
			}
			keys := u32s(1, 2, 3, 4, 5)
			n, err := m.UpdateBatch(keys, u64s(10, 20, 30, 40, 50), UpdateNoExist)
			var be *BatchError
			if n != 2 || !errors.Is(err, ErrKeyExist) || !errors.Is(err, unix.EEXIST) || !errors.As(err, &be) {
				t.Fatalf("UpdateBatch(NoExist) = %d, %v; want 2, ErrKeyExist", n, err)
			}
			if be.Processed != 2 || be.Index != 2 || be.Requested != 5 || be.Cmd != "BPF_MAP_UPDATE_ELEM" {
				t.Fatalf("BatchError = %+v", be)
			}
			for k, want := range map[uint32]uint64{1: 10, 2: 20, 3: 300} {
				if got, err := lookupU64(t, m, k); err != nil || got != want {
					t.Fatalf("key %d = %d, %v; want %d", k, got, err, want)
				}
			}
			checkMissing(t, m, u32s(4, 5))

			n, err = m.UpdateBatch(u32s(6, 7), u64s(60, 70), UpdateNoExist)
			if n != 2 || err != nil {
				t.Fatalf("UpdateBatch(NoExist) of new keys = %d, %v", n, err)
			}
		})
	}
}

func TestUpdateNoExistOnArrayAlwaysFails(t *testing.T) {
	m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	n, err := m.UpdateBatch(u32s(0, 1), u64s(1, 2), UpdateNoExist)
	if n != 0 || !errors.Is(err, ErrKeyExist) {
		t.Fatalf("UpdateBatch(NoExist) on an array = %d, %v; want 0, ErrKeyExist", n, err)
	}
	if got, _ := lookupU64(t, m, 0); got != 0 {
		t.Fatalf("index 0 = %d, want untouched 0", got)
	}
}

func TestUpdateExistStopsAtMissingKey(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if _, err := m.UpdateBatch(u32s(1, 2, 4), u64s(1, 2, 4), UpdateAny); err != nil {
		t.Fatal(err)
	}
	n, err := m.UpdateBatch(u32s(1, 2, 3, 4), u64s(10, 20, 30, 40), UpdateExist)
	var be *BatchError
	if n != 2 || !errors.Is(err, ErrKeyNotExist) || !errors.Is(err, unix.ENOENT) || !errors.As(err, &be) || be.Index != 2 {
		t.Fatalf("UpdateBatch(Exist) = %d, %v; want 2, ErrKeyNotExist at element 2", n, err)
	}
	for k, want := range map[uint32]uint64{1: 10, 2: 20, 4: 4} {
		if got, err := lookupU64(t, m, k); err != nil || got != want {
			t.Fatalf("key %d = %d, %v; want %d (nothing after the failure written)", k, got, err, want)
		}
	}
	checkMissing(t, m, u32s(3))
}

func TestUpdateExistOnArray(t *testing.T) {
	m := createMap(t, MapSpec{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	values := make([]byte, 2*m.ValueStride())
	for i := range values {
		values[i] = byte(i + 1)
	}
	if n, err := m.UpdateBatch(u32s(3, 1), values, UpdateExist); n != 2 || err != nil {
		t.Fatalf("UpdateBatch(Exist) on a per-CPU array = %d, %v", n, err)
	}
	checkWritten(t, m, u32s(3, 1), values, nil)
	if n, err := m.UpdateBatch(u32s(2, 4), values, UpdateExist); n != 1 || !errors.Is(err, ErrMapFull) {
		t.Fatalf("UpdateBatch(Exist) past the array end = %d, %v; want 1, ErrMapFull", n, err)
	}
}

// UpdateLock on a map whose value holds a struct bpf_spin_lock: the batch
// command accepts it, and the lock word is not copied in.
func TestUpdateLockOnSpinLockedMap(t *testing.T) {
	testutil.RequireKernel(t)
	btf, err := testutil.LoadSpinLockBTF()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(btf)
	for _, typ := range []MapType{Hash, Array} {
		t.Run(typ.String(), func(t *testing.T) {
			m := createMap(t, MapSpec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: 16,
				BTFFD: btf, BTFKeyTypeID: testutil.BTFInt, BTFValueTypeID: testutil.BTFLockVal})
			if p, err := m.UpdatePath(); err != nil || p != BatchPath {
				t.Fatalf("UpdatePath = %v, %v", p, err)
			}
			keys := u32s(0, 5, 9)
			values := u32s(0xffffffff, 100, 0xffffffff, 105, 0xffffffff, 109) // {lock, v} each
			n, err := m.UpdateBatch(keys, values, UpdateLock)
			if err != nil || n != 3 {
				t.Fatalf("UpdateBatch(UpdateLock) = %d, %v", n, err)
			}
			for i, k := range []uint32{0, 5, 9} {
				got, err := testutil.Lookup(m.FD(), u32s(k), 8)
				if want := u32s(0, 100+k); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("element %d: read back %x, %v; want %x (lock word not copied)", i, got, err, want)
				}
			}
			// With UpdateExist the per-element path passes BPF_F_LOCK too.
			n, err = m.UpdateBatch(u32s(5), u32s(0, 555), UpdateLock|UpdateExist)
			if err != nil || n != 1 {
				t.Fatalf("UpdateBatch(UpdateLock|UpdateExist) = %d, %v", n, err)
			}
			if got, _ := testutil.Lookup(m.FD(), u32s(5), 8); !bytes.Equal(got, u32s(0, 555)) {
				t.Fatalf("read back %x", got)
			}
		})
	}
}

func TestUpdateLockWithoutSpinLockSaysSo(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	n, err := m.UpdateBatch(u32s(1, 2), u64s(1, 2), UpdateLock)
	var be *BatchError
	if n != 0 || !errors.As(err, &be) || be.Errno != unix.EINVAL || be.Processed != 0 || be.Index != -1 {
		t.Fatalf("UpdateBatch(UpdateLock) on a plain hash = %d, %v; want 0 processed, EINVAL", n, err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("bpf_spin_lock")) {
		t.Fatalf("error %q should say the value needs a bpf_spin_lock", err)
	}
	checkMissing(t, m, u32s(1, 2))
}
