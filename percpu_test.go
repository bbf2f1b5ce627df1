package bpfbatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// Linux 7.0 added BPF_F_CPU and BPF_F_ALL_CPUS; the library takes them on
// every kernel, natively where they exist.
var cpuFlagsKernel = testutil.KernelAtLeast(7, 0)

// Per-CPU flags that cannot apply are refused before any syscall.
func TestPerCPUFlagsRefusedBeforeSyscall(t *testing.T) {
	cpus, err := PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	perCPU := fakeInfo(PerCPUHash, 4, 12, 8)
	hash := fakeInfo(Hash, 4, 8, 8)
	for _, tc := range []struct {
		name string
		call func(m *Map) error
		info bool // true: per-CPU map
		want error
		msg  string
	}{
		{"OnCPU past the possible CPUs", func(m *Map) error {
			_, err := m.UpdateBatch(u32s(1), make([]byte, 12), OnCPU(cpus))
			return err
		}, true, ErrInvalidFlags, fmt.Sprintf("OnCPU(%d): this machine has %d possible CPUs", cpus, cpus)},
		{"OnCPU(-1)", func(m *Map) error {
			_, err := m.UpdateBatch(u32s(1), make([]byte, 12), OnCPU(-1))
			return err
		}, true, ErrInvalidFlags, "possible CPUs"},
		{"OnCPU on a map without per-CPU values", func(m *Map) error {
			_, err := m.UpdateBatch(u32s(1), make([]byte, 8), OnCPU(0))
			return err
		}, false, ErrInvalidFlags, "applies to per-CPU maps"},
		{"UpdateAllCPUs on a map without per-CPU values", func(m *Map) error {
			_, err := m.UpdateBatch(u32s(1), make([]byte, 8), UpdateAllCPUs)
			return err
		}, false, ErrInvalidFlags, "applies to per-CPU maps"},
		{"both flags", func(m *Map) error {
			_, err := m.UpdateBatch(u32s(1), make([]byte, 12), OnCPU(0)|UpdateAllCPUs)
			return err
		}, true, ErrInvalidFlags, "pick one"},
		{"UpdateAllCPUs with every CPU's slots", func(m *Map) error {
			_, err := m.UpdateBatch(u32s(1), make([]byte, m.ValueStride()), UpdateAllCPUs)
			return err
		}, true, nil, "one value per element, no per-CPU slots"},
		{"lookup with UpdateAllCPUs", func(m *Map) error {
			return m.LookupWith(u32s(1), make([]byte, 12), UpdateAllCPUs)
		}, true, ErrInvalidFlags, "lookups take UpdateLock and OnCPU only"},
		{"lookup with UpdateNoExist", func(m *Map) error {
			return m.LookupWith(u32s(1), make([]byte, m.ValueStride()), UpdateNoExist)
		}, true, ErrInvalidFlags, "lookups take"},
		{"OnCPU lookup into every CPU's slots", func(m *Map) error {
			return m.LookupWith(u32s(1), make([]byte, m.ValueStride()), OnCPU(0))
		}, true, nil, "want value_size 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := hash
			if tc.info {
				info = perCPU
			}
			f := &fakeKernel{}
			m := newFakeMap(t, info, f)
			err := tc.call(m)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("= %v; want %v saying %q", err, tc.want, tc.msg)
			}
			if f.total() != 0 {
				t.Fatalf("%d syscalls before the refusal", f.total())
			}
		})
	}
}

// perCPUSpecs are the per-CPU map types, with a value_size that needs
// padding and one that does not.
func perCPUSpecs(n uint32) []MapSpec {
	var specs []MapSpec
	for _, typ := range []MapType{PerCPUHash, PerCPUArray, LRUPerCPUHash} {
		for _, vs := range []uint32{12, 8} {
			max := n
			if typ == LRUPerCPUHash {
				max = 4 * n // LRU maps evict before they are full
			}
			specs = append(specs, MapSpec{Type: typ, KeySize: 4, ValueSize: vs, MaxEntries: max})
		}
	}
	return specs
}

// oneValueEach returns n value_size values that name their element.
func oneValueEach(n, valueSize int) []byte {
	values := make([]byte, n*valueSize)
	for i := range n {
		for b := range valueSize {
			values[i*valueSize+b] = byte(i*7 + b + 1)
		}
	}
	return values
}

// UpdateAllCPUs writes one value per element to every CPU, padding zeroed:
// natively from Linux 7.0, laid out by the library before. Every path (batch,
// typed, chunked in parallel, per element) gives the same map.
func TestUpdateAllCPUsWritesEveryCPU(t *testing.T) {
	const n = 300
	for _, spec := range perCPUSpecs(n) {
		for _, via := range []string{"UpdateBatch", "UpdateBatchWith", "per element"} {
			t.Run(fmt.Sprintf("%s/value%d/%s", spec.Type, spec.ValueSize, via), func(t *testing.T) {
				m := createMap(t, spec)
				vs := int(spec.ValueSize)
				keys, values := indexKeys(n), oneValueEach(n, vs)
				var got int
				var err error
				switch via {
				case "UpdateBatch":
					got, err = m.UpdateBatch(keys, values, UpdateAllCPUs)
				case "UpdateBatchWith":
					got, err = m.UpdateBatchWith(context.Background(), keys, values, BatchOptions{Flags: UpdateAllCPUs, Workers: 2, Chunk: 64})
				case "per element":
					flags := UpdateAllCPUs | UpdateNoExist
					if spec.Type == PerCPUArray {
						flags = UpdateAllCPUs | UpdateExist // array indices always exist
					}
					got, err = m.UpdateBatch(keys, values, flags)
				}
				if got != n || err != nil {
					t.Fatalf("= %d, %v", got, err)
				}
				for i := range n {
					want := values[i*vs : (i+1)*vs]
					for c, slot := range perCPUSlots(t, m, keys[i*4:i*4+4]) {
						if !bytes.Equal(slot[:vs], want) || !allZero(slot[vs:]) {
							t.Fatalf("element %d CPU %d: slot %x, want %x then zero padding", i, c, slot, want)
						}
					}
				}
				if native := m.nativeCPUFlags(m.fd); native != cpuFlagsKernel {
					t.Fatalf("kernel %s: BPF_F_ALL_CPUS native = %v, want %v", testutil.KernelRelease(), native, cpuFlagsKernel)
				}
			})
		}
	}
}

// The typed form takes one V per key with UpdateAllCPUs and OnCPU.
func TestUpdateBatchOfAllCPUs(t *testing.T) {
	m := createMap(t, MapSpec{Type: PerCPUHash, KeySize: 4, ValueSize: 12, MaxEntries: 8})
	if n, err := UpdateBatchOf(m, []uint32{1, 2}, []val12{{1, 2, 3}, {4, 5, 6}}, UpdateAllCPUs); n != 2 || err != nil {
		t.Fatalf("= %d, %v", n, err)
	}
	for c, slot := range perCPUSlots(t, m, u32s(2)) {
		if want := append(bytes.Clone(asBytes([]val12{{4, 5, 6}})), 0, 0, 0, 0); !bytes.Equal(slot, want) {
			t.Fatalf("CPU %d: %x, want %x", c, slot, want)
		}
	}
	if n, err := UpdateBatchOf(m, []uint32{1, 2}, []val12{{1, 2, 3}}, UpdateAllCPUs); n != 0 || !isSizeError("values")(err) {
		t.Fatalf("one value for two keys = %d, %v; want a SizeError", n, err)
	}
}

// OnCPU touches one CPU's value. Before Linux 7.0 it is ErrNotSupported
// with nothing written: emulating it would race BPF programs.
func TestOnCPU(t *testing.T) {
	cpus, _ := PossibleCPUs()
	for _, spec := range perCPUSpecs(8) {
		t.Run(fmt.Sprintf("%s/value%d", spec.Type, spec.ValueSize), func(t *testing.T) {
			m := createMap(t, spec)
			vs := int(spec.ValueSize)
			key := u32s(3)
			before := make([]byte, m.ValueStride())
			for i := range before {
				before[i] = byte(i + 1)
			}
			for c := range cpus { // zero padding: the kernel stores what it is given
				clear(before[c*slotSize(spec.ValueSize)+vs : (c+1)*slotSize(spec.ValueSize)])
			}
			if _, err := m.UpdateBatch(key, before, UpdateAny); err != nil {
				t.Fatal(err)
			}
			cpu := cpus - 1
			value := bytes.Repeat([]byte{0xab}, vs)
			n, err := m.UpdateBatch(key, value, OnCPU(cpu))
			read := make([]byte, vs)
			lookupErr := m.LookupWith(key, read, OnCPU(cpu))
			slots := perCPUSlots(t, m, key)
			if !cpuFlagsKernel {
				if n != 0 || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "Linux 7.0") {
					t.Fatalf("kernel %s: UpdateBatch(OnCPU) = %d, %v; want ErrNotSupported", testutil.KernelRelease(), n, err)
				}
				if !errors.Is(lookupErr, ErrNotSupported) {
					t.Fatalf("kernel %s: LookupWith(OnCPU) = %v; want ErrNotSupported", testutil.KernelRelease(), lookupErr)
				}
				if got := bytes.Join(slots, nil); !bytes.Equal(got, before) {
					t.Fatalf("OnCPU refused but the value changed: %x, want %x", got, before)
				}
				return
			}
			if n != 1 || err != nil || lookupErr != nil {
				t.Fatalf("kernel %s: UpdateBatch(OnCPU(%d)) = %d, %v; LookupWith = %v", testutil.KernelRelease(), cpu, n, err, lookupErr)
			}
			if !bytes.Equal(read, value) {
				t.Fatalf("LookupWith(OnCPU(%d)) = %x, want %x", cpu, read, value)
			}
			slot := slotSize(spec.ValueSize)
			for c, got := range slots {
				want := before[c*slot : (c+1)*slot]
				if c == cpu {
					want = append(bytes.Clone(value), make([]byte, slot-vs)...)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("CPU %d: %x, want %x", c, got, want)
				}
			}
		})
	}
}
