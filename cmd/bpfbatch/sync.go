package main

import (
	"bufio"
	"context"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

const syncAbout = `Makes the map MAP hold exactly the entries in FILE (- for stdin): keys that FILE lacks are deleted, new and changed entries written,
and unchanged ones left alone (not rewritten: LRU maps keep their order and
BPF programs watching values see no churn). One walk of the map with
BPF_MAP_LOOKUP_BATCH, while FILE is read, finds the difference; the
deletes go first, to make room in a full map.

` + mapHelp + `

Input: as for 'bpfbatch load': text or JSON lines (btf by default for a
map with BTF), or bpftool's JSON dump; --key-format and --value-format,
per-CPU columns or --all-cpus (run 'bpfbatch load -h').
The whole input is checked before the first change; a key repeated in the
input is one entry, and its last line wins, as in load. An empty input
would delete every entry: it is refused unless --allow-empty.

Array maps cannot delete: their elements that FILE lacks are set to zero
bytes, and counted as deleted. On an LPM trie, prefixes compare with the
bits beyond their length ignored, and a prefix the input holds is never
deleted, not even for a moment: it is left alone or updated in place.

LRU maps evict before they are full, and a write that evicted reports
success: after a sync into an LRU map, every key written (every input key,
when the input is bigger than the map holds without evicting) is looked
up, and if the kernel evicted some the sync fails (exit 1) saying how
many. An LRU map holds
without evicting at most max_entries - 128 x possible CPUs entries
(max_entries / possible CPUs - 1 with BPF_F_NO_COMMON_LRU): the kernel
keeps up to 128 free elements per CPU and evicts when the rest runs out.

--keep-values keeps the map's value of every key in both the map and the
input (counters survive): only the keys the map lacks are written, and the
stale ones deleted.

--list prints one line per change, before the summary, in the key and
value formats (text columns; btf values as their JSON):
  + KEY VALUE          added
  - KEY VALUE          deleted (the value the map held)
  ~ KEY OLD -> NEW     changed
deletions first, then additions and changes in the input's order. With
--dry-run these are the changes a sync would make.

Output: one line on stdout, e.g.
  synced Hash map "conns" (id 7) from new.txt: added 10, changed 3, deleted 2, unchanged 985 (in 41ms: read 12ms, sync 29ms)
--dry-run walks the map and prints the same counts, changing nothing; if
it finds changes to make but the process cannot write the map (frozen,
read-only), it says so instead, and exits 1.

Sync is not atomic: BPF programs see the map between the deletes and the
writes. To swap a whole map at once, keep it in a map-in-map and use
'bpfbatch replace'. Entries BPF programs change during the sync: see the
library's Map.Sync.

Ctrl-C or SIGTERM while reading the input changes nothing; during the sync
it stops between two chunks of deletes, or after the writes under way, and
the message says how many deletes and writes were done. Both go in chunks
of --chunk entries (deletes: 4096 with --chunk 0), so a signal acts within
one chunk. Exit status: 0
success; 1 the map could not be opened, read or changed, or the run was
interrupted; 2 bad command line or bad input (nothing changed).

Examples:
  bpfbatch sync /sys/fs/bpf/blocklist cidrs.txt --value-format u32
  generate-rules | bpfbatch sync /sys/fs/bpf/rules - --dry-run --list
  bpfbatch sync name conn_counters allowed.jsonl --keep-values
`

func (c *cli) sync(ctx context.Context, args []string) error {
	e := newEntryCommand("sync", syncAbout, "delete and write", true)
	cmd := e.cmd
	dryRun := cmd.fs.Bool("dry-run", false, "compare the map with the input and print the counts, change nothing")
	allowEmpty := cmd.fs.Bool("allow-empty", false, "accept an input without entries, which deletes every entry of the map")
	keepValues := cmd.fs.Bool("keep-values", false, "keys in both the map and the input keep the map's value (counters survive): only\nmissing keys are written, stale keys deleted")
	list := cmd.fs.Bool("list", false, "print one line per change before the summary: + KEY VALUE, - KEY VALUE,\n~ KEY OLD -> NEW, in the key and value formats (with --dry-run: the changes a sync would make)")
	pin, file, opts, err := e.parse(c, args)
	if err != nil {
		return err
	}
	m, err := e.openMap(c, loadable, keyed("to compare"))
	if err != nil {
		return err
	}
	defer m.Close()
	start := time.Now()
	var b input.Batch
	var s *source
	var readTime time.Duration
	// The input is read and parsed while the library walks the map beside
	// it (SyncFrom): the walk takes no time of its own.
	read := func() ([]byte, []byte, error) {
		var err error
		s, err = c.readEntries(ctx, entryFile{cmd: cmd, pin: pin, file: file, opts: opts, formats: &e.in.formatFlags, info: m.Info(), stride: m.ValueStride(), target: m, change: syncs}, &b)
		if err != nil {
			return nil, nil, err
		}
		if b.Len() == 0 && !*allowEmpty {
			return nil, nil, badInput("sync %s: no entries in %s: syncing would delete every entry of %s; pass --allow-empty if that is what you want; nothing changed", pin, s.name, m)
		}
		readTime = time.Since(start)
		s.prog.startWriting(-1)
		return b.Keys, b.Values, nil
	}
	so := bpfbatch.SyncOptions{
		DryRun:     *dryRun,
		Workers:    e.batch.workers,
		Chunk:      e.batch.chunk,
		AllowEmpty: *allowEmpty,
		KeepValues: *keepValues,
		Progress: func(done, total int) { // called after read, so s is set
			s.prog.total = total
			s.prog.update(done)
		},
	}
	var changes *changeLister
	if *list {
		so.Changes = func(ch bpfbatch.Change) {
			if changes == nil {
				changes = c.newChangeLister(s)
			}
			changes.add(ch)
		}
	}
	stats, err := m.SyncFrom(ctx, read, so)
	if s != nil {
		defer s.close()
	}
	if changes != nil {
		if lerr := changes.flush(); lerr != nil && err == nil {
			return lerr
		}
	}
	if s == nil || readTime == 0 && err != nil { // refused before or while reading the input
		return err
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return failed(err, "sync %s: interrupted", pin)
	case err != nil:
		return err
	case *dryRun:
		if stats.Added+stats.Changed+stats.Deleted > 0 {
			if err := cannotWrite(cmd, pin, m, "the dry run found: "+stats.String()+"; nothing changed"); err != nil {
				return err
			}
		}
		c.print(c.stdout, "dry run: syncing %s from %s would do: %s; nothing changed (read %s, compare %s)%s\n",
			m, s.name, stats, seconds(readTime), seconds(time.Since(start)-readTime), s.droppedNote())
		return nil
	case ctx.Err() != nil:
		return failed(nil, "sync %s: interrupted as the last chunk was written: the sync with %s (the input up to line %d) is complete: %s; if the signal also stopped what wrote %s, that input may be incomplete, and the keys it lacked are deleted",
			pin, s.name, s.r.Line(), stats, s.name)
	}
	c.print(c.stdout, "synced %s from %s: %s (in %s: read %s, sync %s)%s\n",
		m, s.name, stats, seconds(time.Since(start)), seconds(readTime), seconds(time.Since(start)-readTime), s.droppedNote())
	return nil
}

// changeLister prints Sync's changes, one line each: + KEY VALUE,
// - KEY VALUE, ~ KEY OLD -> NEW, in the input's formats.
type changeLister struct {
	p   printer
	w   *bufio.Writer
	buf []byte
	err error
}

func (c *cli) newChangeLister(s *source) *changeLister {
	c.prog.clear()
	return &changeLister{p: printer{opts: s.r.Formats()}, w: bufio.NewWriterSize(c.stdout, 64<<10)}
}

// add prints one change; Sync calls it before its first write.
func (l *changeLister) add(ch bpfbatch.Change) {
	if l.err != nil {
		return
	}
	b := l.buf[:0]
	var err error
	switch ch.Kind {
	case bpfbatch.Added:
		b = append(b, "+ "...)
		b, err = l.p.appendEntry(b, ch.Key, ch.New)
	case bpfbatch.Deleted:
		b = append(b, "- "...)
		b, err = l.p.appendEntry(b, ch.Key, ch.Old)
	case bpfbatch.Changed:
		b = append(b, "~ "...)
		if b, err = l.p.appendEntry(b, ch.Key, ch.Old); err == nil {
			b = append(b[:len(b)-1], " -> "...)
			b, err = l.p.appendValues(b, ch.New)
			b = append(b, '\n')
		}
	}
	if err == nil {
		_, err = l.w.Write(b)
	}
	l.buf, l.err = b, err
}

// flush writes what add buffered, and reports a failure of add's.
func (l *changeLister) flush() error {
	if err := l.w.Flush(); l.err == nil {
		l.err = err
	}
	if l.err != nil {
		return outputError(l.err)
	}
	return nil
}
