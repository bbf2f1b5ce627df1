package main

import (
	"strings"
	"testing"
)

// --chunk 0 and --workers 0 mean what they mean to the library's
// BatchOptions (an even split; one call at a time), the same for load,
// sync and delete, so they get past the flag checks to opening the map.
func TestChunkAndWorkersZeroAccepted(t *testing.T) {
	for _, args := range [][]string{
		{"load", "--chunk", "0"}, {"load", "--workers", "0"}, {"load", "--chunk", "0", "--workers", "0"}, {"load", "--chunk", "0", "--stream"},
		{"sync", "--chunk", "0"}, {"sync", "--workers", "0"}, {"delete", "--chunk", "0"},
	} {
		code, _, stderr := runCLI(append([]string{args[0], "/nonexistent/pin", "-"}, args[1:]...)...)
		if code != exitFailed || !strings.Contains(stderr, "/nonexistent/pin") {
			t.Errorf("%v: exit %d, stderr %q; want the map's open error (exit 1)", args, code, stderr)
		}
	}
	for _, cmd := range []string{"load", "sync"} {
		_, stdout, _ := runCLI(cmd, "-h")
		for _, w := range []string{"0 lets the library split the writes evenly", "0 or 1 writes one chunk at a time, in order"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s -h lacks %q:\n%s", cmd, w, stdout)
			}
		}
	}
	if _, stdout, _ := runCLI("delete", "-h"); !strings.Contains(stdout, "0 deletes them all in one call") {
		t.Errorf("delete -h does not say what --chunk 0 does:\n%s", stdout)
	}
}
