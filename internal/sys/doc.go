// Package sys is bpfbatch's one interface to the bpf(2) system call: the
// kernel's attribute structs as fixed-layout Go structs, a file descriptor
// type that owns its fd, and one typed wrapper per command that hides
// unsafe.Pointer, the attr size and runtime.KeepAlive from its callers.
//
// Every struct here mirrors a member of union bpf_attr (or bpf_map_info) in
// include/uapi/linux/bpf.h byte for byte; layout_test.go checks each field
// offset against the numbers in the header and against the installed
// <linux/bpf.h>. Command numbers, map types and flags come from
// golang.org/x/sys/unix; only what it lacks is defined here.
package sys
