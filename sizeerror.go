package bpfbatch

import (
	"fmt"
	"strings"
)

// SizeError is returned before any syscall when a buffer does not match the
// map's layout. Nothing is written.
type SizeError struct {
	// Buffer is "keys" or "values" (also for the single key and value of
	// Lookup).
	Buffer string
	// Got is the number of bytes given.
	Got int
	// Want is the number of bytes required; for the keys of a batch, the
	// length must be a multiple of Want (the key size).
	Want int

	// Op is the operation, e.g. "update".
	Op string
	// Map describes the map.
	Map MapInfo
	// Elements is the element count the keys imply (for values errors).
	Elements int
	// CPUs is the number of possible CPUs for per-CPU maps, else 0.
	CPUs int
	// Type is the Go type given to a typed call (UpdateBatchOf, ...), when
	// the error is about its size; Got and Want are then the type's size
	// and the map's.
	Type string
	// Entry is the size of one typed value (per-CPU maps: one entry per
	// CPU per element), when the count of entries is wrong.
	Entry int
	// Flags are the call's flags; with OnCPU or UpdateAllCPUs a per-CPU
	// map takes one value_size value per element.
	Flags Flags

	single bool // a one-element call: the buffer must be exactly Want bytes
}

// sizeError is the one constructor of *SizeError: e says what is wrong
// with which buffer; the map's facts are filled in here.
func (m *Map) sizeError(e SizeError) *SizeError {
	e.Map, e.CPUs = m.info, m.cpus
	return &e
}

// Error states the layout the map needs, e.g. `bpfbatch: update Hash map
// (id 7): values: got 32 bytes, want 64 = 4 elements x 2 possible CPUs x
// 8 ...`.
func (e *SizeError) Error() string { return "bpfbatch: " + e.message("") }

func (e *SizeError) message(named string) string {
	var b strings.Builder
	writeSubject(&b, e.Op, e.Map.describe(), named)
	b.WriteString(e.Buffer)
	b.WriteString(": ")
	perCPU := e.CPUs > 0 && !e.Flags.onePerElement()
	switch {
	case e.Type != "":
		what := "key_size"
		if e.Buffer == "values" {
			what = "value_size"
			if perCPU {
				what = "value_size (or its 8-byte-rounded per-CPU slot)"
			}
		}
		fmt.Fprintf(&b, "type %s is %d bytes, map %s is %d", e.Type, e.Got, what, e.Want)
	case e.Entry > 0 && e.Elements > 0:
		fmt.Fprintf(&b, "got %d entries, want %d = %s x %d possible CPUs (one %d-byte value per CPU per element, element-major)",
			e.Got/e.Entry, e.Want/e.Entry, plural(e.Elements, "element"), e.CPUs, e.Entry)
	case e.Entry > 0:
		fmt.Fprintf(&b, "got %d entries, want a multiple of %d possible CPUs (one value per CPU per element)", e.Got/e.Entry, e.CPUs)
	case e.Buffer == "keys" && e.Map.KeySize == 0:
		fmt.Fprintf(&b, "got %d bytes, want none: %s maps have no keys (key_size 0); pass nil keys and the count comes from values", e.Got, e.Map.Type)
	case e.Buffer == "keys" && e.single:
		fmt.Fprintf(&b, "got %d bytes, want key_size %d", e.Got, e.Want)
	case e.Buffer == "keys" && e.Got == 0:
		fmt.Fprintf(&b, "got none, want room for at least one key of key_size %d", e.Want)
	case e.Buffer == "keys":
		fmt.Fprintf(&b, "got %d bytes, want a multiple of key_size %d (%s and %s left over)", e.Got, e.Want, plural(e.Got/e.Want, "whole key"), plural(e.Got%e.Want, "byte"))
	case e.single && perCPU:
		fmt.Fprintf(&b, "got %d bytes, want %d = %d possible CPUs x %d (value_size %d rounded up to 8 per CPU slot)",
			e.Got, e.Want, e.CPUs, slotSize(e.Map.ValueSize), e.Map.ValueSize)
	case e.single:
		fmt.Fprintf(&b, "got %d bytes, want value_size %d", e.Got, e.Want)
		if e.CPUs > 0 {
			fmt.Fprintf(&b, " (one CPU's value with %s)", e.Flags)
		}
	case e.Map.KeySize == 0:
		fmt.Fprintf(&b, "got %d bytes, want a multiple of %d (one value per element", e.Got, e.Want)
		if perCPU {
			fmt.Fprintf(&b, ": %d possible CPUs x %d", e.CPUs, slotSize(e.Map.ValueSize))
		}
		b.WriteString(")")
	case perCPU:
		fmt.Fprintf(&b, "got %d bytes, want %d = %s x %d possible CPUs x %d (value_size %d rounded up to 8 per CPU slot, element-major: all CPUs of element 0, then element 1, ...)",
			e.Got, e.Want, plural(e.Elements, "element"), e.CPUs, slotSize(e.Map.ValueSize), e.Map.ValueSize)
	case e.CPUs > 0:
		fmt.Fprintf(&b, "got %d bytes, want %d = %s x value_size %d (%s: one value per element, no per-CPU slots)",
			e.Got, e.Want, plural(e.Elements, "element"), e.Map.ValueSize, e.Flags)
	default:
		fmt.Fprintf(&b, "got %d bytes, want %d = %s x value_size %d", e.Got, e.Want, plural(e.Elements, "element"), e.Map.ValueSize)
	}
	return b.String()
}
