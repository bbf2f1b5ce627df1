package main

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bpfbatch/bpfbatch"
)

func TestParseUpdateFlags(t *testing.T) {
	tests := []struct {
		in      string
		want    bpfbatch.Flags
		wantErr string
	}{
		{"any", bpfbatch.UpdateAny, ""},
		{"", bpfbatch.UpdateAny, ""},
		{"noexist", bpfbatch.UpdateNoExist, ""},
		{"EXIST", bpfbatch.UpdateExist, ""},
		{"lock", bpfbatch.UpdateLock, ""},
		{"noexist,lock", bpfbatch.UpdateNoExist | bpfbatch.UpdateLock, ""},
		{"exist|lock", bpfbatch.UpdateExist | bpfbatch.UpdateLock, ""},
		{"noexist,exist", 0, "exclude each other"},
		{"sometimes", 0, `unknown flag "sometimes"`},
	}
	for _, tt := range tests {
		got, err := parseUpdateFlags(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseUpdateFlags(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseUpdateFlags(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseMapType(t *testing.T) {
	tests := map[string]bpfbatch.MapType{
		"hash":                         bpfbatch.Hash,
		"Hash":                         bpfbatch.Hash,
		"lpm_trie":                     bpfbatch.LPMTrie,
		"LPMTrie":                      bpfbatch.LPMTrie,
		"lpm-trie":                     bpfbatch.LPMTrie,
		"BPF_MAP_TYPE_PERCPU_HASH":     bpfbatch.PerCPUHash,
		"lru_percpu_hash":              bpfbatch.LRUPerCPUHash,
		"percpu_array":                 bpfbatch.PerCPUArray,
		"prog_array":                   bpfbatch.ProgramArray,
		"bloom_filter":                 bpfbatch.BloomFilter,
		"devmap_hash":                  bpfbatch.DevMapHash,
		"BPF_MAP_TYPE_ARRAY_OF_MAPS":   bpfbatch.ArrayOfMaps,
		"bpf_map_type_lru_percpu_hash": bpfbatch.LRUPerCPUHash,
	}
	for in, want := range tests {
		if got, err := parseMapType(in); err != nil || got != want {
			t.Errorf("parseMapType(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "hashh", "unspecifiedmap2", "MapType(99)"} {
		if got, err := parseMapType(in); err == nil {
			t.Errorf("parseMapType(%q) = %v, want an error", in, got)
		}
	}
}

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

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"--help"}, exitOK, "bpfbatch info PIN", ""},
		{[]string{"help", "create"}, exitOK, "Usage: bpfbatch create", ""},
		{[]string{"info", "-h"}, exitOK, "Usage: bpfbatch info PIN", ""},
		{[]string{"info"}, exitUsage, "", "bpfbatch info: missing PIN"},
		{[]string{"create", "p"}, exitUsage, "", "--type is required"},
		{[]string{"create", "p", "--type", "hash"}, exitUsage, "", "--value-size and --max-entries are required"},
		{[]string{"create", "p", "--type", "hash_of_maps", "--value-size", "4", "--max-entries", "1"}, exitUsage, "", "needs an inner map fd"},
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

// The progress line is drawn only on a terminal, redrawn in place, and
// erased before the summary.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := progress{w: &buf, tty: false}
	p.startWriting(10)
	p.update(10)
	p.clear()
	if buf.Len() != 0 {
		t.Fatalf("progress without a terminal wrote %q", buf.String())
	}

	p = progress{w: &buf, tty: true}
	p.startWriting(1000)
	p.update(500)
	p.update(600) // within the refresh interval: skipped
	p.update(1000)
	p.clear()
	out := buf.String()
	if !strings.Contains(out, "\r\x1b[Kwriting: 500/1000 entries (50%), ") || !strings.Contains(out, "writing: 1000/1000 entries (100%)") {
		t.Errorf("progress output %q", out)
	}
	if strings.Contains(out, "600/1000") {
		t.Errorf("progress redrawn within %v: %q", refresh, out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("progress line not erased at the end: %q", out)
	}

	buf.Reset()
	p = progress{w: &buf, tty: true}
	p.startWriting(-1)
	p.update(42)
	if !strings.Contains(buf.String(), "writing: 42 entries, ") {
		t.Errorf("streaming progress %q", buf.String())
	}
}

func TestRateAndSeconds(t *testing.T) {
	for _, tt := range []struct {
		n    int
		d    time.Duration
		want string
	}{
		{1_000_000, time.Second, "1.00M"},
		{926_000, time.Second, "926k"},
		{500, time.Second, "500"},
		{5, 0, "inf"},
	} {
		if got := rate(tt.n, tt.d); got != tt.want {
			t.Errorf("rate(%d, %v) = %q, want %q", tt.n, tt.d, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{
		1234567 * time.Nanosecond:     "1ms",
		42 * time.Microsecond:         "42µs",
		1234567890 * time.Nanosecond:  "1.23s",
		999_400_000 * time.Nanosecond: "999ms",
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}

// runCLI runs the command in-process.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut, false)
	code = c.exit(c.run(context.Background(), args))
	return code, out.String(), errOut.String()
}

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

// BPF_F_RDONLY and BPF_F_WRONLY restrict the creating fd, not the map: a
// map "created read-only" would be an ordinary map behind a read-only fd
// that is closed at once. create refuses them and says so; the _PROG
// variants are real map flags.
func TestCreateRefusesFdOnlyFlags(t *testing.T) {
	for _, f := range []string{"rdonly", "wronly", "BPF_F_RDONLY", "0x8", "no-prealloc,0x10"} {
		code, _, stderr := runCLI("create", "/nonexistent/pin", "--type", "hash", "--key-size", "4", "--value-size", "8", "--max-entries", "1", "--map-flags", f)
		if code != exitUsage || !strings.Contains(stderr, "fd flag") || !strings.Contains(stderr, "rdonly-prog") {
			t.Errorf("create --map-flags %s: exit %d, stderr %q; want exit 2 explaining fd flags", f, code, stderr)
		}
	}
	if got, err := parseMapFlags("rdonly-prog,wronly-prog"); err != nil || got != 1<<7|1<<8 {
		t.Errorf("parseMapFlags(rdonly-prog,wronly-prog) = %#x, %v", got, err)
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

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 entries"}, {1, "1 entry"}, {2, "2 entries"}, {-1, "-1 entries"}} {
		if got := plural(tt.n, "entry", "entries"); got != tt.want {
			t.Errorf("plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// Every command's -h prints its usage and flags on stdout; mistakes on
// the command line are exit 2 before any map is opened.
func TestNewCommandsUsage(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"dump":    {"-cpu N", "-format syntax", "-key-format format", "-keys-only", "-value-format format"},
		"delete":  {"-chunk int", "-format syntax", "-ignore-missing", "-key-format format", "-mask-host-bits"},
		"sync":    {"-all-cpus", "-allow-empty", "-dry-run", "-format syntax", "-key-format format", "-value-format format", "-workers int"},
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
		{[]string{"dump"}, "bpfbatch dump: missing PIN"},
		{[]string{"dump", "p", "--format", "auto"}, "--format auto: want text or json"},
		{[]string{"dump", "p", "--keys-only", "--cpu", "0"}, "--cpu picks a value to print, and --keys-only prints none"},
		{[]string{"dump", "p", "--value-format", "u128"}, `unknown format "u128"`},
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
