package btfjson

import (
	"strconv"
)

// Slot returns the bytes one CPU's copy of a value takes in a per-CPU
// map's values: Size() rounded up to 8, as the kernel copies them
// (bpf_percpu_hash_copy). A per-CPU element's values are one slot per
// possible CPU, the padding zero.
func (c *Codec) Slot() int { return (c.size + 7) &^ 7 }

// AppendPerCPU appends the per-CPU values in data as bpftool prints them
// in "values": [{"cpu":0,"value":...},{"cpu":1,"value":...}]. data holds
// one Slot() per CPU (the map's ValueStride()).
func (c *Codec) AppendPerCPU(dst, data []byte) ([]byte, error) {
	slot := c.Slot()
	if len(data) == 0 || len(data)%slot != 0 {
		return dst, &FieldError{Msg: strconv.Itoa(len(data)) + " bytes of per-CPU values for " + c.root.what +
			", want a multiple of " + strconv.Itoa(slot) + " (one 8-byte aligned slot per CPU)"}
	}
	dst = append(dst, '[')
	for cpu := range len(data) / slot {
		if cpu > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"cpu":`...)
		dst = strconv.AppendInt(dst, int64(cpu), 10)
		dst = append(dst, `,"value":`...)
		dst = c.root.append(dst, data[cpu*slot:cpu*slot+c.size], false)
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// ParsePerCPU fills dst, one Slot() per CPU, from text as AppendPerCPU
// prints it. Every CPU must be given once, in any order; slot padding is
// zero. Errors are *FieldError; their paths start with "[cpu N]".
func (c *Codec) ParsePerCPU(dst, text []byte) error {
	slot := c.Slot()
	if len(dst) == 0 || len(dst)%slot != 0 {
		return &FieldError{Msg: strconv.Itoa(len(dst)) + " bytes for per-CPU values of " + c.root.what +
			", want a multiple of " + strconv.Itoa(slot)}
	}
	clear(dst)
	cpus := len(dst) / slot
	p := parser{s: text}
	arr := &node{what: "per-CPU values"}
	if !p.expect('[') {
		return p.wrongType(arr, `an array of {"cpu": N, "value": ...}`)
	}
	seen := make([]bool, cpus)
	given := 0
	if !p.expect(']') {
		for i := 0; ; i++ {
			if err := c.parseCPU(&p, dst, seen, i); err != nil {
				return err
			}
			given++
			if p.expect(',') {
				continue
			}
			if p.expect(']') {
				break
			}
			return p.fail("bad JSON in the per-CPU values: want ',' or ']', got %s", p.snippet())
		}
	}
	p.ws()
	if p.i < len(p.s) {
		return p.fail("unexpected %s after the per-CPU values", p.snippet())
	}
	if given != cpus {
		for cpu, ok := range seen {
			if !ok {
				return p.fail("no value for CPU %d: the map holds a value for each of its %d possible CPUs, the input has %d", cpu, cpus, given)
			}
		}
	}
	return nil
}

// parseCPU parses one {"cpu": N, "value": ...}, element i of the array.
// Its errors name the element by its CPU once that is known.
func (c *Codec) parseCPU(p *parser, dst []byte, seen []bool, i int) error {
	obj := &node{what: "per-CPU value", fields: []field{{name: "cpu"}, {name: "value"}}}
	slot := c.Slot()
	cpu, valueAt := -1, -1
	empty, err := p.openObject(obj)
	if err != nil {
		return inElement(err, strconv.Itoa(i))
	}
	for more := !empty; more; {
		key, err := p.memberName(obj)
		if err != nil {
			return inElement(err, strconv.Itoa(i))
		}
		switch string(key) {
		case "cpu":
			if cpu >= 0 {
				return inElement(p.fail(`"cpu" given twice`), strconv.Itoa(i))
			}
			start := p.i
			lit, integer, ok := p.number()
			if !ok {
				return inElement(p.wrongType(obj, "a CPU number"), strconv.Itoa(i))
			}
			n, err := strconv.Atoi(string(lit))
			if !integer || err != nil || n < 0 || n >= len(seen) {
				p.i = start
				return inElement(p.fail("CPU %s: the map holds values for CPUs 0 to %d", lit, len(seen)-1), strconv.Itoa(i))
			}
			if seen[n] {
				return inElement(p.fail("CPU %d given twice", n), strconv.Itoa(i))
			}
			seen[n], cpu = true, n
		case "value":
			if valueAt >= 0 {
				return inElement(p.fail(`"value" given twice`), strconv.Itoa(i))
			}
			valueAt = p.i
			if err := p.skip(0); err != nil {
				return inElement(err, strconv.Itoa(i))
			}
		default:
			return inElement(p.memberError(obj, key, false), strconv.Itoa(i))
		}
		if more, err = p.moreMembers(obj); err != nil {
			return inElement(err, strconv.Itoa(i))
		}
	}
	switch {
	case cpu < 0:
		return inElement(p.fail(`missing "cpu"`), strconv.Itoa(i))
	case valueAt < 0:
		return inElement(p.fail(`missing "value" for CPU %d`, cpu), strconv.Itoa(i))
	}
	end := p.i
	p.i = valueAt
	if err := p.value(c.root, dst[cpu*slot:cpu*slot+c.size]); err != nil {
		return inElement(err, "cpu "+strconv.Itoa(cpu))
	}
	p.i = end
	return nil
}
