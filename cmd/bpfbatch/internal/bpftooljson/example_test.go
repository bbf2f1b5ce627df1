package bpftooljson_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/bpftooljson"
)

// Reading what `bpftool -j map dump` printed for a hash map of u32 keys
// and u16 values.
func ExampleReader() {
	dump := `[{"key":["0x01","0x00","0x00","0x00"],"value":["0x2a","0x00"]},` +
		`{"key":["0x02","0x00","0x00","0x00"],"value":["0x07"]}]`
	r, err := bpftooljson.NewReader(strings.NewReader(dump), bpftooljson.Layout{KeySize: 4, ValueSize: 2})
	if err != nil {
		panic(err)
	}
	key, value := make([]byte, 4), make([]byte, 2)
	for {
		err := r.Next(key, value)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%x %x\n", key, value)
	}
	// Output:
	// 01000000 2a00
	// entry 1 (line 1): value of 1 bytes, this map's values have 2
}
