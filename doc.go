// Package bpfbatch writes many elements into a BPF map with one
// bpf(BPF_MAP_UPDATE_BATCH) system call.
//
// A Map wraps a map file descriptor (NewMap, OpenPinned, CreateMap).
// Map.UpdateBatch takes keys and values as flat byte buffers in the kernel's
// layout; UpdateBatchOf takes typed slices and reinterprets them in place;
// Map.UpdateBatchWith splits big loads into chunks written by several
// goroutines at once.
//
// Every buffer is checked against the map's key_size and value stride
// before the kernel sees it: the kernel trusts the element count and would
// otherwise read past the end of a Go slice. For per-CPU maps one element's
// value is PossibleCPUs() slots of value_size rounded up to 8 bytes, all CPUs
// of element 0 first (Map.ValueStride).
//
// Where the kernel's batch command falls short, UpdateBatch keeps the
// documented meaning by writing element by element (Map.UpdatePath):
// UpdateNoExist and UpdateExist, which the batch command refuses, map types
// without batch support, and kernels before 5.6.
//
// Errors from the kernel are *BatchError values that carry the number of
// elements written, the failing element and the raw errno, and match
// sentinels such as ErrMapFull with errors.Is. Bad input is a *SizeError or
// ErrInvalidFlags, returned before any syscall with nothing written.
package bpfbatch
