package cpus

import (
	"os"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"0", 1},
		{"0\n", 1},
		{"0-1\n", 2},
		{"0-3", 4},
		{"0-3,8-11", 8}, // holes take no slot: num_possible_cpus() is the weight
		{"0,2-3", 3},
		{"0,2,4", 3},
		{"0-7,16", 9},
		{"5", 1},
		{"0-0", 1},
		{"0-3,2-5", 6},
		{"0,0", 1},
		{" 0-63 \n", 64},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, nil", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "\n", "-", "0-", "-3", "a", "0-a", "3-1", "0,,1", "0-1-2", "+1", "0x3", "99999999999999999999", "65536", "1 2"} {
		if n, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, nil; want an error", in, n)
		}
	}
}

func TestPossibleMatchesFile(t *testing.T) {
	b, err := os.ReadFile(PossibleFile)
	if err != nil {
		t.Skipf("no %s here: %v", PossibleFile, err)
	}
	want, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Possible()
	if err != nil || got != want || got < 1 {
		t.Fatalf("Possible() = %d, %v; want %d from %q", got, err, want, b)
	}
}
