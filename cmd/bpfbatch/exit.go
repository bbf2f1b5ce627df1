package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"syscall"
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

// exitError is a failure as the command reports it: the command's own
// words, then the cause, and the exit status. An error that is no
// exitError (the library's, as it is) exits with exitFailed.
type exitError struct {
	code int
	// text is what the command knows: whole lines, "bpfbatch: " (or
	// "bpfbatch CMD: ") prefix included; empty when the cause says it all.
	text string
	// cause is the library's (or the system's) error, printed as it is on
	// a line of its own after text; nil when there is none.
	cause error
}

func (e *exitError) Error() string {
	switch {
	case e.cause == nil:
		return e.text
	case e.text == "":
		return causeLine(e.cause)
	}
	return e.text + "\n" + causeLine(e.cause)
}

func (e *exitError) Unwrap() error { return e.cause }

// causeLine is err as printed: the library's errors begin with "bpfbatch: "
// already, and are printed as they are; others get the prefix.
func causeLine(err error) string {
	if s := err.Error(); strings.HasPrefix(s, "bpfbatch: ") {
		return s
	}
	return "bpfbatch: " + err.Error()
}

// failed is a failure of the map, of I/O or an interruption (exit 1): what
// the command knows (what was written, which input line), then cause, if
// any.
func failed(cause error, format string, args ...any) error {
	return &exitError{code: exitFailed, text: "bpfbatch: " + fmt.Sprintf(format, args...), cause: cause}
}

// badInput is bad input, or a map the command cannot work on, found before
// any change (exit 2).
func badInput(format string, args ...any) error {
	return &exitError{code: exitUsage, text: "bpfbatch: " + fmt.Sprintf(format, args...)}
}

// usageError is a mistake on cmd's command line (exit 2), followed by the
// usage line.
func (cmd *command) usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, text: fmt.Sprintf("bpfbatch %s: %s\nUsage: bpfbatch %s\nRun 'bpfbatch %s -h' for the flags.",
		cmd.name, fmt.Sprintf(format, args...), cmd.synopsis, cmd.name)}
}

// readerGone reports whether err, from a write to stdout, says that the
// reader closed the pipe (EPIPE: main ignores SIGPIPE).
func readerGone(err error) bool { return errors.Is(err, syscall.EPIPE) }

// outputError is the error of writing the command's output to stdout:
// errReaderGone when the reader closed the pipe, else a failure.
func outputError(err error) error {
	if readerGone(err) {
		return errReaderGone
	}
	return failed(nil, "writing the output: %v", err)
}

// errReaderGone: the reader of stdout closed it (bpfbatch dump | head -1).
// The output ends there, and the command exits 0 without a message: a
// reader that wants no more is no failure.
var errReaderGone = errors.New("the reader of the output closed it")

// exit reports err, the one place that prints a failure, and returns the
// exit status.
func (c *cli) exit(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.Is(err, errReaderGone) {
		return exitOK
	}
	code, msg := exitFailed, causeLine(err)
	var ee *exitError
	if errors.As(err, &ee) {
		code, msg = ee.code, ee.Error()
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	c.print(c.stderr, "%s", msg)
	return code
}
