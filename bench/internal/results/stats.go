package results

import (
	"fmt"
	"slices"
)

// Median is the median of xs, and false when xs is empty.
func Median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// Spread reads "median [min-max]" of xs (per-round ratios), "-" when xs
// is empty.
func Spread(xs []float64) string {
	m, ok := Median(xs)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.3f [%.2f-%.2f]", m, slices.Min(xs), slices.Max(xs))
}
