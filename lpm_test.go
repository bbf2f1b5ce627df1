package bpfbatch

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unsafe"
)

// LPMKey4/6 are struct bpf_lpm_trie_key of 8 and 20 bytes; From clears host
// bits and refuses the other family saying what to use; Prefix is the way
// back.
func TestLPMKeys(t *testing.T) {
	if unsafe.Sizeof(LPMKey4{}) != 8 || unsafe.Sizeof(LPMKey6{}) != 20 {
		t.Fatalf("sizes %d and %d, want 8 and 20", unsafe.Sizeof(LPMKey4{}), unsafe.Sizeof(LPMKey6{}))
	}
	k4, err := LPMKey4From(netip.MustParsePrefix("10.1.2.3/8"))
	if err != nil || k4 != (LPMKey4{8, [4]byte{10}}) || k4.Prefix() != netip.MustParsePrefix("10.0.0.0/8") || k4.String() != "10.0.0.0/8" {
		t.Fatalf("LPMKey4From(10.1.2.3/8) = %+v, %v", k4, err)
	}
	k6, err := LPMKey6From(netip.MustParsePrefix("2001:db8::1/32"))
	if err != nil || k6.PrefixLen != 32 || k6.Prefix() != netip.MustParsePrefix("2001:db8::/32") {
		t.Fatalf("LPMKey6From(2001:db8::1/32) = %+v, %v", k6, err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(LPMKey4From(netip.MustParsePrefix("2001:db8::/32"))), "use LPMKey6From"},
		{second(LPMKey4From(netip.MustParsePrefix("::ffff:10.0.0.0/104"))), "use LPMKey6From"},
		{second(LPMKey6From(netip.MustParsePrefix("10.0.0.0/8"))), "use LPMKey4From"},
		{second(LPMKey4From(netip.Prefix{})), "not a valid prefix"},
	} {
		if !errors.Is(c.err, ErrInvalidArgument) || !strings.Contains(c.err.Error(), c.want) {
			t.Fatalf("= %v; want ErrInvalidArgument saying %q", c.err, c.want)
		}
	}
	if p := (LPMKey4{PrefixLen: 33}).Prefix(); p.IsValid() {
		t.Fatalf("a /33 IPv4 key gives the valid prefix %v", p)
	}
}

func second[T any](_ T, err error) error { return err }

// The keys work with the typed calls on a real trie: written, matched by
// the kernel's longest-prefix lookup, and read back.
func TestLPMKeysOnATrie(t *testing.T) {
	m := createMap(t, MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: noPrealloc})
	var keys []LPMKey4
	for _, p := range []string{"10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/24"} {
		k, err := LPMKey4From(netip.MustParsePrefix(p))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if _, err := UpdateBatchOf(m, keys, []uint32{1, 2, 3}, UpdateAny); err != nil {
		t.Fatal(err)
	}
	host, _ := LPMKey4From(netip.MustParsePrefix("10.1.7.7/32"))
	value := make([]uint32, 1)
	if err := m.Lookup(asBytes([]LPMKey4{host}), asBytes(value)); err != nil || value[0] != 2 {
		t.Fatalf("lookup of 10.1.7.7 = %d, %v; want 2 (10.1.0.0/16, the longest match)", value[0], err)
	}
	got := map[string]uint32{}
	it := Iterate[LPMKey4, uint32](m, UpdateAny)
	for k, v := range it.All() {
		got[k.String()] = v
	}
	if it.Err() != nil || len(got) != 3 || got["10.1.0.0/16"] != 2 || got["192.168.0.0/24"] != 3 {
		t.Fatalf("iterated %v, %v", got, it.Err())
	}
}
