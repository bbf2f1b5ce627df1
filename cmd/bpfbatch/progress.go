package main

import (
	"fmt"
	"io"
	"time"
)

// progress draws a progress line on stderr when it is a terminal; otherwise
// it does nothing and the summary line says it all. cli.print erases it
// before any other output.
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

// clear erases the progress line; only cli.print calls it.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
