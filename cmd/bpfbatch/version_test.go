package main

import (
	"runtime"
	"strings"
	"testing"
)

// --version and the version command print the module version (the test
// binary's main module is "(devel)") and the Go toolchain.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		code, stdout, stderr := runCLI(arg)
		if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "bpfbatch ") || !strings.Contains(stdout, runtime.Version()) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, stdout, stderr)
		}
	}
	if _, stdout, _ := runCLI("--help"); !strings.Contains(stdout, "version") {
		t.Errorf("usage does not mention version:\n%s", stdout)
	}
}
