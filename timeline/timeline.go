package timeline

import (
	"fmt"
	"sort"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// Command is one command or simulator step issued during a run.
type Command struct {
	// Op is the command, e.g. "job-cancel", "block-job-cancel", "advance".
	Op string `json:"op"`
	// Job is the job the command names ("" for steps such as run or advance).
	Job string `json:"job,omitempty"`
	// Detail is shown after the op, e.g. "force" or "1.5ms".
	Detail string `json:"detail,omitempty"`
	// Time is the virtual time the command was issued at, in ns.
	Time int64 `json:"time_ns"`
	// EventSeq is the number of events emitted before the command: it is
	// drawn just before event EventSeq.
	EventSeq int `json:"event_seq"`
	// Error is the command's error text ("" = it succeeded).
	Error string `json:"error,omitempty"`
}

// Run is what a timeline shows.
type Run struct {
	Title string
	// Note is a one-paragraph description shown under the title.
	Note     string
	Events   []sim.Event
	Commands []Command
	// Failure, when set, is shown prominently: e.g. the invariant a
	// counterexample violates.
	Failure string
}

// Kind says what an entry is.
type Kind string

const (
	KindStatus  Kind = "status"  // JOB_STATUS_CHANGE
	KindEvent   Kind = "event"   // any BLOCK_JOB_* event
	KindCommand Kind = "command" // a command or simulator step
)

// Entry is one column of the timeline: an event or a command.
type Entry struct {
	Kind  Kind
	Time  int64
	Job   string
	Label string // short text: "running", "BLOCK_JOB_COMPLETED error=…", "job-cancel"
	// Status is the new status of a KindStatus entry.
	Status fsm.Status
	// Error is a failed command's error text, or a COMPLETED event's error.
	Error   string
	Event   *sim.Event
	Command *Command
}

// Segment is a stretch of one status on a lane: from entry From up to, not
// including, entry To (To == len(Entries): until the end of the run).
type Segment struct {
	Status   fsm.Status
	From, To int
}

// Lane is one job's swimlane.
type Lane struct {
	Job      string
	Segments []Segment
	// Marks are the entries (indexes) drawn on this lane that are not status
	// changes: BLOCK_JOB_* events and commands naming the job.
	Marks []int
	// End is the entry where the job reached null, or -1.
	End int
}

// Statuses returns the lane's statuses in order, null included when the job
// reached it.
func (l Lane) Statuses() []fsm.Status {
	out := make([]fsm.Status, 0, len(l.Segments)+1)
	for _, s := range l.Segments {
		out = append(out, s.Status)
	}
	if l.End >= 0 {
		out = append(out, fsm.Null)
	}
	return out
}

// Layout is a Run arranged in columns and lanes.
type Layout struct {
	Run     Run
	Entries []Entry
	Lanes   []Lane
}

// Build arranges a run. Commands are placed before the event whose index is
// their EventSeq (commands with equal EventSeq keep their order); jobs get
// lanes in order of first appearance.
func Build(r Run) *Layout {
	cmds := append([]Command(nil), r.Commands...)
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].EventSeq < cmds[j].EventSeq })
	l := &Layout{Run: r}
	ci := 0
	addCmds := func(upTo int) {
		for ci < len(cmds) && cmds[ci].EventSeq <= upTo {
			c := &cmds[ci]
			label := c.Op
			if c.Detail != "" {
				label += " " + c.Detail
			}
			l.Entries = append(l.Entries, Entry{Kind: KindCommand, Time: c.Time, Job: c.Job, Label: label, Error: c.Error, Command: c})
			ci++
		}
	}
	for i := range r.Events {
		addCmds(i)
		e := &r.Events[i]
		en := Entry{Time: e.Time, Job: e.Job, Event: e}
		if e.Name == sim.EventJobStatusChange {
			en.Kind, en.Status, en.Label = KindStatus, e.Status, e.Status.String()
		} else {
			en.Kind, en.Label = KindEvent, eventLabel(*e)
			if e.HasError {
				en.Error = e.Error
			}
		}
		l.Entries = append(l.Entries, en)
	}
	addCmds(int(^uint(0) >> 1))

	lanes := map[string]*Lane{}
	var order []string
	lane := func(job string) *Lane {
		if ln, ok := lanes[job]; ok {
			return ln
		}
		lanes[job] = &Lane{Job: job, End: -1}
		order = append(order, job)
		return lanes[job]
	}
	for i, en := range l.Entries {
		if en.Job == "" {
			continue
		}
		ln := lane(en.Job)
		if en.Kind != KindStatus {
			ln.Marks = append(ln.Marks, i)
			continue
		}
		if n := len(ln.Segments); n > 0 && ln.Segments[n-1].To < 0 {
			ln.Segments[n-1].To = i
		}
		if en.Status == fsm.Null {
			ln.End = i
			continue
		}
		ln.End = -1 // an id reused after dismiss starts a new life on the same lane
		ln.Segments = append(ln.Segments, Segment{Status: en.Status, From: i, To: -1})
	}
	for _, job := range order {
		ln := lanes[job]
		if n := len(ln.Segments); n > 0 && ln.Segments[n-1].To < 0 {
			ln.Segments[n-1].To = len(l.Entries)
		}
		l.Lanes = append(l.Lanes, *ln)
	}
	return l
}

// eventLabel is the short label of a BLOCK_JOB_* event (without the job id,
// which the lane shows).
func eventLabel(e sim.Event) string {
	name := strings.TrimPrefix(string(e.Name), "BLOCK_JOB_")
	switch e.Name {
	case sim.EventBlockJobCompleted:
		if e.HasError {
			return name + " error=" + e.Error
		}
	case sim.EventBlockJobError:
		return name + " " + e.Operation + " " + string(e.Action)
	}
	return name
}

// FormatTime renders virtual nanoseconds for people: "0", "1.5ms", "2s".
func FormatTime(ns int64) string {
	switch {
	case ns == 0:
		return "0"
	case ns%1_000_000_000 == 0:
		return fmt.Sprintf("%ds", ns/1_000_000_000)
	case ns >= 1_000_000:
		return trimZeros(fmt.Sprintf("%.3f", float64(ns)/1e6)) + "ms"
	case ns >= 1_000:
		return trimZeros(fmt.Sprintf("%.3f", float64(ns)/1e3)) + "µs"
	}
	return fmt.Sprintf("%dns", ns)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Summary returns one line per job: its statuses in order and its outcome
// events, e.g. "a: created -> running -> aborting -> concluded -> null
// [ERROR write report, COMPLETED error=Input/output error]".
func (l *Layout) Summary() []string {
	var out []string
	for _, ln := range l.Lanes {
		var st []string
		for _, s := range ln.Statuses() {
			st = append(st, s.String())
		}
		line := ln.Job + ": " + strings.Join(st, " -> ")
		if len(st) == 0 {
			line = ln.Job + ": (no such job)" // only commands named it
		}
		var evs []string
		for _, i := range ln.Marks {
			if l.Entries[i].Kind == KindEvent {
				evs = append(evs, l.Entries[i].Label)
			}
		}
		if len(evs) > 0 {
			line += " [" + strings.Join(evs, ", ") + "]"
		}
		out = append(out, line)
	}
	return out
}

// statusColor is the fill of each status's segments; chosen so that the
// healthy path (green, blue) reads apart from waiting for the user (purple,
// amber) and from failure (red).
var statusColor = map[fsm.Status]string{
	fsm.Undefined: "#eeeeee",
	fsm.Created:   "#b0bec5",
	fsm.Running:   "#43a047",
	fsm.Paused:    "#ffb300",
	fsm.Ready:     "#1e88e5",
	fsm.Standby:   "#90caf9",
	fsm.Waiting:   "#26a69a",
	fsm.Pending:   "#8e24aa",
	fsm.Aborting:  "#e53935",
	fsm.Concluded: "#795548",
	fsm.Null:      "#000000",
}

// textOn is the label colour readable on a status's fill.
func textOn(s fsm.Status) string {
	switch s {
	case fsm.Created, fsm.Paused, fsm.Standby, fsm.Undefined:
		return "#111111"
	}
	return "#ffffff"
}

// eventColor is the marker colour of a BLOCK_JOB_* event.
func eventColor(e *sim.Event) string {
	switch e.Name {
	case sim.EventBlockJobCompleted:
		if e.HasError {
			return "#b71c1c"
		}
		return "#1b5e20"
	case sim.EventBlockJobCancelled:
		return "#e65100"
	case sim.EventBlockJobReady:
		return "#0d47a1"
	case sim.EventBlockJobPending:
		return "#4a148c"
	case sim.EventBlockJobError:
		return "#d50000"
	}
	return "#333333"
}
