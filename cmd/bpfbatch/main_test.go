package main

import (
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"--help"}, exitOK, "bpfbatch info MAP", ""},
		{[]string{"help", "create"}, exitOK, "Usage: bpfbatch create", ""},
		{[]string{"info", "-h"}, exitOK, "Usage: bpfbatch info MAP", ""},
		{[]string{"info"}, exitUsage, "", "bpfbatch info: missing MAP"},
		{[]string{"create", "p"}, exitUsage, "", "--type is required"},
		{[]string{"create", "p", "--type", "hash"}, exitUsage, "", "--value-size and --max-entries are required"},
		{[]string{"create", "p", "--type", "hash_of_maps", "--value-size", "4", "--max-entries", "1"}, exitUsage, "", "--inner-map MAP or --inner-type"},
		{[]string{"load", "p", "f", "--key-format", "u128"}, exitUsage, "", `unknown format "u128"`},
		{[]string{"load", "p", "f", "--format", "xml"}, exitUsage, "", `unknown input format "xml"`},
		{[]string{"load", "p", "f", "--workers", "-1"}, exitUsage, "", "--chunk and --workers must not be negative"},
		{[]string{"load", "p", "f", "--chunk", "-5"}, exitUsage, "", "--chunk and --workers must not be negative"},
		{[]string{"nope"}, exitUsage, "", `unknown command "nope"`},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("run(%q) = %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, tt.code, stdout, stderr)
		}
	}
}
