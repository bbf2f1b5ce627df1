package btfjson

// AppendAsBpftool is Append with chars and strings as bpftool prints
// them, not always JSON: the tests compare it with bpftool's output byte
// for byte.
func AppendAsBpftool(c *Codec, dst, data []byte) []byte { return c.root.append(dst, data, true) }
