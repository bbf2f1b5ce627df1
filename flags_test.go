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
		{UpdateLock | 0x30, "UpdateLock|0x30"},
		{1 << 40, "0x10000000000"},
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
		{8, false},  // BPF_F_CPU, not in 6.18
		{16, false}, // BPF_F_ALL_CPUS
		{1 << 32, false},
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
