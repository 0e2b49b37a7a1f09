// Command soak runs the random campaign of package model until at least
// -steps actions have run (default 1,000,000), printing progress, and exits
// non-zero with the minimized counterexample on the first violation.
// -qemu picks the QEMU version sim and the model follow (default 7.2).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model/harness"
)

func main() {
	total := flag.Int("steps", 1_000_000, "run at least this many actions in all")
	per := flag.Int("seq-steps", 100, "random actions per sequence (each sequence also has its drain-down)")
	chunk := flag.Int("chunk", 500, "sequences between progress lines")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "base seed (chunk k uses seed+k)")
	version := fsm.DefaultVersion
	flag.Var(&version, "qemu", "QEMU version sim and the model follow")
	flag.Parse()
	if *total < 1 || *per < 1 || *chunk < 1 {
		fmt.Fprintln(os.Stderr, "soak: -steps, -seq-steps and -chunk must be positive")
		os.Exit(2)
	}
	fmt.Printf("soak: QEMU %s, seed %d, %d actions per sequence, until %d steps\n", version, *seed, *per, *total)
	start := time.Now()
	steps, seqs, checks := 0, 0, 0
	for k := uint64(0); steps < *total; k++ {
		rep, err := harness.CampaignAt(version, *seed+k, *chunk, *per, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		steps += rep.Steps
		seqs += rep.Sequences
		checks += rep.InvariantChecks
		if f := rep.Failure; f != nil {
			fmt.Printf("soak: FAILED after %d steps in %d sequences (campaign seed %d)\n%s", steps, seqs, *seed+k, f.Timeline)
			os.Exit(1)
		}
		el := time.Since(start).Seconds()
		fmt.Printf("soak: %7d/%d steps  %6d sequences  %9d invariant checks  %5.1f s  %6.0f steps/s\n",
			steps, *total, seqs, checks, el, float64(steps)/el)
	}
	fmt.Printf("soak: OK, %d steps, %d sequences, %d invariant checks in %v\n", steps, seqs, checks, time.Since(start).Round(time.Millisecond))
}
