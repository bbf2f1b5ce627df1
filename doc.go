// Package bpfbatch moves BPF map contents in bulk between user space and the
// kernel: writes with one bpf(BPF_MAP_UPDATE_BATCH) per call, and reads,
// deletes and syncs with the rest of the batch family.
//
// A Map wraps a map file descriptor (NewMap, OpenPinned, OpenPinnedWith,
// OpenByID, CreateMap). The typed calls take Go slices of fixed-size keys
// and values and reinterpret them in place: UpdateBatchOf writes,
// LookupBatchOf reads with a Cursor, Iterate walks a map as a Go iterator,
// DeleteBatchOf deletes and SyncOf makes a map equal a desired state while
// writing only what changed; LPMKey4 and LPMKey6 are the keys of LPM tries.
// The Map methods of the same names (UpdateBatch, LookupBatch,
// LookupAndDeleteBatch, DeleteBatch, Sync) take flat byte buffers in the
// kernel's layout. Map.UpdateBatchWith splits big loads into chunks written
// by several goroutines at once, Map.Walk reads a whole map in batches,
// Map.Count counts its elements, and ReplaceInner swaps a map-in-map slot
// to a freshly filled inner map atomically.
//
// Every buffer is checked against the map's key_size and value stride
// before the kernel sees it: the kernel trusts the element count and would
// otherwise read past the end of a Go slice. For per-CPU maps one element's
// value is PossibleCPUs() slots of value_size rounded up to 8 bytes, all CPUs
// of element 0 first (Map.ValueStride); with OnCPU or UpdateAllCPUs it is one
// value_size value per element.
//
// Where the kernel's batch commands fall short, the library keeps the
// documented meaning by working element by element (Map.UpdatePath,
// Map.ReadPath, Map.DeletePath): UpdateNoExist and UpdateExist, which the
// batch command refuses, map types without batch support, and kernels
// before 5.6. UpdateAllCPUs is laid out by the library on kernels before
// 7.0. RemoveMemlock lifts RLIMIT_MEMLOCK on kernels before 5.11, which
// charge map memory to it. LRU maps evict before they are full: Sync checks
// what they kept (ErrEvicted, Map.EvictionFreeSize).
//
// Errors from the kernel are *BatchError values that carry the number of
// elements done, the failing element, the bpf(2) command and the raw
// errno, and match sentinels such as ErrMapFull with errors.Is; a Sync that
// stopped part-way is a *SyncError that says what it did; operations on a
// map as a whole return *MapError. Bad input is refused before any syscall,
// with nothing written: a *SizeError for a buffer that does not fit the
// map, or a *MapError wrapping ErrInvalidFlags, ErrInvalidType,
// ErrInvalidArgument, ErrNotSupported (the map type cannot do it) or
// ErrPermission (the map was opened read-only or write-only).
package bpfbatch
