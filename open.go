package bpfbatch

import (
	"iter"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// OpenOptions restrict what a Map opened with OpenPinnedWith or
// OpenByIDWith may do, and so what the opener needs.
type OpenOptions struct {
	// ReadOnly opens with BPF_F_RDONLY: only read permission on the pin is
	// needed (and a frozen map opens too). Writes and deletes, also
	// LookupAndDeleteBatch, are refused with ErrPermission before any
	// syscall.
	ReadOnly bool
	// WriteOnly opens with BPF_F_WRONLY: reads (Lookup, LookupBatch,
	// Count, Iterate, Walk) are refused with ErrPermission before any
	// syscall.
	WriteOnly bool
}

// fileFlags are the BPF_F_RDONLY / BPF_F_WRONLY open flags for o.
func (o OpenOptions) fileFlags() uint32 {
	switch {
	case o.ReadOnly:
		return unix.BPF_F_RDONLY
	case o.WriteOnly:
		return unix.BPF_F_WRONLY
	}
	return 0
}

// OpenPinned opens the map pinned at path on a BPF filesystem (usually under
// /sys/fs/bpf) for reading and writing, with BPF_OBJ_GET.
func OpenPinned(path string) (*Map, error) {
	return OpenPinnedWith(path, OpenOptions{})
}

// OpenPinnedWith is OpenPinned with options: OpenOptions{ReadOnly: true}
// needs only read permission on the pin.
func OpenPinnedWith(path string, opts OpenOptions) (*Map, error) {
	if opts.ReadOnly && opts.WriteOnly {
		return nil, newMapError(opOpen, "", path, ErrInvalidArgument, "ReadOnly and WriteOnly exclude each other; leave both false to read and write")
	}
	p, err := sys.PathPointer(path)
	if err != nil {
		return nil, newMapError(opOpen, "", path, ErrInvalidArgument, err.Error())
	}
	attr := sys.ObjAttr{Pathname: p, FileFlags: opts.fileFlags()}
	fd, errno := sys.ObjGet(&attr)
	if errno != 0 {
		return nil, pathError(opOpen, "", path, opts, errno)
	}
	return open(fd, opOpen, "", path)
}

// OpenByID opens the map with the kernel ID id (BPF_MAP_GET_FD_BY_ID, which
// needs CAP_SYS_ADMIN) for reading and writing: the maps of running
// programs that no one pinned, or the inner map a map-in-map slot holds,
// whose lookups return IDs.
func OpenByID(id uint32) (*Map, error) {
	return OpenByIDWith(id, OpenOptions{})
}

// OpenByIDWith is OpenByID with options.
func OpenByIDWith(id uint32, opts OpenOptions) (*Map, error) {
	name := "id " + strconv.FormatUint(uint64(id), 10)
	if opts.ReadOnly && opts.WriteOnly {
		return nil, newMapError(opOpen, name, "", ErrInvalidArgument, "ReadOnly and WriteOnly exclude each other; leave both false to read and write")
	}
	attr := sys.MapGetFDByIDAttr{ID: id, OpenFlags: opts.fileFlags()}
	fd, errno := sys.MapGetFDByID(&attr)
	if errno != 0 {
		hint := ""
		switch errno {
		case unix.ENOENT:
			hint = "no map has this ID (it was freed, or the ID is of another object)"
		case unix.EPERM, unix.EACCES:
			hint = privilegeHint("BPF_MAP_GET_FD_BY_ID needs CAP_SYS_ADMIN; a security module (LSM) may deny it too")
		}
		return nil, newMapError(opOpen, name, "", errno, hint)
	}
	return open(fd, opOpen, name, "")
}

// MapIDs yields the ID of every BPF map on the system, in increasing order
// (BPF_MAP_GET_NEXT_ID, which needs CAP_SYS_ADMIN): with OpenByID, the way
// to the maps of running programs that no one pinned. A failure is
// yielded once, with ID 0, and ends the sequence. Maps created or freed
// meanwhile may be seen or not.
func MapIDs() iter.Seq2[uint32, error] {
	return func(yield func(uint32, error) bool) {
		var attr sys.MapGetFDByIDAttr
		for {
			switch errno := sys.MapGetNextID(&attr); errno {
			case 0:
			case unix.ENOENT:
				return // no map after attr.ID
			default:
				hint := ""
				if errno == unix.EPERM || errno == unix.EACCES {
					hint = privilegeHint("BPF_MAP_GET_NEXT_ID needs CAP_SYS_ADMIN; a security module (LSM) may deny it too")
				}
				yield(0, newMapError(opList, "", "", errno, hint))
				return
			}
			if !yield(attr.NextID, nil) {
				return
			}
			attr.ID = attr.NextID
		}
	}
}

// Pin pins the map at path on a BPF filesystem (BPF_OBJ_PIN), so that it
// outlives this process; OpenPinned opens it again. path must not exist.
func (m *Map) Pin(path string) error {
	_, err := withFD(m, opPin, func(fd *sys.FD) (struct{}, error) {
		p, err := sys.PathPointer(path)
		if err != nil {
			return struct{}{}, newMapError(opPin, m.info.describe(), path, ErrInvalidArgument, err.Error())
		}
		attr := sys.ObjAttr{Pathname: p, BPFFD: fd.Uint()}
		if errno := sys.ObjPin(&attr); errno != 0 {
			return struct{}{}, pinError(m.info.describe(), path, errno)
		}
		return struct{}{}, nil
	})
	return err
}
