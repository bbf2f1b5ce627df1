package bpfbatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// SyncOptions tunes Map.Sync.
type SyncOptions struct {
	// DryRun computes the SyncStats (and calls Changes) and writes nothing.
	DryRun bool
	// Workers is the number of write syscalls in flight at once, and Chunk
	// the elements per write syscall, as in BatchOptions. Deletes go in
	// chunks of Chunk too (4096 when Chunk is 0), one at a time.
	Workers int
	Chunk   int
	// Progress, if set, is called after each delete and write chunk with
	// the deletes and writes done so far and their total. Calls never
	// overlap.
	Progress func(done, total int)
	// AllowEmpty lets an empty input make the map empty. Without it an
	// empty input is refused (ErrInvalidArgument) with nothing changed: an
	// empty list is more often a mistake upstream than a wish.
	AllowEmpty bool
	// KeepValues keeps the map's value of every key in both the map and
	// the input (counters survive): only missing keys are written and
	// stale keys deleted, and every key in both counts as Unchanged.
	KeepValues bool
	// Changes, if set, is called for every element Sync adds, changes or
	// deletes, also with DryRun, before the first write or delete (so at
	// each call the map still holds the element's old state): deletions
	// first, then additions and changes in the input's order. It is not
	// called when Sync is refused before reading the map.
	Changes func(Change)
}

// SyncStats says what Sync found and did. Added, Changed and Deleted count
// the elements written or deleted (to be, with DryRun); Unchanged counts
// the elements of the input the map already held with the same value.
type SyncStats struct{ Added, Changed, Deleted, Unchanged int }

// String reads "added 3, changed 1, deleted 2, unchanged 994".
func (s SyncStats) String() string {
	return fmt.Sprintf("added %d, changed %d, deleted %d, unchanged %d", s.Added, s.Changed, s.Deleted, s.Unchanged)
}

// ChangeKind says what Sync does to an element.
type ChangeKind int

const (
	Added ChangeKind = iota + 1
	Changed
	Deleted
)

// String returns "added", "changed" or "deleted".
func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Deleted:
		return "deleted"
	}
	return "ChangeKind(" + strconv.Itoa(int(k)) + ")"
}

// Change is one element Sync adds, changes or deletes.
type Change struct {
	Kind ChangeKind
	// Key is the element's key: the input's for Added and Changed, the
	// map's for Deleted. Valid only during the call.
	Key []byte
	// Old is the map's value (nil for Added) and New the input's (nil for
	// Deleted), in LookupBatch's layout. Valid only during the call.
	Old, New []byte
}

// Sync makes the map's contents equal to keys and values (UpdateBatch's
// layout, UpdateAny): it reads the whole map with one walk, deletes the
// keys that are not in keys (first, to make room in a full map), then
// writes only the elements that are new or whose value differs, with
// UpdateBatchWith and opts.Workers. Unchanged elements are not rewritten, so
// LRU maps keep their order and programs watching values see no churn.
// Array maps cannot delete: their elements not in keys are set to zero
// bytes (and counted as Deleted). Per-CPU values compare every CPU's
// value_size bytes; padding is not compared. Map-in-map values compare the
// inner map of the given fd with the one the map holds. LPM trie keys
// compare as prefixes (host bits beyond prefixlen ignored): a prefix the
// input holds is left alone or updated in place, never deleted, not even
// for a moment.
//
// Duplicate keys in the input, a bad layout, keys the map cannot hold (an
// array index >= max_entries, an LPM prefix longer than its address), an
// empty input without AllowEmpty, a map opened read-only (unless DryRun)
// and map types without keys are errors before any write. An error after
// Sync began reading the map is a *SyncError that says how many deletes and
// writes were done.
//
// LRU maps (LRUHash, LRUPerCPUHash) evict before they are full, and the
// kernel reports the write that evicted as a success. So on those Sync
// checks afterwards that the map kept what it wrote (every input key, when
// the input is bigger than EvictionFreeSize) and returns an error wrapping
// ErrEvicted with the number missing. An input of at most
// EvictionFreeSize() keys — max_entries - 128 x PossibleCPUs(), or
// max_entries/PossibleCPUs() - 1 with BPF_F_NO_COMMON_LRU — is never
// evicted by Sync's own writes.
//
// Sync is not atomic. While BPF programs (or other processes) also write
// the map, it promises this, and no more: every key in keys holds its value
// from keys when Sync returns, unless a writer changed it after Sync's walk
// read it; every key the walk found and keys lacks is deleted (a writer may
// add it again afterwards); keys a writer adds after the walk has passed
// them are left alone; a stale key a writer deletes first is not an error.
// Replacing a whole map where programs must never see a mix is
// ReplaceInner's job.
func (m *Map) Sync(ctx context.Context, keys, values []byte, opts SyncOptions) (SyncStats, error) {
	count, err := m.checkSyncInput(keys, values, opts)
	if err != nil {
		return SyncStats{}, err
	}
	return m.sync(ctx, func() ([]byte, []byte, error) { return keys, values, nil }, count, true, opts)
}

// SyncFrom is Sync with an input that is still to be read (from a file, a
// socket, a parser): read runs on the caller's goroutine while the map is
// walked beside it, so the walk takes no time of its own when reading the
// input takes longer. An error from read ends SyncFrom with nothing written
// and is returned as it is. The input is checked as Sync checks it, when
// read returns: bad input is refused before any write, but after the walk
// began reading the map. As read keeps a core busy, the walk beside it uses
// at most GOMAXPROCS-1 of opts.Workers walkers (at least one); the writes
// use all of them.
func (m *Map) SyncFrom(ctx context.Context, read func() (keys, values []byte, err error), opts SyncOptions) (SyncStats, error) {
	_, err := withFD(m, opSync, func(*sys.FD) (struct{}, error) {
		if read == nil {
			return struct{}{}, m.refuse(opSync, ErrInvalidArgument, "nil read")
		}
		return struct{}{}, m.checkSyncMap(opts)
	})
	if err != nil {
		return SyncStats{}, err
	}
	// The map holds about what the input will: group both into parts for
	// that many (parts only decide how well an index stays in cache).
	return m.sync(ctx, read, int(min(m.info.MaxEntries, 1<<22)), false, opts)
}

// sync is Sync and SyncFrom once the map is checked: estimate is about the
// input's size (exact, when checked says the input is checked already).
func (m *Map) sync(ctx context.Context, read func() ([]byte, []byte, error), estimate int, checked bool, opts SyncOptions) (SyncStats, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	d, keys, values, err := m.diff(ctx, read, estimate, checked, opts)
	if err != nil {
		return SyncStats{}, err
	}
	if opts.Changes != nil {
		d.report(keys, values, int(m.info.KeySize), m.stride, opts.Changes)
	}
	if opts.DryRun {
		return d.stats, nil
	}
	total := d.stats.Deleted + d.stats.Added + d.stats.Changed
	progress := func(done int) {
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	deleted, err := m.deleteStale(ctx, d, cmp.Or(opts.Chunk, deleteChunk), progress)
	if err != nil {
		return d.stats, m.syncError(syncDeleting, d, deleted, 0, err)
	}
	wkeys, wvalues := d.writes(keys, values, int(m.info.KeySize), m.stride)
	written, err := m.UpdateBatchWith(ctx, wkeys, wvalues, BatchOptions{
		Workers:  opts.Workers,
		Chunk:    opts.Chunk,
		Progress: func(w int) { progress(d.stats.Deleted + w) }, // every stale key is done: deleted, or gone already
	})
	if err != nil {
		return d.stats, m.syncError(syncWriting, d, deleted, written, err)
	}
	if m.info.Type.Evicts() {
		return d.stats, m.checkNotEvicted(ctx, keys, d)
	}
	return d.stats, nil
}

// deleteStale deletes (or, in arrays, zeroes) the stale keys in chunks. A
// key someone else deleted first is skipped, not an error.
func (m *Map) deleteStale(ctx context.Context, d *syncDiff, chunk int, progress func(int)) (int, error) {
	ks := int(m.info.KeySize)
	total := len(d.stale) / ks
	if !m.info.Type.CanDelete() {
		zeros := make([]byte, total*m.stride)
		return m.UpdateBatchWith(ctx, d.stale, zeros, BatchOptions{Chunk: chunk, Progress: progress})
	}
	type result struct {
		n int
		f fault
	}
	done := 0
	for pos := 0; pos < total; {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n := min(total-pos, chunk)
		r, err := withFD(m, opSync, func(fd *sys.FD) (result, error) {
			deleted, f := m.deleteKeys(fd, d.stale[pos*ks:(pos+n)*ks], n, pos)
			return result{deleted, f}, nil
		})
		if err != nil {
			return done, err
		}
		done += r.n
		pos += r.n
		switch {
		case !r.f.failed():
		case r.f.errno == unix.ENOENT && r.f.index >= 0:
			pos++ // gone already: done too, for Progress
		default:
			return done, m.batchError(opDelete, r.f, nil, 0, total, done, nil)
		}
		progress(pos)
	}
	return done, nil
}

// deleteChunk bounds one BPF_MAP_DELETE_BATCH of Sync by default, so that
// cancellation and Progress get a say.
const deleteChunk = 4096

// syncStep is where a Sync failed.
type syncStep int

const (
	syncReading syncStep = iota
	syncDeleting
	syncWriting
	syncChecking
	syncEvicted
)

// SyncError is the error of a Sync that failed after it began reading the
// map, or that found afterwards that the map does not hold what it wrote
// (ErrEvicted). It says what Sync had done, and unwraps to Err.
type SyncError struct {
	// Map describes the map.
	Map MapInfo
	// Stats is what Sync found to do (the SyncStats it returned).
	Stats SyncStats
	// Deleted and Written count the stale elements deleted (arrays:
	// zeroed) and the new and changed elements written before Sync stopped.
	Deleted, Written int
	// Missing and Checked, with ErrEvicted: the input keys missing after
	// writing, of those checked.
	Missing, Checked int
	// Err is what stopped Sync: a *BatchError, ctx.Err(), ErrClosed, or
	// ErrEvicted.
	Err error

	step         syncStep
	firstMissing string // with ErrEvicted: which key, for the message
	evictionFree int    // with ErrEvicted: EvictionFreeSize
	inputKeys    int    // with ErrEvicted: the input's size
}

// syncError is the one constructor of *SyncError: Sync stopped at step with
// err, after deleting deleted and writing written of what d found to do.
func (m *Map) syncError(step syncStep, d *syncDiff, deleted, written int, err error) *SyncError {
	e := &SyncError{Map: m.info, Deleted: deleted, Written: written, Err: err, step: step}
	if d != nil {
		e.Stats = d.stats
	}
	return e
}

// Error says what Sync did and why it stopped, each fact once, e.g.
// `bpfbatch: sync Hash map (id 7): 0 of 1 stale element deleted, nothing
// written: BPF_MAP_DELETE_BATCH: EPERM: the map is frozen ...`.
func (e *SyncError) Error() string { return "bpfbatch: " + e.message("") }

func (e *SyncError) message(named string) string {
	var b strings.Builder
	writeSubject(&b, opSync, e.Map.describe(), named)
	switch e.step {
	case syncReading:
		b.WriteString("reading the map, nothing was changed: ")
	case syncDeleting:
		fmt.Fprintf(&b, "%d of %s deleted, nothing written: ", e.Deleted, plural(e.Stats.Deleted, "stale element"))
	case syncWriting:
		fmt.Fprintf(&b, "%s deleted, %d of %s written: ", plural(e.Deleted, "stale element"), e.Written, plural(e.Stats.Added+e.Stats.Changed, "new and changed element"))
	case syncChecking:
		b.WriteString("everything was written; checking that the LRU map kept it: ")
	case syncEvicted:
		fmt.Fprintf(&b, "%s: %d of the %d input keys checked after writing are missing (the first: %s): an LRU map evicts before it is full; this one holds up to %d elements without evicting (max_entries %d), the input has %d",
			ErrEvicted, e.Missing, e.Checked, e.firstMissing, e.evictionFree, e.Map.MaxEntries, e.inputKeys)
		return b.String()
	}
	var be *BatchError
	if errors.As(e.Err, &be) {
		be.writeCause(&b) // its counts are the ones said above
	} else {
		b.WriteString(messageOf(e.Err, e.Map.describe()))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *SyncError) Unwrap() error { return e.Err }
