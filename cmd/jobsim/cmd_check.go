package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/timeline"
)

func init() {
	register("check", "the main job: exhaustive exploration plus a random campaign against the simulator", runCheck)
}

// checkOptions are check's flags.
type checkOptions struct {
	seed      uint64
	sequences int
	steps     int
	html      string
	explore   bool
	campaign  bool
	tlaDir    string
	version   fsm.Version
}

// phaseResult is what one part of check found.
type phaseResult struct {
	name  string
	lines []string // summary lines, printed indented
	// failure is empty when the phase passed; otherwise a one-line
	// description (e.g. the violated invariant) and the counterexample.
	failure    string
	cex        *timeline.Run
	cexText    string // the minimized command sequence or trace, one step a line
	cexHeading string
	details    string // further lines of the failure (e.g. a stack trace)
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "check [--seed N] [--sequences N] [--steps N] [--html FILE] [--tla DIR] [--no-explore] [--no-campaign] [--qemu VERSION]\n\n"+
		"Runs the exhaustive explorer on its default bounds, then a random campaign of\n"+
		"command sequences against the simulator, checking the reference model and every\n"+
		"invariant after every step. On a failure it prints the minimized counterexample\n"+
		"as a per-job timeline (and writes it as an HTML page with --html) and exits 1.\n"+
		"--qemu picks the version: the explorer checks its model configs\n"+
		"(tla/MC_*_10_0.cfg for 10.0), the campaign runs the simulator and the\n"+
		"reference model at it.", stderr)
	o := checkOptions{}
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random campaign (same seed, same sequences)")
	fs.IntVar(&o.sequences, "sequences", defaultSequences, "number of random sequences")
	fs.IntVar(&o.steps, "steps", defaultSteps, "commands per random sequence")
	fs.StringVar(&o.html, "html", "", "write the counterexample's timeline as an HTML page to this file")
	fs.StringVar(&o.tlaDir, "tla", "", "directory of the TLC model configs (default: tla/ of the enclosing repository)")
	noExplore := fs.Bool("no-explore", false, "skip the exhaustive explorer")
	noCampaign := fs.Bool("no-campaign", false, "skip the random campaign")
	qemu := addQemuFlag(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	var err error
	if o.version, err = qemu.version(); err != nil {
		return err
	}
	if o.sequences < 0 || o.steps <= 0 {
		return usageErr("--sequences must be >= 0 and --steps > 0")
	}
	o.explore, o.campaign = !*noExplore, !*noCampaign
	if !o.explore && !o.campaign {
		return usageErr("nothing to do: both --no-explore and --no-campaign given")
	}
	// The inputs are checked before anything runs: a missing tla/ found
	// only after the 20 s campaign wastes the time and buries the reason.
	if o.explore {
		dir, err := checkTLAInputs(o.tlaDir, o.version)
		if err != nil {
			return inputErr("%s: %v (or pass --no-explore)", phaseExplore, err)
		}
		o.tlaDir = dir
	}

	prog := newProgress(stderr)
	start := time.Now()
	var results []*phaseResult
	var unavailable []string
	for _, ph := range []struct {
		on  bool
		run func(checkOptions, *progress) (*phaseResult, error)
	}{{o.explore, explorePhase}, {o.campaign, campaignPhase}} {
		if !ph.on {
			continue
		}
		r, err := ph.run(o, prog)
		prog.finish()
		if err != nil {
			unavailable = append(unavailable, err.Error())
		} else {
			results = append(results, r)
		}
	}

	fmt.Fprintf(stdout, "jobsim check (seed %d)\n", o.seed)
	var failed *phaseResult
	for _, r := range results {
		status := "ok"
		if r.failure != "" {
			status = "FAILED"
			if failed == nil {
				failed = r
			}
		}
		fmt.Fprintf(stdout, "\n%s: %s\n", r.name, status)
		for _, l := range r.lines {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	}
	for _, u := range unavailable {
		fmt.Fprintf(stdout, "\nNOT RUN: %s\n", u)
	}
	fmt.Fprintf(stdout, "\ntook %s\n", time.Since(start).Round(10*time.Millisecond))

	if failed != nil {
		fmt.Fprintf(stdout, "\nCOUNTEREXAMPLE (%s): %s\n", failed.name, failed.failure)
		if failed.details != "" {
			fmt.Fprintf(stdout, "\ndetails:\n%s\n", failed.details)
		}
		if failed.cexText != "" {
			fmt.Fprintf(stdout, "\n%s:\n%s", failed.cexHeading, failed.cexText)
		}
		if failed.cex != nil {
			failed.cex.Failure = failed.failure
			fmt.Fprintln(stdout)
			if err := timeline.Text(stdout, *failed.cex); err != nil {
				return err
			}
			if o.html != "" {
				if err := writeHTML(o.html, *failed.cex); err != nil {
					return &exitError{exitInternal, err}
				}
				fmt.Fprintf(stdout, "\ntimeline written to %s\n", o.html)
			}
		}
		if o.campaign && failed.name == phaseCampaign {
			fmt.Fprintf(stdout, "\nreproduce with: jobsim check --no-explore --seed %d --sequences %d --steps %d%s\n", o.seed, o.sequences, o.steps, unlessDefault(o.version, " --qemu "))
		}
		return failure("%s: %s", failed.name, firstLine(failed.failure))
	}
	if len(unavailable) > 0 {
		return failure("%s", strings.Join(unavailable, "; "))
	}
	if o.html != "" {
		fmt.Fprintf(stdout, "no counterexample: %s not written\n", o.html)
	}
	return nil
}

const (
	phaseExplore  = "exhaustive exploration"
	phaseCampaign = "random campaign"
)

func writeHTML(path string, r timeline.Run) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := timeline.HTML(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// unlessDefault is prefix and v's name, or nothing for the default version:
// what check prints about a version other than 7.2 (its flag in the
// reproduce line, its name in the campaign's summary), so that the
// default's output reads as it did before --qemu existed.
func unlessDefault(v fsm.Version, prefix string) string {
	if v == fsm.DefaultVersion {
		return ""
	}
	return prefix + v.String()
}
