package bpfbatch

import "strconv"

// MapType is a kernel map type (enum bpf_map_type).
type MapType uint32

// Map types, in the kernel's order. Batch update works on Hash, Array,
// PerCPUHash, PerCPUArray, LRUHash, LRUPerCPUHash, LPMTrie, ArrayOfMaps and
// HashOfMaps; UpdateBatch writes the other types that accept single updates
// element by element (see Map.UpdatePath).
const (
	UnspecifiedMap      MapType = iota // BPF_MAP_TYPE_UNSPEC
	Hash                               // BPF_MAP_TYPE_HASH
	Array                              // BPF_MAP_TYPE_ARRAY
	ProgramArray                       // BPF_MAP_TYPE_PROG_ARRAY
	PerfEventArray                     // BPF_MAP_TYPE_PERF_EVENT_ARRAY
	PerCPUHash                         // BPF_MAP_TYPE_PERCPU_HASH
	PerCPUArray                        // BPF_MAP_TYPE_PERCPU_ARRAY
	StackTrace                         // BPF_MAP_TYPE_STACK_TRACE
	CgroupArray                        // BPF_MAP_TYPE_CGROUP_ARRAY
	LRUHash                            // BPF_MAP_TYPE_LRU_HASH
	LRUPerCPUHash                      // BPF_MAP_TYPE_LRU_PERCPU_HASH
	LPMTrie                            // BPF_MAP_TYPE_LPM_TRIE
	ArrayOfMaps                        // BPF_MAP_TYPE_ARRAY_OF_MAPS
	HashOfMaps                         // BPF_MAP_TYPE_HASH_OF_MAPS
	DevMap                             // BPF_MAP_TYPE_DEVMAP
	SockMap                            // BPF_MAP_TYPE_SOCKMAP
	CPUMap                             // BPF_MAP_TYPE_CPUMAP
	XSKMap                             // BPF_MAP_TYPE_XSKMAP
	SockHash                           // BPF_MAP_TYPE_SOCKHASH
	CgroupStorage                      // BPF_MAP_TYPE_CGROUP_STORAGE
	ReusePortSockArray                 // BPF_MAP_TYPE_REUSEPORT_SOCKARRAY
	PerCPUCgroupStorage                // BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
	Queue                              // BPF_MAP_TYPE_QUEUE
	Stack                              // BPF_MAP_TYPE_STACK
	SkStorage                          // BPF_MAP_TYPE_SK_STORAGE
	DevMapHash                         // BPF_MAP_TYPE_DEVMAP_HASH
	StructOps                          // BPF_MAP_TYPE_STRUCT_OPS
	RingBuf                            // BPF_MAP_TYPE_RINGBUF
	InodeStorage                       // BPF_MAP_TYPE_INODE_STORAGE
	TaskStorage                        // BPF_MAP_TYPE_TASK_STORAGE
	BloomFilter                        // BPF_MAP_TYPE_BLOOM_FILTER
	UserRingBuf                        // BPF_MAP_TYPE_USER_RINGBUF
	CgrpStorage                        // BPF_MAP_TYPE_CGRP_STORAGE
	Arena                              // BPF_MAP_TYPE_ARENA
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
