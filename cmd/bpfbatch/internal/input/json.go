package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// jsonEntry is one JSON line. The fields stay raw because their JSON type
// (string, number, byte array, per-CPU array) decides how to read them.
type jsonEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

func (r *Reader) parseJSON(line, key, value []byte) error {
	if line[0] != '{' {
		return errors.New(`want a JSON object {"key": ..., "value": ...}, as on the input's first entry line`)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	// An unknown field is most likely a misspelt "key" or "value"; taking
	// the entry without it would write zeros.
	dec.DisallowUnknownFields()
	var e jsonEntry
	if err := dec.Decode(&e); err != nil {
		// The decoder's message may quote a field name of any length.
		msg, cut := cutToken(strings.TrimPrefix(err.Error(), "json: "), 2*maxToken)
		if cut {
			msg += "..."
		}
		return fmt.Errorf("bad JSON: %s", msg)
	}
	if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("unexpected %s after the JSON object (one object per line)", quoteAlways(string(rest)))
	}
	if r.opts.KeySize == 0 {
		if !isNull(e.Key) {
			return errors.New(`this map has no keys (key_size 0): leave out "key"`)
		}
	} else {
		if isNull(e.Key) {
			return errors.New(`missing "key"`)
		}
		if err := jsonScalar(r.key, e.Key, key); err != nil {
			return fmt.Errorf("key %s: %w", quoteToken(string(e.Key)), err)
		}
	}
	if r.opts.KeysOnly {
		if !isNull(e.Value) {
			return errors.New(`one key per line: leave out "value"`)
		}
		return nil
	}
	if isNull(e.Value) {
		return errors.New(`missing "value"`)
	}
	if r.opts.CPUs == 0 || r.opts.AllCPUs {
		return r.fillValue(value, nil, func(_ int, dst []byte) error {
			if err := jsonScalar(r.value, e.Value, dst); err != nil {
				return fmt.Errorf("value %s: %w", quoteToken(string(e.Value)), err)
			}
			return nil
		})
	}
	var perCPU []json.RawMessage
	if e.Value[0] != '[' || json.Unmarshal(e.Value, &perCPU) != nil || len(perCPU) != r.opts.CPUs {
		return fmt.Errorf("value %s: a per-CPU map wants an array of %d values, one per possible CPU (or one value with --all-cpus)", quoteToken(string(e.Value)), r.opts.CPUs)
	}
	return r.fillValue(value, nil, func(c int, dst []byte) error {
		if err := jsonScalar(r.value, perCPU[c], dst); err != nil {
			return fmt.Errorf("value for CPU %d (%s): %w", c, quoteToken(string(perCPU[c])), err)
		}
		return nil
	})
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// jsonScalar encodes one JSON key or value into dst: a string in enc's
// format, an array of byte values, or a number for the integer formats.
func jsonScalar(enc encoder, raw json.RawMessage, dst []byte) error {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		return enc.encode(s, dst)
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		if len(items) != len(dst) {
			return fmt.Errorf("byte array has %d elements, want %d", len(items), len(dst))
		}
		for i, it := range items {
			v, err := strconv.ParseUint(string(it), 10, 8)
			if err != nil {
				return fmt.Errorf("byte array element %d: %s is not a byte (0-255)", i, quoteToken(string(it)))
			}
			dst[i] = byte(v)
		}
		return nil
	case '{', 't', 'f', 'n':
		return errors.New("want a string, a number or an array of bytes")
	}
	// A JSON number.
	bits := 8 * enc.format.intSize()
	if bits == 0 {
		return fmt.Errorf("a number needs an integer format (u8, u16, u32, u64); in %s format write a string", enc.format)
	}
	v, err := parseUint(string(raw), bits)
	if err != nil {
		return err
	}
	putUint(dst, v)
	return nil
}
