//go:build !386 && !arm && !mips && !mipsle

package sys

import "unsafe"

// Pointer is a u64 address field of a kernel struct. It holds a real
// unsafe.Pointer (not a uintptr) so the garbage collector keeps the target
// alive and the stack copier rewrites it if the target lives on a stack that
// moves while the attr is being built.
type Pointer struct {
	ptr unsafe.Pointer
}
