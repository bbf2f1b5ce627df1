package bpfbatch

import (
	"slices"
	"testing"
)

// The classifications a command asks before it reads any input.
func TestMapTypeClasses(t *testing.T) {
	var isArray, cannotDelete, evicts, fdValues []MapType
	for typ := range MapType(40) {
		if typ.IsArray() {
			isArray = append(isArray, typ)
		}
		if !typ.CanDelete() {
			cannotDelete = append(cannotDelete, typ)
		}
		if typ.Evicts() {
			evicts = append(evicts, typ)
		}
		if typ.FDValues() {
			fdValues = append(fdValues, typ)
		}
	}
	for _, tt := range []struct {
		name      string
		got, want []MapType
	}{
		{"IsArray", isArray, []MapType{Array, ProgramArray, PerfEventArray, PerCPUArray, CgroupArray, ArrayOfMaps, DevMap, SockMap, CPUMap, XSKMap, ReusePortSockArray}},
		{"!CanDelete", cannotDelete, []MapType{Array, PerCPUArray}},
		{"Evicts", evicts, []MapType{LRUHash, LRUPerCPUHash}},
		{"FDValues", fdValues, []MapType{ProgramArray, PerfEventArray, CgroupArray, ArrayOfMaps, HashOfMaps, SockMap, XSKMap, SockHash, ReusePortSockArray}},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s types = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// MapType.ValueStride is the stride Map.ValueStride reports for the same
// shape: value_size, or per-CPU slots of value_size rounded up to 8.
func TestMapTypeValueStride(t *testing.T) {
	cpus, err := PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		typ       MapType
		valueSize uint32
		want      int
	}{
		{Hash, 12, 12},
		{Array, 1, 1},
		{PerCPUHash, 8, 8 * cpus},
		{PerCPUArray, 12, 16 * cpus},
		{LRUPerCPUHash, 1, 8 * cpus},
		{PerCPUCgroupStorage, 17, 24 * cpus},
	} {
		if got, err := tt.typ.ValueStride(tt.valueSize); err != nil || got != tt.want {
			t.Errorf("%s.ValueStride(%d) = %d, %v; want %d", tt.typ, tt.valueSize, got, err, tt.want)
		}
	}
}
