package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// command is a subcommand's flag set and usage text.
type command struct {
	name     string
	synopsis string // after "Usage: bpfbatch "
	about    string // what it does, shown under the synopsis
	fs       *flag.FlagSet
	// ref is the MAP (or OUTER) argument once parse has read it.
	ref mapRef
}

func newCommand(name, synopsis, about string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse reports mistakes; -h prints the usage to stdout.
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

// parse parses args, flags anywhere among the positional arguments (users
// write `bpfbatch load MAP FILE --chunk 1000`), and checks that there are
// want positional arguments. A MAP (or OUTER) among want takes one word or
// two (PATH, pinned PATH, id ID, name NAME): parse keeps it in cmd.ref and
// returns it as one argument, the map as messages name it. On -h it prints
// the usage to stdout and returns flag.ErrHelp, which exits 0.
func (c *cli) parse(cmd *command, args []string, want ...string) (pos []string, err error) {
	for {
		err := cmd.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			cmd.usage(c.stdout)
			return nil, err
		}
		if err != nil {
			return nil, cmd.usageError("%v", err)
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
	if len(want) > 0 && (want[0] == "MAP" || want[0] == "OUTER") && len(pos) > 0 {
		ref, rest, err := parseMapRef(pos)
		if err != nil {
			return nil, cmd.usageError("%s: %v", want[0], err)
		}
		cmd.ref = ref
		pos = append([]string{ref.String()}, rest...)
	}
	switch {
	case len(pos) < len(want):
		return nil, cmd.usageError("missing %s", want[len(pos)])
	case len(pos) > len(want):
		return nil, cmd.usageError("unexpected argument %q", pos[len(want)])
	}
	return pos, nil
}
