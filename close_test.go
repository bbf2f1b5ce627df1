package bpfbatch

import (
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

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
