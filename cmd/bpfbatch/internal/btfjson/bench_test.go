package btfjson_test

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAppend prints the key and value of a typical entry (a 5-member
// struct key, a 6-member struct value with a string and an enum) into a
// reused buffer, as a dump does: ns/op is per entry.
func BenchmarkAppend(b *testing.B) {
	kc, vc := newCodec(&testing.T{}, connKey), newCodec(&testing.T{}, connValue)
	keys, values := benchEntries(kc.Size(), vc.Size())
	var buf []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf = append(buf[:0], `{"key":`...)
		buf, _ = kc.Append(buf, keys[i%len(keys)])
		buf = append(buf, `,"value":`...)
		buf, _ = vc.Append(buf, values[i%len(values)])
		buf = append(buf, "}\n"...)
		i++
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkParse reads the JSON of BenchmarkAppend's entries back.
func BenchmarkParse(b *testing.B) {
	kc, vc := newCodec(&testing.T{}, connKey), newCodec(&testing.T{}, connValue)
	keys, values := benchEntries(kc.Size(), vc.Size())
	var ktext, vtext [][]byte
	for i := range keys {
		k, _ := kc.Append(nil, keys[i])
		v, _ := vc.Append(nil, values[i])
		ktext, vtext = append(ktext, k), append(vtext, v)
	}
	key, value := make([]byte, kc.Size()), make([]byte, vc.Size())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := kc.Parse(key, ktext[i%len(ktext)]); err != nil {
			b.Fatal(err)
		}
		if err := vc.Parse(value, vtext[i%len(vtext)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchEntries(ks, vs int) (keys, values [][]byte) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1024 {
		k, v := make([]byte, ks), make([]byte, vs)
		gen(r, connKey, k)
		gen(r, connValue, v)
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values
}
