package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/btfjson"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

// formatFlags are --key-format and --value-format, which dump shares too.
// Empty means the default that fits the map (defaultFormats).
type formatFlags struct {
	key, value string
	values     bool // the command has --value-format
}

func (f *formatFlags) register(fs *flag.FlagSet, values bool) {
	f.values = values
	fs.StringVar(&f.key, "key-format", "", "key `format`: "+input.FormatNames()+"\n(default: btf in JSON for a map with BTF, cidr for an LPM trie with 8- or 20-byte keys,\nelse hex)")
	if values {
		fs.StringVar(&f.value, "value-format", "", "value `format`: "+input.FormatNames()+"\n(default: btf in JSON for a map with BTF, else hex)")
	}
}

// check refuses unknown format names, before any map is opened.
func (f *formatFlags) check(cmd *command) error {
	if f.key != "" {
		if _, err := input.ParseFormat(f.key); err != nil {
			return cmd.usageError("--key-format: %v", err)
		}
	}
	if f.value != "" {
		if _, err := input.ParseFormat(f.value); err != nil {
			return cmd.usageError("--value-format: %v", err)
		}
	}
	return nil
}

// given reports whether a format flag was given.
func (f *formatFlags) given() bool { return f.key != "" || f.value != "" }

// wantsBTF reports whether the formats of syntax s may be btf: given so,
// or by default in JSON (which an Auto input may turn out to be).
func (f *formatFlags) wantsBTF(s input.Syntax) bool {
	if f.key == "btf" || f.value == "btf" {
		return true
	}
	defaulted := f.key == "" || f.values && f.value == ""
	return defaulted && (s == input.JSON || s == input.Auto)
}

// resolve fills opts's formats (and their Codecs) for the map info
// describes, in opts.Syntax, from the flags and the defaults that fit the
// map: btf in JSON for a map with BTF, cidr for the 8- or 20-byte keys of
// an LPM trie, else hex. An Auto input gets the text defaults in Key and
// Value and, where JSON's differ, the JSON ones in opts.JSON. The BTF is
// read only when a format may be btf; when a default cannot read it (it
// takes CAP_SYS_ADMIN), note says so and the default falls back.
func (f *formatFlags) resolve(cmd *command, info bpfbatch.MapInfo, opts *input.Options, note func(string)) error {
	if opts.Syntax == input.BpftoolJSON {
		return nil // the bytes are given (inputFlags.options refuses format flags)
	}
	if f.wantsBTF(opts.Syntax) && info.BTFValueTypeID != 0 {
		key, value, err := btfjson.MapTypes(info)
		if err == nil {
			err = opts.SetCodecs(key, value)
		}
		switch {
		case err != nil && (f.key == "btf" || f.value == "btf"):
			return failed(err, "%s %s: the btf format needs the map's BTF", cmd.name, cmd.ref)
		case err != nil:
			note(fmt.Sprintf("%s's BTF cannot be read, so the default formats are not btf: %v", cmd.ref, err))
		}
	}
	text, jsonF := defaultFormats(info, opts, input.Text), defaultFormats(info, opts, input.JSON)
	for _, fs := range []*input.Formats{&text, &jsonF} {
		if f.key != "" {
			fs.Key, _ = input.ParseFormat(f.key)
		}
		if f.value != "" {
			fs.Value, _ = input.ParseFormat(f.value)
		}
	}
	switch opts.Syntax {
	case input.JSON:
		opts.Key, opts.Value = jsonF.Key, jsonF.Value
	default:
		opts.Key, opts.Value = text.Key, text.Value
		if opts.Syntax == input.Auto && jsonF != text {
			opts.JSON = &jsonF
		}
	}
	return nil
}

// defaultFormats are the formats that fit the map in syntax s when no flag
// says: btf in JSON for a key or value with BTF (and u32 for the index of
// an array whose value alone has BTF: a .data or .bss section); cidr for
// the keys of an LPM trie of IPv4 or IPv6 prefixes; else hex.
func defaultFormats(info bpfbatch.MapInfo, opts *input.Options, s input.Syntax) input.Formats {
	f := input.Formats{Key: input.Hex, Value: input.Hex}
	if info.Type == bpfbatch.LPMTrie && input.CIDR.Fits(int(info.KeySize)) == nil {
		f.Key = input.CIDR
	}
	if s != input.JSON {
		return f
	}
	if opts.ValueCodec != nil {
		f.Value = input.BTF
		if info.Type.IsArray() && opts.KeyCodec == nil {
			f.Key = input.U32
		}
	}
	if opts.KeyCodec != nil {
		f.Key = input.BTF
	}
	return f
}

// mapBTF returns the map's BTF key and value types, nil where it has
// none or they cannot be read.
func mapBTF(info bpfbatch.MapInfo) (key, value btf.Type) {
	key, value, _ = btfjson.MapTypes(info)
	return key, value
}

// describeBTF says what BTF the map has, for info.
func describeBTF(info bpfbatch.MapInfo) string {
	if info.BTFID == 0 || info.BTFValueTypeID == 0 {
		return "none (the map was created without BTF types for its key and value)"
	}
	key, value, err := btfjson.MapTypes(info)
	switch {
	case errors.Is(err, btfjson.ErrNoBTF):
		return "none"
	case err != nil:
		return fmt.Sprintf("BTF id %d, unreadable: %v", info.BTFID, err)
	}
	k := "none (no BTF type for the key)"
	if key != nil {
		k = typeName(key)
	}
	return fmt.Sprintf("key %s, value %s (BTF id %d): --key-format and --value-format btf print them by member, as bpftool does", k, typeName(value), info.BTFID)
}

// typeName names t as C does: "struct conn", "__u32".
func typeName(t btf.Type) string {
	name := t.TypeName()
	switch t.(type) {
	case *btf.Struct:
		return strings.TrimSpace("struct " + name)
	case *btf.Union:
		return strings.TrimSpace("union " + name)
	case *btf.Enum:
		return strings.TrimSpace("enum " + name)
	case *btf.Datasec:
		return "section " + name
	}
	if name == "" {
		return fmt.Sprintf("%v", t)
	}
	return name
}

// formatsFor lists the formats that fit a key or value of size bytes,
// btf first when t describes it.
func formatsFor(size int, t btf.Type) string {
	fits := input.FitsFor(size)
	if t != nil {
		return "btf, " + fits
	}
	return fits
}
