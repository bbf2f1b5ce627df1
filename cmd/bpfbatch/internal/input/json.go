package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
)

// jsonEntry is one JSON line. The fields stay raw because their JSON type
// (string, number, byte array, per-CPU array) decides how to read them.
type jsonEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
	// Values are a per-CPU map's values in the BTF format, as bpftool
	// prints them: [{"cpu": 0, "value": V}, ...].
	Values json.RawMessage `json:"values"`
}

func (r *Reader) parseJSON(line, key, value []byte) error {
	if line[0] != '{' {
		if line[0] == '[' {
			return errors.New(`want a JSON object {"key": ..., "value": ...} per line; an array is what bpftool -j map dump prints, which --format bpftool-json reads`)
		}
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
			return r.key.tokenError("key", string(e.Key), err)
		}
	}
	if r.opts.KeysOnly {
		if !isNull(e.Value) || !isNull(e.Values) {
			return errors.New(`one key per line: leave out "value"`)
		}
		return nil
	}
	if r.value.format == BTF && r.opts.CPUs > 0 && !r.opts.AllCPUs {
		return r.parseBTFValues(e, value)
	}
	if !isNull(e.Values) {
		return errors.New(`"values" holds the per-CPU values of a per-CPU map in the btf value format; here write "value"`)
	}
	if isNull(e.Value) {
		return errors.New(`missing "value"`)
	}
	if r.opts.CPUs == 0 || r.opts.AllCPUs {
		return r.fillValue(value, nil, func(_ int, dst []byte) error {
			if err := jsonScalar(r.value, e.Value, dst); err != nil {
				return r.value.tokenError("value", string(e.Value), err)
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

// parseBTFValues reads a per-CPU map's values in the BTF format, as
// bpftool prints them: "values": [{"cpu": 0, "value": V}, ...].
func (r *Reader) parseBTFValues(e jsonEntry, value []byte) error {
	if isNull(e.Values) {
		if !isNull(e.Value) {
			return fmt.Errorf(`a per-CPU map's values in the btf format are "values": [{"cpu": 0, "value": ...}, ...], one per possible CPU (%d), as bpftool prints them; or one "value" for every CPU with --all-cpus`, r.opts.CPUs)
		}
		return errors.New(`missing "values"`)
	}
	if !isNull(e.Value) {
		return errors.New(`give "values" or "value", not both`)
	}
	if err := r.opts.ValueCodec.ParsePerCPU(value, e.Values); err != nil {
		return btfjson.WithPath(err, "values")
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// jsonScalar encodes one JSON key or value into dst: a string in enc's
// format, an array of byte values, or a number for the integer formats.
func jsonScalar(enc encoder, raw json.RawMessage, dst []byte) error {
	if enc.format == BTF {
		return enc.codec.Parse(dst, raw)
	}
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
