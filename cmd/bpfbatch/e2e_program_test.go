package main

// The README's worked example: the map of a running program, which no one
// pinned, found by name and dumped by id with its BTF fields.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// runningProgram loads a socket filter that looks its key up in a hash map
// of connKeyBTF -> connValueBTF, created with BTF as cilium/ebpf creates a
// program's maps, holding the entries a program would have written, and
// leaves the map to the program: no pin, no fd of the test's. It returns
// the map's name.
func runningProgram(t *testing.T) string {
	t.Helper()
	testutil.RequireKernel(t)
	name := fmt.Sprintf("conn_stats_%d", os.Getpid()%10000)
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: name, Type: ebpf.Hash, KeySize: 16, ValueSize: 48, MaxEntries: 1024,
		Key: connKeyBTF, Value: connValueBTF,
	})
	if err != nil {
		t.Fatalf("create the program's map: %v", err)
	}
	defer m.Close() // the program holds it from here on
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "conn_filter", Type: ebpf.SocketFilter, License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R1, 0), // struct conn_key key = {};
			asm.StoreMem(asm.RFP, -16, asm.R1, asm.DWord),
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
			asm.LoadMapPtr(asm.R1, m.FD()), // bpf_map_lookup_elem(&conn_stats, &key)
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -16),
			asm.FnMapLookupElem.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load the program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	ne := binary.NativeEndian
	for i, c := range []struct {
		daddr      uint32
		dport      uint16
		comm       string
		state      uint32
		packets    uint64
		bytes      uint64
		lastSeenNs int64
	}{
		{0x0a000002, 443, "curl", 1, 12, 4380, 1_700_000_000_000_000_000},
		{0x0a000003, 53, "systemd-resolve", 2, 2, 180, 1_700_000_000_500_000_000},
		{0x0a000002, 22, "ssh", 1, 9001, 1_234_567, -1},
	} {
		key := make([]byte, 16)
		ne.PutUint32(key[0:], 0x0a000001)
		ne.PutUint32(key[4:], c.daddr)
		ne.PutUint16(key[8:], uint16(40000+i))
		ne.PutUint16(key[10:], c.dport)
		key[12] = 6
		value := make([]byte, 48)
		ne.PutUint64(value[0:], c.packets)
		ne.PutUint64(value[8:], c.bytes)
		ne.PutUint64(value[16:], uint64(c.lastSeenNs))
		copy(value[24:40], c.comm)
		ne.PutUint32(value[40:], c.state)
		if err := m.Put(key, value); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// The map of a running program, unpinned: info finds it by name, dump
// prints it by id with its fields by name, as bpftool's formatted JSON, and
// sync --keep-values adds an entry without touching the counters.
func TestDumpRunningProgramMap(t *testing.T) {
	name := runningProgram(t)
	r := mustRun(t, 0, "", "info", "name", name)
	t.Logf("bpfbatch info name %s\n%s", name, r.stdout)
	m := regexp.MustCompile(`map:\s+Hash map "` + name + `" \(id (\d+)\)`).FindStringSubmatch(r.stdout)
	if m == nil || strings.Contains(r.stdout, "pin:") || !strings.Contains(r.stdout, "btf:            key struct conn_key, value struct conn_value (BTF id ") {
		t.Fatalf("info:\n%s", r.stdout)
	}
	id := m[1]
	r = mustRun(t, 0, "", "dump", "id", id, "--format", "json")
	t.Logf("bpfbatch dump id %s --format json\n%s", id, r.stdout)
	type conn struct {
		Key struct {
			Saddr, Daddr uint32
			Sport, Dport uint16
			Proto        uint8
		}
		Value struct {
			Packets, Bytes uint64
			LastSeen       int64 `json:"last_seen"`
			Comm, State    string
			Flags          uint16
		}
	}
	byPort := map[uint16]conn{}
	for line := range strings.Lines(r.stdout) {
		var c conn
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		byPort[c.Key.Dport] = c
	}
	if len(byPort) != 3 {
		t.Fatalf("%d entries", len(byPort))
	}
	if c := byPort[443]; c.Key.Saddr != 0x0a000001 || c.Key.Proto != 6 || c.Value.Comm != "curl" || c.Value.State != "ESTABLISHED" || c.Value.Packets != 12 || c.Value.LastSeen != 1_700_000_000_000_000_000 {
		t.Errorf("port 443: %+v", c)
	}
	if c := byPort[22]; c.Value.LastSeen != -1 || c.Value.Bytes != 1_234_567 {
		t.Errorf("port 22: %+v", c)
	}
	if c := byPort[53]; c.Value.Comm != "systemd-resolve" || c.Value.State != "CLOSED" {
		t.Errorf("port 53: %+v", c)
	}
	// The same dump, loaded back with sync --keep-values and one entry
	// more: only that one is written.
	extra := `{"key": {"saddr":167772161,"daddr":167772164,"sport":40100,"dport":80,"proto":6}, "value": {"packets":0,"bytes":0,"last_seen":0,"comm":"wget","state":"NEW","flags":0}}` + "\n"
	r = mustRun(t, 0, r.stdout+extra, "sync", "id", id, "-", "--keep-values")
	if !strings.Contains(r.stdout, "added 1, changed 0, deleted 0, unchanged 3") {
		t.Errorf("sync: %s", r.stdout)
	}
}
