package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model/explore"
)

func init() {
	register("explore", "explore every state of the lifecycle model under a TLC config's bounds", runExplore)
}

// exploreOutput is the JSON of `jobsim explore --format json`.
type exploreOutput struct {
	Config string `json:"config"`
	// Qemu is the version whose table the search asked: the config's
	// QemuVersion, or --qemu.
	Qemu fsm.Version `json:"qemu"`
	*explore.Result
}

func runExplore(args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("explore", "explore --config tla/MC_small.cfg [--format text|json] [--workers N] [--qemu VERSION]\n\n"+
		"The search follows the table of the config's QemuVersion; --qemu explores the\n"+
		"config's bounds under another version's table instead.", stderr)
	cfgPath := fset.String("config", "", "TLC model config whose CONSTANTS bound the search (required)")
	qemu := addQemuFlag(fset)
	format := fset.String("format", "text", "output format: text or json")
	workers := fset.Int("workers", 0, "parallel workers (0: one per CPU)")
	if err := parseFlagsOnly(fset, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usageErr("--config is required")
	}
	if *format != "text" && *format != "json" {
		return usageErr("unknown format %q (want text or json)", *format)
	}
	if *workers < 0 {
		return usageErr("--workers must be >= 0")
	}
	version, err := qemu.version()
	if err != nil {
		return err
	}
	cfg, err := explore.LoadConfig(*cfgPath)
	if err != nil {
		return inputErr("%v", err) // unreadable file or *explore.ConfigError
	}
	if qemu.set {
		cfg.Version = version
	}
	res, err := explore.Explore(cfg, explore.Options{Workers: *workers})
	if err != nil {
		return &exitError{exitInternal, err}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(exploreOutput{Config: *cfgPath, Qemu: cfg.Version, Result: res}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%s (QEMU %s): %d distinct states, %d generated, depth %d, %.2fs (%.0f states/s, %d workers)\n",
			*cfgPath, cfg.Version, res.DistinctStates, res.StatesGenerated, res.Depth, res.Seconds, res.StatesPerSecond, res.Workers)
		if res.CanTerminate != nil {
			fmt.Fprintf(stdout, "every state can still reach \"all jobs null\": %v (%.2fs)\n", *res.CanTerminate, res.TerminationSecs)
		}
		if v := res.Violation; v != nil {
			fmt.Fprintf(stdout, "\n%s %s violated; trace:\n", v.Kind, v.Name)
			for i, st := range v.Trace {
				fmt.Fprintf(stdout, "\n%d: %s\n%s", i+1, st.Action, st.State)
			}
		}
	}
	if v := res.Violation; v != nil {
		return failure("%s %s violated (trace of %d states)", v.Kind, v.Name, len(v.Trace))
	}
	return nil
}
