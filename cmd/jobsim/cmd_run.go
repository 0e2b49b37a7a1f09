package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jobfsm/jobfsm/scenario"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/timeline"
)

// timelineFormats are the renderings run and replay offer.
var timelineFormats = []string{"text", "json", "svg", "html"}

func init() {
	register("run", "run a scenario file in the simulator and print its per-job timeline", runRun)
}

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run [--format text|json|svg|html] [--seed N] [--qemu VERSION] SCENARIO.json (--qemu: default the scenario's \"qemu\", else 7.2)", stderr)
	format := timelineFormatFlag(fs)
	seed := fs.Uint64("seed", 0, "tie-break seed (default: the scenario's own seed)")
	qemu := addQemuFlag(fs)
	name, err := parseTimelineFlags(fs, args, format, "scenario file")
	if err != nil {
		return err
	}
	version, err := qemu.version()
	if err != nil {
		return err
	}
	s, err := scenario.Load(name)
	if err != nil {
		return inputErr("%v", err)
	}
	if flagSet(fs, "seed") {
		s.Seed = *seed
	}
	if qemu.set {
		// --qemu overrides the version the scenario names
		s.QEMU = version
	}
	res := s.RunWith(sim.Options{Seed: s.Seed, Version: s.QEMU})
	r := timeline.FromScenario(res)
	if !res.OK() {
		r.Failure = fmt.Sprintf("%d expectation(s) not met: %s", len(res.Mismatches), strings.Join(res.Mismatches, "; "))
	}
	if err := writeTimeline(stdout, *format, r, s.Seed, res.Mismatches); err != nil {
		return err
	}
	if !res.OK() {
		return failure("scenario %q: %d expectation(s) not met, first: %s", s.Name, len(res.Mismatches), firstLine(res.Mismatches[0]))
	}
	return nil
}

// timelineFormatFlag defines run's and replay's --format.
func timelineFormatFlag(fs *flag.FlagSet) *string {
	return fs.String("format", "text", "output format: "+strings.Join(timelineFormats, ", "))
}

// parseTimelineFlags parses the flags of run or replay, checks --format, and
// returns the one file they take (what names it in the usage error).
func parseTimelineFlags(fs *flag.FlagSet, args []string, format *string, what string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if !slices.Contains(timelineFormats, *format) {
		return "", usageErr("unknown format %q (want one of %s)", *format, strings.Join(timelineFormats, ", "))
	}
	if fs.NArg() != 1 {
		return "", usageErr("want exactly one %s, got %d arguments", what, fs.NArg())
	}
	return fs.Arg(0), nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// jsonTimeline is run's and replay's --format json: the event log as QMP
// would send it, the commands with their outcomes, each job's statuses in
// order, and whether the run met its expectations.
type jsonTimeline struct {
	Name       string              `json:"name,omitempty"`
	Seed       uint64              `json:"seed"`
	OK         bool                `json:"ok"`
	Mismatches []string            `json:"mismatches,omitempty"`
	Events     []jsonEvent         `json:"events"`
	Commands   []timeline.Command  `json:"commands"`
	Jobs       map[string][]string `json:"jobs"`
}

type jsonEvent struct {
	Seq   uint64         `json:"seq"`
	Time  int64          `json:"time_ns"`
	Event sim.EventName  `json:"event"`
	Data  map[string]any `json:"data"`
}

func writeTimeline(w io.Writer, format string, r timeline.Run, seed uint64, mismatches []string) error {
	switch format {
	case "text":
		if err := timeline.Text(w, r); err != nil {
			return err
		}
		for _, m := range mismatches {
			if _, err := fmt.Fprintf(w, "MISMATCH: %s\n", m); err != nil {
				return err
			}
		}
		return nil
	case "svg":
		return timeline.SVG(w, r)
	case "html":
		return timeline.HTML(w, r)
	}
	out := jsonTimeline{Name: r.Title, Seed: seed, OK: len(mismatches) == 0, Mismatches: mismatches,
		Events: []jsonEvent{}, Commands: r.Commands, Jobs: map[string][]string{}}
	if out.Commands == nil {
		out.Commands = []timeline.Command{}
	}
	for _, e := range r.Events {
		out.Events = append(out.Events, jsonEvent{Seq: e.Seq, Time: e.Time, Event: e.Name, Data: e.Data()})
	}
	for _, ln := range timeline.Build(r).Lanes {
		for _, s := range ln.Statuses() {
			out.Jobs[ln.Job] = append(out.Jobs[ln.Job], s.String())
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
