package bpftooljson_test

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/bpftooljson"
)

// entry is a key and value as Next reads them.
type entry struct{ key, value []byte }

// readAll reads every entry of input, collecting entry errors, until
// io.EOF or an error that ends the input.
func readAll(t *testing.T, input string, l bpftooljson.Layout) (entries []entry, errs []string, fatal error) {
	t.Helper()
	r, err := bpftooljson.NewReader(iotest.HalfReader(strings.NewReader(input)), l)
	if err != nil {
		t.Fatal(err)
	}
	for {
		key, value := make([]byte, l.KeySize), make([]byte, l.Stride())
		err := r.Next(key, value)
		var ee *bpftooljson.EntryError
		switch {
		case err == nil:
			entries = append(entries, entry{key, value})
		case errors.Is(err, io.EOF):
			return entries, errs, nil
		case !errors.As(err, &ee):
			t.Fatalf("Next: %T %v, want an *EntryError", err, err)
		case ee.Fatal:
			if again := r.Next(key, value); again != err {
				t.Fatalf("Next after %v: %v, want the same error", err, again)
			}
			return entries, errs, err
		default:
			errs = append(errs, err.Error())
		}
	}
}

// TestReaderEntries reads dumps as bpftool prints them: -j on one line, -p
// with indentation, with "formatted" (also where bpftool's is not JSON),
// per-CPU values.
func TestReaderEntries(t *testing.T) {
	hash := bpftooljson.Layout{KeySize: 2, ValueSize: 3}
	for _, tc := range []struct {
		name  string
		input string
		l     bpftooljson.Layout
		want  []entry
	}{
		{"empty", "[]\n", hash, nil},
		{"compact", `[{"key":["0x01","0x02"],"value":["0x0a","0x0b","0xff"]},{"key":["0x03","0x04"],"value":["0x00","0x00","0x00"]}]` + "\n",
			hash, []entry{{[]byte{1, 2}, []byte{10, 11, 255}}, {[]byte{3, 4}, []byte{0, 0, 0}}}},
		{"pretty", "[{\n        \"key\": [\"0x01\",\"0x02\"\n        ],\n        \"value\": [\"0x0A\",\"0x0b\",\"0xFf\"\n        ]\n    }\n]\n",
			hash, []entry{{[]byte{1, 2}, []byte{10, 11, 255}}}},
		{"formatted", `[{"key":["0x01","0x00"],"value":["0x22","0x5c","0x61"],"formatted":{"key":1,"value":{"q":""","b":"\","s":"a\n\"'","e":-1,"n":[{"x":"0x1f"}],"f":(unsupported-kind}}}]`,
			hash, []entry{{[]byte{1, 0}, []byte{0x22, 0x5c, 0x61}}}},
		{"formatted first", `[{"formatted":{"key":{"a":[1,2]},"value":"\"x"},"key":["0x01","0x00"],"value":["0x22","0x5c","0x61"]}]`,
			hash, []entry{{[]byte{1, 0}, []byte{0x22, 0x5c, 0x61}}}},
		{"per-CPU", `[{"key":["0x07","0x00"],"values":[{"cpu":0,"value":["0x01","0x02","0x03"]},{"value":["0x04","0x05","0x06"],"cpu":1}],"formatted":{"key":7,"values":[{"cpu":0,"value":1},{"cpu":1,"value":2}]}}]`,
			bpftooljson.Layout{KeySize: 2, ValueSize: 3, CPUs: 2},
			[]entry{{[]byte{7, 0}, []byte{1, 2, 3, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0}}}},
		{"per-CPU in any order", `[{"key":["0x07","0x00"],"values":[{"cpu":1,"value":["0x04","0x05","0x06"]},{"cpu":0,"value":["0x01","0x02","0x03"]}]}]`,
			bpftooljson.Layout{KeySize: 2, ValueSize: 3, CPUs: 2},
			[]entry{{[]byte{7, 0}, []byte{1, 2, 3, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0}}}},
		{"keys only", `[{"key":["0x01","0x02"],"value":["0x0a","0x0b","0xff"]},{"key":["0x03","0x04"],"values":[{"cpu":0,"value":["0x01"]}]}]`,
			bpftooljson.Layout{KeySize: 2, KeysOnly: true}, []entry{{[]byte{1, 2}, []byte{}}, {[]byte{3, 4}, []byte{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs, fatal := readAll(t, tc.input, tc.l)
			if fatal != nil || len(errs) > 0 {
				t.Fatalf("errors: %v %v", errs, fatal)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("read %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReaderErrors checks that a bad entry names its index, line and
// what is wrong, that reading goes on after an entry that does not fit,
// and stops at input that is not bpftool's JSON.
func TestReaderErrors(t *testing.T) {
	hash := bpftooljson.Layout{KeySize: 2, ValueSize: 1}
	pcpu := bpftooljson.Layout{KeySize: 2, ValueSize: 1, CPUs: 2}
	good := `{"key":["0x01","0x02"],"value":["0x03"]}`
	for _, tc := range []struct {
		name    string
		input   string
		l       bpftooljson.Layout
		entries int
		errs    []string
		fatal   string
	}{
		{"key size", "[" + good + ",\n" + `{"key":["0x01"],"value":["0x03"]},` + good + "]", hash, 2,
			[]string{"entry 1 (line 2): key of 1 bytes, this map's keys have 2"}, ""},
		{"value size", `[{"key":["0x01","0x02"],"value":["0x03","0x04"]}]`, hash, 0,
			[]string{"entry 0 (line 1): value of 2 bytes, this map's values have 1"}, ""},
		{"bpftool could not read", `[{"key":["0x01","0x02"],"value":{"error":"Operation not permitted"}}]`, hash, 0,
			[]string{"entry 0 (line 1): bpftool could not read this entry's value: Operation not permitted"}, ""},
		{"missing value", `[{"key":["0x01","0x02"]}]`, hash, 0, []string{`entry 0 (line 1): missing "value"`}, ""},
		{"per-CPU dump into a plain map", `[{"key":["0x01","0x02"],"values":[{"cpu":0,"value":["0x01"]}]}]`, hash, 0,
			[]string{`entry 0 (line 1): per-CPU "values" where this map wants one "value": the dump is of a per-CPU map, this map is not`}, ""},
		{"plain dump into a per-CPU map", "[" + good + "]", pcpu, 0,
			[]string{`entry 0 (line 1): "value" where a per-CPU map wants "values" (one value per CPU): the dump is of a map of another type`}, ""},
		{"fewer CPUs", `[{"key":["0x01","0x02"],"values":[{"cpu":0,"value":["0x01"]}]}]`, pcpu, 0,
			[]string{"entry 0 (line 1): no value for CPU 1: this map holds a value for each of its 2 possible CPUs, the dump has 1"}, ""},
		{"more CPUs", `[{"key":["0x01","0x02"],"values":[{"cpu":0,"value":["0x01"]},{"cpu":1,"value":["0x01"]},{"cpu":2,"value":["0x01"]}]}]`, pcpu, 0,
			[]string{"entry 0 (line 1): CPU 2: this map holds values for CPUs 0 to 1 (the dump is from a machine with more CPUs)"}, ""},
		{"CPU twice", `[{"key":["0x01","0x02"],"values":[{"cpu":0,"value":["0x01"]},{"cpu":0,"value":["0x01"]}]}]`, pcpu, 0,
			[]string{"entry 0 (line 1): CPU 0 given twice"}, ""},
		{"bad byte", "[" + good + ",\n" + `{"key":["0x1g","0x02"],"value":["0x03"]}]`, hash, 1, nil,
			`entry 1 (line 2): key byte 0: want "0x" and two hex digits, got "\"0x1g\",\"0x02\"],\"value\":["...`},
		{"number byte", `[{"key":[1,2],"value":["0x03"]}]`, hash, 0, nil,
			`entry 0 (line 1): key byte 0: want "0x" and two hex digits, got "1,2],\"value\":[\"0x03\"]}]"`},
		{"unknown member", `[{"key":["0x01","0x02"],"vaule":["0x03"]}]`, hash, 0, nil,
			`entry 0 (line 1): unknown member "vaule" in an entry (bpftool prints key, value or values, formatted)`},
		{"cut short", "[" + good + ",\n" + `{"key":["0x01",`, hash, 1, nil,
			"entry 1 (line 2): key byte 1: the input ends where a byte should be (is the dump cut short?)"},
		{"no array", good, hash, 0, nil, `entry 0 (line 1): want the JSON array that ` + "`bpftool -j map dump`" + ` prints, got an object`},
		{"bpftool failed", `{"error":"can't get next key: Operation not permitted"}`, hash, 0, nil,
			"entry 0 (line 1): bpftool failed: can't get next key: Operation not permitted"},
		{"empty input", "", hash, 0, nil, "entry 0 (line 1): the input is empty; want the JSON array that `bpftool -j map dump` prints"},
		{"after the array", "[" + good + "]\n[]", hash, 1, nil, `entry 1 (line 2): unexpected "[]" after the dump's array`},
		{"text", "01 02 03\n", hash, 0, nil, "entry 0 (line 1): want the JSON array that `bpftool -j map dump` prints, got \"01 02 03\\n\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs, fatal := readAll(t, tc.input, tc.l)
			if len(got) != tc.entries {
				t.Errorf("read %d entries, want %d", len(got), tc.entries)
			}
			if fmt.Sprint(errs) != fmt.Sprint(tc.errs) {
				t.Errorf("entry errors:\n got %q\nwant %q", errs, tc.errs)
			}
			if fmt.Sprint(fatal) != fmt.Sprint(tc.fatal) && (fatal != nil || tc.fatal != "") {
				t.Errorf("error that ends the input:\n got %v\nwant %s", fatal, tc.fatal)
			}
		})
	}
}

// dumpGenerator produces a bpftool -j dump of n entries of an 8-byte key
// and a 16-byte value, with "formatted", without holding it (and without
// allocating, so that the test measures the Reader's allocations).
type dumpGenerator struct {
	n, i int
	buf  []byte
	off  int
}

func (g *dumpGenerator) Read(p []byte) (int, error) {
	for len(g.buf)-g.off < len(p) && g.i <= g.n {
		if g.off > 0 {
			g.buf = append(g.buf[:0], g.buf[g.off:]...)
			g.off = 0
		}
		b := g.buf
		switch {
		case g.i == 0:
			b = append(b, '[')
		default:
			if g.i > 1 {
				b = append(b, ',')
			}
			k := g.i - 1
			b = append(b, `{"key":[`...)
			b = appendHex(b, byte(k), byte(k>>8), byte(k>>16), 0, 0, 0, 0, 0)
			b = append(b, `],"value":[`...)
			for j := range 16 {
				b = appendHex(b, byte(k+j))
			}
			b = append(b, `],"formatted":{"key":`...)
			b = strconv.AppendInt(b, int64(k), 10)
			b = append(b, `,"value":{"a":`...)
			b = strconv.AppendInt(b, int64(k), 10)
			b = append(b, `,"b":"x"}}}`...)
		}
		g.i++
		if g.i > g.n {
			b = append(b, "]\n"...)
		}
		g.buf = b
	}
	if g.off == len(g.buf) {
		return 0, io.EOF
	}
	n := copy(p, g.buf[g.off:])
	g.off += n
	return n, nil
}

// appendHex appends bytes as bpftool prints them, each after a comma
// unless it opens the array.
func appendHex(b []byte, bytes ...byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range bytes {
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = append(b, '"', '0', 'x', digits[c>>4], digits[c&0xf], '"')
	}
	return b
}

// TestReaderStreams reads a dump of a million entries in bounded memory.
func TestReaderStreams(t *testing.T) {
	const n = 1_000_000
	r, err := bpftooljson.NewReader(&dumpGenerator{n: n}, bpftooljson.Layout{KeySize: 8, ValueSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	key, value := make([]byte, 8), make([]byte, 16)
	count := 0
	for ; ; count++ {
		err := r.Next(key, value)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		k := count
		if key[0] != byte(k) || key[1] != byte(k>>8) || key[2] != byte(k>>16) || value[15] != byte(k+15) {
			t.Fatalf("entry %d: key %x value %x", count, key, value)
		}
	}
	runtime.ReadMemStats(&after)
	if count != n {
		t.Fatalf("read %d entries, want %d", count, n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("reading %d entries allocated %d bytes, want a bounded amount", n, alloc)
	}
}

// BenchmarkReader reads entries of an 8-byte key and 16-byte value with
// "formatted", as bpftool -j prints them: ns/op is per entry.
func BenchmarkReader(b *testing.B) {
	r, err := bpftooljson.NewReader(&dumpGenerator{n: b.N}, bpftooljson.Layout{KeySize: 8, ValueSize: 16})
	if err != nil {
		b.Fatal(err)
	}
	key, value := make([]byte, 8), make([]byte, 16)
	b.ReportAllocs()
	for range b.N {
		if err := r.Next(key, value); err != nil {
			b.Fatal(err)
		}
	}
}
