package sys

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// field is one member of a kernel struct: its Go offset and the C
// expression naming it in include/uapi/linux/bpf.h.
type field struct {
	c      string // e.g. "union bpf_attr, map_fd"
	goOff  uintptr
	uapi   uintptr // offset from the header, as written there
	goSize uintptr
}

func layouts() []field {
	var mc MapCreateAttr
	var el MapElemAttr
	var ba MapBatchAttr
	var og ObjAttr
	var id MapGetFDByIDAttr
	var in InfoAttr
	var mi MapInfo
	var bl BTFLoadAttr
	var pl ProgLoadAttr
	var mf MapFDAttr
	return []field{
		{"union bpf_attr, map_type", unsafe.Offsetof(mc.MapType), 0, 4},
		{"union bpf_attr, key_size", unsafe.Offsetof(mc.KeySize), 4, 4},
		{"union bpf_attr, value_size", unsafe.Offsetof(mc.ValueSize), 8, 4},
		{"union bpf_attr, max_entries", unsafe.Offsetof(mc.MaxEntries), 12, 4},
		{"union bpf_attr, map_flags", unsafe.Offsetof(mc.MapFlags), 16, 4},
		{"union bpf_attr, inner_map_fd", unsafe.Offsetof(mc.InnerMapFD), 20, 4},
		{"union bpf_attr, numa_node", unsafe.Offsetof(mc.NumaNode), 24, 4},
		{"union bpf_attr, map_name", unsafe.Offsetof(mc.MapName), 28, 16},
		{"union bpf_attr, map_ifindex", unsafe.Offsetof(mc.MapIfindex), 44, 4},
		{"union bpf_attr, btf_fd", unsafe.Offsetof(mc.BTFFD), 48, 4},
		{"union bpf_attr, btf_key_type_id", unsafe.Offsetof(mc.BTFKeyTypeID), 52, 4},
		{"union bpf_attr, btf_value_type_id", unsafe.Offsetof(mc.BTFValueTypeID), 56, 4},
		{"union bpf_attr, btf_vmlinux_value_type_id", unsafe.Offsetof(mc.BTFVmlinuxValueTypeID), 60, 4},
		{"union bpf_attr, map_extra", unsafe.Offsetof(mc.MapExtra), 64, 8},

		{"union bpf_attr, map_fd", unsafe.Offsetof(el.MapFD), 0, 4},
		{"union bpf_attr, key", unsafe.Offsetof(el.Key), 8, 8},
		{"union bpf_attr, value", unsafe.Offsetof(el.Value), 16, 8},
		{"union bpf_attr, flags", unsafe.Offsetof(el.Flags), 24, 8},

		{"union bpf_attr, batch.in_batch", unsafe.Offsetof(ba.InBatch), 0, 8},
		{"union bpf_attr, batch.out_batch", unsafe.Offsetof(ba.OutBatch), 8, 8},
		{"union bpf_attr, batch.keys", unsafe.Offsetof(ba.Keys), 16, 8},
		{"union bpf_attr, batch.values", unsafe.Offsetof(ba.Values), 24, 8},
		{"union bpf_attr, batch.count", unsafe.Offsetof(ba.Count), 32, 4},
		{"union bpf_attr, batch.map_fd", unsafe.Offsetof(ba.MapFD), 36, 4},
		{"union bpf_attr, batch.elem_flags", unsafe.Offsetof(ba.ElemFlags), 40, 8},
		{"union bpf_attr, batch.flags", unsafe.Offsetof(ba.Flags), 48, 8},
		{"union bpf_attr, map_id", unsafe.Offsetof(id.ID), 0, 4},
		{"union bpf_attr, next_id", unsafe.Offsetof(id.NextID), 4, 4},
		{"union bpf_attr, open_flags", unsafe.Offsetof(id.OpenFlags), 8, 4},
		{"union bpf_attr, pathname", unsafe.Offsetof(og.Pathname), 0, 8},
		{"union bpf_attr, bpf_fd", unsafe.Offsetof(og.BPFFD), 8, 4},
		{"union bpf_attr, file_flags", unsafe.Offsetof(og.FileFlags), 12, 4},
		{"union bpf_attr, path_fd", unsafe.Offsetof(og.PathFD), 16, 4},

		{"union bpf_attr, info.bpf_fd", unsafe.Offsetof(in.BPFFD), 0, 4},
		{"union bpf_attr, info.info_len", unsafe.Offsetof(in.InfoLen), 4, 4},
		{"union bpf_attr, info.info", unsafe.Offsetof(in.Info), 8, 8},

		{"struct bpf_map_info, type", unsafe.Offsetof(mi.Type), 0, 4},
		{"struct bpf_map_info, id", unsafe.Offsetof(mi.ID), 4, 4},
		{"struct bpf_map_info, key_size", unsafe.Offsetof(mi.KeySize), 8, 4},
		{"struct bpf_map_info, value_size", unsafe.Offsetof(mi.ValueSize), 12, 4},
		{"struct bpf_map_info, max_entries", unsafe.Offsetof(mi.MaxEntries), 16, 4},
		{"struct bpf_map_info, map_flags", unsafe.Offsetof(mi.MapFlags), 20, 4},
		{"struct bpf_map_info, name", unsafe.Offsetof(mi.Name), 24, 16},
		{"struct bpf_map_info, ifindex", unsafe.Offsetof(mi.Ifindex), 40, 4},
		{"struct bpf_map_info, btf_vmlinux_value_type_id", unsafe.Offsetof(mi.BTFVmlinuxValueTypeID), 44, 4},
		{"struct bpf_map_info, netns_dev", unsafe.Offsetof(mi.NetnsDev), 48, 8},
		{"struct bpf_map_info, netns_ino", unsafe.Offsetof(mi.NetnsIno), 56, 8},
		{"struct bpf_map_info, btf_id", unsafe.Offsetof(mi.BTFID), 64, 4},
		{"struct bpf_map_info, btf_key_type_id", unsafe.Offsetof(mi.BTFKeyTypeID), 68, 4},
		{"struct bpf_map_info, btf_value_type_id", unsafe.Offsetof(mi.BTFValueTypeID), 72, 4},
		{"struct bpf_map_info, map_extra", unsafe.Offsetof(mi.MapExtra), 80, 8},

		{"union bpf_attr, btf", unsafe.Offsetof(bl.BTF), 0, 8},
		{"union bpf_attr, btf_log_buf", unsafe.Offsetof(bl.LogBuf), 8, 8},
		{"union bpf_attr, btf_size", unsafe.Offsetof(bl.BTFSize), 16, 4},
		{"union bpf_attr, btf_log_size", unsafe.Offsetof(bl.LogSize), 20, 4},
		{"union bpf_attr, btf_log_level", unsafe.Offsetof(bl.LogLevel), 24, 4},

		{"union bpf_attr, prog_type", unsafe.Offsetof(pl.ProgType), 0, 4},
		{"union bpf_attr, insn_cnt", unsafe.Offsetof(pl.InsnCnt), 4, 4},
		{"union bpf_attr, insns", unsafe.Offsetof(pl.Insns), 8, 8},
		{"union bpf_attr, license", unsafe.Offsetof(pl.License), 16, 8},
		{"union bpf_attr, log_level", unsafe.Offsetof(pl.LogLevel), 24, 4},
		{"union bpf_attr, log_size", unsafe.Offsetof(pl.LogSize), 28, 4},
		{"union bpf_attr, log_buf", unsafe.Offsetof(pl.LogBuf), 32, 8},
		{"union bpf_attr, kern_version", unsafe.Offsetof(pl.KernVersion), 40, 4},
		{"union bpf_attr, prog_flags", unsafe.Offsetof(pl.ProgFlags), 44, 4},

		{"union bpf_attr, map_fd", unsafe.Offsetof(mf.MapFD), 0, 4},
	}
}

// TestLayoutMatchesUAPI checks every field against the offsets written in
// include/uapi/linux/bpf.h. It runs on every GOARCH: the layout must not
// depend on pointer size or alignment rules.
func TestLayoutMatchesUAPI(t *testing.T) {
	for _, f := range layouts() {
		if f.goOff != f.uapi {
			t.Errorf("%s: Go offset %d, UAPI offset %d", f.c, f.goOff, f.uapi)
		}
	}
	for name, got := range map[string]uintptr{
		"Pointer":       unsafe.Sizeof(Pointer{}),
		"MapElemAttr":   unsafe.Sizeof(MapElemAttr{}),
		"MapBatchAttr":  unsafe.Sizeof(MapBatchAttr{}),
		"MapCreateAttr": unsafe.Sizeof(MapCreateAttr{}),
		"MapInfo":       unsafe.Sizeof(MapInfo{}),
		"InfoAttr":      unsafe.Sizeof(InfoAttr{}),
	} {
		want := map[string]uintptr{"Pointer": 8, "MapElemAttr": 32, "MapBatchAttr": 56, "MapCreateAttr": 72, "MapInfo": 88, "InfoAttr": 16}[name]
		if got != want {
			t.Errorf("sizeof(%s) = %d, want %d", name, got, want)
		}
	}
}

// TestLayoutMatchesInstalledHeader compiles offsetof() of every field
// against this machine's <linux/bpf.h>, a second source independent of the
// numbers typed into layouts(). Fields newer than the installed header are
// skipped (the test then skips).
func TestLayoutMatchesInstalledHeader(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no C compiler to read <linux/bpf.h> with")
	}
	if _, err := os.Stat("/usr/include/linux/bpf.h"); err != nil {
		t.Skip("no <linux/bpf.h> installed (linux-libc-dev)")
	}
	dir := t.TempDir()
	fields := layouts()
	skip := map[string]bool{} // members this header is too old to have
	var out string
	for attempt := 0; ; attempt++ {
		var src strings.Builder
		src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/bpf.h>\nint main(void) {\n")
		for i, f := range fields {
			typ, member, _ := strings.Cut(f.c, ", ")
			if !skip[member] {
				fmt.Fprintf(&src, "printf(\"%d %%zu\\n\", offsetof(%s, %s));\n", i, typ, member)
			}
		}
		src.WriteString("return 0; }\n")
		out, err = compileRun(cc, dir, src.String())
		if err == nil {
			break
		}
		missing := regexp.MustCompile(`has no member named .(\w+)`).FindAllStringSubmatch(err.Error(), -1)
		if len(missing) == 0 || attempt > 3 {
			t.Fatalf("compiling offsetof() against <linux/bpf.h>: %v", err)
		}
		for _, m := range missing {
			skip[m[1]] = true
		}
	}
	if len(skip) > 0 {
		t.Logf("installed <linux/bpf.h> predates: %v", skip)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	seen := 0
	for sc.Scan() {
		idx, off, _ := strings.Cut(sc.Text(), " ")
		i, _ := strconv.Atoi(idx)
		o, _ := strconv.Atoi(off)
		if uintptr(o) != fields[i].goOff {
			t.Errorf("%s: Go offset %d, <linux/bpf.h> offset %d", fields[i].c, fields[i].goOff, o)
		}
		seen++
	}
	if seen < len(fields)-len(skip) || seen < len(fields)/2 {
		t.Fatalf("read %d offsets from the C program, want %d", seen, len(fields)-len(skip))
	}
}

func compileRun(cc, dir, src string) (string, error) {
	c := filepath.Join(dir, "offsets.c")
	bin := filepath.Join(dir, "offsets")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command(cc, "-o", bin, c).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	out, err := exec.Command(bin).Output()
	return string(out), err
}
