// Command blocklist keeps a pinned LPM trie of blocked IPv4 prefixes (the
// map an XDP or tc program looks source addresses up in) equal to a list:
// it opens the pin, prints what the trie holds, syncs it to the prefixes
// given (adding the new, deleting the stale, leaving the rest alone) and
// prints what changed and how many prefixes the trie holds now.
//
//	go run ./examples/blocklist                     # demo: a trie on a bpffs of its own
//	go run ./examples/blocklist -pin /sys/fs/bpf/blocklist 10.0.0.0/8 192.0.2.0/24
//
// The trie's keys are struct bpf_lpm_trie_key with a 4-byte address
// (bpfbatch.LPMKey4, key_size 8), its values a u32 (here 1: drop); the
// bpfbatch command makes one with `bpfbatch create --type lpm_trie
// --key-size 8 --value-size 4 --max-entries 65536 PIN`. An empty list is
// refused (SyncOf without AllowEmpty), so a broken upstream cannot empty
// the blocklist. Run as root, or with CAP_BPF.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
)

// demoList is the list the demo syncs to when no prefixes are given.
var demoList = []string{"10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"}

func main() {
	pin := flag.String("pin", "", "the pinned LPM trie to sync; empty: create one on a bpffs of its own and sync that (a demo)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: blocklist [-pin PATH] [PREFIX ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(os.Stdout, *pin, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "blocklist:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, pin string, args []string) error {
	if len(args) == 0 && pin == "" {
		args = demoList
	}
	prefixes := make([]netip.Prefix, len(args))
	for i, a := range args {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return err
		}
		prefixes[i] = p
	}
	if pin == "" {
		dir, cleanup, err := demoTrie()
		if err != nil {
			return err
		}
		defer cleanup()
		pin = dir + "/blocklist"
	}
	return syncBlocklist(w, pin, prefixes)
}

// syncBlocklist is the whole job: open the pinned trie, dump it, make it
// hold exactly prefixes, and say what changed.
func syncBlocklist(w io.Writer, pin string, prefixes []netip.Prefix) error {
	m, err := bpfbatch.OpenPinned(pin)
	if err != nil {
		return err
	}
	defer m.Close()

	it := bpfbatch.Iterate[bpfbatch.LPMKey4, uint32](m, bpfbatch.UpdateAny)
	for k, v := range it.All() {
		fmt.Fprintf(w, "before: %v %d\n", k, v)
	}
	if err := it.Err(); err != nil {
		return err
	}

	keys, values := make([]bpfbatch.LPMKey4, len(prefixes)), make([]uint32, len(prefixes))
	for i, p := range prefixes {
		if keys[i], err = bpfbatch.LPMKey4From(p); err != nil {
			return err
		}
		values[i] = 1 // drop
	}
	stats, err := bpfbatch.SyncOf(context.Background(), m, keys, values, bpfbatch.SyncOptions{})
	if err != nil {
		return err
	}
	n, err := m.Count()
	fmt.Fprintf(w, "%v; the trie holds %d prefixes\n", stats, n)
	return err
}

// demoTrie mounts a bpf filesystem on a new temporary directory, creates
// an LPM trie there as a program's loader would have (pinned as
// "blocklist", holding 10.0.0.0/8 and 172.16.0.0/12), and returns the
// directory and what removes it all again.
func demoTrie() (dir string, cleanup func(), err error) {
	if err := bpfbatch.RemoveMemlock(); err != nil { // kernels before 5.11
		return "", nil, err
	}
	dir, err = os.MkdirTemp("", "blocklist-bpffs-")
	if err != nil {
		return "", nil, err
	}
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=700"); err != nil {
		os.Remove(dir)
		return "", nil, fmt.Errorf("mount a bpffs on %s (run as root): %w", dir, err)
	}
	cleanup = func() {
		unix.Unmount(dir, unix.MNT_DETACH) // takes the pin, and so the trie, with it
		os.Remove(dir)
	}
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{
		Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1024, Name: "blocklist",
		Flags: unix.BPF_F_NO_PREALLOC, // LPM tries require it
	})
	if err != nil {
		cleanup()
		return "", nil, err
	}
	defer m.Close()
	old := []bpfbatch.LPMKey4{{PrefixLen: 8, Addr: [4]byte{10}}, {PrefixLen: 12, Addr: [4]byte{172, 16}}}
	if _, err := bpfbatch.UpdateBatchOf(m, old, []uint32{1, 1}, bpfbatch.UpdateAny); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := m.Pin(dir + "/blocklist"); err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}
