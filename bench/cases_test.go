package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/bpfbatch/bpfbatch"
	"github.com/cilium/ebpf"
)

// Kernel map types and flags used here (include/uapi/linux/bpf.h).
const (
	typeHash       = 1  // BPF_MAP_TYPE_HASH
	typeArray      = 2  // BPF_MAP_TYPE_ARRAY
	typePerCPUHash = 5  // BPF_MAP_TYPE_PERCPU_HASH
	typeLPMTrie    = 11 // BPF_MAP_TYPE_LPM_TRIE

	flagNoPrealloc = 1 // BPF_F_NO_PREALLOC, required by LPM tries
)

// mapCase is one kind of map the benchmarks load.
type mapCase struct {
	name      string
	mapType   uint32
	keySize   uint32
	valueSize uint32 // a multiple of 8 in every case, so per-CPU slots have no padding
	mapFlags  uint32
	perCPU    bool

	// bytes and typed are the Go shapes a caller would hand the libraries:
	// fixed-size byte arrays, and the natural integer or struct types.
	bytes, typed codec
}

// value64 is the 64-byte value of the hash-v64 case.
type value64 [8]uint64

// lpmKey is struct bpf_lpm_trie_key_u8 with a 4-byte (IPv4) address.
type lpmKey struct {
	Prefixlen uint32
	Addr      [4]byte
}

var cases = []*mapCase{
	{name: "hash-u64", mapType: typeHash, keySize: 4, valueSize: 8,
		bytes: layout[[4]byte, [8]byte]{}, typed: layout[uint32, uint64]{}},
	{name: "hash-v64", mapType: typeHash, keySize: 4, valueSize: 64,
		bytes: layout[[4]byte, [64]byte]{}, typed: layout[uint32, value64]{}},
	{name: "array-u64", mapType: typeArray, keySize: 4, valueSize: 8,
		bytes: layout[[4]byte, [8]byte]{}, typed: layout[uint32, uint64]{}},
	{name: "percpu-hash-u64", mapType: typePerCPUHash, keySize: 4, valueSize: 8, perCPU: true,
		bytes: layout[[4]byte, [8]byte]{}, typed: layout[uint32, uint64]{}},
	{name: "lpm-trie", mapType: typeLPMTrie, keySize: 8, valueSize: 8, mapFlags: flagNoPrealloc,
		bytes: layout[[8]byte, [8]byte]{}, typed: layout[lpmKey, uint64]{}},
}

// data is one load: n distinct keys and their values, laid out as the
// kernel takes them (values element-major for per-CPU maps).
type data struct {
	c      *mapCase
	n      int
	cpus   int // value copies per element: possible CPUs for per-CPU maps, else 1
	stride int // value bytes per element

	keys, values []byte
	keyWords     []uint64 // backing store of keys, 8-byte aligned for the typed views
	valueWords   []uint64 // backing store of values
}

// golden is an odd constant: multiplying by it permutes uint32 (and, masked,
// any power-of-two range), which gives distinct keys in scattered order.
const golden = 0x9E3779B1

func newData(c *mapCase, n, cpus int) *data {
	if !c.perCPU {
		cpus = 1
	}
	d := &data{c: c, n: n, cpus: cpus, stride: cpus * int(c.valueSize)}
	d.keyWords = make([]uint64, (n*int(c.keySize)+7)/8)
	d.valueWords = make([]uint64, n*d.stride/8)
	d.keys = asBytes(d.keyWords)[:n*int(c.keySize)]
	d.values = asBytes(d.valueWords)
	for i := range n {
		k := d.keys[i*int(c.keySize) : (i+1)*int(c.keySize)]
		x := uint32(i) * golden
		switch c.mapType {
		case typeArray:
			// A permutation of [0, n): every slot of a max_entries=n
			// array, in scattered order. n is a power of two.
			binary.NativeEndian.PutUint32(k, x&uint32(n-1))
		case typeLPMTrie:
			binary.NativeEndian.PutUint32(k[:4], 32) // host routes: one key each
			binary.BigEndian.PutUint32(k[4:], x)
		default:
			binary.NativeEndian.PutUint32(k, x)
		}
	}
	return d
}

// fill writes generation gen of the values. The warm-up writes generation 1
// and the timed loop generation 2, so the read-back after the loop proves
// the timed calls wrote the map.
func (d *data) fill(gen uint64) {
	for i := range d.valueWords {
		d.valueWords[i] = mix(uint64(i)) ^ gen*0x9E3779B97F4A7C15
	}
}

// mix is splitmix64's finaliser: cheap, and no two words alike.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// verify reads a few elements back with a raw lookup and compares them with
// the values last written.
func (d *data) verify(fd int) error {
	got := make([]byte, d.stride)
	ks := int(d.c.keySize)
	for _, i := range []int{0, d.n / 3, d.n / 2, d.n - 1} {
		key := d.keys[i*ks : (i+1)*ks]
		if err := lookup(fd, key, got); err != nil {
			return fmt.Errorf("read back element %d (key % x): %w", i, key, err)
		}
		if want := d.values[i*d.stride : (i+1)*d.stride]; !bytes.Equal(got, want) {
			return fmt.Errorf("element %d (key % x) reads back % x, want % x", i, key, got, want)
		}
	}
	return nil
}

// asBytes views a slice of plain values as its bytes.
func asBytes[T any](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}

// view is the inverse of asBytes: b seen as a []T, without a copy.
func view[T any](b []byte) []T {
	var zero T
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(zero)))
}

// updater writes all of a load's elements once.
type updater func() error

// codec builds the typed calls of each library for one Go shape of keys
// and values. The slices are views of data's buffers, so every variant
// writes the same bytes.
type codec interface {
	bpfbatchOf(m *bpfbatch.Map, d *data) updater
	ciliumBatch(m *ebpf.Map, d *data) updater
	ciliumPut(m *ebpf.Map, d *data) updater

	// The read side (lookup_test.go).
	ciliumLookup(m *ebpf.Map, d *data, buf *readBuf) walker
	ciliumIterate(m *ebpf.Map, d *data) walker
	ciliumLookupBoxed(m *ebpf.Map, d *data, buf *readBuf) walker
	ciliumLookupAllocs(m *ebpf.Map, d *data, buf *readBuf, boxed bool) float64
}

// layout is the codec for keys of type K and values of type V.
type layout[K, V any] struct{}

func (layout[K, V]) bpfbatchOf(m *bpfbatch.Map, d *data) updater {
	keys, values := view[K](d.keys), view[V](d.values)
	return func() error {
		n, err := bpfbatch.UpdateBatchOf(m, keys, values, bpfbatch.UpdateAny)
		return checkCount(n, d.n, err)
	}
}

func (layout[K, V]) ciliumBatch(m *ebpf.Map, d *data) updater {
	// For per-CPU maps cilium takes the flat element-major slice of
	// n x possible-CPUs values, like bpfbatch.
	keys, values := view[K](d.keys), view[V](d.values)
	return func() error {
		n, err := m.BatchUpdate(keys, values, nil)
		return checkCount(n, d.n, err)
	}
}

func (layout[K, V]) ciliumPut(m *ebpf.Map, d *data) updater {
	keys, values := view[K](d.keys), view[V](d.values)
	if d.c.perCPU {
		// Put on a per-CPU map takes a slice with one value per CPU.
		return func() error {
			for i := range keys {
				if err := m.Put(&keys[i], values[i*d.cpus:(i+1)*d.cpus]); err != nil {
					return fmt.Errorf("element %d: %w", i, err)
				}
			}
			return nil
		}
	}
	// Pointers to fixed-size values are cilium's zero-copy path.
	return func() error {
		for i := range keys {
			if err := m.Put(&keys[i], &values[i]); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		return nil
	}
}

// checkCount turns a short write without an error into one: a variant
// must never win by writing less.
func checkCount(got, want int, err error) error {
	if err == nil && got != want {
		return fmt.Errorf("wrote %d of %d elements", got, want)
	}
	return err
}
