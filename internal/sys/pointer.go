package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// NewPointer wraps p for a u64 pointer field of a bpf_attr.
func NewPointer(p unsafe.Pointer) Pointer { return Pointer{ptr: p} }

// SlicePointer points at b's first byte. A nil or empty b gives the nil
// pointer or a pointer to no bytes: the caller's count must then be 0.
func SlicePointer(b []byte) Pointer { return Pointer{ptr: unsafe.Pointer(unsafe.SliceData(b))} }

// PathPointer points at a NUL-terminated copy of path, for pathname fields.
// It fails for a path holding a NUL byte.
func PathPointer(path string) (Pointer, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return Pointer{}, err
	}
	return Pointer{ptr: unsafe.Pointer(p)}, nil
}

// Addr is the address the kernel sees, for tests and debugging.
func (p Pointer) Addr() uint64 { return uint64(uintptr(p.ptr)) }
