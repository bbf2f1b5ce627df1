package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// plural says "1 entry" or "2 entries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// seconds formats d like "1.23s", "850ms" or "42µs".
func seconds(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// rate formats n entries per d as "1.23M" or "812k".
func rate(n int, d time.Duration) string {
	if d <= 0 {
		return "inf"
	}
	r := float64(n) / d.Seconds()
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.0fk", r/1e3)
	case math.IsNaN(r):
		return "0"
	}
	return fmt.Sprintf("%.0f", r)
}

// lineList names input lines: "line 3", "lines 3, 17, 20, ...", listing
// at most max.
func lineList(lines []int, max int) string {
	var parts []string
	for i, l := range lines {
		if i == max {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, strconv.Itoa(l))
	}
	if len(lines) == 1 {
		return "line " + parts[0]
	}
	return "lines " + strings.Join(parts, ", ")
}
