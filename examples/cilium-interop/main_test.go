package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfbatch/bpfbatch"
)

// requireKernel skips without bpf(2), or fails with
// BPFBATCH_REQUIRE_KERNEL=1 (as CI sets it).
func requireKernel(t *testing.T) {
	t.Helper()
	if err := bpfbatch.RemoveMemlock(); err != nil {
		t.Log(err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err == nil {
		m.Close()
		return
	}
	if os.Getenv("BPFBATCH_REQUIRE_KERNEL") == "1" {
		t.Fatalf("bpf(2) is not usable here and BPFBATCH_REQUIRE_KERNEL=1: %v", err)
	}
	t.Skipf("bpf(2) is not usable here (run as root or with CAP_BPF): %v", err)
}

func TestRun(t *testing.T) {
	requireKernel(t)
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`\A` +
		`Hash map "conns" \(id \d+\): bpfbatch wrote 100000 elements and read 100000 back; cilium/ebpf Lookup and Iterate agree on 100000\n` +
		`cilium/ebpf deleted 1000; bpfbatch counts 99000\n` +
		fmt.Sprintf(`PerCPUHash map "hits" \(id \d+\): bpfbatch wrote 100000 elements x %d CPUs and read 100000 back; cilium/ebpf Lookup agrees on all\n`, cpus) +
		`\z`)
	if !want.MatchString(out.String()) {
		t.Fatalf("printed\n%s\nwant a match for\n%s", out.String(), want)
	}
}

// The cilium-side check is not vacuous: a changed value, a missing key and
// an extra key each fail it.
func TestCheckHashCatchesDifferences(t *testing.T) {
	requireKernel(t)
	keys := []uint32{key(0), key(1), key(2)}
	values := []uint64{value(0), value(1), value(2)}
	for _, tc := range []struct {
		name   string
		change func(cm *ebpf.Map) error
		want   string
	}{
		{"unchanged", func(*ebpf.Map) error { return nil }, ""},
		{"a value changed", func(cm *ebpf.Map) error { return cm.Put(keys[1], uint64(7)) }, "= 7, want"},
		{"a key missing", func(cm *ebpf.Map) error { return cm.Delete(keys[2]) }, "key does not exist"},
		{"an extra key", func(cm *ebpf.Map) error { return cm.Put(key(3), value(3)) }, "returns 4 elements, want 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
			if err != nil {
				t.Fatal(err)
			}
			defer cm.Close()
			m, err := bpfbatch.NewMap(cm.FD())
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if _, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny); err != nil {
				t.Fatal(err)
			}
			if err := tc.change(cm); err != nil {
				t.Fatal(err)
			}
			n, err := checkHash(cm, keys, values)
			switch {
			case tc.want == "" && (err != nil || n != len(keys)):
				t.Fatalf("checkHash = %d, %v; want %d, nil", n, err, len(keys))
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("checkHash = %d, %v; want an error saying %q", n, err, tc.want)
			}
		})
	}
}

// bpfbatch's Map is independent of cilium's: closing cilium's leaves
// bpfbatch's working (NewMap duplicated the fd), and the other way round.
func TestEachLibraryClosesItsOwn(t *testing.T) {
	requireKernel(t)
	cm, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if err != nil {
		t.Fatal(err)
	}
	m, err := bpfbatch.NewMap(cm.FD())
	if err != nil {
		t.Fatal(err)
	}
	if m.FD() == cm.FD() {
		t.Fatalf("NewMap kept cilium's fd %d instead of duplicating it", cm.FD())
	}
	clone, err := cm.Clone() // cilium's view, to check after cilium's first Map is closed
	if err != nil {
		t.Fatal(err)
	}
	defer clone.Close()
	if err := cm.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := bpfbatch.UpdateBatchOf(m, []uint32{1}, []uint64{10}, bpfbatch.UpdateAny); err != nil {
		t.Fatalf("bpfbatch after cilium's Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var v uint64
	if err := clone.Lookup(uint32(1), &v); err != nil || v != 10 {
		t.Fatalf("cilium after bpfbatch's Close: Lookup = %d, %v; want 10, nil", v, err)
	}
	if _, err := m.Count(); !errors.Is(err, bpfbatch.ErrClosed) {
		t.Fatalf("Count after Close: %v, want ErrClosed", err)
	}
}
