// Command bpfbatch bulk-loads, dumps, syncs and edits pinned BPF maps with
// the kernel's batch commands (BPF_MAP_UPDATE_BATCH, BPF_MAP_LOOKUP_BATCH,
// BPF_MAP_DELETE_BATCH): one syscall per few thousand entries instead of
// one per entry. It also describes and creates maps.
//
//	bpfbatch info MAP
//	bpfbatch load [flags] MAP FILE|-
//	bpfbatch dump [flags] MAP
//	bpfbatch delete [flags] MAP FILE|-
//	bpfbatch sync [flags] MAP FILE|-
//	bpfbatch replace [flags] OUTER SLOT FILE|-
//	bpfbatch create [flags] PATH --type hash --key-size 4 --value-size 8 --max-entries N
//	bpfbatch version
//
// MAP is PATH, pinned PATH, id ID or name NAME, as in bpftool: id and name
// reach the maps of running programs that no one pinned.
//
// Input is text lines "KEY VALUE" (hex by default; --key-format and
// --value-format take u8, u16, u32, u64, cidr, ip and btf too) or JSON
// lines {"key": ..., "value": ...}, which for a map with BTF are bpftool's
// formatted JSON by default; or bpftool's own JSON dump (--format
// bpftool-json). dump prints the same, so that
// `bpfbatch dump A | bpfbatch load B -` copies a map. The whole input is
// checked before the first change, so a bad line never leaves a
// half-changed map (load --stream excepted). Run `bpfbatch COMMAND -h` for
// the details.
//
// Exit status: 0 on success; 1 when the map could not be opened, read or
// changed, or a signal interrupted the run (the message says what was
// written or deleted, and which input line stopped it); 2 for a bad
// command line or bad input, with nothing changed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	// A reader that closes the pipe early (bpfbatch dump | head) makes
	// writes fail with EPIPE instead of killing the process: the command
	// then stops quietly, with status 0 (errReaderGone).
	signal.Ignore(syscall.SIGPIPE)
	// Ctrl-C stops a command between chunks, or while it waits for input,
	// so the message can say exactly what was written or deleted; a second
	// Ctrl-C kills the process as usual. A goroutine blocked reading stdin
	// then is simply left to the process's exit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	c := newCLI(os.Stdin, os.Stdout, os.Stderr, isTerminal(os.Stderr))
	code := c.exit(c.run(ctx, os.Args[1:]))
	stop()
	os.Exit(code)
}

// cli is one invocation's environment.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// prog is the progress line on stderr, drawn only on a terminal;
	// print erases it before anything else is written.
	prog *progress
}

func newCLI(stdin io.Reader, stdout, stderr io.Writer, tty bool) *cli {
	return &cli{stdin: stdin, stdout: stdout, stderr: stderr, prog: &progress{w: stderr, tty: tty}}
}

const mainUsage = `bpfbatch loads, dumps, syncs and edits BPF maps with batch syscalls.

Usage:
  bpfbatch info MAP                             describe a map, and count its entries
  bpfbatch load [flags] MAP FILE|-              write the entries in FILE (or stdin) into the map
  bpfbatch dump [flags] MAP                     print every entry, in the format load reads
  bpfbatch delete [flags] MAP FILE|-            delete the keys in FILE (or stdin), one per line
  bpfbatch sync [flags] MAP FILE|-              make the map hold exactly the entries in FILE
  bpfbatch replace [flags] OUTER SLOT FILE|-    fill a new inner map from FILE, swap it into a map-in-map SLOT
  bpfbatch create [flags] PATH                  create a map and pin it at PATH (for tests and demos)
  bpfbatch version                              print the version (also: bpfbatch --version)

MAP (and OUTER) is PATH or pinned PATH (a pin on a bpf filesystem), id ID,
or name NAME (the map's name; it must name exactly one map): id and name
reach the maps of running programs that no one pinned.

Run 'bpfbatch COMMAND -h' for a command's flags.

Exit status: 0 success; 1 the map could not be opened, read or changed, or
the run was interrupted (the message says what was written or deleted, and
which input line stopped it); 2 bad command line or bad input (nothing
changed).
`

// run runs the command that args name. It prints the command's output and
// summary; a failure it returns, for exit to report.
func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &exitError{code: exitUsage, text: mainUsage}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "info":
		return c.info(rest)
	case "load":
		return c.load(ctx, rest)
	case "create":
		return c.create(rest)
	case "dump":
		return c.dump(ctx, rest)
	case "delete":
		return c.delete(ctx, rest)
	case "sync":
		return c.sync(ctx, rest)
	case "replace":
		return c.replace(ctx, rest)
	case "version", "-version", "--version":
		return c.version()
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" && !isHelp(rest[0]) {
			return c.run(ctx, []string{rest[0], "-h"})
		}
		c.print(c.stdout, "%s", mainUsage)
		return nil
	default:
		return &exitError{code: exitUsage, text: fmt.Sprintf("bpfbatch: unknown command %q\n\n%s", cmd, mainUsage)}
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// print erases the progress line, then writes to w: every message and
// summary goes through here, so that none lands on a half-drawn line. A
// summary that cannot be written changes nothing about what was done, so
// its error is not reported (dump and info check their output).
func (c *cli) print(w io.Writer, format string, args ...any) {
	c.prog.clear()
	fmt.Fprintf(w, format, args...)
}

// note prints a note on stderr: something the user may want to know that
// changes nothing about the result.
func (c *cli) note(text string) { c.print(c.stderr, "bpfbatch: note: %s\n", text) }

// isTerminal reports whether f is a terminal, which is what decides between
// a progress line and a single summary line.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
