// Command walkpin reads every element of a pinned map and prints nothing
// but the count: the floor of a dump of that map, without formatting or
// output. dump_vs_bpftool.sh times it beside the dumps.
//
//	walkpin [-workers N] [-batch N] [-raw] [-repeat N] PIN
//
// Without -raw it walks with the library's Map.Walk (fn only counts), as
// bpfbatch dump does with --workers N. With -raw it makes plain
// BPF_MAP_LOOKUP_BATCH calls of -batch elements from one cursor, no
// library, no read-ahead: the kernel's single walk. -repeat N walks N
// times with the same Map and prints each walk's time on stderr: the
// library learns where to split an LPM trie from a Map's first complete
// walk, so only the walks after the first split one (a command that walks
// once, as bpfbatch dump does, never does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

func main() {
	workers := flag.Int("workers", 1, "Map.Walk's Workers")
	batch := flag.Int("batch", 4096, "elements per call")
	raw := flag.Bool("raw", false, "raw BPF_MAP_LOOKUP_BATCH calls, one cursor")
	repeat := flag.Int("repeat", 1, "walks, with the same Map; each one's time on stderr")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: walkpin [-workers N] [-batch N] [-raw] PIN")
		os.Exit(2)
	}
	m, err := bpfbatch.OpenPinned(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "walkpin:", err)
		os.Exit(1)
	}
	defer m.Close()
	var n int
	for i := range *repeat {
		start := time.Now()
		if *raw {
			n, err = rawWalk(m, *batch)
		} else {
			var total atomic.Int64
			err = m.Walk(context.Background(), bpfbatch.WalkOptions{Workers: *workers, Batch: *batch}, func(_, _ []byte, k int) error {
				total.Add(int64(k))
				return nil
			})
			n = int(total.Load())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "walkpin:", err)
			os.Exit(1)
		}
		if *repeat > 1 {
			fmt.Fprintf(os.Stderr, "walk %d: %d elements in %.1f ms\n", i+1, n, float64(time.Since(start).Microseconds())/1e3)
		}
	}
	fmt.Println(n)
}

// batchAttr is the BPF_MAP_*_BATCH part of union bpf_attr.
type batchAttr struct {
	inBatch, outBatch, keys, values uint64
	count, mapFD                    uint32
	elemFlags, flags                uint64
}

const cmdLookupBatch = 24 // BPF_MAP_LOOKUP_BATCH

func rawWalk(m *bpfbatch.Map, batch int) (int, error) {
	info := m.Info()
	ks, stride := int(info.KeySize), m.ValueStride()
	keys := make([]byte, batch*ks)
	values := make([]byte, batch*stride)
	cursor := make([]byte, max(ks, 8)) // a hash map's cursor is a u32 bucket index; others a key
	attr := batchAttr{
		outBatch: uint64(uintptr(unsafe.Pointer(&cursor[0]))),
		keys:     uint64(uintptr(unsafe.Pointer(&keys[0]))),
		values:   uint64(uintptr(unsafe.Pointer(&values[0]))),
		mapFD:    uint32(m.FD()),
	}
	defer runtime.KeepAlive(keys) // the attr holds their addresses as integers
	defer runtime.KeepAlive(values)
	defer runtime.KeepAlive(cursor)
	total := 0
	for {
		attr.count = uint32(batch)
		_, _, e := unix.Syscall(unix.SYS_BPF, cmdLookupBatch, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		total += int(attr.count)
		switch {
		case e == unix.ENOENT:
			return total, nil
		case e != 0:
			return total, errors.New("BPF_MAP_LOOKUP_BATCH: " + e.Error())
		}
		attr.inBatch = attr.outBatch
	}
}
