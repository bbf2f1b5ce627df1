package btfjson

// AppendAsBpftool is Append with chars and strings as bpftool prints
// them, not always JSON: the tests compare it with bpftool's output byte
// for byte.
func AppendAsBpftool(c *Codec, dst, data []byte) []byte { return c.root.append(dst, data, true) }

// ShownMask returns the bits of a value of c's type that its JSON
// restores whatever they hold: those of integers, enums, chars, pointers
// and bitfields, outside char arrays that may print as strings, and in a
// union those of its exact members.
func ShownMask(c *Codec) []byte {
	mask := make([]byte, c.size)
	c.root.mask(mask)
	return mask
}

func (n *node) mask(m []byte) {
	switch n.op {
	case opUint, opInt, opPointer, opEnum, opInt128, opChar:
		for i := range m {
			m[i] = 0xff
		}
	case opBits:
		putBits(m, int(n.bitOff), int(n.bits), ones(int(n.bits)), nativeLE)
	case opArray:
		if !n.str {
			for i := range n.n {
				n.elem.mask(m[i*n.elem.size : (i+1)*n.elem.size])
			}
		}
	case opStruct, opDatasec, opVar:
		for _, f := range n.fields {
			f.node.mask(m[f.off : f.off+f.node.size])
		}
	case opUnion:
		for _, f := range n.fields {
			if f.node.exact {
				f.node.mask(m[f.off : f.off+f.node.size])
			}
		}
	}
}

// GetBits and PutBits expose the bitfield access of either byte order,
// so that both are tested on any host.
func GetBits(b []byte, bitOff, width int, le bool) (hi, lo uint64) {
	x := getBits(b, bitOff, width, le)
	return x.hi, x.lo
}

func PutBits(b []byte, bitOff, width int, hi, lo uint64, le bool) {
	putBits(b, bitOff, width, u128{hi, lo}, le)
}
