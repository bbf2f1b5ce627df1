package main

// End-to-end tests of info.

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestInfo(t *testing.T) {
	dir := pinDir(t)
	cpus := possibleCPUs(t)
	tests := []struct {
		spec bpfbatch.MapSpec
		want []string // lines of the output, in order
	}{
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1000, Name: "conns"},
			want: []string{
				`map: +Hash map "conns" \(id \d+\)`,
				`type: +Hash`,
				`key size: +4 bytes`,
				`value size: +8 bytes`,
				`max entries: +1000`,
				`map flags: +0`,
				fmt.Sprintf(`possible CPUs: +%d`, cpus),
				`value stride: +8 bytes per element \(one value, not per-CPU\)`,
				`update path: +batch: one BPF_MAP_UPDATE_BATCH per chunk`,
				`key formats: +hex, u32, ip`,
				`value formats: +hex, u64, cidr`,
			},
		},
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 12, MaxEntries: 4},
			want: []string{
				`type: +PerCPUArray`,
				fmt.Sprintf(`value stride: +%d bytes per element \(%d possible CPUs x value size 12 rounded up to 16, element-major\)`, 16*cpus, cpus),
				// Per-CPU arrays have batch commands from 5.13 on.
				map[bool]string{true: `update path: +batch`, false: `update path: +per-element`}[testutil.KernelAtLeast(5, 13)],
			},
		},
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 20, ValueSize: 4, MaxEntries: 10, Flags: unix.BPF_F_NO_PREALLOC},
			want: []string{`map flags: +0x1 \(BPF_F_NO_PREALLOC\)`, `key formats: +hex, cidr`},
		},
		{
			spec: bpfbatch.MapSpec{Type: bpfbatch.Queue, ValueSize: 4, MaxEntries: 10},
			want: []string{`update path: +per-element: one BPF_MAP_UPDATE_ELEM per entry \(Queue maps`, `key formats: +none`},
		},
	}
	for i, tt := range tests {
		t.Run(tt.spec.Type.String(), func(t *testing.T) {
			pin := createPinned(t, dir, fmt.Sprintf("info%d", i), tt.spec)
			r := mustRun(t, 0, "", "info", pin)
			// Each pattern must match a whole line, in order.
			lines := strings.Split(r.stdout, "\n")
			for _, w := range tt.want {
				re := regexp.MustCompile(`^` + w)
				i := slices.IndexFunc(lines, re.MatchString)
				if i < 0 {
					t.Errorf("info output:\n%s\nhas no line matching %q after the previous one", r.stdout, w)
					break
				}
				lines = lines[i+1:]
			}
		})
	}
	r := mustRun(t, 1, "", "info", filepath.Join(dir, "nothing"))
	if !strings.Contains(r.stderr, "nothing is pinned there") {
		t.Errorf("info on a missing pin: stderr %q", r.stderr)
	}
}

// info counts the entries with one batch walk.
func TestInfoEntries(t *testing.T) {
	dir := pinDir(t)
	pin, _ := filledHash(t, dir, "info-count", 37, 100)
	arr := createPinned(t, dir, "info-count-array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 8, MaxEntries: 12})
	queue := createPinned(t, dir, "info-count-queue", bpfbatch.MapSpec{Type: bpfbatch.Queue, ValueSize: 4, MaxEntries: 12})
	for pin, want := range map[string]string{
		pin:   `37`,
		arr:   `12 \(every index of an array exists\)`,
		queue: `unknown: Queue maps have no keys to walk`,
	} {
		r := mustRun(t, 0, "", "info", pin)
		if !regexp.MustCompile(`(?m)^max entries: +\d+\nentries: +` + want + `$`).MatchString(r.stdout) {
			t.Errorf("info %s:\n%s\nwant an entries line %q after max entries", pin, r.stdout, want)
		}
	}
}
