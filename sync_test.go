package bpfbatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// syncCase builds a map holding old elements and an input that keeps some
// (unchanged), changes some, adds some and leaves some out (stale).
type syncCase struct {
	m                  *Map
	keys, values       []byte // the input
	added, changed     int
	deleted, unchanged int
}

func newSyncCase(t *testing.T, spec MapSpec) syncCase {
	t.Helper()
	const old, kept, changed, added = 600, 300, 150, 200 // 150 stale
	m := createMap(t, spec)
	rng := rand.New(rand.NewPCG(11, uint64(spec.Type)))
	all := testKeys(m, old+added, rng)
	vals := testValues(t, m, old+added, rng, false, nil)
	ks, stride := int(spec.KeySize), m.ValueStride()
	if _, err := m.UpdateBatch(all[:old*ks], vals[:old*stride], UpdateAny); err != nil {
		t.Fatal(err)
	}
	c := syncCase{m: m, added: added, changed: changed, unchanged: kept - changed, deleted: old - kept}
	// input: elements [0, kept) of the map, the first `changed` with new
	// values, then `added` new keys.
	c.keys = append(bytes.Clone(all[:kept*ks]), all[old*ks:]...)
	c.values = append(bytes.Clone(vals[:kept*stride]), vals[old*stride:]...)
	for i := range changed {
		c.values[i*stride] ^= 0xff
	}
	if !m.Info().Type.CanDelete() {
		// Every index exists: stale ones are zeroed, and those already zero
		// are not stale.
		c.deleted = 0
		for i := kept; i < old; i++ {
			if !allZero(vals[i*stride : (i+1)*stride]) {
				c.deleted++
			}
		}
		// An array has max_entries indices: keys past old are new only in
		// that they held zeros.
	}
	return c
}

// checkEquals reads the map back independently (GET_NEXT_KEY, raw lookups)
// and asserts it holds exactly the input (arrays: zeros elsewhere).
func (c syncCase) checkEquals(t *testing.T) {
	t.Helper()
	ks, stride := int(c.m.Info().KeySize), c.m.ValueStride()
	checkWritten(t, c.m, c.keys, c.values, nil)
	present, err := testutil.Keys(c.m.FD(), ks)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]bool{}
	for i := range len(c.keys) / ks {
		in[string(c.keys[i*ks:(i+1)*ks])] = true
	}
	for _, k := range present {
		if in[string(k)] {
			continue
		}
		if c.m.Info().Type.CanDelete() {
			t.Fatalf("key %x is not in the input but still in the map", k)
		}
		if v, err := testutil.Lookup(c.m.FD(), k, stride); err != nil || !allZero(v) {
			t.Fatalf("array index %x outside the input holds %x (%v), want zeros", k, v, err)
		}
	}
}

func TestSyncMakesTheMapEqualTheInput(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2000},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 2000},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 8000},
		{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 2000, Flags: noPrealloc},
		{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 800},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 800},
	} {
		t.Run(specName(spec), func(t *testing.T) {
			c := newSyncCase(t, spec)
			want := SyncStats{Added: c.added, Changed: c.changed, Deleted: c.deleted, Unchanged: c.unchanged}
			if spec.Type.IsArray() {
				// The "new" keys are indices that held zeros: changed.
				want.Changed, want.Added = c.changed+c.added, 0
			}
			before, _ := testutil.Keys(c.m.FD(), int(spec.KeySize))
			stats, err := c.m.Sync(context.Background(), c.keys, c.values, SyncOptions{DryRun: true})
			if err != nil || stats != want {
				t.Fatalf("dry run = %v, %v; want %v", stats, err, want)
			}
			if after, _ := testutil.Keys(c.m.FD(), int(spec.KeySize)); len(after) != len(before) {
				t.Fatalf("dry run changed the map: %d keys, then %d", len(before), len(after))
			}
			var last, total int
			stats, err = c.m.Sync(context.Background(), c.keys, c.values, SyncOptions{Workers: 2, Progress: func(done, all int) { last, total = done, all }})
			if err != nil || stats != want {
				t.Fatalf("Sync = %v, %v; want %v", stats, err, want)
			}
			if wantTotal := want.Added + want.Changed + want.Deleted; total != wantTotal || last != wantTotal {
				t.Fatalf("Progress ended at %d of %d, want %d of %d", last, total, wantTotal, wantTotal)
			}
			c.checkEquals(t)
			// Synced: nothing left to do.
			again, err := c.m.Sync(context.Background(), c.keys, c.values, SyncOptions{})
			if err != nil || again != (SyncStats{Unchanged: want.Added + want.Changed + want.Unchanged}) {
				t.Fatalf("second Sync = %v, %v", again, err)
			}
		})
	}
}

// Unchanged elements are not rewritten: on a frozen map (no user-space
// write succeeds) a Sync with nothing to change succeeds, and one with a
// change fails.
func TestSyncWritesOnlyWhatChanged(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	keys, values := indexKeys(40), make([]byte, 40*8)
	for i := range values {
		values[i] = byte(i)
	}
	if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Freeze(m.FD()); err != nil {
		t.Fatal(err)
	}
	if stats, err := m.Sync(context.Background(), keys, values, SyncOptions{}); err != nil || stats.Unchanged != 40 {
		t.Fatalf("Sync of an equal input on a frozen map = %v, %v; want all unchanged, nothing written", stats, err)
	}
	values[0] ^= 1
	_, err := m.Sync(context.Background(), keys, values, SyncOptions{})
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "0 of 1 new and changed element written") {
		t.Fatalf("Sync with one change on a frozen map = %v", err)
	}
}

func TestSyncRefusesDuplicateKeys(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if _, err := m.UpdateBatch(u32s(9), u64s(9), UpdateAny); err != nil {
		t.Fatal(err)
	}
	_, err := m.Sync(context.Background(), u32s(1, 2, 1), u64s(1, 2, 3), SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), "element 2 repeats element 0") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("Sync with a repeated key = %v", err)
	}
	checkWritten(t, m, u32s(9), u64s(9), nil)
	checkMissing(t, m, u32s(1, 2))
}

// Sync's promise while another writer (a BPF program, here a goroutine) adds
// its own keys and deletes stale ones: no error; every input key holds its
// input value; every stale key is gone; the writer's keys that survive hold
// the writer's value (Sync deletes those its walk saw, writes none).
func TestSyncUnderAConcurrentWriter(t *testing.T) {
	const (
		inputN, staleN   = 20000, 20000
		writerBase       = 1 << 20
		writerValue      = 0x99
		maxEntries       = 200000
		staleBase        = 500000
		writerKeysPerRun = 5000
	)
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: maxEntries})
	var keys, values, stale []byte
	for i := range inputN {
		keys = binary.NativeEndian.AppendUint32(keys, uint32(i))
		values = binary.NativeEndian.AppendUint64(values, uint64(i)+1)
	}
	for i := range staleN {
		stale = binary.NativeEndian.AppendUint32(stale, uint32(staleBase+i))
	}
	if _, err := m.UpdateBatch(stale, make([]byte, staleN*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	if _, err := m.UpdateBatch(keys[:inputN/2*4], make([]byte, inputN/2*8), UpdateAny); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	fd := m.FD()
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(5, 6))
		v := binary.NativeEndian.AppendUint64(nil, writerValue)
		for !stop.Load() {
			for range writerKeysPerRun {
				k := binary.NativeEndian.AppendUint32(nil, uint32(writerBase+rng.IntN(writerKeysPerRun)))
				testutil.Update(fd, k, v, 0)
				s := binary.NativeEndian.AppendUint32(nil, uint32(staleBase+rng.IntN(staleN)))
				testutil.Delete(fd, s)
			}
		}
	})
	stats, err := m.Sync(context.Background(), keys, values, SyncOptions{Workers: 2})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("Sync beside a writer = %v, %v", stats, err)
	}
	checkWritten(t, m, keys, values, nil)
	present, err := testutil.Keys(m.FD(), 4)
	if err != nil {
		t.Fatal(err)
	}
	writers := 0
	for _, k := range present {
		key := binary.NativeEndian.Uint32(k)
		switch {
		case key < inputN:
		case key >= writerBase:
			writers++
			if v, err := testutil.Lookup(m.FD(), k, 8); err != nil || binary.NativeEndian.Uint64(v) != writerValue {
				t.Fatalf("writer key %d holds %x (%v): Sync wrote it", key, v, err)
			}
		default:
			t.Fatalf("stale key %d survived Sync", key)
		}
	}
	t.Logf("%v; %d of the writer's keys survive", stats, writers)
}

// An LPM trie compares prefixes, not bytes: a prefix held with host bits set
// (10.0.0.1/8, as another tool may write it) is the input's 10.0.0.0/8. Sync
// leaves it alone when the value is equal, updates it in place when not, and
// never deletes it, not even for a moment: between Sync's deletes and its
// writes (Progress is called there) an address under it still matches.
func TestSyncComparesLPMKeysAsPrefixes(t *testing.T) {
	m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 16, Flags: noPrealloc})
	held := slices.Concat(lpm4(8, 10, 0, 0, 1), lpm4(16, 192, 168, 7, 7), lpm4(32, 1, 2, 3, 4))
	if _, err := m.UpdateBatch(held, u64s(1, 2, 3), UpdateAny); err != nil {
		t.Fatal(err)
	}
	input := slices.Concat(lpm4(8, 10, 0, 0, 0), lpm4(16, 192, 168, 0, 0))
	host := lpm4(32, 10, 5, 5, 5) // an address under 10.0.0.0/8
	stillMatches := func(int, int) {
		if _, err := testutil.Lookup(m.FD(), host, 8); err != nil {
			t.Errorf("during Sync, 10.5.5.5 matches no prefix (%v): the /8 was deleted", err)
		}
	}
	stats, err := m.Sync(context.Background(), input, u64s(1, 22), SyncOptions{DryRun: true})
	if want := (SyncStats{Changed: 1, Deleted: 1, Unchanged: 1}); err != nil || stats != want {
		t.Fatalf("dry run = %v, %v; want %v", stats, err, want)
	}
	stats, err = m.Sync(context.Background(), input, u64s(1, 22), SyncOptions{Progress: stillMatches})
	if want := (SyncStats{Changed: 1, Deleted: 1, Unchanged: 1}); err != nil || stats != want {
		t.Fatalf("Sync = %v, %v; want %v", stats, err, want)
	}
	for _, c := range []struct {
		key  []byte
		want uint64
	}{{host, 1}, {lpm4(32, 192, 168, 9, 9), 22}} {
		v, err := testutil.Lookup(m.FD(), c.key, 8)
		if err != nil || binary.NativeEndian.Uint64(v) != c.want {
			t.Fatalf("lookup %v = %x, %v; want %d", c.key, v, err, c.want)
		}
	}
	checkMissing(t, m, lpm4(32, 1, 2, 3, 4))
	// Two input keys for one prefix are duplicates.
	_, err = m.Sync(context.Background(), slices.Concat(lpm4(8, 10, 0, 0, 0), lpm4(8, 10, 9, 9, 9)), u64s(1, 2), SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), "element 1 repeats element 0") {
		t.Fatalf("Sync with 10.0.0.0/8 and 10.9.9.9/8 = %v; want a repeated key", err)
	}
}

// Keys the map cannot hold are refused before the first write, as
// duplicates are: the kernel would refuse them only after the stale
// elements were deleted or zeroed.
func TestSyncRefusesKeysTheMapCannotHold(t *testing.T) {
	t.Run("array index", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		if _, err := m.UpdateBatch(u32s(0, 1, 2, 3), u64s(5, 6, 7, 8), UpdateAny); err != nil {
			t.Fatal(err)
		}
		_, err := m.Sync(context.Background(), u32s(0, 4), u64s(1, 1), SyncOptions{})
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "element 1: index 4 >= max_entries 4") {
			t.Fatalf("Sync with index 4 of 4 = %v", err)
		}
		checkWritten(t, m, u32s(0, 1, 2, 3), u64s(5, 6, 7, 8), nil)
	})
	t.Run("prefix length", func(t *testing.T) {
		m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 4, Flags: noPrealloc})
		if _, err := m.UpdateBatch(lpm4(8, 10, 0, 0, 0), u64s(5), UpdateAny); err != nil {
			t.Fatal(err)
		}
		_, err := m.Sync(context.Background(), lpm4(33, 1, 1, 1, 1), u64s(1), SyncOptions{})
		if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "prefix length 33") {
			t.Fatalf("Sync with a /33 = %v", err)
		}
		checkWritten(t, m, lpm4(8, 10, 0, 0, 0), u64s(5), nil)
	})
}

// Progress reaches its total when a stale key was deleted by someone else
// before Sync's delete reached it: that key is done too.
func TestSyncProgressReachesTotalWhenAWriterDeletedAStaleKey(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if _, err := m.UpdateBatch(u32s(1, 2, 3, 4), u64s(1, 2, 3, 4), UpdateAny); err != nil {
		t.Fatal(err)
	}
	var calls, last, total int
	progress := func(done, all int) {
		if calls++; calls == 1 {
			// The first stale key is deleted; delete the others under Sync.
			for _, k := range []uint32{2, 3, 4} {
				testutil.Delete(m.FD(), binary.NativeEndian.AppendUint32(nil, k))
			}
		}
		last, total = done, all
	}
	stats, err := m.Sync(context.Background(), u32s(1, 5), u64s(1, 5), SyncOptions{Chunk: 1, Progress: progress})
	if err != nil || stats != (SyncStats{Added: 1, Deleted: 3, Unchanged: 1}) {
		t.Fatalf("Sync = %v, %v", stats, err)
	}
	if last != 4 || total != 4 {
		t.Fatalf("Progress ended at %d of %d, want 4 of 4", last, total)
	}
}

var evictedCount = regexp.MustCompile(`(\d+) of the (\d+) input keys checked after writing are missing`)

// checkEvictionReport asserts that a Sync into an LRU map returned nil
// exactly when every input key is in the map afterwards (read back with raw
// lookups), and otherwise ErrEvicted with the number missing.
func checkEvictionReport(t *testing.T, m *Map, keys []byte, err error) (missing int) {
	t.Helper()
	missing = len(keys)/int(m.Info().KeySize) - presentKeys(t, m, keys)
	if missing == 0 {
		if err != nil {
			t.Fatalf("every input key is in the map, Sync = %v", err)
		}
		return 0
	}
	if !errors.Is(err, ErrEvicted) {
		t.Fatalf("%d input keys are missing, Sync = %v; want ErrEvicted", missing, err)
	}
	if got := evictedCount.FindStringSubmatch(err.Error()); got == nil || got[1] != strconv.Itoa(missing) {
		t.Fatalf("%d input keys are missing, the error says %q", missing, err)
	}
	return missing
}

// LRU maps evict before they are full, and a successful write does not say
// so: Sync checks what the map kept and reports ErrEvicted with the count,
// and an input of at most EvictionFreeSize() keys is never evicted by
// Sync's own writes (new keys, then every value changed), on every kernel.
func TestSyncVerifiesWhatAnLRUMapKept(t *testing.T) {
	for _, spec := range []MapSpec{
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 2000},
		{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 2000},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 2000, Flags: unix.BPF_F_NO_COMMON_LRU},
	} {
		t.Run(specName(spec)+fmt.Sprintf("/flags=%#x", spec.Flags), func(t *testing.T) {
			m := createMap(t, spec)
			rng := rand.New(rand.NewPCG(3, uint64(spec.Flags)))
			safe := m.EvictionFreeSize()
			if cpus, _ := PossibleCPUs(); spec.Flags != 0 && safe != 2000/cpus-1 || spec.Flags == 0 && safe != 2000-128*cpus {
				t.Fatalf("EvictionFreeSize = %d with %d possible CPUs", safe, cpus)
			}
			keys := testKeys(m, int(spec.MaxEntries), rng)
			values := testValues(t, m, int(spec.MaxEntries), rng, false, nil)
			ks, stride := int(spec.KeySize), m.ValueStride()
			for round := range 3 {
				for i := range safe {
					values[i*stride] = byte(round) // every value changes
				}
				_, err := m.Sync(context.Background(), keys[:safe*ks], values[:safe*stride], SyncOptions{Workers: 2})
				if err != nil || presentKeys(t, m, keys[:safe*ks]) != safe {
					t.Fatalf("round %d: Sync of %d keys (EvictionFreeSize) = %v, %d present", round, safe, err, presentKeys(t, m, keys[:safe*ks]))
				}
			}
			// max_entries keys cannot all stay.
			_, err := m.Sync(context.Background(), keys, values, SyncOptions{})
			if missing := checkEvictionReport(t, m, keys, err); missing == 0 {
				t.Fatalf("all %d keys of a full LRU map stayed: the test shows nothing", spec.MaxEntries)
			}
		})
	}
}

// The case of the report: a 3-entry LRU per-CPU map whose 3 values change,
// again and again: every Sync either succeeded with all 3 keys in the map or
// said how many were evicted.
func TestSyncReportsEvictionOfChangedValues(t *testing.T) {
	m := createMap(t, MapSpec{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 3})
	keys := u32s(1, 2, 3)
	values := make([]byte, 3*m.ValueStride())
	evicted := 0
	for round := range 50 {
		values[0], values[m.ValueStride()], values[2*m.ValueStride()] = byte(round), byte(round), byte(round)
		// Writers on both CPUs draw on both CPUs' free lists.
		_, err := m.Sync(context.Background(), keys, values, SyncOptions{Workers: 2, Chunk: 1})
		evicted += checkEvictionReport(t, m, keys, err)
	}
	t.Logf("kernel %s: %d keys evicted in 50 rounds", testutil.KernelRelease(), evicted)
}

// An empty input empties the map only with AllowEmpty; without it Sync is
// refused with nothing changed, also in a dry run.
func TestSyncEmptyInputNeedsAllowEmpty(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if _, err := m.UpdateBatch(u32s(1, 2), u64s(1, 2), UpdateAny); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		if _, err := m.Sync(context.Background(), nil, nil, SyncOptions{DryRun: dry}); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "AllowEmpty") {
			t.Fatalf("Sync(nil, DryRun %v) = %v; want ErrInvalidArgument naming AllowEmpty", dry, err)
		}
	}
	checkWritten(t, m, u32s(1, 2), u64s(1, 2), nil)
	stats, err := m.Sync(context.Background(), nil, nil, SyncOptions{AllowEmpty: true})
	if err != nil || stats != (SyncStats{Deleted: 2}) {
		t.Fatalf("Sync(nil, AllowEmpty) = %v, %v", stats, err)
	}
	checkMissing(t, m, u32s(1, 2))
}

// KeepValues keeps the map's value of every key in both (counters
// survive): only missing keys are written, stale keys deleted.
func TestSyncKeepValues(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if _, err := m.UpdateBatch(u32s(1, 2, 3), u64s(100, 200, 300), UpdateAny); err != nil {
		t.Fatal(err)
	}
	stats, err := m.Sync(context.Background(), u32s(1, 2, 4), u64s(0, 0, 0), SyncOptions{KeepValues: true})
	if err != nil || stats != (SyncStats{Added: 1, Deleted: 1, Unchanged: 2}) {
		t.Fatalf("Sync(KeepValues) = %v, %v", stats, err)
	}
	checkWritten(t, m, u32s(1, 2, 4), u64s(100, 200, 0), nil)
	checkMissing(t, m, u32s(3))
}

// Changes is called for every element Sync adds, changes or deletes, with
// the old and new values, before the map changes (also in a dry run), and
// never for a Sync refused before reading the map.
func TestSyncChanges(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if _, err := m.UpdateBatch(u32s(1, 2, 3), u64s(10, 20, 30), UpdateAny); err != nil {
		t.Fatal(err)
	}
	type change struct {
		kind     ChangeKind
		key      uint32
		old, new string
	}
	for _, dry := range []bool{true, false} {
		var got []change
		record := func(c Change) {
			// The map still holds the element's old state.
			v, err := testutil.Lookup(m.FD(), c.Key, 8)
			if c.Kind == Added && err == nil || c.Kind != Added && !bytes.Equal(v, c.Old) {
				t.Errorf("%v of key %x: the map holds %x (%v) at the call, Old %x", c.Kind, c.Key, v, err, c.Old)
			}
			got = append(got, change{c.Kind, binary.NativeEndian.Uint32(c.Key), fmt.Sprintf("%x", c.Old), fmt.Sprintf("%x", c.New)})
		}
		_, err := m.Sync(context.Background(), u32s(1, 2, 4), u64s(10, 22, 40), SyncOptions{DryRun: dry, Changes: record})
		want := []change{
			{Deleted, 3, fmt.Sprintf("%x", u64s(30)), ""},
			{Changed, 2, fmt.Sprintf("%x", u64s(20)), fmt.Sprintf("%x", u64s(22))},
			{Added, 4, "", fmt.Sprintf("%x", u64s(40))},
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("DryRun %v: Changes saw %v, %v; want %v", dry, got, err, want)
		}
	}
	called := false
	_, err := m.Sync(context.Background(), u32s(1, 1), u64s(1, 1), SyncOptions{Changes: func(Change) { called = true }})
	if err == nil || called {
		t.Fatalf("Sync with a repeated key = %v, Changes called %v", err, called)
	}
}

// CountMissing counts the keys a map does not hold, on several goroutines
// for many keys, and names the first.
func TestCountMissing(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 16})
	keys := indexKeys(1 << 15)
	if _, err := m.UpdateBatch(keys[:4*(1<<15-10)], make([]byte, 8*(1<<15-10)), UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Delete(m.FD(), keys[4*7:4*8]); err != nil {
		t.Fatal(err)
	}
	missing, first, err := m.CountMissing(context.Background(), keys)
	if err != nil || missing != 11 || first != 7 {
		t.Fatalf("CountMissing = %d, first %d, %v; want 11, first 7", missing, first, err)
	}
	if missing, first, err := m.CountMissing(context.Background(), keys[:4*7]); err != nil || missing != 0 || first != -1 {
		t.Fatalf("CountMissing of present keys = %d, %d, %v", missing, first, err)
	}
	if _, _, err := m.CountMissing(context.Background(), []byte{1, 2, 3}); !isSizeError("keys")(err) {
		t.Fatalf("CountMissing of 3 bytes = %v", err)
	}
}

// SyncFrom reads its input beside the walk: the result is Sync's; an error
// from read, or bad input, ends it with nothing written.
func TestSyncFrom(t *testing.T) {
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64})
	if _, err := m.UpdateBatch(u32s(1, 2, 3), u64s(1, 2, 3), UpdateAny); err != nil {
		t.Fatal(err)
	}
	readErr := errors.New("the input file is gone")
	for _, c := range []struct {
		name string
		read func() ([]byte, []byte, error)
		want error
	}{
		{"read fails", func() ([]byte, []byte, error) { return nil, nil, readErr }, readErr},
		{"repeated key", func() ([]byte, []byte, error) { return u32s(5, 5), u64s(1, 1), nil }, ErrInvalidArgument},
		{"empty", func() ([]byte, []byte, error) { return nil, nil, nil }, ErrInvalidArgument},
		{"bad size", func() ([]byte, []byte, error) { return u32s(5), u64s(1)[:4], nil }, nil},
	} {
		_, err := m.SyncFrom(context.Background(), c.read, SyncOptions{})
		if err == nil || c.want != nil && !errors.Is(err, c.want) || c.want == nil && !isSizeError("values")(err) {
			t.Fatalf("%s: SyncFrom = %v; want %v", c.name, err, c.want)
		}
		checkWritten(t, m, u32s(1, 2, 3), u64s(1, 2, 3), nil)
	}
	stats, err := m.SyncFrom(context.Background(), func() ([]byte, []byte, error) { return u32s(1, 2, 4), u64s(1, 20, 4), nil }, SyncOptions{Workers: 2})
	if err != nil || stats != (SyncStats{Added: 1, Changed: 1, Deleted: 1, Unchanged: 1}) {
		t.Fatalf("SyncFrom = %v, %v", stats, err)
	}
	checkWritten(t, m, u32s(1, 2, 4), u64s(1, 20, 4), nil)
	checkMissing(t, m, u32s(3))
}

// SyncFrom's walk leaves a core to its read: at most GOMAXPROCS-1 walkers,
// at least one; Sync's walk, whose input is read already, uses Workers.
func TestSyncWalkersLeaveACoreToTheRead(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range []struct {
		procs, workers int
		reading        bool
		want           int
	}{
		{2, 2, true, 1}, {2, 2, false, 2}, {1, 2, true, 1}, {4, 2, true, 2},
		{4, 8, true, 3}, {8, 0, true, 0}, {2, 0, false, 0},
	} {
		runtime.GOMAXPROCS(c.procs)
		if got := syncWalkers(c.workers, c.reading); got != c.want {
			t.Errorf("GOMAXPROCS %d, Workers %d, reading %v: %d walkers, want %d", c.procs, c.workers, c.reading, got, c.want)
		}
	}
}
