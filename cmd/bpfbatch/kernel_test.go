package main

import (
	"errors"
	"strings"
	"testing"
)

// RemoveMemlock failing (no CAP_SYS_RESOURCE on a kernel that charges
// RLIMIT_MEMLOCK) is a warning: the command goes on, and the map may fit.
func TestMemlockFailureIsAWarning(t *testing.T) {
	defer func(f func() error) { removeMemlockFunc = f }(removeMemlockFunc)
	removeMemlockFunc = func() error { return errors.New("bpfbatch: RemoveMemlock: lifting it needs CAP_SYS_RESOURCE") }
	for _, args := range [][]string{
		{"load", "/nonexistent/pin", "-"},
		{"sync", "/nonexistent/pin", "-"},
		{"replace", "/nonexistent/pin", "1", "-"},
		{"create", "/nonexistent/pin", "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "1"},
	} {
		code, _, stderr := runCLI(args...)
		warning := "bpfbatch: RemoveMemlock: lifting it needs CAP_SYS_RESOURCE\nbpfbatch: warning: going on, the maps may still fit\n"
		if code != exitFailed || !strings.HasPrefix(stderr, warning) || !strings.Contains(stderr, "/nonexistent") {
			t.Errorf("%s: exit %d, stderr %q; want the warning, then the command's own failure", args[0], code, stderr)
		}
	}
}
