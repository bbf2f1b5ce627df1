package bpfbatch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/sys"
)

// The hints of errors: what an errno means for this map and call, in words
// a user can act on. bpf(2) says only the errno, so where several causes
// share one, the hint looks at what it can (fd mode, capabilities, the
// path's filesystem) before naming one.

// elemHint explains errno from the bpf(2) command cmd on m's elements.
// index is the failing element, or -1 when the kernel refused the whole
// call.
func (m *Map) elemHint(fd *sys.FD, cmd string, errno unix.Errno, flags Flags, index int) string {
	t := m.info.Type
	writes := cmd != cmdLookupBatch && cmd != cmdLookupElem && cmd != cmdGetNextKey
	switch errno {
	case unix.EPERM, unix.EACCES:
		return permissionHint(fd, writes)
	case unix.E2BIG:
		switch {
		case t == Queue || t == Stack:
			return fmt.Sprintf("the %s already holds max_entries (%d) values; pop some first, or push with UpdateExist to replace the oldest", t, m.info.MaxEntries)
		case t.IsArray():
			return fmt.Sprintf("the key is an index >= max_entries (%d)", m.info.MaxEntries)
		}
		return fmt.Sprintf("the map already holds max_entries (%d) elements; delete some, use an LRU map, or create it larger", m.info.MaxEntries)
	case unix.ENOSPC:
		return fmt.Sprintf("the trie already holds max_entries (%d) prefixes", m.info.MaxEntries)
	case unix.EEXIST:
		if t.IsArray() {
			return "UpdateNoExist: every index of an array map exists"
		}
		return "UpdateNoExist: the key is already in the map"
	case unix.ENOENT:
		if flags&UpdateExist != 0 {
			return "UpdateExist: the key is not in the map"
		}
		return "the key is not in the map"
	case sys.ENOTSUPP, unix.EOPNOTSUPP:
		return fmt.Sprintf("%s maps do not support %s from user space on this kernel", t, cmd)
	case unix.EBADF:
		if t == ArrayOfMaps || t == HashOfMaps {
			return "the value must be the fd (u32) of an open inner map"
		}
		return "the file descriptor is not open"
	case unix.EINVAL:
		switch {
		case flags&UpdateLock != 0 && m.info.BTFValueTypeID == 0:
			return "UpdateLock needs a struct bpf_spin_lock in the map's value type, described by BTF; this map's value has none"
		case index < 0:
			return "the kernel refused the call as a whole (flags this kernel does not know?)"
		case t == LPMTrie:
			return fmt.Sprintf("the key's prefixlen (first 4 bytes) exceeds the %d data bits of key_size %d", 8*(int(m.info.KeySize)-4), m.info.KeySize)
		case t == ArrayOfMaps || t == HashOfMaps:
			return "the value must be the fd of a map compatible with the inner map template: same type, key and value size, map flags and BTF, and for arrays the same max_entries unless the template has BPF_F_INNER_MAP"
		}
		return "the kernel rejected the element"
	case unix.EFAULT:
		return "the kernel could not read or write the keys or values"
	case unix.EBUSY, unix.EAGAIN:
		return "a BPF program held the bucket lock on this CPU; retry"
	case unix.ENOMEM:
		if cmd == cmdUpdateBatch || cmd == cmdUpdateElem { // write retries ENOMEM before it reports one
			return fmt.Sprintf("the kernel ran out of memory for the element, still after %v of pauses", enomemPauses)
		}
		return "the kernel ran out of memory for the element"
	}
	return ""
}

// permissionHint says which privilege an EPERM/EACCES on a map fd lacked.
func permissionHint(fd *sys.FD, write bool) string {
	// BPF_F_RDONLY and BPF_F_WRONLY are fd flags, not kept in map_flags:
	// the fd's access mode tells.
	if fd != nil {
		if fl, err := unix.FcntlInt(uintptr(fd.Int()), unix.F_GETFL, 0); err == nil {
			switch mode := fl & unix.O_ACCMODE; {
			case write && mode == unix.O_RDONLY:
				return "this map fd is read-only (the map was created with BPF_F_RDONLY, or a pin was opened read-only): user space cannot write through it"
			case !write && mode == unix.O_WRONLY:
				return "this map fd is write-only (the map was created with BPF_F_WRONLY, or a pin was opened write-only): user space cannot read through it"
			}
		}
	}
	if write && fd != nil && frozen(fd) {
		return "the map is frozen (BPF_MAP_FREEZE): it is read-only to user space for good"
	}
	return privilegeHint("a security module (LSM) denied bpf(2)")
}

// frozen reports whether the kernel says the map behind fd is frozen
// (/proc/self/fdinfo shows "frozen: 1" since Linux 5.2).
func frozen(fd *sys.FD) bool {
	b, err := os.ReadFile("/proc/self/fdinfo/" + fd.String())
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "frozen" {
			return strings.TrimSpace(v) == "1"
		}
	}
	return false
}

// privilegeHint blames missing privilege when the process lacks it, else
// the other cause.
func privilegeHint(other string) string {
	if missing := missingPrivilege(); missing != "" {
		return missing
	}
	return other
}

// missingPrivilege says what the process lacks of the privilege bpf(2)
// asks for when unprivileged BPF is disabled, or "" when it has it.
// Capabilities held only inside a user namespace (unshare -U -r) show in
// the effective set but do not count: bpf(2) checks them against the
// initial namespace.
func missingPrivilege() string {
	sysctl := ""
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled"); err == nil {
		sysctl = fmt.Sprintf(" (kernel.unprivileged_bpf_disabled = %s)", strings.TrimSpace(string(b)))
	}
	if m := userNamespaceMap(); m != "" {
		return "the process holds its capabilities only inside a user namespace (uid_map " + m + "): bpf(2) needs CAP_BPF in the initial namespace" + sysctl + "; run it outside the namespace as root or with CAP_BPF"
	}
	if !hasBPFCapability() {
		return "the process lacks CAP_BPF (and CAP_SYS_ADMIN)" + sysctl + ": run as root or grant CAP_BPF"
	}
	return ""
}

// refusesEveryCommand reports whether the kernel refuses every bpf(2)
// command of this thread, as kernels before 5.19 do without CAP_BPF when
// kernel.unprivileged_bpf_disabled is set: a command that needs no
// privilege, on a descriptor that is not open, answers EPERM instead of
// EBADF.
func refusesEveryCommand() bool {
	attr := sys.InfoAttr{BPFFD: ^uint32(0)} // fd -1
	return sys.ObjGetInfoByFD(&attr) == unix.EPERM
}

// userNamespaceMap returns the process's uid_map, trimmed, when the process
// runs in a user namespace other than the initial one (whose map is the
// identity over every uid), else "".
func userNamespaceMap() string {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return "" // no /proc: cannot tell, so do not blame it
	}
	m := strings.Join(strings.Fields(string(b)), " ")
	if m == "0 0 4294967295" {
		return ""
	}
	return `"` + m + `"`
}

// hasBPFCapability reports whether the calling thread has CAP_BPF or
// CAP_SYS_ADMIN in its effective set: what bpf(2) asks for when unprivileged
// BPF is disabled (kernel.unprivileged_bpf_disabled), if the thread runs in
// the initial user namespace.
func hasBPFCapability() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return true // unknown: do not blame capabilities
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return (has(unix.CAP_BPF) || has(unix.CAP_SYS_ADMIN)) && userNamespaceMap() == ""
}

// createHint explains errno from BPF_MAP_CREATE.
func createHint(errno unix.Errno) string {
	switch errno {
	case unix.EPERM, unix.EACCES:
		if missing := missingPrivilege(); missing != "" {
			return missing
		}
		charged, known, limit := memlockCharged()
		if limit == unix.RLIM_INFINITY || known && !charged {
			return "a security module (LSM) denied bpf(2)"
		}
		// Advise RemoveMemlock only to a caller that has not called it:
		// after it, only raising the hard limit helps.
		lift := "call bpfbatch.RemoveMemlock() first, or raise the limit (ulimit -l unlimited)"
		if memlockRemoveCalled() {
			lift = "raising it further needs CAP_SYS_RESOURCE (ulimit -l unlimited as root)"
		}
		if charged {
			return fmt.Sprintf("this kernel charges map memory to RLIMIT_MEMLOCK (now %s) and the map needs more; %s", memlockString(limit), lift)
		}
		return fmt.Sprintf("RLIMIT_MEMLOCK (now %s) is used up if this kernel charges map memory to it: %s; else a security module (LSM) denied bpf(2)", memlockString(limit), lift)
	case unix.EINVAL:
		return "the kernel rejected the spec: check key/value sizes, max_entries and flags for this map type; LPM tries need BPF_F_NO_PREALLOC, map-in-map types a valid InnerMapFD"
	case unix.ENOMEM:
		return "max_entries x value size is too large for the kernel's memory"
	case unix.E2BIG:
		return "key or value size too large for this map type"
	case sys.ENOTSUPP, unix.EOPNOTSUPP:
		return "this kernel does not know the map type or a flag"
	}
	return ""
}

// pathError is the error of BPF_OBJ_GET on path, opened with opts. It
// checks the real cause (the filesystem, the file type, the file's mode)
// before blaming privileges: the kernel answers a path outside bpffs and a
// directory with the same EACCES/EPERM as missing privileges, and then the
// error does not claim ErrPermission.
func pathError(op, name, path string, opts OpenOptions, errno unix.Errno) *MapError {
	hint, notPrivilege := objGetHint(path, opts, errno)
	e := newMapError(op, name, path, errno, hint)
	e.notPrivilege = notPrivilege
	return e
}

// pinError is the error of BPF_OBJ_PIN of the map name at path.
func pinError(name, path string, errno unix.Errno) *MapError {
	hint, notPrivilege := pinHint(path, errno)
	e := newMapError(opPin, name, path, errno, hint)
	e.notPrivilege = notPrivilege
	return e
}

// bpffsHint says that dir is not on a bpf filesystem, or "".
func bpffsHint(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && uint32(st.Type) != uint32(unix.BPF_FS_MAGIC) {
		return fmt.Sprintf("%s is not on a bpf filesystem; pinned maps live on one (mount -t bpf bpf /sys/fs/bpf)", dir)
	}
	return ""
}

// objGetHint explains errno from BPF_OBJ_GET of path; notPrivilege reports
// a cause other than permissions.
func objGetHint(path string, opts OpenOptions, errno unix.Errno) (hint string, notPrivilege bool) {
	if h := bpffsHint(path); h != "" {
		return h, true
	}
	fi, err := os.Lstat(path)
	switch {
	case err != nil && os.IsNotExist(err):
		return "nothing is pinned there", true
	case err == nil && fi.IsDir():
		return "it is a directory, not a pinned map", true
	case err == nil && !fi.Mode().IsRegular():
		return "it is not a pinned BPF object", true
	}
	if errno != unix.EPERM && errno != unix.EACCES {
		return "", false
	}
	mode, action := uint32(unix.R_OK|unix.W_OK), "open it for reading and writing (OpenOptions{ReadOnly: true} needs only read permission)"
	switch {
	case opts.ReadOnly:
		mode, action = unix.R_OK, "open it for reading"
	case opts.WriteOnly:
		mode, action = unix.W_OK, "open it for writing"
	}
	if h := accessHint(path, "the pin", mode, action); h != "" {
		if missing := missingPrivilege(); missing != "" && refusesEveryCommand() {
			h += "; and " + missing + " (this kernel asks for it for every bpf(2) command)"
		}
		return h, false // a permission error, of the file's
	}
	return privilegeHint("a security module (LSM) denied it"), false
}

// pinHint explains errno from BPF_OBJ_PIN at path.
func pinHint(path string, errno unix.Errno) (hint string, notPrivilege bool) {
	dir := filepath.Dir(path)
	if h := bpffsHint(dir); h != "" {
		return h, true
	}
	switch errno {
	case unix.EEXIST:
		return "an object is already pinned there; remove it first", true
	case unix.ENOENT:
		return "the directory does not exist", true
	case unix.EPERM, unix.EACCES:
		if h := accessHint(dir, "the directory", unix.W_OK|unix.X_OK, "create a pin in it"); h != "" {
			return h, false
		}
		return privilegeHint("a security module (LSM) denied it"), false
	}
	return "", false
}

// accessHint checks the file mode and owner of path (what) against the
// process's effective credentials, as the kernel does before BPF_OBJ_GET
// and BPF_OBJ_PIN, and says what denies access for mode (unix.R_OK, ...),
// or "" when the mode allows it.
func accessHint(path, what string, mode uint32, action string) string {
	if unix.Faccessat(unix.AT_FDCWD, path, mode, unix.AT_EACCESS) == nil {
		return ""
	}
	// A directory on the way without search permission denies it too.
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if unix.Faccessat(unix.AT_FDCWD, dir, unix.X_OK, unix.AT_EACCESS) != nil {
			path, what, action = dir, "the directory "+dir, "search it"
		}
		if next := filepath.Dir(dir); next == dir {
			break
		}
	}
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return ""
	}
	return fmt.Sprintf("%s is mode %#o, owned by uid %d gid %d, and this process (uid %d, gid %d) may not %s: change its mode or owner (chmod, chown)",
		what, st.Mode&0o7777, st.Uid, st.Gid, os.Geteuid(), os.Getegid(), action)
}
