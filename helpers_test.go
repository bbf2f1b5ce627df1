package bpfbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

const noPrealloc = unix.BPF_F_NO_PREALLOC

// createMap creates a map for a kernel test and closes it when the test ends.
func createMap(t testing.TB, spec MapSpec) *Map {
	t.Helper()
	testutil.RequireKernel(t)
	m, err := CreateMap(spec)
	if err != nil {
		t.Fatalf("CreateMap(%+v): %v", spec, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// innerMaps creates n ARRAY maps usable as inner maps of a 4/4/1 template.
func innerMaps(t testing.TB, n int) []*Map {
	t.Helper()
	inner := make([]*Map, n)
	for i := range inner {
		inner[i] = createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	}
	return inner
}

// testKeys returns n distinct keys of m's shape: indices for arrays, /32
// prefixes for LPM tries, scattered u32s otherwise.
func testKeys(m *Map, n int, rng *rand.Rand) []byte {
	ks := int(m.Info().KeySize)
	keys := make([]byte, n*ks)
	perm := rng.Perm(n)
	for i := range n {
		k := keys[i*ks : (i+1)*ks]
		switch m.Info().Type {
		case Array, PerCPUArray, ArrayOfMaps:
			binary.NativeEndian.PutUint32(k, uint32(perm[i]))
		case LPMTrie:
			binary.NativeEndian.PutUint32(k, 32) // prefixlen
			binary.BigEndian.PutUint32(k[4:], 0x0a000000+uint32(perm[i])*2654435761%0x00ffffff)
		default:
			binary.NativeEndian.PutUint32(k, uint32(i)*2654435761+1)
		}
	}
	return keys
}

// testValues returns values for n elements: random bytes for every CPU slot
// (padding random too when randomPadding, zero otherwise), or inner map fds
// for map-in-map types.
func testValues(t testing.TB, m *Map, n int, rng *rand.Rand, randomPadding bool, inner []*Map) []byte {
	stride := m.ValueStride()
	values := make([]byte, n*stride)
	switch m.Info().Type {
	case ArrayOfMaps, HashOfMaps:
		for i := range n {
			binary.NativeEndian.PutUint32(values[i*stride:], uint32(inner[i%len(inner)].FD()))
		}
		return values
	}
	for i := range values {
		values[i] = byte(rng.Uint32())
	}
	if m.Info().Type.PerCPU() && !randomPadding {
		vs, slot := int(m.Info().ValueSize), slotSize(m.Info().ValueSize)
		for off := 0; off < len(values); off += slot {
			clear(values[off+vs : off+slot])
		}
	}
	return values
}

// expectedValue is what a lookup of element i must return: its value bytes,
// or for map-in-map types the inner map's ID.
func expectedValue(m *Map, values []byte, i int, inner []*Map) []byte {
	stride := m.ValueStride()
	switch m.Info().Type {
	case ArrayOfMaps, HashOfMaps:
		return binary.NativeEndian.AppendUint32(nil, inner[i%len(inner)].Info().ID)
	}
	return values[i*stride : (i+1)*stride]
}

// checkWritten reads every element back with a raw BPF_MAP_LOOKUP_ELEM and
// compares it byte for byte.
func checkWritten(t testing.TB, m *Map, keys, values []byte, inner []*Map) {
	t.Helper()
	ks := int(m.Info().KeySize)
	for i := range len(keys) / ks {
		key := keys[i*ks : (i+1)*ks]
		want := expectedValue(m, values, i, inner)
		got, err := testutil.Lookup(m.FD(), key, len(want))
		if err != nil {
			t.Fatalf("element %d (key %x): raw lookup: %v", i, key, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("element %d (key %x): read back %x, wrote %x", i, key, got, want)
		}
	}
}

// checkMissing asserts that none of the keys is in the map.
func checkMissing(t testing.TB, m *Map, keys []byte) {
	t.Helper()
	ks := int(m.Info().KeySize)
	for i := range len(keys) / ks {
		key := keys[i*ks : (i+1)*ks]
		if _, err := testutil.Lookup(m.FD(), key, m.ValueStride()); !errors.Is(err, unix.ENOENT) {
			t.Fatalf("element %d (key %x) should not be in the map; lookup: %v", i, key, err)
		}
	}
}

// batchMapSpecs are the map types BPF_MAP_UPDATE_BATCH supports, in the
// shapes worth covering: NO_PREALLOC where it applies, per-CPU values of 4,
// 8 and 12 bytes (12 exercises the 8-byte slot rounding).
func batchMapSpecs(n uint32) []MapSpec {
	return []MapSpec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: Hash, KeySize: 4, ValueSize: 64, MaxEntries: n, Flags: noPrealloc},
		{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: Array, KeySize: 4, ValueSize: 12, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: n},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: n, Flags: noPrealloc},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: n},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: n},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: n},
		// LRU maps evict before they are full when CPU-local free lists
		// run dry, so they get headroom.
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 4 * n},
		{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4 * n},
		{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 4 * n},
		{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: n, Flags: noPrealloc},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: n},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: n, Flags: noPrealloc},
		{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: n},
	}
}

func specName(s MapSpec) string {
	name := fmt.Sprintf("%s/k%d/v%d", s.Type, s.KeySize, s.ValueSize)
	if s.Flags&noPrealloc != 0 {
		name += "/NoPrealloc"
	}
	return name
}

// needsInner creates inner maps and fills in spec.InnerMapFD for map-in-map
// types; it returns nil for other types.
func needsInner(t testing.TB, spec *MapSpec) []*Map {
	if spec.Type != ArrayOfMaps && spec.Type != HashOfMaps {
		return nil
	}
	inner := innerMaps(t, 3)
	spec.InnerMapFD = inner[0].FD()
	return inner
}

// hasBatchOps reports whether this kernel has the batch commands for a map
// type: since 5.6 for hash and array maps, 5.13 for per-CPU arrays and LPM
// tries, 5.19 for map-in-map types (the commits that added them; the VM runs
// see per-element on 5.10 and batch from 6.1 on).
func hasBatchOps(t MapType) bool {
	switch t {
	case PerCPUArray, LPMTrie:
		return testutil.KernelAtLeast(5, 13)
	case ArrayOfMaps, HashOfMaps:
		return testutil.KernelAtLeast(5, 19)
	}
	return testutil.KernelAtLeast(5, 6)
}

// wantBatchError checks err is a *BatchError for errno with the given
// Processed/Index, unwrapping to sentinel (if any) and errno, and that its
// message contains every hint.
func wantBatchError(t testing.TB, n int, err error, errno unix.Errno, sentinel error, processed, index int, hints ...string) *BatchError {
	t.Helper()
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v (%T), want *BatchError", err, err)
	}
	if be.Errno != errno || !errors.Is(err, errno) {
		t.Fatalf("errno = %v, want %v (err %v)", be.Errno, errno, err)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%v, %v) = false", err, sentinel)
	}
	if n != processed || be.Processed != processed || be.Index != index {
		t.Fatalf("n=%d Processed=%d Index=%d, want %d, %d, %d (err %v)", n, be.Processed, be.Index, processed, processed, index, err)
	}
	for _, h := range hints {
		if !strings.Contains(err.Error(), h) {
			t.Fatalf("error %q does not contain %q", err, h)
		}
	}
	t.Log(err)
	return be
}

func lpmKeys(prefixes ...[2]uint32) []byte {
	var b []byte
	for _, p := range prefixes {
		b = binary.NativeEndian.AppendUint32(b, p[0])
		b = append(b, byte(p[1]>>24), byte(p[1]>>16), byte(p[1]>>8), byte(p[1]))
	}
	return b
}

// onThreadAs runs f on an OS thread of its own whose credentials are uid
// and gid, with no capabilities (setresuid from root drops them): what a
// process run as that user can do. The thread is never given back to the
// runtime.
func onThreadAs(t *testing.T, uid, gid int, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		// Raw syscalls change this thread only (syscall.Setuid changes all).
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); errno != 0 {
			done <- errno
			return
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); errno != 0 {
			done <- errno
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Offsets of the batch member of union bpf_attr, copied from
// include/uapi/linux/bpf.h (and checked against the header with a C
// compiler in internal/sys). The decoder below uses only these constants, so
// it is independent of batchAttr.
const (
	uapiInBatch   = 0
	uapiOutBatch  = 8
	uapiKeys      = 16
	uapiValues    = 24
	uapiCount     = 32
	uapiMapFD     = 36
	uapiElemFlags = 40
	uapiFlags     = 48
	uapiBatchSize = 56
)

// decodedBatch is the batch attr as the kernel reads it from bytes.
type decodedBatch struct {
	InBatch, OutBatch, Keys, Values uint64
	Count, MapFD                    uint32
	ElemFlags, Flags                uint64
}

func decodeBatch(b []byte) decodedBatch {
	ne := binary.NativeEndian
	return decodedBatch{
		InBatch:   ne.Uint64(b[uapiInBatch:]),
		OutBatch:  ne.Uint64(b[uapiOutBatch:]),
		Keys:      ne.Uint64(b[uapiKeys:]),
		Values:    ne.Uint64(b[uapiValues:]),
		Count:     ne.Uint32(b[uapiCount:]),
		MapFD:     ne.Uint32(b[uapiMapFD:]),
		ElemFlags: ne.Uint64(b[uapiElemFlags:]),
		Flags:     ne.Uint64(b[uapiFlags:]),
	}
}

// fakeCall is one bpf(2) call the fake kernel saw.
type fakeCall struct {
	Cmd  int
	Size int
	Attr []byte
}

// fakeKernel answers bpf(2) for maps that exist only in a test: for what the
// real kernel cannot show (old kernels, injected errnos, other layouts).
type fakeKernel struct {
	mu    sync.Mutex
	calls []fakeCall
	// batch answers BPF_MAP_UPDATE_BATCH: the count to write back and the
	// errno. nil: the batch command exists and succeeds.
	batch func(a decodedBatch) (count uint32, errno unix.Errno)
	// elem answers the i-th BPF_MAP_UPDATE_ELEM. nil: success.
	elem  func(i int) unix.Errno
	nelem int
	// other answers every other command. nil: success.
	other func(cmd int, attr []byte) unix.Errno
}

func (f *fakeKernel) call(cmd int, attr []byte) (uintptr, unix.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{Cmd: cmd, Size: len(attr), Attr: append([]byte(nil), attr...)})
	switch cmd {
	case unix.BPF_MAP_UPDATE_BATCH:
		if f.batch == nil {
			return 0, 0
		}
		a := decodeBatch(attr)
		count, errno := f.batch(a)
		binary.NativeEndian.PutUint32(attr[uapiCount:], count)
		return 0, errno
	case unix.BPF_MAP_UPDATE_ELEM:
		i := f.nelem
		f.nelem++
		if f.elem == nil {
			return 0, 0
		}
		return 0, f.elem(i)
	}
	if f.other != nil {
		return 0, f.other(cmd, attr)
	}
	return 0, 0
}

// count returns how many calls of cmd the fake saw.
func (f *fakeKernel) count(cmd int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Cmd == cmd {
			n++
		}
	}
	return n
}

func (f *fakeKernel) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// newFakeMap returns a Map whose syscalls go to f, described by info as if
// the kernel had reported it. Its fd is a real /dev/null fd, so Close works,
// and the fake is keyed on it, so tests on real maps can run alongside.
func newFakeMap(t testing.TB, info sys.MapInfo, f *fakeKernel) *Map {
	t.Helper()
	raw, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := sys.NewFD(raw)
	if err != nil {
		t.Fatal(err)
	}
	remove := sys.InjectFake(fd.Int(), f.call)
	m, err := mapFromInfo(fd, &info, unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		remove() // before Close: the fd number may be reused afterwards
		m.Close()
	})
	return m
}

func fakeInfo(typ MapType, keySize, valueSize, maxEntries uint32) sys.MapInfo {
	info := sys.MapInfo{Type: uint32(typ), ID: 42, KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries}
	copy(info.Name[:], "fake")
	return info
}

func mapCreateAttr(typ MapType, keySize, valueSize, maxEntries uint32) sys.MapCreateAttr {
	return sys.MapCreateAttr{MapType: uint32(typ), KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries}
}

// addr is the address the kernel would be given for b.
func addr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

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

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func indexKeys(n int) []byte {
	var b []byte
	for i := range n {
		b = binary.NativeEndian.AppendUint32(b, uint32(i))
	}
	return b
}

func closeLater(t *testing.T, fd int) {
	t.Cleanup(func() { unix.Close(fd) })
}

// walk reads the whole map with LookupBatch in buffers of per elements and
// returns what it read, failing on a repeated key.
func walk(t testing.TB, m *Map, per int, flags Flags) (keys, values [][]byte) {
	t.Helper()
	ks, stride := int(m.Info().KeySize), m.strideFor(flags)
	kb, vb := make([]byte, per*ks), make([]byte, per*stride)
	var c Cursor
	seen := map[string]bool{}
	for calls := 0; ; calls++ {
		n, err := m.LookupBatch(&c, kb, vb, flags)
		if err != nil {
			t.Fatalf("LookupBatch after %d elements: %v", len(keys), err)
		}
		if n == 0 {
			break
		}
		if n > per {
			t.Fatalf("LookupBatch returned %d elements into buffers for %d", n, per)
		}
		for i := range n {
			k := bytes.Clone(kb[i*ks : (i+1)*ks])
			if seen[string(k)] {
				t.Fatalf("key %x returned twice", k)
			}
			seen[string(k)] = true
			keys = append(keys, k)
			values = append(values, bytes.Clone(vb[i*stride:(i+1)*stride]))
		}
		if calls > 10*len(seen)+10 {
			t.Fatal("walk does not end")
		}
	}
	if n, err := m.LookupBatch(&c, kb, vb, flags); n != 0 || err != nil || !c.Done() {
		t.Fatalf("LookupBatch after the end = %d, %v (Done %v); want 0, nil", n, err, c.Done())
	}
	return keys, values
}

// checkWalk asserts that a walk returned exactly the keys written, each with
// the value a raw BPF_MAP_LOOKUP_ELEM reads.
func checkWalk(t testing.TB, m *Map, written []byte, gotKeys, gotValues [][]byte) {
	t.Helper()
	ks := int(m.Info().KeySize)
	want := map[string]bool{}
	for i := range len(written) / ks {
		want[string(written[i*ks:(i+1)*ks])] = true
	}
	if len(gotKeys) != len(want) {
		t.Fatalf("walk returned %d elements, the map holds %d", len(gotKeys), len(want))
	}
	for i, k := range gotKeys {
		if !want[string(k)] {
			t.Fatalf("walk returned key %x, which was never written", k)
		}
		raw, err := testutil.Lookup(m.FD(), k, len(gotValues[i]))
		if err != nil || !bytes.Equal(raw, gotValues[i]) {
			t.Fatalf("key %x: walk read %x, raw lookup %x (%v)", k, gotValues[i], raw, err)
		}
	}
}

// pathsOf lists the read and delete paths the kernel has for a map type:
// per element always, the batch commands where they exist.
func pathsOf(t MapType) []UpdatePath {
	if hasBatchOps(t) {
		return []UpdatePath{BatchPath, PerElementPath}
	}
	return []UpdatePath{PerElementPath}
}

func checkSaysEachFactOnce(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(err.Error(), ": ") {
		if seen[part] {
			t.Fatalf("%q says %q twice", err, part)
		}
		seen[part] = true
	}
	for _, twice := range []string{"permission denied", "no such file or directory"} {
		if strings.Count(err.Error(), twice) > 1 {
			t.Fatalf("%q says %q twice", err, twice)
		}
	}
}

// lpm4 is an IPv4 LPM trie key: prefixlen, then the address.
func lpm4(plen uint32, a, b, c, d byte) []byte {
	return append(binary.NativeEndian.AppendUint32(nil, plen), a, b, c, d)
}

// presentKeys counts the keys (of ks bytes) a raw lookup finds in m.
func presentKeys(t *testing.T, m *Map, keys []byte) int {
	t.Helper()
	ks, n := int(m.Info().KeySize), 0
	for i := range len(keys) / ks {
		_, err := testutil.Lookup(m.FD(), keys[i*ks:(i+1)*ks], m.ValueStride())
		switch {
		case err == nil:
			n++
		case !errors.Is(err, unix.ENOENT):
			t.Fatal(err)
		}
	}
	return n
}

// isSizeError matches a *SizeError about buffer ("keys", "values"; "" for
// either).
func isSizeError(buffer string) func(error) bool {
	return func(err error) bool {
		var se *SizeError
		return errors.As(err, &se) && (buffer == "" || se.Buffer == buffer)
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}
