package bpfbatch_test

import (
	"embed"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// kernelExample is an example that needs the kernel, and what it must print.
type kernelExample struct {
	f     func()
	want  string // exactly this, or
	match string // a regexp the whole output matches (IDs and the like vary)
	pins  bool   // pins under /sys/fs/bpf: runs with a bpffs of its own there
}

// kernelExamples lists every example in example_test.go that has no
// "Output:" comment (TestEveryKernelExampleIsChecked holds the two in step),
// by its function name, with what it prints on the running kernel.
func kernelExamples(t *testing.T) map[string]kernelExample {
	cpus, err := bpfbatch.PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	// Per-CPU flags (BPF_F_CPU, BPF_F_ALL_CPUS) arrived in 7.0, batch
	// commands for LPM tries in 5.13.
	onCPU := "this kernel has no BPF_F_CPU (Linux 7.0)\n"
	if testutil.KernelAtLeast(7, 0) {
		onCPU = ""
	}
	lpmPath := "per-element <nil>\n"
	if testutil.KernelAtLeast(5, 13) {
		lpmPath = "batch <nil>\n"
	}
	perCPU := func(v int) string { return strings.TrimSpace(strings.Repeat(fmt.Sprint(v, " "), cpus)) }
	return map[string]kernelExample{
		"Example":                         {f: Example, want: "sum: 60\nadded 1, changed 1, deleted 1, unchanged 1 <nil>\n"},
		"ExampleMap_UpdateBatch":          {f: ExampleMap_UpdateBatch, want: "3 <nil>\n20\n"},
		"ExampleUpdateBatchOf":            {f: ExampleUpdateBatchOf, want: "3 <nil>\n"},
		"ExampleUpdateBatchOf_perCPU":     {f: ExampleUpdateBatchOf_perCPU, want: "2 <nil>\n"},
		"ExampleUpdateBatchOf_struct":     {f: ExampleUpdateBatchOf_struct, want: "2 <nil>\n"},
		"ExampleUpdateBatchOfWith":        {f: ExampleUpdateBatchOfWith, want: "100000 <nil>\n"},
		"ExampleMap_UpdateBatchWith":      {f: ExampleMap_UpdateBatchWith, want: "10000 <nil> 3\n"},
		"ExampleBatchError":               {f: ExampleBatchError, want: "2 2 2 argument list too long true\n"},
		"ExampleSizeError":                {f: ExampleSizeError, want: "values uint32 4 8\n"},
		"ExampleMapError":                 {f: ExampleMapError, match: `open /proc/version\n/proc/version is not on a bpf filesystem.*\n`},
		"ExampleSyncError":                {f: ExampleSyncError, want: "added 3, changed 0, deleted 0, unchanged 0 | 0 deleted, 2 written | true\n"},
		"ExampleLookupBatchOf":            {f: ExampleLookupBatchOf, want: "10000\n"},
		"ExampleMap_LookupBatch":          {f: ExampleMap_LookupBatch, want: "10000\n"},
		"ExampleLookupAndDeleteBatchOf":   {f: ExampleLookupAndDeleteBatchOf, want: "60 0 <nil>\n"},
		"ExampleMap_LookupAndDeleteBatch": {f: ExampleMap_LookupAndDeleteBatch, want: "3 0 <nil>\n"},
		"ExampleDeleteBatchOf":            {f: ExampleDeleteBatchOf, want: "2 <nil>\n1 true\n"},
		"ExampleMap_DeleteBatch":          {f: ExampleMap_DeleteBatch, want: "2 <nil>\n"},
		"ExampleSyncOf":                   {f: ExampleSyncOf, want: "added 1, changed 1, deleted 1, unchanged 1 <nil>\n"},
		"ExampleMap_Sync":                 {f: ExampleMap_Sync, want: "added 1, changed 1, deleted 1, unchanged 1 <nil>\n"},
		"ExampleSyncOptions": {f: ExampleSyncOptions, want: "deleted 3 30\nchanged 2 20 -> 21\nadded 4 40\n" +
			"added 1, changed 1, deleted 1, unchanged 1 <nil>\n3 elements, untouched\n"},
		"ExampleSyncOptions_keepValues": {f: ExampleSyncOptions_keepValues, want: "added 1, changed 0, deleted 1, unchanged 1 <nil>\nmap[1:517 3:0]\n"},
		"ExampleSyncOptions_allowEmpty": {f: ExampleSyncOptions_allowEmpty, want: "true\nadded 0, changed 0, deleted 2, unchanged 0 <nil>\n"},
		"ExampleIterate":                {f: ExampleIterate, want: "map[1:10 2:20 3:30]\n"},
		"ExampleIterator_All":           {f: ExampleIterator_All, want: "first set index: 70000 7\n<nil>\n"},
		"ExampleIterator_AllCPUs":       {f: ExampleIterator_AllCPUs, want: fmt.Sprintf("0 [%s]\n1 [%s]\n", perCPU(5), perCPU(6))},
		"ExampleIterator_Err":           {f: ExampleIterator_Err, want: "true\n"},
		"ExampleLPMKey4":                {f: ExampleLPMKey4, want: "map[10.0.0.0/8:1 192.168.1.0/24:2]\n"},
		"ExampleCreateMap":              {f: ExampleCreateMap, want: "Hash 1048576\n"},
		"ExampleRemoveMemlock":          {f: ExampleRemoveMemlock, want: "100000\n"},
		"ExampleNewMap":                 {f: ExampleNewMap, want: "Hash 4 8 true\n"},
		"ExampleOpenPinned":             {f: ExampleOpenPinned, want: "conns true\n", pins: true},
		"ExampleMap_Pin":                {f: ExampleMap_Pin, want: "true\n", pins: true},
		"ExampleOpenPinnedWith":         {f: ExampleOpenPinnedWith, want: "2 <nil>\ntrue\n", pins: true},
		"ExampleOpenByID":               {f: ExampleOpenByID, want: "Hash true\n"},
		"ExampleOpenByIDWith":           {f: ExampleOpenByIDWith, want: "true\n"},
		"ExampleReplaceInner":           {f: ExampleReplaceInner, want: "true 3\n"},
		"ExamplePossibleCPUs":           {f: ExamplePossibleCPUs, want: fmt.Sprintln(cpus)},
		"ExampleOnCPU":                  {f: ExampleOnCPU, want: onCPU + map[bool]string{true: "CPU 0 of key 1 set\n"}[onCPU == ""]},
		"ExampleFlags_updateAllCPUs":    {f: ExampleFlags_updateAllCPUs, want: "2 <nil>\n"},
		"ExampleMap_Lookup":             {f: ExampleMap_Lookup, want: "10 <nil>\ntrue\n"},
		"ExampleMap_LookupWith":         {f: ExampleMap_LookupWith, want: onCPU + map[bool]string{true: "7\n"}[onCPU == ""]},
		"ExampleMap_Count":              {f: ExampleMap_Count, want: "3 <nil>\n"},
		"ExampleMap_Walk":               {f: ExampleMap_Walk, want: "100000 <nil>\n"},
		"ExampleMap_Close":              {f: ExampleMap_Close, want: "<nil> <nil> -1\ntrue\n"},
		"ExampleMap_FD":                 {f: ExampleMap_FD, want: "true\n"},
		"ExampleMap_Info":               {f: ExampleMap_Info, want: "LRUHash 16 24 4096 flows\n"},
		"ExampleMap_String":             {f: ExampleMap_String, match: `Hash map "conns" \(id [1-9][0-9]*\)\n`},
		"ExampleMap_ValueStride":        {f: ExampleMap_ValueStride, want: "true\n"},
		"ExampleMap_ValueStrideFor":     {f: ExampleMap_ValueStrideFor, want: "12 true\n"},
		"ExampleMap_UpdatePath":         {f: ExampleMap_UpdatePath, want: lpmPath},
		"ExampleMap_ReadPath":           {f: ExampleMap_ReadPath, want: "per-element <nil>\n"},
		"ExampleMap_DeletePath":         {f: ExampleMap_DeletePath, want: "batch <nil>\n"},
		"ExampleMap_EvictionFreeSize":   {f: ExampleMap_EvictionFreeSize, want: "true\n"},
		"ExampleCursor_Done":            {f: ExampleCursor_Done, want: "4 4 2 \n"},
		"ExampleCursor_Reset":           {f: ExampleCursor_Reset, want: "10 <nil> true\n10 <nil> true\n"},
		"ExampleMap_SyncFrom":           {f: ExampleMap_SyncFrom, want: "added 1, changed 1, deleted 1, unchanged 1 <nil>\n"},
		"ExampleMap_CountMissing":       {f: ExampleMap_CountMissing, want: "0 -1 <nil>\n2 5 <nil>\n"},
		"ExampleMapIDs":                 {f: ExampleMapIDs, want: "found ex_needle\n"},
		"ExampleMapType_ValueStride":    {f: ExampleMapType_ValueStride, want: "12 true <nil>\n"},
	}
}

// The examples that need the kernel carry no "Output:" comment, so that
// `go test` without privileges compiles rather than fails them; this test
// runs them where bpf(2) works and checks what they print.
func TestKernelExamplesPrintWhatTheySay(t *testing.T) {
	testutil.RequireKernel(t)
	for name, ex := range kernelExamples(t) {
		t.Run(name, func(t *testing.T) {
			f := ex.f
			if ex.pins {
				f = func() { withOwnBPFFS(t, ex.f) }
			}
			got := captureStdout(t, f)
			switch {
			case ex.match != "":
				if !regexp.MustCompile(`\A(?:` + ex.match + `)\z`).MatchString(got) {
					t.Fatalf("printed %q, want a match for %q", got, ex.match)
				}
			case got != ex.want:
				t.Fatalf("printed %q, want %q", got, ex.want)
			}
		})
	}
}

// TestEveryKernelExampleIsChecked keeps kernelExamples in step with
// example_test.go: every example there without an "Output:" comment is
// run and checked by TestKernelExamplesPrintWhatTheySay, and every entry
// names an example that exists.
func TestEveryKernelExampleIsChecked(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example_test.go", source(t, "example_test.go"), parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	listed := kernelExamples(t)
	found := map[string]bool{}
	for _, ex := range doc.Examples(file) {
		name := "Example" + ex.Name // Name: "" for the package's, "Map_Pin", ...
		if ex.Output != "" || ex.EmptyOutput {
			continue // `go test` runs and checks it
		}
		found[name] = true
		if _, ok := listed[name]; !ok {
			t.Errorf("%s has no Output comment and is not in kernelExamples: nothing checks what it prints", name)
		}
	}
	for name := range listed {
		if !found[name] {
			t.Errorf("kernelExamples lists %s, which is not an example without Output in example_test.go", name)
		}
	}
	if len(found) == 0 {
		t.Fatal("found no examples: the parse is broken")
	}
}

// TestEveryEntryPointHasAnExample: every exported function and method of
// the package, and every error type, has a runnable example in
// example_test.go, where go doc and pkg.go.dev show it beside the name.
// Error, Unwrap and String are left out (fmt and errors call them; the
// examples print their results), and so are deprecated names.
func TestEveryEntryPointHasAnExample(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := sources.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, "_test.go") && name != "example_test.go" {
			continue // test helpers are not the package's API
		}
		f, err := parser.ParseFile(fset, name, source(t, name), parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/bpfbatch/bpfbatch")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	want := func(name, comment string, examples []*doc.Example) {
		if strings.Contains(comment, "Deprecated:") {
			return
		}
		checked++
		if len(examples) == 0 {
			t.Errorf("%s has no example in example_test.go", name)
		}
	}
	for _, f := range p.Funcs {
		want(f.Name, f.Doc, f.Examples)
	}
	for _, ty := range p.Types {
		if strings.HasSuffix(ty.Name, "Error") {
			want(ty.Name, ty.Doc, ty.Examples)
		}
		for _, f := range ty.Funcs {
			want(f.Name, f.Doc, f.Examples)
		}
		for _, m := range ty.Methods {
			switch m.Name {
			case "Error", "Unwrap", "String":
			default:
				want(ty.Name+"."+m.Name, m.Doc, m.Examples)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d names: the package's API was not found", checked)
	}
}

// sources are the package's Go files, built into the test binary so that
// the tests that read them run where the binary runs without its source
// tree (the VMs of .ci/vm/run).
//
//go:embed *.go
var sources embed.FS

func source(t *testing.T, name string) []byte {
	t.Helper()
	b, err := sources.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withOwnBPFFS runs f on a thread of its own, in a mount namespace of its
// own, with a fresh bpf filesystem on /sys/fs/bpf: the examples pin where
// programs do, and the host's /sys/fs/bpf is never touched (nor needed).
// The thread ends with f, and the namespace and its pins with it.
func withOwnBPFFS(t *testing.T, f func()) {
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime discards the thread
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		if err := unix.Mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=700"); err != nil {
			done <- fmt.Errorf("mount bpffs on /sys/fs/bpf: %w", err)
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	w.Close()
	return <-done
}
