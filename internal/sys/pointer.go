package sys

import "unsafe"

// NewPointer wraps p for a u64 pointer field of a bpf_attr.
func NewPointer(p unsafe.Pointer) Pointer { return Pointer{ptr: p} }

// Addr is the address the kernel sees, for tests and debugging.
func (p Pointer) Addr() uint64 { return uint64(uintptr(p.ptr)) }
