package main

import (
	"strings"
	"testing"

	"github.com/bpfbatch/bpfbatch"
)

func TestParseUpdateFlags(t *testing.T) {
	tests := []struct {
		in      string
		want    bpfbatch.Flags
		wantErr string
	}{
		{"any", bpfbatch.UpdateAny, ""},
		{"", bpfbatch.UpdateAny, ""},
		{"noexist", bpfbatch.UpdateNoExist, ""},
		{"EXIST", bpfbatch.UpdateExist, ""},
		{"lock", bpfbatch.UpdateLock, ""},
		{"noexist,lock", bpfbatch.UpdateNoExist | bpfbatch.UpdateLock, ""},
		{"exist|lock", bpfbatch.UpdateExist | bpfbatch.UpdateLock, ""},
		{"noexist,exist", 0, "exclude each other"},
		{"sometimes", 0, `unknown flag "sometimes"`},
	}
	for _, tt := range tests {
		got, err := parseUpdateFlags(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseUpdateFlags(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseUpdateFlags(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}
