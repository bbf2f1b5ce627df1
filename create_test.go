package bpfbatch

import (
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch/internal/testutil"
)

func TestCreateMapErrors(t *testing.T) {
	testutil.RequireKernel(t)
	for _, tc := range []struct {
		spec MapSpec
		msg  string
	}{
		{MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "sixteen_bytes_xx"}, "at most 15"},
		{MapSpec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "no-dash"}, "only letters"},
		{MapSpec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 1}, "BPF_F_NO_PREALLOC"},
		{MapSpec{Type: Hash, KeySize: 0, ValueSize: 8, MaxEntries: 1}, "key/value sizes"},
		{MapSpec{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMapFD: -1}, "InnerMapFD"},
	} {
		m, err := CreateMap(tc.spec)
		if err == nil {
			m.Close()
			t.Errorf("CreateMap(%+v) succeeded", tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("CreateMap(%+v) = %v; want it to mention %q", tc.spec, err, tc.msg)
		}
	}
}
