package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// BPF issues bpf(cmd, attr, size) and returns the kernel's result and errno
// (0 on success). attr must point to size bytes that stay addressable until
// the call returns: the kernel writes results (counts, fds) back into it.
func BPF(cmd Cmd, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	return r, errno
}

// Fake stands in for the kernel in unit tests, for what the real one cannot
// show (old kernels, injected errnos). It receives a copy of the attr bytes,
// may rewrite them as the kernel would (count write-back), and returns what
// bpf(2) would.
type Fake func(cmd Cmd, attr []byte) (uintptr, unix.Errno)

// Call issues cmd through fake if it is set, else through BPF.
func Call(fake Fake, cmd Cmd, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	if fake == nil {
		return BPF(cmd, attr, size)
	}
	// The fake sees a heap copy, so attr itself never flows into an
	// indirect call and keeps not escaping on the production path.
	buf := make([]byte, size)
	copy(buf, unsafe.Slice((*byte)(attr), size))
	r, errno := fake(cmd, buf)
	copy(unsafe.Slice((*byte)(attr), size), buf)
	return r, errno
}
