//go:build 386 || arm || mipsle

package sys

import "unsafe"

// Pointer is a u64 address field of a kernel struct. On 32-bit
// little-endian the pointer fills the low word and the zero pad the high
// word, so the kernel reads a zero-extended u64.
type Pointer struct {
	ptr unsafe.Pointer
	_   uint32
}
