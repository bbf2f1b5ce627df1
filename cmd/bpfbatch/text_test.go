package main

import (
	"testing"
	"time"
)

func TestRateAndSeconds(t *testing.T) {
	for _, tt := range []struct {
		n    int
		d    time.Duration
		want string
	}{
		{1_000_000, time.Second, "1.00M"},
		{926_000, time.Second, "926k"},
		{500, time.Second, "500"},
		{5, 0, "inf"},
	} {
		if got := rate(tt.n, tt.d); got != tt.want {
			t.Errorf("rate(%d, %v) = %q, want %q", tt.n, tt.d, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{
		1234567 * time.Nanosecond:     "1ms",
		42 * time.Microsecond:         "42µs",
		1234567890 * time.Nanosecond:  "1.23s",
		999_400_000 * time.Nanosecond: "999ms",
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0 entries"}, {1, "1 entry"}, {2, "2 entries"}, {-1, "-1 entries"}} {
		if got := plural(tt.n, "entry", "entries"); got != tt.want {
			t.Errorf("plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
