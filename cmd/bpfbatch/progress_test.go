package main

import (
	"bytes"
	"strings"
	"testing"
)

// The progress line is drawn only on a terminal, redrawn in place, and
// erased before the summary.
func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := progress{w: &buf, tty: false}
	p.startWriting(10)
	p.update(10)
	p.clear()
	if buf.Len() != 0 {
		t.Fatalf("progress without a terminal wrote %q", buf.String())
	}

	p = progress{w: &buf, tty: true}
	p.startWriting(1000)
	p.update(500)
	p.update(600) // within the refresh interval: skipped
	p.update(1000)
	p.clear()
	out := buf.String()
	if !strings.Contains(out, "\r\x1b[Kwriting: 500/1000 entries (50%), ") || !strings.Contains(out, "writing: 1000/1000 entries (100%)") {
		t.Errorf("progress output %q", out)
	}
	if strings.Contains(out, "600/1000") {
		t.Errorf("progress redrawn within %v: %q", refresh, out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("progress line not erased at the end: %q", out)
	}

	buf.Reset()
	p = progress{w: &buf, tty: true}
	p.startWriting(-1)
	p.update(42)
	if !strings.Contains(buf.String(), "writing: 42 entries, ") {
		t.Errorf("streaming progress %q", buf.String())
	}
}
