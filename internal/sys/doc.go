// Package sys is bpfbatch's plumbing for the bpf(2) system call: command
// numbers, the kernel's attribute structs as fixed-layout Go structs, and the
// one function that enters the kernel.
//
// Every struct here mirrors a member of union bpf_attr (or bpf_map_info) in
// include/uapi/linux/bpf.h byte for byte; layout_test.go checks each field
// offset against the header.
package sys
