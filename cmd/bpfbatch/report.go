package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

// writeFailed explains a failed write in input lines: what was written,
// which line failed. The library's error follows as it is: its element
// indices count within b. base entries were written before b (by earlier
// --stream blocks); n of b's entries were written; total is the whole
// load's count, or -1 when streaming.
func (s *source) writeFailed(err error, base, n, total int, b *input.Batch) int {
	var be *bpfbatch.BatchError
	if !errors.As(err, &be) {
		return s.failf(exitFailed, "%s %s: %s", s.command, s.pin, trimPrefix(err))
	}
	// lineOf is the input line of b's entry i; i == b.Len() (nothing
	// left) names the last one.
	lineOf := func(i int) int { return b.Lines[max(0, min(i, b.Len()-1))] }
	// Written is nil when the chunks went in order (or, in parallel, when
	// none was written): then exactly b's entries [0, n) are in the map.
	inOrder := be.Written == nil
	var sb strings.Builder
	if be.Cause != nil {
		sb.WriteString("interrupted: ")
	}
	if total >= 0 {
		fmt.Fprintf(&sb, "wrote %d of %s", base+n, plural(total, "entry", "entries"))
	} else {
		fmt.Fprintf(&sb, "wrote %s", plural(base+n, "entry", "entries"))
	}
	if !inOrder {
		fmt.Fprintf(&sb, " (%s)", writtenLines(base, be.Written, b))
	}
	switch {
	case be.Cause != nil:
		if inOrder {
			fmt.Fprintf(&sb, "; nothing from %s:%d on was written", s.name, lineOf(n))
		}
	case be.Index >= 0 && be.Index < b.Len():
		fmt.Fprintf(&sb, ", then the entry at %s:%d failed", s.name, b.Lines[be.Index])
		if inOrder {
			sb.WriteString("; nothing from that line on was written")
		} else {
			sb.WriteString("; no chunk started after the failure")
		}
	default:
		// Index -1: the kernel refused a call before its first element
		// (a frozen or read-only map, flags, ...). No line is to blame.
		sb.WriteString("; the kernel refused a whole call, before writing any of its entries")
		if inOrder {
			fmt.Fprintf(&sb, ", so nothing from %s:%d on was written", s.name, lineOf(n))
		} else {
			sb.WriteString("; no chunk started after that")
		}
	}
	if s.dropped > 0 {
		fmt.Fprintf(&sb, " (dropped before writing: %s whose key a later line repeats)", plural(s.dropped, "line", "lines"))
	}
	fmt.Fprintf(s.stderr, "bpfbatch: %s %s: %s\n", s.command, s.pin, sb.String())
	if total < 0 {
		return s.failf(exitFailed, "cause (elements counted from the block starting at %s:%d): %s", s.name, b.Lines[0], trimPrefix(err))
	}
	return s.failf(exitFailed, "cause: %s", trimPrefix(err))
}

// writtenLines lists the input line ranges of the written entry ranges.
func writtenLines(base int, ranges []bpfbatch.Range, b *input.Batch) string {
	var parts []string
	if base > 0 {
		parts = append(parts, "every entry before this block")
	}
	for i, r := range ranges {
		if i == 5 {
			parts = append(parts, "and "+plural(len(ranges)-i, "more range", "more ranges"))
			break
		}
		parts = append(parts, fmt.Sprintf("lines %d-%d", b.Lines[r.Start], b.Lines[r.End-1]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return "input " + strings.Join(parts, ", ")
}

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

// progress draws a progress line on stderr when it is a terminal; otherwise
// it does nothing and the summary line says it all.
type progress struct {
	w     io.Writer
	tty   bool
	total int // entries to write, -1 when streaming
	start time.Time
	last  time.Time
	shown bool
}

// refresh is how often the line is redrawn: fast enough to look alive,
// slow enough not to cost anything against a million-entry load.
const refresh = 100 * time.Millisecond

func (p *progress) due() bool {
	now := time.Now()
	if now.Sub(p.last) < refresh {
		return false
	}
	p.last = now
	return true
}

func (p *progress) reading(line int) {
	if !p.tty || !p.due() {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[Kreading: line %d", line)
	p.shown = true
}

func (p *progress) startWriting(total int) {
	p.total, p.start, p.last = total, time.Now(), time.Time{}
}

// update is the BatchOptions.Progress callback.
func (p *progress) update(done int) {
	if !p.tty || (!p.due() && done != p.total) {
		return
	}
	elapsed := time.Since(p.start)
	if p.total < 0 {
		fmt.Fprintf(p.w, "\r\x1b[Kwriting: %s, %s entries/s", plural(done, "entry", "entries"), rate(done, elapsed))
	} else {
		fmt.Fprintf(p.w, "\r\x1b[Kwriting: %d/%d entries (%d%%), %s entries/s", done, p.total, done*100/max(p.total, 1), rate(done, elapsed))
	}
	p.shown = true
}

// clear erases the progress line before a message or the summary.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
