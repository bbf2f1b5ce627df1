package btfjson_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// btfCases are maps whose key and value the tests print with Append and
// bpftool and compare.
var btfCases = []struct {
	name       string
	key, value btf.Type
}{
	{"conn", connKey, connValue},
	{"scalars", u32T, scalars},
	{"bitfields", u64T, bitfields},
	{"enums", s32T, enums},
	{"chars", u16T, chars},
	{"nested", u8T, nested},
	{"typedefs", &btf.Typedef{Name: "key_t", Type: s64T}, typedefs},
	{"struct key", scalars, u8T},
	{"bitfield key", bitfields, s16T},
	{"enum key", enums, s8T},
	{"char key", chars, boolT},
	{"union key", nested.Members[1].Type, clangCharT},
	{"int128 key", u128T, s128T},
}

// TestAppendMatchesBpftool writes random keys and values of every kind to
// maps with BTF and checks that, for every entry bpftool dumps, Append
// prints the key and value exactly as bpftool's "formatted" member does,
// that MapTypes finds the map's types, and that Parse reads the JSON back
// into the bytes written.
func TestAppendMatchesBpftool(t *testing.T) {
	for _, tc := range btfCases {
		t.Run(tc.name, func(t *testing.T) {
			mo := createBTFMap(t, bpfbatch.Hash, tc.key, tc.value, 0, 256)
			keyT, valueT, err := btfjson.MapTypes(mo.m.Info())
			if err != nil {
				t.Fatalf("MapTypes: %v", err)
			}
			kc, vc := newCodec(t, keyT), newCodec(t, valueT)
			keys, values := entries(t, 1, tc.key, tc.value, 200)
			var want []string
			for i := range keys {
				mo.put(t, keys[i], values[i])
				want = append(want, bpftoolEntry(kc, vc, keys[i], values[i], 0))
				checkRoundTrip(t, kc, keys[i])
				checkRoundTrip(t, vc, values[i])
			}
			checkBpftoolDump(t, bpftoolRaw(t, mo.path), want)
		})
	}
}

func newCodec(t *testing.T, typ btf.Type) *btfjson.Codec {
	t.Helper()
	c, err := btfjson.New(typ)
	if err != nil {
		t.Fatalf("New(%v): %v", typ, err)
	}
	return c
}

// checkRoundTrip checks that Parse reads Append's JSON back into data.
func checkRoundTrip(t *testing.T, c *btfjson.Codec, data []byte) {
	t.Helper()
	text, err := c.Append(nil, data)
	if err != nil {
		t.Fatalf("Append(%x): %v", data, err)
	}
	back := make([]byte, c.Size())
	if err := c.Parse(back, text); err != nil {
		t.Fatalf("Parse(%s): %v", text, err)
	}
	if !bytes.Equal(back, data) {
		t.Fatalf("Parse(Append(%x)) = %x\nJSON %s", data, back, text)
	}
}

// TestAppendPerCPUMatchesBpftool checks per-CPU hash and array maps: the
// "values" array of every entry as bpftool prints it, and back.
func TestAppendPerCPUMatchesBpftool(t *testing.T) {
	for _, typ := range []bpfbatch.MapType{bpfbatch.PerCPUHash, bpfbatch.PerCPUArray, bpfbatch.LRUPerCPUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			key := btf.Type(connKey)
			if typ == bpfbatch.PerCPUArray {
				key = u32T
			}
			// A value of 13 bytes: slots of 16, 3 bytes of slot padding.
			value := &btf.Struct{Name: "pcpu", Size: 13, Members: []btf.Member{
				member("count", u64T, 0), member("tag", arr(charT, 4), 8), member("on", boolT, 12),
			}}
			maxEntries := uint32(64)
			if typ == bpfbatch.LRUPerCPUHash {
				// An LRU map of a few entries evicts even before it holds
				// them all (per-CPU free lists): big enough not to.
				maxEntries = 4096
			}
			mo := createBTFMap(t, typ, key, value, 0, maxEntries)
			keyT, valueT, err := btfjson.MapTypes(mo.m.Info())
			if err != nil {
				t.Fatal(err)
			}
			kc, vc := newCodec(t, keyT), newCodec(t, valueT)
			cpus := mo.m.ValueStride() / vc.Slot()
			keys, values := entries(t, 2, key, value, 64)
			if typ == bpfbatch.PerCPUArray {
				for i := range keys {
					keys[i] = []byte{byte(i), 0, 0, 0}
				}
			}
			var want []string
			for i := range keys {
				slots := make([]byte, mo.m.ValueStride())
				for c := range cpus {
					// A different value on each CPU: rotate through the values.
					copy(slots[c*vc.Slot():], values[(i+c)%len(values)])
				}
				mo.put(t, keys[i], slots)
				want = append(want, bpftoolEntry(kc, vc, keys[i], slots, cpus))

				text, err := vc.AppendPerCPU(nil, slots)
				if err != nil {
					t.Fatal(err)
				}
				back := make([]byte, len(slots))
				if err := vc.ParsePerCPU(back, text); err != nil {
					t.Fatalf("ParsePerCPU(%s): %v", text, err)
				}
				if !bytes.Equal(back, slots) {
					t.Fatalf("ParsePerCPU(AppendPerCPU(%x)) = %x", slots, back)
				}
			}
			checkBpftoolDump(t, bpftoolRaw(t, mo.path), want)
		})
	}
}

// TestAppendDatasecMatchesBpftool checks a global data map (.data): an
// array whose value is a datasec and which has no key type, so bpftool
// prints no "key" in "formatted".
func TestAppendDatasecMatchesBpftool(t *testing.T) {
	sec := &btf.Datasec{Name: ".data", Size: 24, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: "counter", Type: u64T, Linkage: btf.GlobalVar}, Offset: 0, Size: 8},
		{Type: &btf.Var{Name: "name", Type: arr(charT, 6), Linkage: btf.GlobalVar}, Offset: 8, Size: 6},
		{Type: &btf.Var{Name: "mode", Type: colour, Linkage: btf.GlobalVar}, Offset: 16, Size: 4},
	}}
	mo := createBTFMap(t, bpfbatch.Array, nil, sec, 4, 1)
	keyT, valueT, err := btfjson.MapTypes(mo.m.Info())
	if err != nil {
		t.Fatal(err)
	}
	if keyT != nil {
		t.Fatalf("MapTypes: key type %v, want none", keyT)
	}
	value := []byte{42, 0, 0, 0, 0, 0, 0, 0, 'h', 'i', 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0}
	if !nativeLE {
		value[0], value[7], value[16], value[19] = 0, 42, 0, 7
	}
	mo.put(t, []byte{0, 0, 0, 0}, value)
	vc := newCodec(t, valueT)
	got, err := vc.Append(nil, value)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{".data":[{"counter":42},{"name":"hi"},{"mode":"BLUE"}]}`; string(got) != want {
		t.Fatalf("Append: %s, want %s", got, want)
	}
	checkBpftoolDump(t, bpftoolRaw(t, mo.path), []string{bpftoolEntry(nil, vc, []byte{0, 0, 0, 0}, value, 0)})
	checkRoundTrip(t, vc, value)
}

// TestAppendWhereBpftoolIsNotJSON pins where Append differs from bpftool:
// a char '"' or '\' (bpftool prints """ and "\"), a '\' in a string
// (bpftool prints \n), and floats (bpftool stops with "(unsupported-kind").
// If a bpftool fixes one of these, this test says so.
func TestAppendWhereBpftoolIsNotJSON(t *testing.T) {
	value := &btf.Struct{Name: "odd", Size: 16, Members: []btf.Member{
		member("quote", charT, 0),
		member("backslash", charT, 1),
		member("s", arr(charT, 6), 2),
	}}
	mo := createBTFMap(t, bpfbatch.Hash, u32T, value, 0, 1)
	data := []byte{'"', '\\', 'a', '\\', '"', '\'', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	mo.put(t, []byte{1, 0, 0, 0}, data)
	raw := string(bpftoolRaw(t, mo.path))
	const bpftoolPrints = `"value":{"quote":""","backslash":"\","s":"a\n\"'"}`
	if !strings.Contains(raw, bpftoolPrints) {
		t.Fatalf("bpftool no longer prints %s:\n%s", bpftoolPrints, raw)
	}
	c := newCodec(t, value)
	got, err := c.Append(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"quote":"\"","backslash":"\\","s":"a\\\"'"}`; string(got) != want {
		t.Fatalf("Append: %s, want %s", got, want)
	}
	checkRoundTrip(t, c, data)

	if !testutil.KernelAtLeast(5, 13) {
		// BTF_KIND_FLOAT arrived in 5.13: the kernel refuses such BTF.
		b, err := btf.NewBuilder([]btf.Type{floats}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := btf.NewHandle(b); err == nil {
			h.Close()
			t.Fatalf("kernel %s loaded BTF with a float", testutil.KernelRelease())
		}
		return
	}
	fm := createBTFMap(t, bpfbatch.Hash, u32T, floats, 0, 1)
	fm.put(t, []byte{1, 0, 0, 0}, make([]byte, 16))
	if raw := string(bpftoolRaw(t, fm.path)); !strings.Contains(raw, `"value":{"f":(unsupported-kind}`) {
		t.Fatalf("bpftool prints floats now:\n%s", raw)
	}
}

// TestMapTypesWithoutBTF checks that a map created without BTF reports
// ErrNoBTF.
func TestMapTypesWithoutBTF(t *testing.T) {
	testutil.RequireKernel(t)
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{Type: bpfbatch.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, _, err := btfjson.MapTypes(m.Info()); !errors.Is(err, btfjson.ErrNoBTF) {
		t.Fatalf("MapTypes of a map without BTF: %v, want ErrNoBTF", err)
	}
}
