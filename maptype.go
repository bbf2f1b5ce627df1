package bpfbatch

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch/internal/cpus"
)

// MapType is a kernel map type (enum bpf_map_type).
type MapType uint32

// Map types, in the kernel's order. Batch update works on Hash, Array,
// PerCPUHash, PerCPUArray, LRUHash, LRUPerCPUHash, LPMTrie, ArrayOfMaps and
// HashOfMaps; UpdateBatch writes the other types that accept single updates
// element by element (see Map.UpdatePath).
const (
	UnspecifiedMap      MapType = unix.BPF_MAP_TYPE_UNSPEC
	Hash                MapType = unix.BPF_MAP_TYPE_HASH
	Array               MapType = unix.BPF_MAP_TYPE_ARRAY
	ProgramArray        MapType = unix.BPF_MAP_TYPE_PROG_ARRAY
	PerfEventArray      MapType = unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY
	PerCPUHash          MapType = unix.BPF_MAP_TYPE_PERCPU_HASH
	PerCPUArray         MapType = unix.BPF_MAP_TYPE_PERCPU_ARRAY
	StackTrace          MapType = unix.BPF_MAP_TYPE_STACK_TRACE
	CgroupArray         MapType = unix.BPF_MAP_TYPE_CGROUP_ARRAY
	LRUHash             MapType = unix.BPF_MAP_TYPE_LRU_HASH
	LRUPerCPUHash       MapType = unix.BPF_MAP_TYPE_LRU_PERCPU_HASH
	LPMTrie             MapType = unix.BPF_MAP_TYPE_LPM_TRIE
	ArrayOfMaps         MapType = unix.BPF_MAP_TYPE_ARRAY_OF_MAPS
	HashOfMaps          MapType = unix.BPF_MAP_TYPE_HASH_OF_MAPS
	DevMap              MapType = unix.BPF_MAP_TYPE_DEVMAP
	SockMap             MapType = unix.BPF_MAP_TYPE_SOCKMAP
	CPUMap              MapType = unix.BPF_MAP_TYPE_CPUMAP
	XSKMap              MapType = unix.BPF_MAP_TYPE_XSKMAP
	SockHash            MapType = unix.BPF_MAP_TYPE_SOCKHASH
	CgroupStorage       MapType = unix.BPF_MAP_TYPE_CGROUP_STORAGE
	ReusePortSockArray  MapType = unix.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY
	PerCPUCgroupStorage MapType = unix.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
	Queue               MapType = unix.BPF_MAP_TYPE_QUEUE
	Stack               MapType = unix.BPF_MAP_TYPE_STACK
	SkStorage           MapType = unix.BPF_MAP_TYPE_SK_STORAGE
	DevMapHash          MapType = unix.BPF_MAP_TYPE_DEVMAP_HASH
	StructOps           MapType = unix.BPF_MAP_TYPE_STRUCT_OPS
	RingBuf             MapType = unix.BPF_MAP_TYPE_RINGBUF
	InodeStorage        MapType = unix.BPF_MAP_TYPE_INODE_STORAGE
	TaskStorage         MapType = unix.BPF_MAP_TYPE_TASK_STORAGE
	BloomFilter         MapType = unix.BPF_MAP_TYPE_BLOOM_FILTER
	UserRingBuf         MapType = unix.BPF_MAP_TYPE_USER_RINGBUF
	CgrpStorage         MapType = unix.BPF_MAP_TYPE_CGRP_STORAGE
	Arena               MapType = 33 // BPF_MAP_TYPE_ARENA (Linux 6.9), newer than x/sys/unix
)

var mapTypeNames = [...]string{
	"UnspecifiedMap", "Hash", "Array", "ProgramArray", "PerfEventArray", "PerCPUHash", "PerCPUArray",
	"StackTrace", "CgroupArray", "LRUHash", "LRUPerCPUHash", "LPMTrie", "ArrayOfMaps", "HashOfMaps",
	"DevMap", "SockMap", "CPUMap", "XSKMap", "SockHash", "CgroupStorage", "ReusePortSockArray",
	"PerCPUCgroupStorage", "Queue", "Stack", "SkStorage", "DevMapHash", "StructOps", "RingBuf",
	"InodeStorage", "TaskStorage", "BloomFilter", "UserRingBuf", "CgrpStorage", "Arena",
}

// String returns the Go name of the type, e.g. "PerCPUHash", or
// "MapType(99)" for a type this package does not know.
func (t MapType) String() string {
	if int(t) < len(mapTypeNames) {
		return mapTypeNames[t]
	}
	return "MapType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// PerCPU reports whether each element of the type holds one value per
// possible CPU, which sets the values layout (see Map.ValueStride).
func (t MapType) PerCPU() bool {
	switch t {
	case PerCPUHash, PerCPUArray, LRUPerCPUHash, PerCPUCgroupStorage:
		return true
	}
	return false
}

// ValueStride returns the bytes one element of a map of type t with
// value_size valueSize takes in a values buffer: what Map.ValueStride
// returns once such a map is open, for a map that does not exist yet
// (valueSize, or for per-CPU types PossibleCPUs() x valueSize rounded up
// to 8). It fails only when the possible CPUs cannot be read.
func (t MapType) ValueStride(valueSize uint32) (int, error) {
	if !t.PerCPU() {
		return int(valueSize), nil
	}
	n, err := cpus.Possible()
	if err != nil {
		return 0, err
	}
	return slotSize(valueSize) * n, nil
}

// IsArray reports whether the type's keys are u32 indices below
// max_entries (Array, PerCPUArray, and the arrays of programs, maps,
// devices, CPUs, sockets, ...): the kernel refuses a larger index with
// E2BIG (ErrMapFull) and never grows such a map.
func (t MapType) IsArray() bool {
	switch t {
	case Array, PerCPUArray, ArrayOfMaps, ProgramArray, PerfEventArray, CgroupArray, DevMap, CPUMap, XSKMap, SockMap, ReusePortSockArray:
		return true
	}
	return false
}

// CanDelete reports whether user space can delete the type's elements. An
// Array or PerCPUArray element always exists, from creation on (a lookup
// of any index below max_entries finds it): deletes fail, and clearing an
// element means writing zero bytes.
func (t MapType) CanDelete() bool { return t != Array && t != PerCPUArray }

// Evicts reports whether a map of the type makes room for a new key by
// evicting others (LRUHash, LRUPerCPUHash): a write never fails for lack of
// room, and the map may hold fewer of the keys written than were written,
// even before it holds max_entries (the kernel's LRU lists are per CPU).
func (t MapType) Evicts() bool { return t == LRUHash || t == LRUPerCPUHash }

// FDValues reports whether the type's values are file descriptors when
// written (of inner maps, programs, perf events, cgroups, sockets, AF_XDP
// sockets), which only the writing process can give: a lookup from user
// space returns an ID or nothing instead, so such values cannot be copied
// as bytes from one map or process to another.
func (t MapType) FDValues() bool {
	switch t {
	case ProgramArray, PerfEventArray, CgroupArray, ArrayOfMaps, HashOfMaps, SockMap, SockHash, ReusePortSockArray, XSKMap:
		return true
	}
	return false
}

// hashCursor reports whether BPF_MAP_LOOKUP_BATCH walks the type by bucket
// (__htab_map_lookup_and_delete_batch: the cursor is a u32 bucket index)
// rather than by key (generic_map_lookup_batch: the cursor is the last
// key), and whether BPF_MAP_LOOKUP_AND_DELETE_BATCH exists for it.
func (t MapType) hashCursor() bool {
	switch t {
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash, HashOfMaps:
		return true
	}
	return false
}
