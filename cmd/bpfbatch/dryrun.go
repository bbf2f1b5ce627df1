package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
	"github.com/bpfbatch/bpfbatch/internal/keyset"
)

// dryRun checks what load would: the whole input, whether the map can hold
// it, and against the map's current contents how many keys are new and
// whether they fit. A load that would fail exits 2, as bad input does.
func (l *loader) dryRun(ctx context.Context, stream bool) error {
	if stream {
		return l.streamDryRun(ctx)
	}
	s := l.src
	start := time.Now()
	s.change.untouched = "nothing written (dry run)"
	var b input.Batch
	if err := s.readChecked(ctx, &b, l.m.Info(), l.m); err != nil {
		return err
	}
	if b.Len() > 0 {
		if err := cannotWrite(l.cmd, s.pin, l.m, s.change.untouched); err != nil {
			return err
		}
	}
	fit, err := l.fit(ctx, &b)
	if err != nil {
		if ctx.Err() != nil {
			return failed(nil, "load %s: interrupted while reading the map; nothing written (dry run)", s.pin)
		}
		return failed(err, "load %s: reading the map's keys failed; nothing written (dry run)", s.pin)
	}
	l.c.print(l.c.stdout, "dry run: %s in %s (%s), valid for %s%s%s; nothing written (read in %s)\n",
		plural(b.Len(), "entry", "entries"), s.name, s.r.Syntax(), l.m, l.wouldDrop(""), fit.report, seconds(time.Since(start)))
	if fit.failure != "" {
		return badInput("load %s: a real load would fail: %s", s.pin, fit.failure)
	}
	return nil
}

// streamDryRun reads block by block as a --stream load would, in bounded
// memory, so it checks the lines but not the capacity.
func (l *loader) streamDryRun(ctx context.Context) error {
	s := l.src
	start := time.Now()
	s.change.untouched = "nothing written (dry run)"
	var b input.Batch
	entries := 0
	block := streamBlock(l.opts.Chunk, l.opts.Workers)
	for more := true; more; {
		b.Reset()
		stopped, err := s.read(ctx, &b, block)
		if stopped {
			return s.stopped(fmt.Sprintf("while reading %s after line %d", s.name, s.r.Line()))
		}
		s.prog.reading(s.r.Line())
		s.dropped += b.Dedupe(s.layout)
		entries += b.Len()
		switch {
		case err == io.EOF:
			more = false
		case err != nil:
			if more, err = s.collect(err); err != nil {
				return err
			}
		}
	}
	if err := s.ended(ctx, s.change.untouched); err != nil {
		return err
	}
	if entries > 0 {
		if err := cannotWrite(l.cmd, s.pin, l.m, s.change.untouched); err != nil {
			return err
		}
	}
	l.c.print(l.c.stdout, "dry run: %s in %s (%s), valid for %s%s; nothing written (read in %s; --stream: the map's contents are not compared)\n",
		plural(entries, "entry", "entries"), s.name, s.r.Syntax(), l.m, l.wouldDrop(" of the same block"), seconds(time.Since(start)))
	return nil
}

// wouldDrop tells a dry run's summary how many lines a repeated key would
// drop: those whose key a later line (where) repeats.
func (l *loader) wouldDrop(where string) string {
	if l.src.dropped == 0 {
		return ""
	}
	return fmt.Sprintf("; %s whose key a later line%s repeats would be dropped", plural(l.src.dropped, "line", "lines"), where)
}

// fitReport is what a dry run found against the map's contents: a part of
// the summary line, and why a real load would fail ("" if it would not).
type fitReport struct{ report, failure string }

// fit compares the input's keys with the map's: how many are new, whether
// they fit in max_entries, and whether --flags noexist or exist would stop
// the load at an existing or a missing key.
func (l *loader) fit(ctx context.Context, b *input.Batch) (fitReport, error) {
	info := l.m.Info()
	var f fitReport
	var held []bool // the input keys the map holds
	holds := 0      // the keys the map holds in all
	switch {
	case info.KeySize == 0:
		return f, nil // a queue, stack or bloom filter cannot be walked
	case !info.Type.CanDelete(): // an array's elements all exist
		held = make([]bool, b.Len())
		for i := range held {
			held[i] = true // the parser checked every index
		}
		holds = int(info.MaxEntries)
	default:
		var err error
		if held, holds, err = keysHeld(ctx, l.m, b, l.src.layout); err != nil {
			return f, err
		}
	}
	fresh, firstHeld, firstFresh := 0, -1, -1
	for i, h := range held {
		switch {
		case !h:
			fresh++
			if firstFresh < 0 {
				firstFresh = i
			}
		case firstHeld < 0:
			firstHeld = i
		}
	}
	existing := len(held) - fresh
	free := int64(info.MaxEntries) - int64(holds)
	switch {
	case !info.Type.CanDelete():
		f.report = fmt.Sprintf("; every index of an array exists: the load overwrites %s of its max_entries %d", plural(existing, "element", "elements"), info.MaxEntries)
	case info.Type.Evicts():
		f.report = fmt.Sprintf("; %s; the map holds %d of max_entries %d", newAndExisting(fresh, existing), holds, info.MaxEntries)
		if after := free - int64(fresh); after >= 0 {
			f.report += fmt.Sprintf(": the new keys fit (%d free after the load)", after)
		} else {
			f.report += fmt.Sprintf(": an LRU map makes room by evicting its least recently used elements, about %d here", -after)
		}
	default:
		f.report = fmt.Sprintf("; %s; the map holds %d of max_entries %d", newAndExisting(fresh, existing), holds, info.MaxEntries)
		if !fillsUp(info) {
			break
		}
		if after := free - int64(fresh); after >= 0 {
			f.report += fmt.Sprintf(": the new keys fit (%d free after the load)", after)
		} else {
			f.report += fmt.Sprintf(": the new keys do NOT fit (%d free)", max(free, 0))
			f.failure = fmt.Sprintf("%s, but %s holds %d of max_entries %d (%d free)", plural(fresh, "new key", "new keys"), l.m, holds, info.MaxEntries, max(free, 0))
		}
	}
	// --flags noexist and exist stop at the first key that is there, or
	// is not; with one worker the entries before it are written.
	switch flags := l.opts.Flags; {
	case flags&bpfbatch.UpdateNoExist != 0 && firstHeld >= 0:
		f.failure = fmt.Sprintf("--flags noexist, but the key of %s:%d is in the map already: the load would stop there (EEXIST) after writing %s",
			l.src.name, b.Lines[firstHeld], plural(firstHeld, "entry", "entries"))
	case flags&bpfbatch.UpdateExist != 0 && firstFresh >= 0:
		f.failure = fmt.Sprintf("--flags exist, but the key of %s:%d is not in the map: the load would stop there (ENOENT) after writing %s",
			l.src.name, b.Lines[firstFresh], plural(firstFresh, "entry", "entries"))
	}
	return f, nil
}

// newAndExisting says "250 keys are new, 750 exist".
func newAndExisting(fresh, existing int) string {
	exist := "exist"
	if existing == 1 {
		exist = "exists"
	}
	return fmt.Sprintf("%s new, %d %s", plural(fresh, "key is", "keys are"), existing, exist)
}

// keysHeld walks the map's keys once and reports which of b's keys it
// holds, and how many keys it holds in all. b holds each key once
// (Dedupe). LPM trie keys compare by their prefix, as the trie does: bits
// beyond the prefix length make no other key.
func keysHeld(ctx context.Context, m *bpfbatch.Map, b *input.Batch, l input.Layout) (held []bool, holds int, err error) {
	ks := l.KeySize
	keys := b.Keys
	if l.LPM {
		keys = bytes.Clone(keys)
		for i := range b.Len() {
			input.MaskLPMKey(keys[i*ks : (i+1)*ks])
		}
	}
	set, dup, _ := keyset.New(keys, ks)
	if dup >= 0 {
		return nil, 0, errors.New("internal error: a key repeated after Dedupe")
	}
	held = make([]bool, b.Len())
	// Walk may call fn from more than one goroutine (Workers > 1).
	var mu sync.Mutex
	err = m.Walk(ctx, bpfbatch.WalkOptions{Workers: dumpWorkers}, func(keys, _ []byte, n int) error {
		mu.Lock()
		defer mu.Unlock()
		holds += n
		for i := range n {
			k := keys[i*ks : (i+1)*ks]
			if l.LPM {
				input.MaskLPMKey(k)
			}
			if j := set.Find(k); j >= 0 {
				held[j] = true
			}
		}
		return nil
	})
	return held, holds, err
}
