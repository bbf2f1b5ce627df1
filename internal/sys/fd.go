package sys

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// FD owns a file descriptor of a BPF object. It is never 0: the bpf API
// reads 0 as "no fd" in fields such as inner_map_fd and btf_fd, so a
// descriptor that lands on 0 (stdin closed) is moved up.
type FD struct {
	raw int
}

// NewFD takes ownership of raw, moving it off 0.
func NewFD(raw int) (*FD, error) {
	if raw < 0 {
		return nil, fmt.Errorf("invalid file descriptor %d", raw)
	}
	fd := &FD{raw}
	if raw != 0 {
		return fd, nil
	}
	dup, err := fd.Dup()
	unix.Close(raw)
	return dup, err
}

// Dup returns a new FD for the same object, with O_CLOEXEC, never 0.
func (fd *FD) Dup() (*FD, error) {
	return DupRaw(fd.raw)
}

// DupRaw duplicates a descriptor the caller keeps owning (with O_CLOEXEC,
// never 0) and returns the copy as an FD.
func DupRaw(raw int) (*FD, error) {
	dup, err := unix.FcntlInt(uintptr(raw), unix.F_DUPFD_CLOEXEC, 1)
	if err != nil {
		return nil, fmt.Errorf("duplicate fd %d: %w", raw, err)
	}
	return &FD{dup}, nil
}

// Int returns the descriptor number.
func (fd *FD) Int() int { return fd.raw }

// Uint returns the descriptor number as the u32 of bpf_attr fd fields.
func (fd *FD) Uint() uint32 { return uint32(fd.raw) }

// String returns the number, e.g. "7".
func (fd *FD) String() string { return strconv.Itoa(fd.raw) }

// Close closes the descriptor once; later calls return nil.
func (fd *FD) Close() error {
	if fd == nil || fd.raw < 0 {
		return nil
	}
	raw := fd.raw
	fd.raw = -1
	return unix.Close(raw)
}
