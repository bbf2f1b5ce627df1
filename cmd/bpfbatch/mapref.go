package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bpfbatch/bpfbatch"
)

// mapRef is a MAP argument, in bpftool's grammar:
//
//	MAP := PATH | pinned PATH | id ID | name NAME
//
// id and name reach maps that no one pinned: the maps of running programs.
type mapRef struct {
	by  string // "pinned", "id" or "name"
	arg string // the path, ID or name as given
	id  uint32 // by "id"
}

// mapKeywords are the words that start a two-word MAP.
var mapKeywords = map[string]bool{"pinned": true, "id": true, "name": true}

// kernelNameLen is the length of a map name the kernel keeps
// (BPF_OBJ_NAME_LEN less the NUL).
const kernelNameLen = 15

// parseMapRef reads a MAP from the start of pos, and returns it with the
// rest of pos. A word other than the keywords is a PATH (./id is the file
// named id).
func parseMapRef(pos []string) (mapRef, []string, error) {
	if len(pos) == 0 {
		return mapRef{}, nil, nil
	}
	kw := pos[0]
	if !mapKeywords[kw] {
		return mapRef{by: "pinned", arg: kw}, pos[1:], nil
	}
	if len(pos) < 2 || pos[1] == "" {
		what := map[string]string{"pinned": "a PATH", "id": "an ID", "name": "a NAME"}[kw]
		return mapRef{}, nil, fmt.Errorf("MAP %q needs %s after it (MAP is PATH, pinned PATH, id ID or name NAME)", kw, what)
	}
	r := mapRef{by: kw, arg: pos[1]}
	if kw == "id" {
		id, err := strconv.ParseUint(r.arg, 10, 32)
		if err != nil || id == 0 {
			return mapRef{}, nil, fmt.Errorf("id %q: a map ID is a decimal number from 1 to %d ('bpftool map list' shows them)", r.arg, uint32(1<<32-1))
		}
		r.id = uint32(id)
	}
	return r, pos[2:], nil
}

// String is the map as messages name it: the path, "id 42" or "name conns".
func (r mapRef) String() string {
	if r.by == "pinned" {
		return r.arg
	}
	return r.by + " " + r.arg
}

// open opens the map, read-only when readOnly (BPF_F_RDONLY: read
// permission on a pin is all it needs, and frozen maps open too).
func (r mapRef) open(readOnly bool) (*bpfbatch.Map, error) {
	opts := bpfbatch.OpenOptions{ReadOnly: readOnly}
	switch r.by {
	case "id":
		return bpfbatch.OpenByIDWith(r.id, opts)
	case "name":
		id, err := findByName(r.arg)
		if err != nil {
			return nil, err
		}
		return bpfbatch.OpenByIDWith(id, opts)
	}
	return bpfbatch.OpenPinnedWith(r.arg, opts)
}

// namedMap is a map found while looking for a name.
type namedMap struct {
	id   uint32
	desc string // `Hash map "conns" (id 7)`
}

// findByName returns the ID of the one map whose name is name (its first
// 15 characters: the kernel keeps no more). No match, or several, is an
// error that lists the candidates with their IDs.
func findByName(name string) (uint32, error) {
	want := name
	if len(want) > kernelNameLen {
		want = want[:kernelNameLen]
	}
	var exact, similar []namedMap
	total := 0
	for id, err := range bpfbatch.MapIDs() {
		if err != nil {
			return 0, failed(err, "name %s: cannot list the maps to find it; open it by 'id ID' or by its pin instead", name)
		}
		m, err := bpfbatch.OpenByIDWith(id, bpfbatch.OpenOptions{ReadOnly: true})
		if err != nil {
			continue // freed since, or a map this process may not open
		}
		info := m.Info()
		desc := m.String()
		m.Close()
		total++
		switch {
		case info.Name == want:
			exact = append(exact, namedMap{id, desc})
		case info.Name != "" && (strings.Contains(strings.ToLower(info.Name), strings.ToLower(want)) ||
			strings.Contains(strings.ToLower(want), strings.ToLower(info.Name))):
			similar = append(similar, namedMap{id, desc})
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0].id, nil
	case len(exact) > 1:
		return 0, failed(nil, "name %s: %d maps have this name: %s; pick one with 'id ID'", name, len(exact), listMaps(exact))
	case len(similar) > 0:
		return 0, failed(nil, "name %s: no map has this name (of %d maps); similar names: %s; pick one with 'name NAME' or 'id ID'", name, total, listMaps(similar))
	}
	return 0, failed(nil, "name %s: no map has this name or a similar one (of %d maps; 'bpftool map list' lists them); a name is the kernel's, at most 15 characters", name, total)
}

// maxListed is how many maps a name error lists.
const maxListed = 10

// listMaps lists ms, up to maxListed of them.
func listMaps(ms []namedMap) string {
	var b strings.Builder
	for i, m := range ms {
		if i == maxListed {
			fmt.Fprintf(&b, ", and %d more", len(ms)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.desc)
	}
	return b.String()
}

// mapHelp explains MAP in the -h texts.
const mapHelp = `MAP is PATH or pinned PATH (a pin on a bpf filesystem), id ID (the IDs
'bpftool map list' shows), or name NAME (the map's name as the kernel keeps
it, up to 15 characters; exactly one map must have it, else the error lists
the candidates with their IDs). id and name reach maps that no one pinned,
such as those of a running program, and need CAP_SYS_ADMIN. A file named
like a keyword is ./id.`
