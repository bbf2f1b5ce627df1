package main

import (
	"strings"
	"testing"
)

func TestMapFlags(t *testing.T) {
	got, err := parseMapFlags("no-prealloc, BPF_F_RDONLY_PROG,0x400")
	if want := uint32(1 | 1<<7 | 1<<10); err != nil || got != want {
		t.Errorf("parseMapFlags = %#x, %v, want %#x", got, err, want)
	}
	if _, err := parseMapFlags("fast"); err == nil || !strings.Contains(err.Error(), "no-prealloc") {
		t.Errorf("parseMapFlags(fast) = %v, want the list of names", err)
	}
	if got, want := describeMapFlags(1|1<<10|1<<30), "0x40000401 (BPF_F_NO_PREALLOC|BPF_F_MMAPABLE|0x40000000)"; got != want {
		t.Errorf("describeMapFlags = %q, want %q", got, want)
	}
	if got := describeMapFlags(0); got != "0" {
		t.Errorf("describeMapFlags(0) = %q", got)
	}
}
