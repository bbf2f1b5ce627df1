package cpus

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var cpuListRE = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)

// referenceParse is a second, regexp-based reading of a CPU list.
func referenceParse(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if !cpuListRE.MatchString(s) {
		return 0, false
	}
	listed := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		ends := strings.Split(part, "-")
		lo, err1 := strconv.Atoi(ends[0])
		hi, err2 := strconv.Atoi(ends[len(ends)-1])
		if err1 != nil || err2 != nil || hi < lo || hi >= maxCPUs {
			return 0, false
		}
		for c := lo; c <= hi; c++ {
			listed[c] = true
		}
	}
	return len(listed), true
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "0-1\n", "0-3,8-11", "0,2,4", "", "3-1", "0-", "65535", "1,,2", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		want, ok := referenceParse(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("Parse(%q) = %d, %v; reference says %d, %v", s, got, err, want, ok)
		}
		if err == nil && (got < 1 || got > maxCPUs) {
			t.Fatalf("Parse(%q) = %d out of range", s, got)
		}
	})
}
