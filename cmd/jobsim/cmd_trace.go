package main

import (
	"bufio"
	"io"
	"os"

	"github.com/jobfsm/jobfsm/tla/tracegen"
)

func init() {
	register("trace", "run a random simulator scenario and write its NDJSON trace (for tla/TraceJobLifecycle.tla)", runTrace)
}

func runTrace(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trace", "trace [--seed N] [--steps N] [--qemu VERSION] [--out FILE]", stderr)
	seed := fs.Uint64("seed", 1, "scenario seed (same seed, same trace)")
	steps := fs.Int("steps", 80, "random actions before the wind-down")
	out := fs.String("out", "", "write the trace to FILE instead of stdout")
	qemu := addQemuFlag(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	version, err := qemu.version()
	if err != nil {
		return err
	}
	if *steps <= 0 {
		return usageErr("--steps must be positive")
	}
	w := stdout
	var f *os.File
	if *out != "" {
		var err error
		if f, err = os.Create(*out); err != nil {
			return inputErr("%v", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if err := tracegen.Generate(bw, tracegen.Options{Seed: *seed, Steps: *steps, Version: version}); err != nil {
		return failure("%v", err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}
