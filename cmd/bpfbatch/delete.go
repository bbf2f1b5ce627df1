package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bpfbatch/bpfbatch"
	"github.com/bpfbatch/bpfbatch/cmd/bpfbatch/internal/input"
)

const deleteAbout = `Deletes the keys in FILE (- for stdin) from the map MAP with
BPF_MAP_DELETE_BATCH, in chunks of --chunk keys per syscall.

` + mapHelp + `

Input: one key per line in --key-format (defaults as for load: btf in JSON
for a map with BTF, cidr for LPM tries of IPv4 or IPv6 prefixes, else hex),
blank lines and lines starting with # skipped; or JSON lines {"key": K};
or bpftool's JSON dump (--format bpftool-json: its values are skipped).
The first key line decides between text and json unless --format says.
'bpfbatch dump MAP --keys-only' prints such a file (with the same
--key-format).

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
  bpfbatch delete /sys/fs/bpf/blocklist stale.txt
  bpfbatch dump /sys/fs/bpf/conns --keys-only | bpfbatch delete /sys/fs/bpf/conns -
`

func (c *cli) delete(ctx context.Context, args []string) error {
	e := newEntryCommand("delete", deleteAbout, "BPF_MAP_DELETE_BATCH", false)
	ignoreMissing := e.cmd.fs.Bool("ignore-missing", false, "skip the keys that are not in the map, and count them, instead of stopping at the first")
	pin, file, opts, err := e.parse(c, args)
	if err != nil {
		return err
	}
	m, err := e.openMap(c, keyed("to delete"))
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	// An empty delete makes the library check the map type, with no
	// syscall: arrays cannot delete.
	if _, err := m.DeleteBatch(nil, bpfbatch.UpdateAny); errors.Is(err, bpfbatch.ErrNotSupported) {
		return badInput("delete %s: the elements of %s maps always exist and cannot be deleted; to clear them, load zero values; nothing deleted", pin, info.Type)
	} else if err != nil {
		return err
	}
	if opts.Layout, err = layoutFor(info, 0, false); err != nil {
		return err
	}
	s, err := c.openSource(e.cmd, pin, file, opts, &e.in.formatFlags, info, m, deletes)
	if err != nil {
		return err
	}
	defer s.close()
	d := &deleter{c: c, src: s, m: m, chunk: e.batch.chunk, ignoreMissing: *ignoreMissing}
	return d.run(ctx)
}

// deleter runs one delete.
type deleter struct {
	c             *cli
	src           *source
	m             *bpfbatch.Map
	chunk         int // keys per call; 0: all in one call
	ignoreMissing bool

	deleted int
	missing []int // the input lines of the keys not in the map (--ignore-missing)
}

func (d *deleter) run(ctx context.Context) error {
	s := d.src
	start := time.Now()
	var b input.Batch
	if err := s.readWhole(ctx, &b); err != nil {
		return err
	}
	ks, total := s.layout.KeySize, b.Len()
	chunk := d.chunk
	if chunk == 0 {
		chunk = max(total, 1)
	}
	s.prog.startWriting(total)
	// next is the first key not deleted yet (nor skipped as missing).
	for next := 0; next < total; {
		if ctx.Err() != nil {
			return d.stopped(&b, next, total, "interrupted: ", "; ", nil)
		}
		end := next + min(chunk, total-next)
		n, err := d.m.DeleteBatch(b.Keys[next*ks:end*ks], bpfbatch.UpdateAny)
		d.deleted += n
		next += n
		s.prog.update(next)
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
			return d.stopped(&b, next, total, "", fmt.Sprintf(", then the key at %s:%d is not in the map (--ignore-missing skips such keys), so ", s.name, b.Lines[next]), nil)
		default:
			return d.stopped(&b, next, total, "", fmt.Sprintf(", then the key at %s:%d failed, so ", s.name, b.Lines[next]), err)
		}
	}
	if ctx.Err() != nil {
		return failed(nil, "delete %s: interrupted as the last chunk was deleted: deleted all %s read from %s (the input up to line %d)%s; if the signal also stopped what wrote %s, that input may be incomplete",
			s.pin, plural(d.deleted, "key", "keys"), s.name, s.r.Line(), d.missingNote(), s.name)
	}
	d.c.print(d.c.stdout, "deleted %s from %s with the keys in %s, in %s (chunks of up to %d keys)%s%s\n",
		plural(d.deleted, "entry", "entries"), d.m, s.name, seconds(time.Since(start)), chunk, d.missingNote(), s.droppedNote())
	return nil
}

// stopped is the error of a delete that stopped before key next of b:
// what was deleted, why it stopped (prefix, and why, which joins the count
// to "nothing from ..."), and the library's error if any.
func (d *deleter) stopped(b *input.Batch, next, total int, prefix, why string, cause error) error {
	s := d.src
	return failed(cause, "delete %s: %sdeleted %d of %s%snothing from %s:%d on was deleted%s%s",
		s.pin, prefix, d.deleted, plural(total, "key", "keys"), why, s.name, b.Lines[next], d.missingNote(), s.droppedNote())
}

// missingNote lists the keys --ignore-missing skipped.
func (d *deleter) missingNote() string {
	if len(d.missing) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s not in the map, skipped (%s)", plural(len(d.missing), "key was", "keys were"), lineList(d.missing, 5))
}
