package btfjson_test

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// A key and value as a program's map has them, printed as bpftool prints
// them, and read back.
func ExampleCodec() {
	u16 := &btf.Int{Name: "__u16", Size: 2}
	u32 := &btf.Int{Name: "__u32", Size: 4}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	value := &btf.Struct{Name: "backend", Size: 16, Members: []btf.Member{
		{Name: "ip", Type: u32},
		{Name: "port", Type: u16, Offset: 32},
		{Name: "name", Type: &btf.Array{Index: u32, Type: char, Nelems: 6}, Offset: 48},
		{Name: "weight", Type: u16, Offset: 96, BitfieldSize: 12},
		{Name: "up", Type: u16, Offset: 108, BitfieldSize: 1},
	}}
	c, err := btfjson.New(value)
	if err != nil {
		panic(err)
	}
	data := make([]byte, c.Size())
	binary.NativeEndian.PutUint32(data, 0x0a000001)
	binary.NativeEndian.PutUint16(data[4:], 8080)
	copy(data[6:], "web")
	text, err := c.Append(nil, data)
	fmt.Println(string(text), err)

	err = c.Parse(data, []byte(`{"ip":167772161,"port":80800,"name":"web","weight":"0x0","up":"0x1"}`))
	fmt.Println(btfjson.WithPath(err, "value"))
	// Output:
	// {"ip":167772161,"port":8080,"name":"web","weight":"0x0","up":"0x0"} <nil>
	// value.port: 80800 is out of range for u16 (0 to 65535)
}
