package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/sys"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// The demo, as `go run ./examples/blocklist` runs it: a trie holding
// 10.0.0.0/8 and 172.16.0.0/12 synced to the demo list.
func TestDemo(t *testing.T) {
	testutil.RequireKernel(t)
	var out bytes.Buffer
	if err := run(&out, "", nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	slices.Sort(lines[:len(lines)-1]) // the dump, in the trie's order
	want := []string{
		"before: 10.0.0.0/8 1",
		"before: 172.16.0.0/12 1",
		"added 2, changed 0, deleted 1, unchanged 1; the trie holds 3 prefixes",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("printed\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// A trie pinned by someone else (made here with raw bpf(2) calls) ends up
// holding exactly the prefixes given, read back without the library.
func TestSyncsAPinnedTrie(t *testing.T) {
	testutil.RequireKernel(t)
	pin := pinnedTrie(t, "10.0.0.0/8", "172.16.0.0/12", "203.0.113.0/24")

	var out bytes.Buffer
	// 10.9.9.9/8 is 10.0.0.0/8 with host bits set: unchanged, not re-added.
	if err := run(&out, pin, []string{"10.9.9.9/8", "192.0.2.0/24", "203.0.113.0/24", "198.51.100.0/25"}); err != nil {
		t.Fatal(err)
	}
	if got, want := lastLine(out.String()), "added 2, changed 0, deleted 1, unchanged 2; the trie holds 4 prefixes"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	if got := strings.Count(out.String(), "before: "); got != 3 {
		t.Errorf("dumped %d prefixes, want 3:\n%s", got, out.String())
	}
	wantContents(t, pin, "10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/25", "203.0.113.0/24")
}

// Input the trie cannot take is refused before anything changes: a bad
// prefix, an IPv6 prefix (the trie has 4-byte addresses), an empty list.
func TestRefusesBadInputAndChangesNothing(t *testing.T) {
	testutil.RequireKernel(t)
	pin := pinnedTrie(t, "10.0.0.0/8", "172.16.0.0/12")
	for _, tc := range []struct {
		args []string
		want string
		is   error
	}{
		{[]string{"10.0.0.0/33"}, "netip.ParsePrefix", nil},
		{[]string{"192.0.2.0/24", "2001:db8::/32"}, "use LPMKey6From", bpfbatch.ErrInvalidArgument},
		{nil, "AllowEmpty", bpfbatch.ErrInvalidArgument},
	} {
		err := run(&bytes.Buffer{}, pin, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%q: got error %v, want one saying %q (and matching %v)", tc.args, err, tc.want, tc.is)
		}
	}
	wantContents(t, pin, "10.0.0.0/8", "172.16.0.0/12")
}

// pinnedTrie creates an LPM trie of IPv4 prefixes holding prefixes (value
// 1) with raw bpf(2) calls, pins it on a bpffs of the test's own and
// returns the pin's path.
func pinnedTrie(t *testing.T, prefixes ...string) string {
	t.Helper()
	fd, err := testutil.CreateMap(sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 64, MapFlags: unix.BPF_F_NO_PREALLOC})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, p := range prefixes {
		if err := testutil.Update(fd, lpmKey(p), binary.NativeEndian.AppendUint32(nil, 1), 0); err != nil {
			t.Fatal(err)
		}
	}
	pin := testutil.MountBPFFS(t) + "/blocklist"
	if err := testutil.Pin(fd, pin); err != nil {
		t.Fatal(err)
	}
	return pin
}

// wantContents reads the pinned trie back with raw calls, key by key, and
// checks it holds exactly prefixes, each with value 1.
func wantContents(t *testing.T, pin string, prefixes ...string) {
	t.Helper()
	m, err := bpfbatch.OpenPinned(pin) // for its fd only
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	keys, err := testutil.Keys(m.FD(), 8)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		v, err := testutil.Lookup(m.FD(), k, 4)
		if err != nil {
			t.Fatal(err)
		}
		if binary.NativeEndian.Uint32(v) != 1 {
			t.Errorf("key % x holds %d, want 1", k, binary.NativeEndian.Uint32(v))
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte(k[4:])), int(binary.NativeEndian.Uint32(k)))
		got = append(got, p.String())
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(prefixes))
	if !slices.Equal(got, want) {
		t.Errorf("the trie holds %q, want %q", got, want)
	}
}

// lpmKey is struct bpf_lpm_trie_key for an IPv4 prefix, built by hand.
func lpmKey(prefix string) []byte {
	p := netip.MustParsePrefix(prefix)
	a := p.Addr().As4()
	return append(binary.NativeEndian.AppendUint32(nil, uint32(p.Bits())), a[:]...)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}
