package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

const deleteAbout = `Deletes the keys in FILE (- for stdin) from the map pinned at PIN with
BPF_MAP_DELETE_BATCH, in chunks of --chunk keys per syscall.

Input: one key per line in --key-format (hex by default), blank lines and
lines starting with # skipped; or JSON lines {"key": K}. The first key line
decides between text and json unless --format says. 'bpfbatch dump PIN
--keys-only' prints such a file (with the same --key-format).

Safety: the whole input is parsed and checked before the first delete, so a
bad line deletes nothing. A key repeated in the input is deleted once; LPM
trie keys that differ only beyond their prefix length are one key.

A key that is not in the map stops the delete there, as the kernel does:
the keys before it are deleted, nothing from it on, and the message names
its line (exit 1). --ignore-missing skips such keys instead, and the
summary counts them.

Array maps cannot delete: their elements always exist (to clear them, load
zero values). They are refused with exit 2, as are maps without keys.

Output: a progress line on stderr when it is a terminal, and a summary on
stdout: "deleted N entries from MAP ...". Ctrl-C or SIGTERM stops between
two chunks and says what was deleted. Exit status: 0 success; 1 the map
could not be opened, a key was missing, the kernel refused a delete, or the
run was interrupted (the message says how many keys were deleted and which
input line stopped it); 2 bad command line, bad input, or a map that cannot
delete (nothing deleted).

Examples:
  bpfbatch delete /sys/fs/bpf/blocklist stale.txt --key-format cidr
  bpfbatch dump /sys/fs/bpf/conns --keys-only | bpfbatch delete /sys/fs/bpf/conns -
`

func (c *cli) delete(ctx context.Context, args []string) int {
	cmd := newCommand("delete", "delete [flags] PIN FILE|-", deleteAbout)
	var in inputFlags
	in.register(cmd.fs, true)
	chunk := cmd.fs.Int("chunk", defaultChunk, "keys per BPF_MAP_DELETE_BATCH syscall")
	ignoreMissing := cmd.fs.Bool("ignore-missing", false, "skip the keys that are not in the map, and count them, instead of stopping at the first")
	pos, opts, code, ok := c.parseWithInput(cmd, args, &in, true, "PIN", "FILE")
	if !ok {
		return code
	}
	pin, file := pos[0], pos[1]
	if *chunk <= 0 {
		return c.usageError(cmd, "--chunk must be at least 1")
	}
	m, code, ok := c.openMap(cmd.name, pin, keyed("to delete"))
	if !ok {
		return code
	}
	defer m.Close()
	info := m.Info()
	// An empty delete makes the library check the map type, with no
	// syscall: arrays cannot delete.
	if _, err := m.DeleteBatch(nil, bpfbatch.UpdateAny); errors.Is(err, bpfbatch.ErrNotSupported) {
		return c.failf(exitUsage, "delete %s: the elements of %s maps always exist and cannot be deleted; to clear them, load zero values; nothing deleted", pin, info.Type)
	} else if err != nil {
		return c.failf(exitFailed, "delete %s: %s", pin, trimPrefix(err))
	}
	var err error
	if opts.Layout, err = layoutFor(info, true); err != nil {
		return c.failf(exitFailed, "delete %s: %s", pin, trimPrefix(err))
	}
	s, code, ok := c.openSource(cmd, pin, file, opts, m, deletes)
	if !ok {
		return code
	}
	defer s.close()
	d := &deleter{source: s, m: m, chunk: *chunk, ignoreMissing: *ignoreMissing}
	return d.run(ctx)
}

// deleter runs one delete.
type deleter struct {
	*source
	m             *bpfbatch.Map
	chunk         int
	ignoreMissing bool

	deleted int
	missing []int // the input lines of the keys not in the map (--ignore-missing)
}

func (d *deleter) run(ctx context.Context) int {
	start := time.Now()
	var b input.Batch
	if code, ok := d.readWhole(ctx, &b); !ok {
		return code
	}
	ks, total := d.layout.KeySize, b.Len()
	d.prog.startWriting(total)
	// next is the first key not deleted yet (nor skipped as missing).
	for next := 0; next < total; {
		if ctx.Err() != nil {
			return d.stopped(&b, next, total, "interrupted: ", "; ", nil)
		}
		end := next + min(d.chunk, total-next)
		n, err := d.m.DeleteBatch(b.Keys[next*ks:end*ks], bpfbatch.UpdateAny)
		d.deleted += n
		next += n
		d.prog.update(next)
		if err == nil {
			continue
		}
		var be *bpfbatch.BatchError
		switch {
		case !errors.As(err, &be) || be.Index < 0:
			return d.stopped(&b, next, total, "", "; the kernel refused a whole call, before deleting any of its keys, so ", err)
		case errors.Is(err, bpfbatch.ErrKeyNotExist) && d.ignoreMissing:
			d.missing = append(d.missing, b.Lines[next])
			next++
		case errors.Is(err, bpfbatch.ErrKeyNotExist):
			return d.stopped(&b, next, total, "", fmt.Sprintf(", then the key at %s:%d is not in the map (--ignore-missing skips such keys), so ", d.name, b.Lines[next]), nil)
		default:
			return d.stopped(&b, next, total, "", fmt.Sprintf(", then the key at %s:%d failed, so ", d.name, b.Lines[next]), err)
		}
	}
	d.prog.clear()
	if ctx.Err() != nil {
		return d.failf(exitFailed, "delete %s: interrupted as the last chunk was deleted: deleted all %s read from %s (the input up to line %d)%s; if the signal also stopped what wrote %s, that input may be incomplete",
			d.pin, plural(d.deleted, "key", "keys"), d.name, d.r.Line(), d.missingNote(), d.name)
	}
	fmt.Fprintf(d.stdout, "deleted %s from %s with the keys in %s, in %s (chunks of up to %d keys)%s%s\n",
		plural(d.deleted, "entry", "entries"), d.m, d.name, seconds(time.Since(start)), d.chunk, d.missingNote(), d.droppedNote())
	return exitOK
}

// stopped reports a delete that stopped before key next of b: what was
// deleted, why it stopped (prefix, and why, which joins the count to
// "nothing from ..."), and the library's error if any. It returns
// exitFailed.
func (d *deleter) stopped(b *input.Batch, next, total int, prefix, why string, cause error) int {
	d.prog.clear()
	fmt.Fprintf(d.stderr, "bpfbatch: delete %s: %sdeleted %d of %s%snothing from %s:%d on was deleted%s%s\n",
		d.pin, prefix, d.deleted, plural(total, "key", "keys"), why, d.name, b.Lines[next], d.missingNote(), d.droppedNote())
	if cause != nil {
		return d.failf(exitFailed, "cause: %s", trimPrefix(cause))
	}
	return exitFailed
}

// missingNote lists the keys --ignore-missing skipped.
func (d *deleter) missingNote() string {
	if len(d.missing) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s not in the map, skipped (%s)", plural(len(d.missing), "key was", "keys were"), lineList(d.missing, 5))
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
