package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version prints the module version the command was built from ("(devel)"
// for a build from a clone, or a version such as v1.2.3 when installed by
// version), the VCS revision when the build recorded one, and the Go
// toolchain.
func (c *cli) version() error {
	v, rev := "(devel)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "+modified"
		}
	}
	if rev != "" && !strings.Contains(v, rev) {
		v += " (" + rev + ")"
	}
	c.print(c.stdout, "bpfbatch %s, built with %s for %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
