package btfjson_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// BTF types of the tests, named as a C compiler names them.
var (
	u8T   = &btf.Int{Name: "unsigned char", Size: 1}
	s8T   = &btf.Int{Name: "signed char", Size: 1, Encoding: btf.Signed}
	u16T  = &btf.Int{Name: "unsigned short", Size: 2}
	s16T  = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	u32T  = &btf.Int{Name: "unsigned int", Size: 4}
	s32T  = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64T  = &btf.Int{Name: "unsigned long long", Size: 8}
	s64T  = &btf.Int{Name: "long long", Size: 8, Encoding: btf.Signed}
	u128T = &btf.Int{Name: "unsigned __int128", Size: 16}
	s128T = &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	boolT = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	// charT is char as BTF's char encoding has it; clang emits char as a
	// signed integer named "char", which bpftool also prints as strings.
	charT      = &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}
	clangCharT = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	f32T       = &btf.Float{Name: "float", Size: 4}
	f64T       = &btf.Float{Name: "double", Size: 8}
)

func arr(t btf.Type, n uint32) *btf.Array { return &btf.Array{Index: u32T, Type: t, Nelems: n} }

// member is a struct member at byte offset off.
func member(name string, t btf.Type, off uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(8 * off)}
}

// bitfield is a struct member of bits bits at bit offset bitOff.
func bitfield(name string, t btf.Type, bitOff, bits uint32) btf.Member {
	return btf.Member{Name: name, Type: t, Offset: btf.Bits(bitOff), BitfieldSize: btf.Bits(bits)}
}

// mapOf is a map the kernel creates with key and value described by BTF.
type mapOf struct {
	m    *bpfbatch.Map
	path string
}

// createBTFMap loads key's and value's BTF, creates a map of typ with them
// (key may be nil: no key type, as global data maps have) and pins it.
func createBTFMap(t *testing.T, typ bpfbatch.MapType, key, value btf.Type, keySize, maxEntries uint32) mapOf {
	t.Helper()
	testutil.RequireKernel(t)
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keyID btf.TypeID
	if key != nil {
		if keyID, err = b.Add(key); err != nil {
			t.Fatalf("BTF of key: %v", err)
		}
		n, err := btf.Sizeof(key)
		if err != nil {
			t.Fatal(err)
		}
		keySize = uint32(n)
	}
	valueID, err := b.Add(value)
	if err != nil {
		t.Fatalf("BTF of value: %v", err)
	}
	valueSize, err := btf.Sizeof(value)
	if err != nil {
		t.Fatal(err)
	}
	h, err := btf.NewHandle(b)
	if err != nil {
		t.Fatalf("load BTF: %v", err)
	}
	defer h.Close()
	m, err := bpfbatch.CreateMap(bpfbatch.MapSpec{
		Type: typ, KeySize: keySize, ValueSize: uint32(valueSize), MaxEntries: maxEntries,
		Name: "btfjson_test", BTFFD: h.FD(), BTFKeyTypeID: uint32(keyID), BTFValueTypeID: uint32(valueID),
	})
	if err != nil {
		t.Fatalf("create map: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	path := filepath.Join(testutil.MountBPFFS(t), strings.ReplaceAll(t.Name(), "/", "_"))
	if err := m.Pin(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return mapOf{m, path}
}

func (mo mapOf) put(t *testing.T, key, value []byte) {
	t.Helper()
	if err := testutil.Update(mo.m.FD(), key, value, 0); err != nil {
		t.Fatalf("update %x: %v", key, err)
	}
}

// requireBpftool fails or skips as testutil.RequireKernel does when
// bpftool is not installed.
func requireBpftool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bpftool"); err != nil {
		if os.Getenv(testutil.RequireKernelEnv) == "1" {
			t.Fatalf("bpftool is not installed and %s=1 (apt-get install bpftool)", testutil.RequireKernelEnv)
		}
		t.Skip("bpftool is not installed (apt-get install bpftool)")
	}
}

// bpftoolRaw returns what `bpftool -j map dump pinned path` prints.
func bpftoolRaw(t *testing.T, path string) []byte {
	t.Helper()
	requireBpftool(t)
	out, err := exec.Command("bpftool", "-j", "map", "dump", "pinned", path).Output()
	if err != nil {
		t.Fatalf("bpftool map dump: %v\n%s", err, out)
	}
	return out
}

// bpftoolEntry is what `bpftool -j map dump` prints for one entry of a map
// whose value (and key, if kc is not nil) has BTF. value holds cpus slots
// of a per-CPU map, or is one value when cpus is 0. Chars and strings are
// as bpftool prints them, not always JSON.
func bpftoolEntry(kc, vc *btfjson.Codec, key, value []byte, cpus int) string {
	b := []byte(`{"key":`)
	b = appendHexBytes(b, key)
	var formatted []byte
	if cpus == 0 {
		b = append(b, `,"value":`...)
		b = appendHexBytes(b, value)
		formatted = btfjson.AppendAsBpftool(vc, formatted, value)
		formatted = append([]byte(`"value":`), formatted...)
	} else {
		b = append(b, `,"values":[`...)
		formatted = append(formatted, `"values":[`...)
		for c := range cpus {
			if c > 0 {
				b = append(b, ',')
				formatted = append(formatted, ',')
			}
			v := value[c*vc.Slot() : c*vc.Slot()+vc.Size()]
			b = fmt.Appendf(b, `{"cpu":%d,"value":`, c)
			b = append(appendHexBytes(b, v), '}')
			formatted = fmt.Appendf(formatted, `{"cpu":%d,"value":`, c)
			formatted = append(btfjson.AppendAsBpftool(vc, formatted, v), '}')
		}
		b = append(b, ']')
		formatted = append(formatted, ']')
	}
	b = append(b, `,"formatted":{`...)
	if kc != nil {
		b = append(b, `"key":`...)
		b = append(btfjson.AppendAsBpftool(kc, b, key), ',')
	}
	b = append(b, formatted...)
	return string(b) + "}}"
}

func appendHexBytes(b, data []byte) []byte {
	b = append(b, '[')
	for i, c := range data {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `"0x%02x"`, c)
	}
	return append(b, ']')
}

// checkBpftoolDump checks that raw, bpftool's dump of a map, is the
// entries want in some order (bpftool's is the hash table's).
func checkBpftoolDump(t *testing.T, raw []byte, want []string) {
	t.Helper()
	n := len("[]\n") + max(len(want)-1, 0)
	for _, w := range want {
		n += len(w)
		if !bytes.Contains(raw, []byte(w)) {
			t.Fatalf("bpftool did not print\n%s\nin\n%s", w, raw)
		}
	}
	if len(raw) != n || raw[0] != '[' || string(raw[len(raw)-2:]) != "]\n" {
		t.Fatalf("bpftool printed %d bytes, want %d for the %d entries:\n%s", len(raw), n, len(want), raw)
	}
}

// nativeLE reports the host's byte order, which map bytes are in.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// gen writes random bytes for a value of type t into b (len Sizeof(t)),
// canonical ones: what Parse(Append(b)) gives back, with padding zero,
// bools 0 or 1, a char array that holds a string zero after its NUL, one
// member of a union set. Values lean to the edges of their ranges.
func gen(r *rand.Rand, t btf.Type, b []byte) {
	switch v := t.(type) {
	case *btf.Typedef:
		gen(r, v.Type, b)
	case *btf.Const:
		gen(r, v.Type, b)
	case *btf.Volatile:
		gen(r, v.Type, b)
	case *btf.Restrict:
		gen(r, v.Type, b)
	case *btf.Int:
		if v.Encoding == btf.Bool {
			b[0] = byte(r.IntN(2))
			return
		}
		genInt(r, b)
	case *btf.Pointer:
		genInt(r, b)
	case *btf.Float:
		fs := []float64{0, math.Copysign(0, -1), 1.5, -2.25e-300, math.MaxFloat32, math.Inf(1), math.Inf(-1), r.NormFloat64() * 1e6}
		f := fs[r.IntN(len(fs))]
		if v.Size == 4 {
			binary.NativeEndian.PutUint32(b, math.Float32bits(float32(f)))
		} else {
			binary.NativeEndian.PutUint64(b, math.Float64bits(f))
		}
	case *btf.Enum:
		if len(v.Values) > 0 && r.IntN(3) > 0 {
			x := v.Values[r.IntN(len(v.Values))].Value
			for i := range b {
				if nativeLE {
					b[i] = byte(x >> (8 * i))
				} else {
					b[i] = byte(x >> (8 * (len(b) - 1 - i)))
				}
			}
			return
		}
		genInt(r, b)
	case *btf.Array:
		es := len(b) / max(int(v.Nelems), 1)
		if isChar(v.Type) && v.Nelems > 0 {
			genChars(r, b)
			return
		}
		for i := range int(v.Nelems) {
			gen(r, v.Type, b[i*es:(i+1)*es])
		}
	case *btf.Struct:
		for _, m := range v.Members {
			if m.BitfieldSize > 0 {
				for i := range m.BitfieldSize {
					if r.IntN(2) == 1 {
						setBit(b, int(m.Offset+i))
					}
				}
				continue
			}
			n, _ := btf.Sizeof(m.Type)
			off := int(m.Offset / 8)
			gen(r, m.Type, b[off:off+n])
		}
	case *btf.Union:
		m := v.Members[r.IntN(len(v.Members))]
		n, _ := btf.Sizeof(m.Type)
		gen(r, m.Type, b[:n])
	case *btf.Datasec:
		for _, vs := range v.Vars {
			gen(r, vs.Type.(*btf.Var).Type, b[vs.Offset:vs.Offset+vs.Size])
		}
	default:
		panic(fmt.Sprintf("gen: %v", t))
	}
}

// setBit sets bit i of a bitfield area, counted as the compiler lays out
// bitfields on this host.
func setBit(b []byte, i int) {
	if nativeLE {
		b[i/8] |= 1 << (i % 8)
	} else {
		b[i/8] |= 0x80 >> (i % 8)
	}
}

func genInt(r *rand.Rand, b []byte) {
	switch r.IntN(5) {
	case 0: // zero
	case 1:
		for i := range b {
			b[i] = 0xff
		}
	case 2: // the sign bit only: the most negative value
		if nativeLE {
			b[len(b)-1] = 0x80
		} else {
			b[0] = 0x80
		}
	case 3: // small
		if nativeLE {
			b[0] = byte(r.IntN(256))
		} else {
			b[len(b)-1] = byte(r.IntN(256))
		}
	default:
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
}

// genChars fills a char array: a string with a zero tail, a full array of
// printable characters (no NUL: printed as an array), or any bytes.
func genChars(r *rand.Rand, b []byte) {
	const printable = ` !"#$%&'()*+,-./09:;<=>?@AZ[\]^_` + "`az{|}~"
	switch r.IntN(3) {
	case 0:
		n := r.IntN(len(b))
		for i := range n {
			b[i] = printable[r.IntN(len(printable))]
		}
	case 1:
		for i := range b {
			b[i] = printable[r.IntN(len(printable))]
		}
	default:
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		// Bytes that read as a string show no tail.
		for i, c := range b {
			if c == 0 {
				clear(b[i:])
				break
			}
			if c < 0x20 || c >= 0x7f {
				break
			}
		}
	}
}

// isChar is bpftool's test of a char array's element type.
func isChar(t btf.Type) bool {
	for {
		switch v := t.(type) {
		case *btf.Const:
			t = v.Type
		case *btf.Volatile:
			t = v.Type
		case *btf.Int:
			return v.Size == 1 && (v.Encoding == btf.Char || v.Name == "char")
		default:
			return false
		}
	}
}

// entries makes n entries of random canonical keys (distinct) and values.
func entries(t *testing.T, seed uint64, key, value btf.Type, n int) (keys, values [][]byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	ks, _ := btf.Sizeof(key)
	vs, _ := btf.Sizeof(value)
	seen := map[string]bool{}
	for tries := 0; len(keys) < n && tries < 100*n; tries++ {
		k := make([]byte, ks)
		gen(r, key, k)
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		v := make([]byte, vs)
		gen(r, value, v)
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values
}
