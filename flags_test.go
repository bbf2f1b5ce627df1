package bpfbatch

import (
	"errors"
	"testing"
)

func TestFlagsString(t *testing.T) {
	for _, tc := range []struct {
		f    Flags
		want string
	}{
		{UpdateAny, "UpdateAny"},
		{UpdateNoExist, "UpdateNoExist"},
		{UpdateExist, "UpdateExist"},
		{UpdateLock, "UpdateLock"},
		{UpdateExist | UpdateLock, "UpdateExist|UpdateLock"},
		{UpdateNoExist | UpdateExist, "UpdateNoExist|UpdateExist"},
		{UpdateLock | 0x60, "UpdateLock|0x60"},
		{UpdateLock | 0x30, "UpdateLock|UpdateAllCPUs|0x20"},
		{UpdateAllCPUs, "UpdateAllCPUs"},
		{OnCPU(3), "OnCPU(3)"},
		{OnCPU(0) | UpdateNoExist, "UpdateNoExist|OnCPU(0)"},
		{1 << 40, "0x10000000000"}, // a CPU number without BPF_F_CPU
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("Flags(%#x).String() = %q, want %q", uint64(tc.f), got, tc.want)
		}
	}
}

func TestFlagsValidate(t *testing.T) {
	for _, tc := range []struct {
		f  Flags
		ok bool
	}{
		{UpdateAny, true},
		{UpdateNoExist, true},
		{UpdateExist, true},
		{UpdateLock, true},
		{UpdateNoExist | UpdateLock, true},
		{UpdateExist | UpdateLock, true},
		{UpdateNoExist | UpdateExist, false},
		{UpdateNoExist | UpdateExist | UpdateLock, false},
		{OnCPU(0), true},
		{OnCPU(5) | UpdateExist | UpdateLock, true},
		{UpdateAllCPUs, true},
		{UpdateAllCPUs | UpdateNoExist, true},
		{OnCPU(1) | UpdateAllCPUs, false},
		{32, false},
		{1 << 32, false}, // a CPU number without BPF_F_CPU
		{^Flags(0), false},
	} {
		err := tc.f.Validate()
		if tc.ok && err != nil {
			t.Errorf("%s.Validate() = %v, want nil", tc.f, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidFlags) {
			t.Errorf("%s.Validate() = %v, want ErrInvalidFlags", tc.f, err)
		}
	}
}
