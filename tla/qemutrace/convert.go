package qemutrace

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jobfsm/jobfsm/conformance"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// MaxJobs is JobLifecycle's bound on N (its ASSUME).
const MaxJobs = 8

// Line is one line of a converted trace.
type Line struct {
	Op       string            `json:"op"`
	T        int               `json:"t,omitempty"` // the trace's number within a group file
	Job      string            `json:"job,omitempty"`
	From     string            `json:"from,omitempty"`
	To       string            `json:"to,omitempty"`
	Jobs     []string          `json:"jobs,omitempty"`  // op create
	Listed   map[string]string `json:"-"`               // op query (written as "jobs")
	ID       string            `json:"id,omitempty"`    // op verb: the QEMU job id
	Verb     string            `json:"verb,omitempty"`  // op verb
	Force    *bool             `json:"force,omitempty"` // op verb cancel
	API      string            `json:"api,omitempty"`   // op verb: "job" (job-*) or "block" (block-job-*)
	Rollback bool              `json:"rollback,omitempty"`
	Err      *string           `json:"err,omitempty"`
	Result   string            `json:"result,omitempty"` // trigger to concluded: cancelled|completed|error|none
	After    *int              `json:"after,omitempty"`  // commands: status events that precede it
	Cmd      string            `json:"cmd,omitempty"`    // commands: the QMP command, for readers
}

// Trace is one converted transcript.
type Trace struct {
	Source string
	// Version is the QEMU version that recorded the transcript, whose table
	// (the spec's QemuVersion) must explain it. Convert leaves it 7.2; the
	// caller sets it (qemutrace convert -qemu).
	Version fsm.Version
	// Names are the QEMU ids of spec jobs 1..N.
	Names []string
	// The spec's per-job CONSTANTS (1-based job numbers).
	Grouped, ManualFinalize, ManualDismiss, Ready []int
	// Failures the transcript shows: BLOCK_JOB_COMPLETED with an error
	// (MayFail; PrepareMayFail too when the job had reached pending) and
	// BLOCK_JOB_ERROR with action stop (StopOnError).
	MayFail, PrepareMayFail, StopOnError []int
	// Events are the trigger lines, Commands the command lines, both in
	// transcript order.
	Events, Commands []Line
	// Skipped counts the commands that produce no line.
	Skipped int
}

// Error is a transcript the converter cannot express in the trace format.
type Error struct {
	Source string
	Reason string
}

func (e *Error) Error() string { return "qemutrace: " + e.Source + ": " + e.Reason }

// jobCreators are the commands (and transaction actions) that create a job.
var jobCreators = map[string]bool{
	"blockdev-backup": true, "drive-backup": true, "blockdev-mirror": true,
	"drive-mirror": true, "block-commit": true, "block-stream": true,
}

// mirrorLike are the creators whose job becomes ready (block-commit of the
// active layer too: it is recognised by its BLOCK_JOB_READY).
var mirrorLike = map[string]bool{"blockdev-mirror": true, "drive-mirror": true}

// argumentError reports whether QMP refused the command before any job was
// looked at (the spec does not model argument validation).
func argumentError(desc string) bool {
	for _, p := range []string{"Invalid parameter type", "Parameter '", "QMP input", "The command ",
		"Capabilities negotiation"} {
		if strings.HasPrefix(desc, p) {
			return true
		}
	}
	return false
}

type creation struct {
	ids      []string
	grouped  bool
	manualF  map[string]bool
	manualD  map[string]bool
	mirrorID map[string]bool
}

// creations lists the jobs a command would create, or nil.
func creations(cmd map[string]any) *creation {
	ex, _ := cmd["execute"].(string)
	args, _ := cmd["arguments"].(map[string]any)
	c := &creation{manualF: map[string]bool{}, manualD: map[string]bool{}, mirrorID: map[string]bool{}}
	add := func(kind string, a map[string]any) {
		id, ok := a["job-id"].(string)
		if !ok {
			id, _ = a["device"].(string)
		}
		c.ids = append(c.ids, id)
		if v, ok := a["auto-finalize"].(bool); ok && !v {
			c.manualF[id] = true
		}
		if v, ok := a["auto-dismiss"].(bool); ok && !v {
			c.manualD[id] = true
		}
		if mirrorLike[kind] {
			c.mirrorID[id] = true
		}
	}
	switch {
	case jobCreators[ex]:
		if args == nil {
			return nil
		}
		add(ex, args)
	case ex == "transaction":
		acts, _ := args["actions"].([]any)
		for _, x := range acts {
			act, _ := x.(map[string]any)
			kind, _ := act["type"].(string)
			data, _ := act["data"].(map[string]any)
			if jobCreators[kind] && data != nil {
				add(kind, data)
			}
		}
		if props, ok := args["properties"].(map[string]any); ok {
			c.grouped = props["completion-mode"] == "grouped"
		}
	default:
		return nil
	}
	if len(c.ids) == 0 {
		return nil
	}
	return c
}

func matches(data any, match map[string]any) bool {
	d, _ := data.(map[string]any)
	for k, v := range match {
		if fmt.Sprint(d[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// Convert turns one scenario and the transcript QEMU recorded for it into a
// trace. source names the transcript in messages and in the trace.
func Convert(source string, scn *conformance.Scenario, tr *conformance.Transcript) (*Trace, error) {
	fail := func(format string, a ...any) (*Trace, error) {
		return nil, &Error{Source: source, Reason: fmt.Sprintf(format, a...)}
	}
	out := &Trace{Source: source}

	// Events: incarnations in the order of their created events.
	type ev struct {
		name   string
		data   map[string]any
		status int // status events before this one (for anchors)
	}
	evs := make([]ev, len(tr.Events))
	current := map[string]int{}     // QEMU id -> live incarnation (1-based), by events
	createdOf := map[string][]int{} // QEMU id -> its incarnations in event order
	statusOf := map[int]string{}    // incarnation -> last status
	readyByEvent := map[int]bool{}  // incarnations that sent BLOCK_JOB_READY
	seqOf := map[int][]string{}     // incarnation -> its statuses
	result := map[int]string{}      // incarnation -> its BLOCK_JOB_COMPLETED/CANCELLED, until concluded
	failed, stops := map[int]bool{}, map[int]bool{}
	nStatus := 0
	for i, e := range tr.Events {
		m, _ := e.(map[string]any)
		name, _ := m["event"].(string)
		data, _ := m["data"].(map[string]any)
		evs[i] = ev{name: name, data: data, status: nStatus}
		id, _ := data["id"].(string)
		if name == "" {
			return fail("event %d has no name", i)
		}
		if name == "BLOCK_JOB_READY" {
			id, _ = data["device"].(string)
			if k := current[id]; k > 0 {
				readyByEvent[k] = true
			}
		}
		switch name {
		case "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED", "BLOCK_JOB_ERROR":
			dev, _ := data["device"].(string)
			k := current[dev]
			if k == 0 {
				return fail("event %d: %s of job %q, which does not exist", i, name, dev)
			}
			switch {
			case name == "BLOCK_JOB_CANCELLED":
				result[k] = "cancelled"
			case name == "BLOCK_JOB_ERROR":
				stops[k] = stops[k] || data["action"] == "stop"
			case data["error"] != nil:
				result[k] = "error"
				failed[k] = true
			default:
				result[k] = "completed"
			}
		}
		if name != "JOB_STATUS_CHANGE" {
			continue
		}
		st, _ := data["status"].(string)
		if st == "created" {
			if current[id] != 0 {
				return fail("job %q created twice without reaching null", id)
			}
			out.Names = append(out.Names, id)
			k := len(out.Names)
			if k > MaxJobs {
				return fail("more than %d jobs (JobLifecycle's bound on N)", MaxJobs)
			}
			current[id] = k
			createdOf[id] = append(createdOf[id], k)
			statusOf[k] = "undefined"
		}
		k := current[id]
		if k == 0 {
			return fail("event %d: status %q of job %q, which has no created event", i, st, id)
		}
		l := Line{Op: "trigger", Job: jobName(k), From: statusOf[k], To: st}
		if st == "concluded" {
			l.Result = result[k]
			if l.Result == "" {
				l.Result = "none"
			}
		}
		out.Events = append(out.Events, l)
		statusOf[k] = st
		seqOf[k] = append(seqOf[k], st)
		nStatus++
		if st == "null" {
			delete(current, id)
		}
	}

	// Commands, with the anchors their preceding waits set.
	resp := tr.Responses
	ri := 0
	next := func() map[string]any {
		if ri >= len(resp) {
			return nil
		}
		r, _ := resp[ri].(map[string]any)
		ri++
		return r
	}
	if g := next(); g == nil || g["greeting"] == nil {
		return fail("no greeting response first")
	}
	if r := next(); r == nil || r["cmd"] != "qmp_capabilities" {
		return fail("no qmp_capabilities response second")
	}
	after := 0                // status events known to precede the next command
	taken := map[int]bool{}   // events waits took
	byCmd := map[string]int{} // QEMU id -> incarnation, by command order
	used := map[string]int{}  // QEMU id -> incarnations of it handed out
	grouped := map[int]bool{} // incarnations of the grouped transaction
	groupedTxns := 0
	manualF, manualD, ready := map[int]bool{}, map[int]bool{}, map[int]bool{}
	for si, st := range scn.Steps {
		if st.WaitEvent != "" {
			hit := -1
			for i, e := range evs {
				if !taken[i] && e.name == st.WaitEvent && matches(e.data, st.Match) {
					hit = i
					break
				}
			}
			if hit < 0 {
				return fail("step %d waits for %s %v, which is not in the events", si, st.WaitEvent, st.Match)
			}
			taken[hit] = true
			n := evs[hit].status
			if evs[hit].name == "JOB_STATUS_CHANGE" {
				n++ // the waited status event itself precedes the command
			}
			after = max(after, n)
			continue
		}
		r := next()
		if r == nil {
			return fail("step %d has no response", si)
		}
		if st.Send == nil {
			continue // an observation (bitmaps, graph, digests)
		}
		ex, _ := st.Send["execute"].(string)
		if fmt.Sprint(r["cmd"]) != fmt.Sprint(st.Send["execute"]) {
			return fail("step %d: response is for %v, the step sends %v", si, r["cmd"], st.Send["execute"])
		}
		var errDesc *string
		if e, ok := r["error"].(map[string]any); ok {
			d, _ := e["desc"].(string)
			errDesc = &d
		}
		// A command QEMU never answered (a scenario's last "hang" step:
		// reference §12's grouped rollback, which polls forever for an
		// unstarted member) failed without an error text; only the members
		// the rollback reached before it hung (those with an aborting
		// event) have a rollback line: JobLifecycle's qemu72 rule then
		// blocks on the next one, as QEMU does.
		_, hung := r["no_answer_within"]
		if hung {
			d := ""
			errDesc = &d
		}
		a := after
		args, _ := st.Send["arguments"].(map[string]any)

		if c := creations(st.Send); c != nil {
			// A failed command created a job when the job's next created
			// event is followed by null at once (job_early_fail: an
			// argument refused after job_create), or when it is a
			// transaction (rolled back by a later action); otherwise it
			// refused before job_create.
			var ks []int
			early := map[int]bool{}
			for _, id := range c.ids {
				inc := createdOf[id]
				if errDesc != nil && used[id] < len(inc) {
					seq := seqOf[inc[used[id]]]
					early[inc[used[id]]] = len(seq) == 2 && seq[1] == "null"
					if !early[inc[used[id]]] && ex != "transaction" {
						continue
					}
				}
				if used[id] >= len(inc) {
					if errDesc == nil {
						return fail("step %d: %s returned but job %q has no created event", si, ex, id)
					}
					continue
				}
				k := inc[used[id]]
				used[id]++
				byCmd[id] = k
				ks = append(ks, k)
				manualF[k], manualD[k] = c.manualF[id], c.manualD[id]
				ready[k] = c.mirrorID[id] || readyByEvent[k]
			}
			if len(ks) == 0 {
				out.Skipped++
				continue
			}
			if c.grouped && len(ks) > 0 {
				groupedTxns++
				if groupedTxns > 1 {
					return fail("more than one grouped transaction (JobLifecycle models one)")
				}
				for _, k := range ks {
					grouped[k] = true
				}
				out.Commands = append(out.Commands, Line{Op: "create", Jobs: names(ks), After: ptr(a), Cmd: ex})
			} else {
				for _, k := range ks {
					out.Commands = append(out.Commands, Line{Op: "create", Jobs: names([]int{k}), After: ptr(a), Cmd: ex})
				}
			}
			if errDesc != nil {
				for _, k := range ks {
					if hung && !slices.Contains(seqOf[k], "aborting") {
						continue
					}
					if early[k] {
						out.Commands = append(out.Commands, Line{Op: "early-fail", Job: jobName(k), After: ptr(a), Cmd: ex})
						continue
					}
					out.Commands = append(out.Commands, Line{Op: "verb", Job: jobName(k), ID: out.Names[k-1],
						Verb: "cancel", Force: ptr(true), API: "job", Rollback: true, After: ptr(a), Cmd: ex})
				}
			}
			continue
		}
		if errDesc != nil && argumentError(*errDesc) {
			out.Skipped++
			continue
		}
		if errDesc != nil && jobCreators[ex] || ex == "transaction" {
			out.Skipped++ // refused before any job existed
			continue
		}
		if c, ok := sim.ParseVerbCommand(ex); ok {
			v := c.Verb.String() // JobVerbTable's verb names are QAPI's
			api, key := "job", "id"
			if c.IsBlock() {
				api, key = "block", "device"
			}
			if _, ok := args["id"]; ok {
				key = "id" // block-job-finalize and block-job-dismiss take an id
			}
			id, _ := args[key].(string)
			l := Line{Op: "verb", ID: id, Verb: v, API: api, Err: errDesc, After: ptr(a), Cmd: ex}
			if k := byCmd[id]; k > 0 {
				l.Job = jobName(k)
			}
			if v == "cancel" {
				force := api == "job"
				if f, ok := args["force"].(bool); ok && api == "block" {
					force = f
				}
				l.Force = ptr(force)
			}
			out.Commands = append(out.Commands, l)
			continue
		}
		if (ex == "query-jobs" || ex == "query-block-jobs") && errDesc == nil {
			list, _ := r["return"].([]any)
			listed := map[string]string{}
			for _, x := range list {
				j, _ := x.(map[string]any)
				id, _ := j["id"].(string)
				if ex == "query-block-jobs" {
					id, _ = j["device"].(string)
				}
				k := byCmd[id]
				if k == 0 {
					return fail("step %d: %s lists job %q, which no command created", si, ex, id)
				}
				listed[jobName(k)], _ = j["status"].(string)
			}
			out.Commands = append(out.Commands, Line{Op: "query", Listed: listed, After: ptr(a), Cmd: ex})
			continue
		}
		out.Skipped++
	}
	if ri != len(resp) {
		return fail("%d responses, the scenario's steps explain %d", len(resp), ri)
	}
	if err := gatherGroupedCreation(out, grouped); err != nil {
		return fail("%v", err)
	}
	for k := 1; k <= len(out.Names); k++ {
		if grouped[k] {
			out.Grouped = append(out.Grouped, k)
		}
		if manualF[k] {
			out.ManualFinalize = append(out.ManualFinalize, k)
		}
		if manualD[k] {
			out.ManualDismiss = append(out.ManualDismiss, k)
		}
		if ready[k] {
			out.Ready = append(out.Ready, k)
		}
		if failed[k] {
			out.MayFail = append(out.MayFail, k)
			for _, st := range seqOf[k] {
				if st == "pending" {
					out.PrepareMayFail = append(out.PrepareMayFail, k)
					break
				}
			}
		}
		if stops[k] {
			out.StopOnError = append(out.StopOnError, k)
		}
	}
	for id, inc := range createdOf {
		if used[id] != len(inc) {
			return fail("job %q was created %d times by events, %d by commands", id, len(inc), used[id])
		}
	}
	return out, nil
}

func jobName(k int) string { return fmt.Sprintf("j%d", k) }

// jobNumber is jobName's inverse (0 for a name it did not make).
func jobNumber(name string) int {
	k, err := strconv.Atoi(strings.TrimPrefix(name, "j"))
	if err != nil || !strings.HasPrefix(name, "j") {
		return 0
	}
	return k
}

func names(ks []int) []string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = jobName(k)
	}
	sort.Strings(s)
	return s
}

func ptr[T any](v T) *T { return &v }

// gatherGroupedCreation moves the created events of a grouped transaction's
// later members up to the first member's. QEMU creates the members one by
// one in the transaction's prepare phase and, from 10.0 on, drains every
// node between them (bdrv_graph_wrlock), so another job's paused/running
// pairs can come between the created events; JobLifecycle creates all
// members in one step. Only such pairs of jobs outside the transaction may
// be jumped over (they commute with a creation): anything else is an error.
// A command anchored inside the moved range is anchored at its start
// instead (a weaker bound).
func gatherGroupedCreation(t *Trace, grouped map[int]bool) error {
	first := -1
	var rest []int
	for i, e := range t.Events {
		if e.To != "created" || !grouped[jobNumber(e.Job)] {
			continue
		}
		if first < 0 {
			first = i
		} else {
			rest = append(rest, i)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	last := rest[len(rest)-1]
	var moved, others []Line
	moved = append(moved, t.Events[first])
	for i := first + 1; i <= last; i++ {
		e := t.Events[i]
		k := jobNumber(e.Job)
		switch {
		case grouped[k] && e.To == "created":
			moved = append(moved, e)
		case !grouped[k] && blip(e.From) && blip(e.To):
			others = append(others, e)
		default:
			return fmt.Errorf("between the created events of the grouped transaction: %s %s -> %s", e.Job, e.From, e.To)
		}
	}
	evs := append([]Line{}, t.Events[:first]...)
	evs = append(evs, moved...)
	evs = append(evs, others...)
	t.Events = append(evs, t.Events[last+1:]...)
	for i := range t.Commands {
		if a := t.Commands[i].After; *a > first+1 && *a <= last {
			t.Commands[i].After = ptr(first + 1)
		}
	}
	return nil
}

// blip reports whether status is one of a drain's pause and resume: one the
// pause point leaves or parks a job in (fsm's trigger relation).
func blip(status string) bool {
	s, ok := fsm.ParseStatus(status)
	_, pauses := fsm.Target(s, fsm.TriggerPausePoint)
	return ok && (pauses || fsm.InPause(s))
}
