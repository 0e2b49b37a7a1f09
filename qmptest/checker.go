package qmptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/jobfsm/jobfsm/faults"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/timeline"
)

// Violation is one broken rule of the client contract.
type Violation struct {
	// Rule is the contract rule's number, e.g. "C1".
	Rule string
	// Monitor is the connection the offending message was on.
	Monitor int
	// Seq places it among the traffic and the faults.
	Seq int
	// Msg says what the client did and why it is wrong.
	Msg string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (monitor %d, message %d): %s", v.Rule, v.Monitor, v.Seq, v.Msg)
}

// checker keeps the traffic of every monitor; the rules are evaluated over
// it on demand, so a verdict is a pure function of what was on the wire.
type checker struct {
	mu      sync.Mutex
	traffic []faults.Message
	events  []sim.Event // as the simulator produced them
	evSeq   []int       // their places in the traffic's sequence
}

// produced records an event as the simulator emits it (on the loop).
func (c *checker) produced(seq int, e sim.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.evSeq = append(c.evSeq, seq)
	c.mu.Unlock()
}

func newChecker() *checker { return &checker{} }

func (c *checker) observe(m faults.Message) {
	c.mu.Lock()
	c.traffic = append(c.traffic, m)
	c.mu.Unlock()
}

func (c *checker) messages() []faults.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]faults.Message(nil), c.traffic...)
}

// isJobVerb reports whether a command acts on an existing job (sim's verb
// dispatcher names them all).
func isJobVerb(cmd string) bool {
	_, ok := sim.ParseVerbCommand(cmd)
	return ok
}

// The commands that create jobs.
var (
	jobCreators = map[string]bool{
		"blockdev-backup": true, "drive-backup": true, "blockdev-mirror": true, "drive-mirror": true,
		"block-commit": true, "block-stream": true, "x-jobsim-test-job": true,
	}
	refusedVerb = regexp.MustCompile(`^Job '(.*)' in state '([a-z-]+)' cannot accept command verb '([a-z-]+)'$`)
)

type request struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
}

type reply struct {
	Event  string          `json:"event"`
	Data   map[string]any  `json:"data"`
	Return json.RawMessage `json:"return"`
	Error  *Error          `json:"error"`
	QMP    json.RawMessage `json:"QMP"`
}

// jobOf is the job a verb names (id, or device for the block-job-* verbs).
func jobOf(args json.RawMessage) string {
	var a struct{ ID, Device string }
	_ = json.Unmarshal(args, &a)
	if a.ID != "" {
		return a.ID
	}
	return a.Device
}

// violations evaluates the contract over the traffic and the fault log.
func (c *checker) violations(log []faults.Record) []Violation {
	type item struct {
		seq int
		msg *faults.Message
		rec *faults.Record
	}
	var items []item
	msgs := c.messages()
	for i := range msgs {
		items = append(items, item{seq: msgs[i].Seq, msg: &msgs[i]})
	}
	for i := range log {
		items = append(items, item{seq: log[i].Seq, rec: &log[i]})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].seq < items[j].seq })

	type monitor struct {
		reconnect bool // opened after a fault cut a connection
		queried   bool
		pending   []request
		status    map[string]string // job -> last status the monitor was told
	}
	var out []Violation
	mons := map[int]*monitor{}
	disruption := ""
	outcomeRead := map[string]bool{}
	for _, it := range items {
		if r := it.rec; r != nil {
			if r.Kind == faults.KindClose || r.Kind == faults.KindRestart {
				disruption = r.String()
			}
			continue
		}
		m := it.msg
		mon := mons[m.Monitor]
		if mon == nil {
			mon = &monitor{reconnect: disruption != "", status: map[string]string{}}
			mons[m.Monitor] = mon
		}
		bad := func(rule, format string, args ...any) {
			out = append(out, Violation{Rule: rule, Monitor: m.Monitor, Seq: m.Seq, Msg: fmt.Sprintf(format, args...)})
		}
		if m.FromClient {
			var rq request
			if json.Unmarshal(m.Raw, &rq) != nil || rq.Execute == "" {
				continue
			}
			mon.pending = append(mon.pending, rq)
			switch {
			case rq.Execute == "query-jobs" || rq.Execute == "query-block-jobs":
				mon.queried = true
			case isJobVerb(rq.Execute):
				job := jobOf(rq.Arguments)
				if mon.reconnect && !mon.queried {
					bad("C1", "%s %s on a monitor opened after %q, before any query-jobs: the client acts on what it believed before the connection was lost", rq.Execute, job, disruption)
				}
				if c, _ := sim.ParseVerbCommand(rq.Execute); c.Verb == fsm.VerbDismiss && !outcomeRead[job] {
					bad("C4", "%s %s before the client read the job's outcome (a BLOCK_JOB_COMPLETED or BLOCK_JOB_CANCELLED event, or query-jobs showing it concluded): the outcome is gone with the job", rq.Execute, job)
				}
			case jobCreators[rq.Execute]:
				var a map[string]any
				_ = json.Unmarshal(rq.Arguments, &a)
				if v, ok := a["auto-dismiss"].(bool); !ok || v {
					bad("C5", "%s without \"auto-dismiss\": false: if the connection drops before the final event, the job and its outcome vanish and no query can recover them", rq.Execute)
				}
			}
			continue
		}
		if m.Fate != "" {
			continue // not delivered (yet)
		}
		var rp reply
		if json.Unmarshal(m.Raw, &rp) != nil || rp.QMP != nil {
			continue
		}
		if rp.Event != "" {
			id, _ := rp.Data["id"].(string)
			if id == "" {
				id, _ = rp.Data["device"].(string)
			}
			switch rp.Event {
			case "JOB_STATUS_CHANGE":
				st, _ := rp.Data["status"].(string)
				mon.status[id] = st
			case "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED":
				outcomeRead[id] = true
			}
			continue
		}
		if len(mon.pending) == 0 {
			continue
		}
		rq := mon.pending[0]
		mon.pending = mon.pending[1:]
		if rp.Error != nil && isJobVerb(rq.Execute) {
			if sm := refusedVerb.FindStringSubmatch(rp.Error.Desc); sm != nil && mon.status[sm[1]] == sm[2] {
				bad("C3", "%s %s was refused (%q) although the monitor had been told the job is %s: the client acted on an event that was not about this job's state", rq.Execute, sm[1], rp.Error.Desc, sm[2])
			}
		}
		if rp.Error == nil && (rq.Execute == "query-jobs" || rq.Execute == "query-block-jobs") {
			var l []struct {
				ID, Device, Status string
			}
			_ = json.Unmarshal(rp.Return, &l)
			for _, j := range l {
				id := j.ID
				if id == "" {
					id = j.Device
				}
				mon.status[id] = j.Status
				if j.Status == "concluded" {
					outcomeRead[id] = true
				}
			}
		}
	}
	return out
}

// Report is the violations, the faults that fired, the run's timeline and
// the end of the transcript, for a failing test's log.
func (s *Server) Report() string {
	var b strings.Builder
	log := s.in.Log()
	for _, v := range s.check.violations(log) {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	if len(log) > 0 {
		b.WriteString("faults:\n")
		for _, r := range log {
			fmt.Fprintf(&b, "  %d %s\n", r.Seq, r)
		}
	}
	msgs := s.check.messages()
	if tl := s.timeline(msgs, log); tl != "" {
		b.WriteString("timeline (events as the server produced them; faults and client commands between):\n")
		b.WriteString(tl)
	}
	b.WriteString("transcript (monitor, direction, message):\n")
	start := 0
	if len(msgs) > 60 {
		start = len(msgs) - 60
		fmt.Fprintf(&b, "  ... %d earlier messages\n", start)
	}
	for _, m := range msgs[start:] {
		dir := "<-"
		if m.FromClient {
			dir = "->"
		}
		fate := ""
		if m.Fate != "" {
			fate = "  [" + m.Fate + "]"
		}
		fmt.Fprintf(&b, "  %d m%d %s %s%s\n", m.Seq, m.Monitor, dir, bytes.TrimSpace(m.Raw), fate)
	}
	return b.String()
}

// timeline draws the events as the simulator produced them, with the
// client's job commands and the faults placed between them.
func (s *Server) timeline(msgs []faults.Message, log []faults.Record) string {
	s.check.mu.Lock()
	events := append([]sim.Event(nil), s.check.events...)
	evSeq := append([]int(nil), s.check.evSeq...)
	s.check.mu.Unlock()
	if len(events) == 0 {
		return ""
	}
	type mark struct {
		seq int
		cmd timeline.Command
	}
	var marks []mark
	// pending[monitor] holds, oldest first, the marks of that monitor's
	// requests still unanswered (-1 for a request drawn nowhere): QEMU
	// answers a monitor's requests in order, so each answer belongs to the
	// oldest, and a refused command is drawn FAILED with QEMU's text.
	pending := map[int][]int{}
	for _, m := range msgs {
		if !m.FromClient {
			var rs struct {
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Desc string `json:"desc"`
				} `json:"error"`
			}
			q := pending[m.Monitor]
			if len(q) == 0 || json.Unmarshal(m.Raw, &rs) != nil || (rs.Return == nil && rs.Error == nil) {
				continue // an event or the greeting
			}
			if q[0] >= 0 && rs.Error != nil {
				marks[q[0]].cmd.Error = rs.Error.Desc
			}
			pending[m.Monitor] = q[1:]
			continue
		}
		var rq request
		if json.Unmarshal(m.Raw, &rq) != nil || !(isJobVerb(rq.Execute) || jobCreators[rq.Execute]) {
			pending[m.Monitor] = append(pending[m.Monitor], -1)
			continue
		}
		pending[m.Monitor] = append(pending[m.Monitor], len(marks))
		job := jobOf(rq.Arguments)
		if jobCreators[rq.Execute] {
			var a struct {
				JobID string `json:"job-id"`
			}
			_ = json.Unmarshal(rq.Arguments, &a)
			job = a.JobID
		}
		marks = append(marks, mark{m.Seq, timeline.Command{Op: fmt.Sprintf("m%d %s", m.Monitor, rq.Execute), Job: job}})
	}
	for _, r := range log {
		marks = append(marks, mark{r.Seq, timeline.Command{Op: fmt.Sprintf("FAULT %s", r.Kind), Job: r.Job, Detail: r.Detail}})
	}
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].seq < marks[j].seq })
	run := timeline.Run{Events: events}
	for _, mk := range marks {
		mk.cmd.EventSeq = sort.SearchInts(evSeq, mk.seq)
		if mk.cmd.EventSeq < len(events) {
			mk.cmd.Time = events[mk.cmd.EventSeq].Time
		} else {
			mk.cmd.Time = events[len(events)-1].Time
		}
		run.Commands = append(run.Commands, mk.cmd)
	}
	var b strings.Builder
	if timeline.Text(&b, run) != nil {
		return ""
	}
	return b.String()
}
