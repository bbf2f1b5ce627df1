//go:build mips

package sys

import "unsafe"

// Pointer is a u64 address field of a kernel struct. On 32-bit big-endian
// the zero pad is the high word and comes first, so the kernel reads a
// zero-extended u64.
type Pointer struct {
	_   uint32
	ptr unsafe.Pointer
}
