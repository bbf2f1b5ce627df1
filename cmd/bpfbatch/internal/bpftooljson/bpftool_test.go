package bpftooljson_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/bpftooljson"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// btfValue is a value with BTF whose "formatted" bpftool prints as text
// that is not JSON: chars '"' and '\' (BTF's char encoding), and a float.
func btfValue(t *testing.T) (fd int, keyID, valueID uint32) {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	var f btf.Type = &btf.Float{Name: "float", Size: 4}
	if !testutil.KernelAtLeast(5, 13) {
		f = u32 // BTF_KIND_FLOAT arrived in 5.13
	}
	value := &btf.Struct{Name: "v", Size: 16, Members: []btf.Member{
		{Name: "c", Type: char},
		{Name: "s", Type: &btf.Array{Index: u32, Type: char, Nelems: 3}, Offset: 8},
		{Name: "f", Type: f, Offset: 32},
		{Name: "n", Type: u32, Offset: 64},
	}}
	b, err := btf.NewBuilder([]btf.Type{u32, value}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := btf.NewHandle(b)
	if err != nil {
		t.Fatalf("load BTF: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	k, _ := b.Add(u32)
	v, _ := b.Add(value)
	return h.FD(), uint32(k), uint32(v)
}

// readDump reads a bpftool dump with the Reader into a map from key to
// value bytes.
func readDump(t *testing.T, dump []byte, l bpftooljson.Layout) map[string][]byte {
	t.Helper()
	r, err := bpftooljson.NewReader(bytes.NewReader(dump), l)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for {
		key, value := make([]byte, l.KeySize), make([]byte, l.Stride())
		err := r.Next(key, value)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("reading bpftool's dump: %v\n%s", err, dump)
		}
		if _, dup := got[string(key)]; dup {
			t.Fatalf("key %x twice", key)
		}
		got[string(key)] = value
	}
}

func bpftoolDump(t *testing.T, flag, path string) []byte {
	t.Helper()
	if _, err := exec.LookPath("bpftool"); err != nil {
		if os.Getenv(testutil.RequireKernelEnv) == "1" {
			t.Fatalf("bpftool is not installed and %s=1 (apt-get install bpftool)", testutil.RequireKernelEnv)
		}
		t.Skip("bpftool is not installed (apt-get install bpftool)")
	}
	out, err := exec.Command("bpftool", flag, "map", "dump", "pinned", path).Output()
	if err != nil {
		t.Fatalf("bpftool map dump: %v\n%s", err, out)
	}
	return out
}

// TestReaderReadsBpftoolDumps fills maps of several types, dumps them
// with `bpftool -j` and `-p`, and checks that the Reader gives back every
// key and value byte for byte; then loads what it read into a new map of
// the same kind and checks that bpftool dumps that map the same.
func TestReaderReadsBpftoolDumps(t *testing.T) {
	testutil.RequireKernel(t)
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec bpfbatch.MapSpec
		btf  bool
		// key makes the i-th key from random bytes.
		key func(r *rand.Rand, i int) []byte
	}{
		{"hash", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 12, ValueSize: 20, MaxEntries: 300}, false, randomKey(12)},
		{"per-CPU hash", bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 300}, false, randomKey(4)},
		{"array", bpfbatch.MapSpec{Type: bpfbatch.Array, KeySize: 4, ValueSize: 7, MaxEntries: 300}, false, indexKey},
		{"per-CPU array", bpfbatch.MapSpec{Type: bpfbatch.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 300}, false, indexKey},
		{"LPM trie", bpfbatch.MapSpec{Type: bpfbatch.LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 300, Flags: 1 /* BPF_F_NO_PREALLOC */}, false, lpmKey},
		{"hash with BTF", bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 300}, true, randomKey(4)},
		{"per-CPU hash with BTF", bpfbatch.MapSpec{Type: bpfbatch.PerCPUHash, KeySize: 4, ValueSize: 16, MaxEntries: 300}, true, randomKey(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if tc.btf {
				spec.BTFFD, spec.BTFKeyTypeID, spec.BTFValueTypeID = btfValue(t)
			}
			dir := testutil.MountBPFFS(t)
			src, srcPath := createPinned(t, spec, filepath.Join(dir, "src"))
			l := bpftooljson.Layout{KeySize: int(spec.KeySize), ValueSize: int(spec.ValueSize)}
			if spec.Type == bpfbatch.PerCPUHash || spec.Type == bpfbatch.PerCPUArray {
				l.CPUs = cpus
			}
			r := rand.New(rand.NewPCG(3, 4))
			want := map[string][]byte{}
			for i := range 250 {
				key := tc.key(r, i)
				value := make([]byte, l.Stride())
				for c := range max(l.CPUs, 1) {
					v := value[c*l.Slot() : c*l.Slot()+l.ValueSize]
					for j := range v {
						v[j] = byte(r.Uint32())
					}
					if tc.btf && r.IntN(2) == 0 {
						copy(v, `"   \\`) // c = '"', s = "\\": bpftool's non-JSON chars
					}
				}
				if err := testutil.Update(src.FD(), key, value, 0); err != nil {
					t.Fatalf("update %x: %v", key, err)
				}
				want[string(key)] = value
			}
			if spec.Type == bpfbatch.Array || spec.Type == bpfbatch.PerCPUArray {
				for i := range 300 {
					if key := indexKey(nil, i); want[string(key)] == nil {
						want[string(key)] = make([]byte, l.Stride())
					}
				}
			}
			jdump := bpftoolDump(t, "-j", srcPath)
			if tc.btf && !strings.Contains(string(jdump), `"formatted":`) {
				t.Fatalf("bpftool printed no formatted member:\n%.300s", jdump)
			}
			for _, dump := range [][]byte{jdump, bpftoolDump(t, "-p", srcPath)} {
				got := readDump(t, dump, l)
				if len(got) != len(want) {
					t.Fatalf("read %d entries, the map has %d", len(got), len(want))
				}
				for k, v := range want {
					if !bytes.Equal(got[k], v) {
						t.Fatalf("key %x: read %x, the map has %x", k, got[k], v)
					}
				}
			}

			// Load what the Reader read into a new map: bpftool then
			// dumps the same.
			dst, dstPath := createPinned(t, spec, filepath.Join(dir, "dst"))
			var keys, values []byte
			for k, v := range readDump(t, jdump, l) {
				keys, values = append(keys, k...), append(values, v...)
			}
			if n, err := dst.UpdateBatch(keys, values, 0); err != nil {
				t.Fatalf("load %d entries: wrote %d: %v", len(keys)/l.KeySize, n, err)
			}
			again := readDump(t, bpftoolDump(t, "-j", dstPath), l)
			if len(again) != len(want) {
				t.Fatalf("the copy has %d entries, want %d", len(again), len(want))
			}
			for k, v := range want {
				if !bytes.Equal(again[k], v) {
					t.Fatalf("the copy's key %x holds %x, want %x", k, again[k], v)
				}
			}
		})
	}
}

func createPinned(t *testing.T, spec bpfbatch.MapSpec, path string) (*bpfbatch.Map, string) {
	t.Helper()
	m, err := bpfbatch.CreateMap(spec)
	if err != nil {
		t.Fatalf("create map: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Pin(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return m, path
}

func randomKey(size int) func(*rand.Rand, int) []byte {
	return func(r *rand.Rand, i int) []byte {
		k := make([]byte, size)
		for j := range k {
			k[j] = byte(r.Uint32())
		}
		k[0], k[1] = byte(i), byte(i>>8) // distinct
		return k
	}
}

func indexKey(_ *rand.Rand, i int) []byte { return []byte{byte(i), byte(i >> 8), 0, 0} }

// lpmKey is an LPM trie key for IPv4: a prefix length (host order) and
// the address with the bits beyond the prefix zero.
func lpmKey(r *rand.Rand, i int) []byte {
	prefix := 16 + i%17
	addr := uint32(10)<<24 | uint32(i)<<8 | uint32(r.IntN(256))
	addr &^= 1<<(32-prefix) - 1
	k := []byte{0, 0, 0, 0, byte(addr >> 24), byte(addr >> 16), byte(addr >> 8), byte(addr)}
	if nativeLE {
		k[0] = byte(prefix)
	} else {
		k[3] = byte(prefix)
	}
	return k
}

// nativeLE reports the host's byte order, which map keys are in.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
