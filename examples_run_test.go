package bpfbatch_test

import (
	"io"
	"os"
	"testing"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

// The examples that need the kernel carry no "Output:" comment, so that
// `go test` without privileges skips rather than fails them; this test runs
// them where bpf(2) works and checks what they print.
func TestKernelExamplesPrintWhatTheySay(t *testing.T) {
	testutil.RequireKernel(t)
	for _, ex := range []struct {
		name string
		f    func()
		want string
	}{
		{"Map.UpdateBatch", ExampleMap_UpdateBatch, "3 <nil>\n20\n"},
		{"UpdateBatchOf", ExampleUpdateBatchOf, "3 <nil>\n"},
		{"UpdateBatchOf per-CPU", ExampleUpdateBatchOf_perCPU, "2 <nil>\n"},
		{"BatchError", ExampleBatchError, "2 2 2 argument list too long true\n"},
		{"Map.UpdateBatchWith", ExampleMap_UpdateBatchWith, "100000 <nil>\n"},
		{"Map.LookupBatch", ExampleMap_LookupBatch, "10000\n"},
		{"Map.Sync", ExampleMap_Sync, "added 1, changed 1, deleted 1, unchanged 1 <nil>\n"},
		{"UpdateAllCPUs", ExampleUpdateAllCPUs, "2 <nil>\n"},
	} {
		t.Run(ex.name, func(t *testing.T) {
			if got := captureStdout(t, ex.f); got != ex.want {
				t.Fatalf("printed %q, want %q", got, ex.want)
			}
		})
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
