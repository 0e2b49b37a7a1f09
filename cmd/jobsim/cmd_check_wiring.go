package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/model/explore"
	"github.com/jobfsm/jobfsm/model/harness"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/timeline"
)

// Defaults of the random campaign, sized so that `jobsim check` finishes
// well under two minutes on two cores (see the report in cmd_check.go).
const (
	defaultSequences = 5000
	defaultSteps     = 40
)

// exploreConfig is one default bound of the explore phase.
type exploreConfig struct {
	file      string
	rationale string
}

// exploreConfigs are the default bounds per QEMU version: the TLC model
// configs of tla/ that the explorer models (each names its version in its
// QemuVersion constant), in the order check prints them. What each must
// report is its `\* Expect:` line (explore.ReadExpectation): some must pass,
// others must fail the way they say (the checker is shown to find QEMU's
// rollback hang and a broken variant's atomicity violation, so a green run is
// not a checker that finds nothing). The Tracker configs (`\* Explorer:
// none`) are TLC's alone (tla/check.sh).
var exploreConfigs = map[fsm.Version][]exploreConfig{
	fsm.QEMU7_2: {
		{"MC_small.cfg", "two independent jobs, bitmap, ready job, prepare failure, a monitor that loses events"},
		{"MC_txn.cfg", "three backups in one grouped transaction with drains"},
		{"MC_live.cfg", "grouped transaction with drains (safety part; liveness is TLC's)"},
		{"MC_hang_fixed.cfg", "grouped rollback before start under jobfsm's corrected rule (D1)"},
		{"MC_hang.cfg", "QEMU 7.2's rollback rule: the known hang must be found"},
		{"MC_broken.cfg", "broken variant (finalize in waiting): atomicity violation must be found"},
	},
	fsm.QEMU10_0: {
		{"MC_small_10_0.cfg", "MC_small's two independent jobs under 10.0's table (no monitor)"},
		{"MC_txn_10_0.cfg", "MC_txn's grouped transaction under 10.0's table"},
		{"MC_hang_10_0.cfg", "QEMU 10.0.13's rollback rule (7.2's): the known hang must be found"},
	},
}

// findTLA locates the tla/ directory: the --tla flag, else tla/ in the
// current directory or one of its parents (jobsim is run from the repo).
func findTLA(dir string) (string, error) {
	marker := exploreConfigs[fsm.DefaultVersion][0].file
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return "", fmt.Errorf("--tla %s: %v", dir, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "tla")
		if _, err := os.Stat(filepath.Join(cand, marker)); err == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no tla/%s in %s or its parents: run jobsim check inside the jobfsm repository or pass --tla DIR", marker, wd)
		}
	}
}

// checkTLAInputs locates the tla/ directory and checks that every default
// config of version v is there and readable.
func checkTLAInputs(dir string, v fsm.Version) (string, error) {
	dir, err := findTLA(dir)
	if err != nil {
		return "", err
	}
	for _, c := range exploreConfigs[v] {
		f, err := os.Open(filepath.Join(dir, c.file))
		if err != nil {
			return "", err
		}
		_ = f.Close()
	}
	return dir, nil
}

// explorePhase runs the exhaustive explorer (model/explore) on every
// default config of o.version.
func explorePhase(o checkOptions, p *progress) (*phaseResult, error) {
	configs := exploreConfigs[o.version]
	dir, err := findTLA(o.tlaDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", phaseExplore, err)
	}
	res := &phaseResult{name: phaseExplore}
	total, gen := 0, int64(0)
	names := make([]string, 0, len(explore.Invariants)+len(explore.StepProperties))
	for _, inv := range explore.Invariants {
		names = append(names, inv.Name)
	}
	for _, sp := range explore.StepProperties {
		names = append(names, sp.Name)
	}
	for i, c := range configs {
		p.update("explore", int64(i), int64(len(configs)), fmt.Sprintf("%s (%d states so far)", c.file, total))
		path := filepath.Join(dir, c.file)
		want, err := explore.ReadExpectation(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", phaseExplore, err)
		}
		if want.NoExplorer {
			return nil, fmt.Errorf("%s: %s says `Explorer: none`: the explorer cannot check it", phaseExplore, path)
		}
		cfg, err := explore.LoadConfig(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", phaseExplore, err)
		}
		if cfg.Version != o.version {
			return nil, fmt.Errorf("%s: %s says QemuVersion %q, not %q", phaseExplore, path, cfg.Version, o.version)
		}
		r, err := explore.Explore(cfg, explore.Options{})
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", phaseExplore, c.file, err)
		}
		total += r.DistinctStates
		gen += r.StatesGenerated
		line := fmt.Sprintf("%-18s %8d distinct states, depth %2d: ", c.file, r.DistinctStates, r.Depth)
		switch v := r.Violation; {
		case want.OK() && v == nil:
			line += "all hold"
		case !want.OK() && want.MetBy(v):
			line += fmt.Sprintf("%s found as expected (%d-state trace)", v.Name, len(v.Trace))
		case !want.OK() && v == nil:
			line += "NOTHING FOUND"
			if res.failure == "" {
				res.failure = fmt.Sprintf("%s: expected %s (%s), but the explorer found no violation", c.file, want, c.rationale)
			}
		default:
			line += fmt.Sprintf("%s %s VIOLATED", v.Kind, v.Name)
			if res.failure == "" {
				res.failure = fmt.Sprintf("%s: %s %s violated (%s)", c.file, v.Kind, v.Name, c.rationale)
				res.cexText, res.cex = exploreTrace(c.file, v)
				res.cexHeading = "shortest trace"
			}
		}
		res.lines = append(res.lines, line)
	}
	p.update("explore", int64(len(configs)), int64(len(configs)), fmt.Sprintf("%d states", total))
	res.lines = append([]string{
		fmt.Sprintf("%d distinct states explored (%d generated) over %d model configs of QEMU %s", total, gen, len(configs), o.version),
		fmt.Sprintf("invariants checked in every state and on every step: %s", strings.Join(names, ", ")),
	}, res.lines...)
	return res, nil
}

// exploreTrace renders an explorer counterexample: the trace as text, and
// as a timeline built from the per-job statuses in each state.
func exploreTrace(file string, v *explore.Violation) (string, *timeline.Run) {
	var b strings.Builder
	r := &timeline.Run{Title: fmt.Sprintf("%s: %s %s", file, v.Kind, v.Name)}
	prev := map[string]fsm.Status{}
	for i, st := range v.Trace {
		fmt.Fprintf(&b, "%2d: %s\n", i+1, st.Action)
		// A model state has no virtual time: every entry is at time 0 and
		// the step number leads the action's label.
		cmd := timeline.Command{Op: fmt.Sprintf("%d:%s", i+1, st.Action), EventSeq: len(r.Events)}
		sc := bufio.NewScanner(strings.NewReader(st.State))
		for sc.Scan() {
			line := sc.Text()
			b.WriteString("      " + line + "\n")
			var n int
			var status string
			if _, err := fmt.Sscanf(line, "job %d: %s", &n, &status); err != nil {
				continue
			}
			s, ok := fsm.ParseStatus(status)
			job := fmt.Sprintf("j%d", n)
			if !ok || s == prev[job] {
				continue
			}
			prev[job] = s
			if cmd.Job == "" {
				cmd.Job = job
			}
			if s != fsm.Undefined {
				r.Events = append(r.Events, sim.Event{Seq: uint64(len(r.Events)), Name: sim.EventJobStatusChange, Job: job, Status: s})
			}
		}
		r.Commands = append(r.Commands, cmd)
	}
	return b.String(), r
}

// campaignPhase runs the random campaign of harness.Campaign: random command
// sequences against sim.Manager, the reference model and every invariant
// checked after every step, a failure minimized.
func campaignPhase(o checkOptions, p *progress) (*phaseResult, error) {
	if o.sequences == 0 {
		return &phaseResult{name: phaseCampaign, lines: []string{"skipped (--sequences 0)"}}, nil
	}
	rep, err := harness.CampaignAt(o.version, o.seed, o.sequences, o.steps, func(done int) {
		p.update("campaign", int64(done), int64(o.sequences), fmt.Sprintf("%d/%d sequences", done, o.sequences))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", phaseCampaign, err)
	}
	res := &phaseResult{name: phaseCampaign, lines: []string{
		fmt.Sprintf("%d sequences of %d random commands%s (seed %d), %d steps including drain-down", rep.Sequences, o.steps, unlessDefault(rep.Version, " of QEMU "), rep.Seed, rep.Steps),
		fmt.Sprintf("%d invariant evaluations, reference model compared after every step, %d determinism replays", rep.InvariantChecks, rep.Replays),
		"invariants: " + catalogueIDs(),
		fmt.Sprintf("%.1fs", rep.Elapsed.Seconds()),
	}}
	if f := rep.Failure; f != nil {
		// The detail may carry a stack trace (a panic in sim): the failure
		// line keeps its first line, the rest is printed once below.
		detail, more, _ := strings.Cut(f.Violation.Detail, "\n")
		res.failure = fmt.Sprintf("%s at step %d of sequence %d (sim seed %d): %s", f.Violation.ID, f.Violation.Step, f.Sequence, f.SimSeed, detail)
		res.details = strings.TrimSpace(more)
		var b strings.Builder
		fmt.Fprintf(&b, "(%d of %d actions after minimizing)\n", len(f.Actions), f.OriginalSteps)
		for _, st := range f.Log {
			fmt.Fprintf(&b, "%3d: %s\n", st.Step, st.Desc)
		}
		res.cexText, res.cexHeading = b.String(), "minimized commands"
		run := harness.TimelineRun(fmt.Sprintf("counterexample: %s (sequence %d, sim seed %d)", f.Violation.ID, f.Sequence, f.SimSeed), f.Log)
		res.cex = &run
	}
	return res, nil
}

// catalogueIDs lists the model's invariant ids, e.g. "I1 I2 … I21".
func catalogueIDs() string {
	ids := make([]string, 0, len(model.Catalogue))
	for _, inv := range model.Catalogue {
		ids = append(ids, inv.ID)
	}
	return strings.Join(ids, " ")
}
