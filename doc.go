// Package bpfbatch moves BPF map contents in bulk between user space and the
// kernel: writes with one bpf(BPF_MAP_UPDATE_BATCH) per call, and reads,
// deletes and syncs with the rest of the batch family.
//
// A Map wraps a map file descriptor (NewMap, OpenPinned, OpenByID,
// CreateMap). Map.UpdateBatch takes keys and values as flat byte buffers in
// the kernel's layout; UpdateBatchOf takes typed slices and reinterprets them
// in place; Map.UpdateBatchWith splits big loads into chunks written by
// several goroutines at once. Map.LookupBatch walks a map with a Cursor,
// Map.LookupAndDeleteBatch drains it, Map.DeleteBatch deletes keys, Map.Count
// counts them, Map.Sync makes a map equal a desired state while writing only
// what changed, and ReplaceInner swaps a map-in-map slot to a freshly filled
// inner map atomically.
//
// Every buffer is checked against the map's key_size and value stride
// before the kernel sees it: the kernel trusts the element count and would
// otherwise read past the end of a Go slice. For per-CPU maps one element's
// value is PossibleCPUs() slots of value_size rounded up to 8 bytes, all CPUs
// of element 0 first (Map.ValueStride); with OnCPU or UpdateAllCPUs it is one
// value_size value per element.
//
// Where the kernel's batch commands fall short, the library keeps the
// documented meaning by working element by element (Map.UpdatePath):
// UpdateNoExist and UpdateExist, which the batch command refuses, map types
// without batch support, and kernels before 5.6. UpdateAllCPUs is laid out
// by the library on kernels before 7.0. RemoveMemlock lifts RLIMIT_MEMLOCK
// on kernels before 5.11, which charge map memory to it.
//
// Errors from the kernel are *BatchError values that carry the number of
// elements done, the failing element and the raw errno, and match sentinels
// such as ErrMapFull with errors.Is; operations on a map as a whole return
// *MapError. Bad input is a *SizeError, ErrInvalidFlags or ErrInvalidType,
// returned before any syscall with nothing written.
package bpfbatch
