// Command bpfbatch bulk-loads, dumps, syncs and edits pinned BPF maps with
// the kernel's batch commands (BPF_MAP_UPDATE_BATCH, BPF_MAP_LOOKUP_BATCH,
// BPF_MAP_DELETE_BATCH): one syscall per few thousand entries instead of
// one per entry. It also describes and creates maps.
//
//	bpfbatch info PIN
//	bpfbatch load [flags] PIN FILE|-
//	bpfbatch dump [flags] PIN
//	bpfbatch delete [flags] PIN FILE|-
//	bpfbatch sync [flags] PIN FILE|-
//	bpfbatch replace [flags] OUTER SLOT FILE|-
//	bpfbatch create [flags] PIN --type hash --key-size 4 --value-size 8 --max-entries N
//	bpfbatch version
//
// Input is text lines "KEY VALUE" (hex by default; --key-format and
// --value-format take u8, u16, u32, u64, cidr and ip too) or JSON lines
// {"key": ..., "value": ...}; dump prints the same, so that
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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit statuses.
const (
	exitOK = 0
	// exitFailed: the map could not be opened, read or changed, I/O
	// failed, or a signal interrupted the run. Not 130 (128+SIGINT): the
	// status says what happened to the map, and the message says what was
	// written or deleted, as for any other failure part-way.
	exitFailed = 1
	exitUsage  = 2 // bad command line or bad input: nothing was changed (but see load --stream)
)

func main() {
	// Ctrl-C stops a command between chunks, or while it waits for input,
	// so the message can say exactly what was written or deleted; a second
	// Ctrl-C kills the process as usual. A goroutine blocked reading stdin then is
	// simply left to the process's exit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, tty: isTerminal(os.Stderr)}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// cli is one invocation's environment.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	tty    bool // stderr is a terminal: show a progress line
}

const mainUsage = `bpfbatch loads, dumps, syncs and edits pinned BPF maps with batch syscalls.

Usage:
  bpfbatch info PIN                             describe the map pinned at PIN, and count its entries
  bpfbatch load [flags] PIN FILE|-              write the entries in FILE (or stdin) into the map
  bpfbatch dump [flags] PIN                     print every entry, in the format load reads
  bpfbatch delete [flags] PIN FILE|-            delete the keys in FILE (or stdin), one per line
  bpfbatch sync [flags] PIN FILE|-              make the map hold exactly the entries in FILE
  bpfbatch replace [flags] OUTER SLOT FILE|-    fill a new inner map from FILE, swap it into a map-in-map SLOT
  bpfbatch create [flags] PIN                   create a map and pin it at PIN (for tests and demos)
  bpfbatch version                              print the version (also: bpfbatch --version)

Run 'bpfbatch COMMAND -h' for a command's flags.

Exit status: 0 success; 1 the map could not be opened, read or changed, or
the run was interrupted (the message says what was written or deleted, and
which input line stopped it); 2 bad command line or bad input (nothing
changed).
`

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, mainUsage)
		return exitUsage
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
		fmt.Fprint(c.stdout, mainUsage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "bpfbatch: unknown command %q\n\n%s", cmd, mainUsage)
		return exitUsage
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// command is a subcommand's flag set and usage text.
type command struct {
	name     string
	synopsis string // after "Usage: bpfbatch "
	about    string // what it does, shown under the synopsis
	fs       *flag.FlagSet
}

func newCommand(name, synopsis, about string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Errors and usage are printed by parse, to stdout for -h and stderr
	// for mistakes.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{name: name, synopsis: synopsis, about: about, fs: fs}
}

func (cmd *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: bpfbatch %s\n\n%s\n", cmd.synopsis, cmd.about)
	flags := 0
	cmd.fs.VisitAll(func(*flag.Flag) { flags++ })
	if flags == 0 {
		fmt.Fprintf(w, "%s has no flags.\n", cmd.name)
		return
	}
	fmt.Fprint(w, "Flags (one or two dashes):\n")
	cmd.fs.SetOutput(w)
	cmd.fs.PrintDefaults()
	cmd.fs.SetOutput(io.Discard)
}

// version prints the module version the command was built from ("(devel)"
// for a build from a clone, or a version such as v1.2.3 when installed by
// version), the VCS revision when the build recorded one, and the Go
// toolchain.
func (c *cli) version() int {
	v, rev := "(devel)", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(len(s.Value), 12)]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "+modified"
		}
	}
	if rev != "" && !strings.Contains(v, rev) {
		v += " (" + rev + ")"
	}
	fmt.Fprintf(c.stdout, "bpfbatch %s, built with %s for %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// parse parses args, flags anywhere among the positional arguments (users
// write `bpfbatch load PIN FILE --chunk 1000`), and checks that there are
// want positional arguments. On -h it prints the usage to stdout. ok false
// means: return code.
func (c *cli) parse(cmd *command, args []string, want ...string) (pos []string, code int, ok bool) {
	for {
		err := cmd.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			cmd.usage(c.stdout)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, c.usageError(cmd, "%v", err), false
		}
		rest := cmd.fs.Args()
		if len(rest) == 0 {
			break
		}
		// flag stops at the first non-flag, or after "--", which ends the
		// flags for good.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != len(want) {
		if len(pos) < len(want) {
			return nil, c.usageError(cmd, "missing %s", want[len(pos)]), false
		}
		return nil, c.usageError(cmd, "unexpected argument %q", pos[len(want)]), false
	}
	return pos, exitOK, true
}

// usageError reports a command-line mistake and returns exitUsage.
func (c *cli) usageError(cmd *command, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "bpfbatch %s: %s\nUsage: bpfbatch %s\nRun 'bpfbatch %s -h' for the flags.\n", cmd.name, fmt.Sprintf(format, args...), cmd.synopsis, cmd.name)
	return exitUsage
}

// failf reports a failure to stderr and returns code.
func (c *cli) failf(code int, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "bpfbatch: "+format+"\n", args...)
	return code
}

// isTerminal reports whether f is a terminal, which is what decides between
// a progress line and a single summary line.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
