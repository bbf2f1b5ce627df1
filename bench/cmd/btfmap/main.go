// Command btfmap creates a hash map whose struct key and value are
// described by BTF, as a libbpf or cilium/ebpf program's maps are, pins
// it, and fills it: the map of bench/dump_btf_vs_bpftool.sh.
//
//	go run ./cmd/btfmap PIN N
//
// The key is struct conn_key {u32 saddr, daddr; u16 sport, dport; u8
// proto;} (16 bytes), the value struct conn_value {u64 packets, bytes;
// s64 last_seen; char comm[16]; enum conn_state state; u16 flags;} (48
// bytes); entry i is a connection from 10.x to 192.168.x, port 40000+i%20000.
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
)

var (
	u8  = &btf.Int{Name: "__u8", Size: 1}
	u16 = &btf.Int{Name: "__u16", Size: 2}
	u32 = &btf.Int{Name: "__u32", Size: 4}
	u64 = &btf.Int{Name: "__u64", Size: 8}
	s64 = &btf.Int{Name: "__s64", Size: 8, Encoding: btf.Signed}
	chr = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
)

func member(name string, t btf.Type, off uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(8 * off)}
}

var connKey = &btf.Struct{Name: "conn_key", Size: 16, Members: []btf.Member{
	member("saddr", u32, 0), member("daddr", u32, 4), member("sport", u16, 8), member("dport", u16, 10), member("proto", u8, 12),
}}

var connValue = &btf.Struct{Name: "conn_value", Size: 48, Members: []btf.Member{
	member("packets", u64, 0), member("bytes", u64, 8), member("last_seen", s64, 16),
	member("comm", &btf.Array{Index: u32, Type: chr, Nelems: 16}, 24),
	member("state", &btf.Enum{Name: "conn_state", Size: 4, Values: []btf.EnumValue{
		{Name: "NEW", Value: 0}, {Name: "ESTABLISHED", Value: 1}, {Name: "CLOSED", Value: 2},
	}}, 40),
	member("flags", u16, 44),
}}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: btfmap PIN N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "btfmap: N must be a positive number")
		os.Exit(2)
	}
	if err := run(os.Args[1], n); err != nil {
		fmt.Fprintln(os.Stderr, "btfmap:", err)
		os.Exit(1)
	}
}

func run(pin string, n int) error {
	if err := bpfbatch.RemoveMemlock(); err != nil {
		return err
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: "conn_stats", Type: ebpf.Hash, KeySize: 16, ValueSize: 48, MaxEntries: uint32(n),
		Key: connKey, Value: connValue,
	})
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Pin(pin); err != nil {
		return err
	}
	bm, err := bpfbatch.OpenPinned(pin)
	if err != nil {
		return err
	}
	defer bm.Close()
	ne := binary.NativeEndian
	comms := []string{"curl", "nginx", "systemd-resolve", "sshd", "postgres"}
	keys, values := make([]byte, 16*n), make([]byte, 48*n)
	for i := range n {
		k, v := keys[16*i:], values[48*i:]
		ne.PutUint32(k[0:], 0x0a000000|uint32(i%65536))
		ne.PutUint32(k[4:], 0xc0a80000|uint32(i/65536))
		ne.PutUint16(k[8:], uint16(40000+i%20000))
		ne.PutUint16(k[10:], []uint16{443, 80, 53, 22, 5432}[i%5])
		k[12] = 6
		ne.PutUint64(v[0:], uint64(i%1000+1))
		ne.PutUint64(v[8:], uint64(i)*1460)
		ne.PutUint64(v[16:], uint64(1_700_000_000_000_000_000+int64(i)*1_000_000))
		copy(v[24:40], comms[i%len(comms)])
		ne.PutUint32(v[40:], uint32(i%3))
	}
	if _, err := bm.UpdateBatch(keys, values, bpfbatch.UpdateAny); err != nil {
		return err
	}
	return nil
}
