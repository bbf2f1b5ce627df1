package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Flags may come before, between or after the positional arguments; "--"
// ends them.
func TestParseInterspersedFlags(t *testing.T) {
	tests := []struct {
		args      []string
		wantPos   []string
		wantChunk int
	}{
		{[]string{"pin", "file", "--chunk", "7"}, []string{"pin", "file"}, 7},
		{[]string{"-chunk=7", "pin", "file"}, []string{"pin", "file"}, 7},
		{[]string{"pin", "--chunk", "7", "-"}, []string{"pin", "-"}, 7},
		{[]string{"pin", "--", "--chunk"}, []string{"pin", "--chunk"}, 1},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		c := newCLI(nil, &stdout, &stderr, false)
		cmd := newCommand("load", "load PIN FILE", "")
		chunk := cmd.fs.Int("chunk", 1, "")
		pos, err := c.parse(cmd, tt.args, "PIN", "FILE")
		if err != nil || !slices.Equal(pos, tt.wantPos) || *chunk != tt.wantChunk {
			t.Errorf("parse(%q) = %q (chunk %d), %v", tt.args, pos, *chunk, err)
		}
	}
}

// info has no flags; its help says so instead of an empty flag list.
func TestInfoHelpSaysItHasNoFlags(t *testing.T) {
	code, stdout, _ := runCLI("info", "-h")
	if code != exitOK || !strings.Contains(stdout, "info has no flags") || strings.Contains(stdout, "Flags (one or two dashes):") {
		t.Errorf("info -h: exit %d\n%s", code, stdout)
	}
	_, stdout, _ = runCLI("load", "-h")
	if !strings.Contains(stdout, "Flags (one or two dashes):\n  -all-cpus") {
		t.Errorf("load -h lost its flag list:\n%s", stdout)
	}
}

// Every command's -h prints its usage and flags on stdout; mistakes on
// the command line are exit 2 before any map is opened.
func TestNewCommandsUsage(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"dump":    {"-cpu N", "-format syntax", "-key-format format", "-keys-only", "-value-format format", "-workers int"},
		"delete":  {"-chunk int", "-format syntax", "-ignore-missing", "-key-format format", "-mask-host-bits"},
		"sync":    {"-all-cpus", "-allow-empty", "-dry-run", "-format syntax", "-keep-values", "-key-format format", "-list", "-value-format format", "-workers int"},
		"create":  {"-inner-map MAP", "-inner-type TYPE", "-inner-key-size bytes", "-inner-value-size bytes", "-inner-max-entries uint", "-inner-map-flags string"},
		"replace": {"-all-cpus", "-dry-run", "-key-size bytes", "-map-flags string", "-max-entries uint", "-slot-format format", "-type TYPE", "-value-size bytes"},
		"load":    {"-all-cpus", "-cpu N", "-dry-run"},
	} {
		code, stdout, stderr := runCLI(cmd, "-h")
		if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "Usage: bpfbatch "+cmd+" ") {
			t.Errorf("%s -h: exit %d, stderr %q\n%s", cmd, code, stderr, stdout)
		}
		for _, f := range flags {
			if !strings.Contains(stdout, "  "+f) {
				t.Errorf("%s -h lacks %q:\n%s", cmd, f, stdout)
			}
		}
		if _, main, _ := runCLI("-h"); !strings.Contains(main, "  bpfbatch "+cmd+" ") {
			t.Errorf("bpfbatch -h does not list %s:\n%s", cmd, main)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dump"}, "bpfbatch dump: missing MAP"},
		{[]string{"dump", "p", "--format", "auto"}, "--format auto: want text or json"},
		{[]string{"dump", "p", "--keys-only", "--cpu", "0"}, "--cpu picks a value to print, and --keys-only prints none"},
		{[]string{"dump", "p", "--value-format", "u128"}, `unknown format "u128"`},
		{[]string{"dump", "id", "nine"}, `MAP: id "nine": a map ID is a decimal number`},
		{[]string{"dump", "p", "--workers", "-1"}, "--workers must not be negative"},
		{[]string{"load", "p", "-", "--format", "bpftool-json", "--key-format", "hex"}, "--key-format and --value-format do not apply"},
		{[]string{"delete", "p"}, "missing FILE"},
		{[]string{"delete", "p", "-", "--chunk", "-1"}, "--chunk and --workers must not be negative"},
		{[]string{"delete", "p", "-", "--value-format", "u32"}, "flag provided but not defined: -value-format"},
		{[]string{"sync", "p", "-", "--workers", "-1"}, "--workers must not be negative"},
		{[]string{"replace", "p", "1"}, "missing FILE"},
		{[]string{"replace", "p", "1", "-", "--slot-format", "x"}, `--slot-format: unknown format "x"`},
		{[]string{"load", "p", "-", "--cpu", "0", "--all-cpus"}, "--cpu writes one CPU's value, --all-cpus every CPU's; pick one"},
	} {
		code, _, stderr := runCLI(tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}
