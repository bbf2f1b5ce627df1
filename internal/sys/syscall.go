package sys

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ENOTSUPP is the kernel-internal errno 524 that bpf(2) leaks to user space
// when a map type lacks a command (bpf_map_do_batch, map_lookup_elem with
// unsupported flags). x/sys/unix has no constant for it: it is not UAPI.
const ENOTSUPP unix.Errno = 524

// noFD is passed as the fd of commands that do not act on an existing fd.
const noFD = -1

// bpf issues bpf(cmd, attr, size). fd is the object the command acts on,
// used only to route the call to a Fake in tests. attr must point to size
// bytes that stay addressable until the call returns: the kernel writes
// results (counts, cursors, fds) back into it.
func bpf(cmd int, fd int, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	if faking.Load() != 0 {
		if f := fakeFor(fd); f != nil {
			return callFake(f, cmd, attr, size)
		}
	}
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	return r, errno
}

// Fake stands in for the kernel in unit tests, for what no kernel shows
// (injected errnos, kernels older than any the tests boot). It receives a
// copy of the attr bytes, may rewrite them as the kernel would (count
// write-back), and returns what bpf(2) would.
type Fake func(cmd int, attr []byte) (uintptr, unix.Errno)

var (
	faking atomic.Int32 // number of fds with a Fake: the production path reads only this
	fakes  sync.Map     // fd (int) -> Fake
)

// InjectFake routes every bpf(2) call on fd to f until the returned func is
// called. It exists for tests: production code never calls it.
func InjectFake(fd int, f Fake) (remove func()) {
	fakes.Store(fd, f)
	faking.Add(1)
	return func() {
		if _, ok := fakes.LoadAndDelete(fd); ok {
			faking.Add(-1)
		}
	}
}

func fakeFor(fd int) Fake {
	if fd < 0 {
		return nil
	}
	f, ok := fakes.Load(fd)
	if !ok {
		return nil
	}
	return f.(Fake)
}

// callFake hands f a heap copy of the attr, so that attr itself never flows
// into an indirect call and keeps not escaping on the production path.
func callFake(f Fake, cmd int, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	buf := make([]byte, size)
	copy(buf, unsafe.Slice((*byte)(attr), size))
	r, errno := f(cmd, buf)
	copy(unsafe.Slice((*byte)(attr), size), buf)
	return r, errno
}
