// Command jobsim is jobfsm's command-line tool: it prints the canonical
// table, runs scenarios and checks in the simulator, explores the model,
// and speaks QMP. Each subcommand lives in its own cmd_*.go file and
// registers itself in init.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// Exit statuses, distinct per kind of failure.
const (
	exitOK       = 0
	exitFailure  = 1 // a check found a violation / a run failed
	exitUsage    = 2 // bad flags or arguments
	exitInput    = 3 // unreadable or malformed input file
	exitInternal = 4 // an unexpected error in jobsim itself
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run parses args itself (with newFlagSet) and returns an error; wrap it
	// in exitError to choose the exit status.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; each cmd_*.go file registers its own in init.
func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("jobsim: duplicate subcommand " + name)
	}
	commands[name] = &command{name: name, summary: summary, run: run}
}

// exitError carries an exit status with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

func inputErr(format string, args ...any) error {
	return &exitError{exitInput, fmt.Errorf(format, args...)}
}

func failure(format string, args ...any) error {
	return &exitError{exitFailure, fmt.Errorf(format, args...)}
}

// newFlagSet returns a flag set whose errors are returned, not printed and
// exited on, and whose -h/--help prints the subcommand's usage.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("jobsim "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: jobsim %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; -h yields errHelp (exit 0), other errors exit 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &exitError{exitUsage, err}
	}
	return nil
}

// parseFlagsOnly is parseFlags for a command that takes no arguments after
// its flags.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

var errHelp = errors.New("help requested")

func mainUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: jobsim COMMAND [flags] [args]")
	fmt.Fprintln(w, "\njobsim runs QEMU 7.2's block-job lifecycle in a deterministic simulator.")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range sortedNames() {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'jobsim COMMAND --help' for a command's flags.")
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mainUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		mainUsage(stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "jobsim: unknown command %q (known: %s)\n", args[0], strings.Join(sortedNames(), ", "))
		return exitUsage
	}
	err := c.run(args[1:], stdout, stderr)
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "jobsim %s: %v\n", c.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitInternal
}

func sortedNames() []string {
	return slices.Sorted(maps.Keys(commands))
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
