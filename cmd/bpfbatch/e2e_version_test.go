package main

// End-to-end test of version.

import (
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// --version prints the module version ("(devel)" for a build from a
// clone) and the Go toolchain that built it.
func TestVersionOfBuiltCommand(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		r := mustRun(t, 0, "", arg)
		if !regexp.MustCompile(`^bpfbatch (\(devel\)|v\S+)`).MatchString(r.stdout) || !strings.Contains(r.stdout, runtime.Version()) {
			t.Errorf("%s: stdout = %q", arg, r.stdout)
		}
	}
}
