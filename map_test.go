package bpfbatch

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

func TestNewMapDupsAndReadsInfo(t *testing.T) {
	testutil.RequireKernel(t)
	attr := mapCreateAttr(PerCPUArray, 4, 12, 16)
	copy(attr.MapName[:], "from_raw")
	fd, err := testutil.CreateMap(attr)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMap(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.FD() == fd {
		t.Fatal("NewMap must duplicate the fd, not take it")
	}
	if flags, err := unix.FcntlInt(uintptr(m.FD()), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("duplicated fd lacks FD_CLOEXEC: %#x, %v", flags, err)
	}
	id, err := testutil.ObjID(fd)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Type != PerCPUArray || info.KeySize != 4 || info.ValueSize != 12 || info.MaxEntries != 16 || info.Name != "from_raw" || info.ID != id {
		t.Fatalf("Info() = %+v", info)
	}
	cpus, _ := PossibleCPUs()
	if m.ValueStride() != 16*cpus {
		t.Fatalf("ValueStride() = %d, want %d", m.ValueStride(), 16*cpus)
	}
	unix.Close(fd) // the caller's fd is the caller's; the Map keeps working
	values := make([]byte, m.ValueStride())
	values[0] = 42
	if n, err := m.UpdateBatch(u32s(3), values, UpdateAny); n != 1 || err != nil {
		t.Fatalf("UpdateBatch after closing the original fd = %d, %v", n, err)
	}
	checkWritten(t, m, u32s(3), values, nil)
}

func TestNewMapRejectsBadFDs(t *testing.T) {
	testutil.RequireKernel(t)
	if _, err := NewMap(-1); err == nil {
		t.Fatal("NewMap(-1) succeeded")
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	f.Close()
	if _, err := NewMap(fd); err == nil {
		t.Fatal("NewMap(closed fd) succeeded")
	}
	prog, err := testutil.LoadReturnZeroProg(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)
	if _, err := NewMap(prog); err == nil || !strings.Contains(err.Error(), "not a BPF map") {
		t.Fatalf("NewMap(program fd) = %v", err)
	}
}

func TestMapTypeString(t *testing.T) {
	for typ, want := range map[MapType]string{Hash: "Hash", LRUPerCPUHash: "LRUPerCPUHash", Arena: "Arena", 200: "MapType(200)"} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", uint32(typ), got, want)
		}
	}
	// The constants follow enum bpf_map_type.
	for typ, kernel := range map[MapType]uint32{Hash: 1, LPMTrie: 11, HashOfMaps: 13, Queue: 22, BloomFilter: 30, CgrpStorage: 32, Arena: 33} {
		if uint32(typ) != kernel {
			t.Errorf("%s = %d, want %d", typ, uint32(typ), kernel)
		}
	}
	var perCPU []MapType
	for typ := range MapType(40) {
		if typ.PerCPU() {
			perCPU = append(perCPU, typ)
		}
	}
	if len(perCPU) != 4 {
		t.Errorf("PerCPU types = %v", perCPU)
	}
}

// Close racing with updates must never let the kernel see a closed fd number
// that has been reused. Decoy maps of the same shape are created while the
// race runs, so a reused number would silently succeed, writing the
// updaters' keys into a decoy; every decoy must stay empty.
func TestCloseRacingUpdatesNeverHitsReusedFD(t *testing.T) {
	testutil.RequireKernel(t)
	rounds := 60
	if testing.Short() {
		rounds = 10
	}
	keys := u32s(0xc105e, 0xc105f)
	values := u64s(1, 2)
	for round := range rounds {
		m, err := CreateMap(MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.UpdateBatch(keys, values, UpdateAny); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 4 {
			wg.Go(func() {
				for {
					var err error
					switch w % 3 {
					case 0:
						_, err = m.UpdateBatch(keys, values, UpdateAny)
					case 1:
						_, err = m.UpdateBatch(keys, values, UpdateExist) // per-element path
					default:
						err = m.Lookup(keys[:4], make([]byte, 8))
						if errors.Is(err, ErrKeyNotExist) {
							err = nil
						}
					}
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							errs <- err
						}
						return
					}
				}
			})
		}
		// Churn fd numbers: decoy maps take whatever number Close frees.
		var decoys []int
		var decoyMu sync.Mutex
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				fd, err := testutil.CreateMap(mapCreateAttr(Hash, 4, 8, 4))
				if err != nil {
					errs <- err
					return
				}
				decoyMu.Lock()
				decoys = append(decoys, fd)
				decoyMu.Unlock()
				if len(decoys)%8 == 0 {
					time.Sleep(10 * time.Microsecond)
				}
			}
		})
		time.Sleep(time.Duration(round%7) * 100 * time.Microsecond)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // let decoys reuse the number
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, fd := range decoys {
			for i := range 2 {
				if _, err := testutil.Lookup(fd, keys[4*i:4*i+4], 8); !errors.Is(err, unix.ENOENT) {
					t.Fatalf("round %d: a decoy map (fd %d) received an update meant for the closed map: %v", round, fd, err)
				}
			}
			unix.Close(fd)
		}
	}
}

// Close waits for a long update in flight rather than pulling its fd away.
func TestCloseWaitsForInFlightUpdate(t *testing.T) {
	const n = 1 << 18
	m := createMap(t, MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: n})
	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = uint32(i)
	}
	values := make([]uint64, n)
	done := make(chan error)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := UpdateBatchOf(m, keys, values, UpdateAny)
		done <- err
	}()
	<-started
	time.Sleep(time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("update racing Close = %v; want success (it held the fd) or ErrClosed (it never started)", err)
	}
}

// Close during a chunked load stops it between chunks with ErrClosed, and
// the error still says what was written.
func TestCloseStopsUpdateBatchWith(t *testing.T) {
	for _, workers := range []int{1, 2} {
		m := createMap(t, MapSpec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1 << 16})
		keys := make([]uint32, 1<<16)
		for i := range keys {
			keys[i] = uint32(i)
		}
		values := make([]uint64, len(keys))
		var once sync.Once
		n, err := updateTypedWith(m, keys, values, BatchOptions{Workers: workers, Chunk: 256, Progress: func(w int) {
			if w >= 1024 {
				once.Do(func() { m.Close() }) // Progress runs without the fd held
			}
		}})
		var be *BatchError
		if !errors.Is(err, ErrClosed) || !errors.As(err, &be) || n < 1024 || n >= len(keys) || be.Processed != n {
			t.Fatalf("workers %d: load racing Close = %d, %v", workers, n, err)
		}
		t.Log(err)
	}
}

// The caller knows its fd, not the library's duplicate of it.
func TestNewMapErrorNamesTheCallersFD(t *testing.T) {
	testutil.RequireKernel(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	_, err = NewMap(fd)
	if err == nil {
		t.Fatal("NewMap(/dev/null) succeeded")
	}
	fds := regexp.MustCompile(`fd \d+`).FindAllString(err.Error(), -1)
	if len(fds) != 1 || fds[0] != fmt.Sprintf("fd %d", fd) || !strings.Contains(err.Error(), "not a BPF map but /dev/null") {
		t.Fatalf("NewMap(fd %d) = %v; want it to name fd %d only", fd, err, fd)
	}
}

func TestClosedMapReturnsErrClosed(t *testing.T) {
	f := &fakeKernel{}
	m := newFakeMap(t, fakeInfo(Hash, 4, 8, 10), f)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil (idempotent)", err)
	}
	if fd := m.FD(); fd != -1 {
		t.Fatalf("FD() after Close = %d, want -1", fd)
	}
	if n, err := m.UpdateBatch(make([]byte, 4), make([]byte, 8), UpdateAny); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateBatch after Close = %d, %v", n, err)
	}
	if n, err := m.UpdateBatch(nil, nil, UpdateAny); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("empty UpdateBatch after Close = %d, %v", n, err)
	}
	if n, err := UpdateBatchOf(m, []uint32{1}, []uint64{1}, UpdateAny); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateBatchOf after Close = %d, %v", n, err)
	}
	if err := m.Lookup(make([]byte, 4), make([]byte, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close = %v", err)
	}
	if _, err := m.UpdatePath(); !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdatePath after Close = %v", err)
	}
	if f.total() != 0 {
		t.Fatalf("closed map made %d syscalls", f.total())
	}
}

func TestNilAndZeroMapDoNotPanic(t *testing.T) {
	for name, m := range map[string]*Map{"nil": nil, "zero": new(Map)} {
		t.Run(name, func(t *testing.T) {
			if _, err := m.UpdateBatch([]byte{1, 2, 3, 4}, nil, UpdateAny); !errors.Is(err, ErrClosed) {
				t.Errorf("UpdateBatch = %v", err)
			}
			if _, err := UpdateBatchOf(m, []uint32{1}, []uint32{1}, UpdateAny); !errors.Is(err, ErrClosed) {
				t.Errorf("UpdateBatchOf = %v", err)
			}
			if err := m.Lookup(nil, nil); !errors.Is(err, ErrClosed) {
				t.Errorf("Lookup = %v", err)
			}
			if m.FD() != -1 || m.Close() != nil || m.ValueStride() != 0 {
				t.Errorf("FD/Close/ValueStride on a closed map misbehave")
			}
			_ = m.String()
			_ = m.Info()
		})
	}
}
