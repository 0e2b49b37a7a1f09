package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// MaxLogSize bounds the files Load accepts.
const MaxLogSize = 64 << 20

// LoadError is a malformed log, with the line (1-based, 0 when the whole
// document is at fault) where it went wrong.
type LoadError struct {
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Load reads a recorded run in any of the forms jobfsm writes or reads:
//
//   - NDJSON of sim.TraceRecord ({"t":…,"op":"trigger"|"verb",…}), as the
//     manager's Tracer option and jobsim trace write it (jobsim trace's
//     {"op":"config"} header is skipped): status changes become
//     JOB_STATUS_CHANGE events (the self-transition emits none, as in QEMU)
//     and verbs become commands, refused ones with their error;
//   - NDJSON of events, either sim.Event's JSON form or QMP's
//     {"event": NAME, "data": {…}};
//   - one JSON object with an "events" array in either form (jobsim run
//     --format json output, a scenario result, a QEMU transcript from
//     qemu-transcripts/) and optionally "commands" (timeline.Command).
func Load(data []byte) (Run, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Run{}, &LoadError{0, "empty log"}
	}
	if len(data) > MaxLogSize {
		return Run{}, &LoadError{0, fmt.Sprintf("log larger than %d bytes", MaxLogSize)}
	}
	if data[0] == '{' {
		var doc struct {
			Name     string            `json:"name"`
			Events   []json.RawMessage `json:"events"`
			Commands []Command         `json:"commands"`
		}
		// A whole-document parse succeeds only for a single object; NDJSON
		// has more than one value and falls through.
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&doc); err == nil && !dec.More() && doc.Events != nil {
			if len(doc.Events) == 0 && len(doc.Commands) == 0 {
				return Run{}, &LoadError{0, "no events or trace records"}
			}
			r := Run{Title: doc.Name, Commands: doc.Commands}
			for i, raw := range doc.Events {
				e, err := parseEvent(raw)
				if err != nil {
					return Run{}, &LoadError{0, fmt.Sprintf("events[%d]: %v", i, err)}
				}
				e.Seq = uint64(i)
				r.Events = append(r.Events, e)
			}
			return r, nil
		}
	} else {
		return Run{}, &LoadError{1, "not JSON: want NDJSON trace records or events, or a JSON object with \"events\""}
	}
	return loadNDJSON(data)
}

func loadNDJSON(data []byte) (Run, error) {
	var r Run
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var probe struct {
			Op    *string `json:"op"`
			Event *string `json:"event"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return Run{}, &LoadError{ln, fmt.Sprintf("not a JSON object: %v", err)}
		}
		switch {
		case probe.Op != nil && *probe.Op == "config":
			// jobsim trace's header: the run's bounds, for TLA+ trace
			// validation; nothing to draw.
			continue
		case probe.Op != nil:
			var tr struct {
				sim.TraceRecord
				// Fields of the records jobsim trace adds for TLA+ trace
				// validation (drains, monitors, forced cancels).
				Action string `json:"action"`
				Mon    *int   `json:"mon"`
				Force  bool   `json:"force"`
			}
			if err := json.Unmarshal(line, &tr); err != nil {
				return Run{}, &LoadError{ln, fmt.Sprintf("bad trace record: %v", err)}
			}
			c := Command{Op: tr.Op, Job: tr.Job, Time: tr.Time, EventSeq: len(r.Events), Error: tr.Err}
			switch tr.Op {
			case "trigger":
				if tr.Err != "" || tr.From == tr.To {
					continue // refused trigger or the silent aborting self-transition
				}
				r.Events = append(r.Events, sim.Event{Seq: uint64(len(r.Events)), Time: tr.Time, Name: sim.EventJobStatusChange, Job: tr.Job, Status: tr.To})
				continue
			case "verb":
				c.Op = tr.Verb
				if tr.Force {
					c.Detail = "force"
				}
			case "drain":
				c.Op = "drain-" + tr.Action
			case "monitor":
				if tr.Mon != nil {
					c.Op = fmt.Sprintf("monitor %d %s", *tr.Mon, tr.Action)
				} else {
					c.Op = "monitor " + tr.Action
				}
			case "":
				return Run{}, &LoadError{ln, "trace record without an op"}
			default:
				// Another kind of step: shown as a command named after it.
				if tr.Action != "" {
					c.Op += " " + tr.Action
				}
			}
			r.Commands = append(r.Commands, c)
		case probe.Event != nil:
			e, err := parseEvent(line)
			if err != nil {
				return Run{}, &LoadError{ln, err.Error()}
			}
			e.Seq = uint64(len(r.Events))
			r.Events = append(r.Events, e)
		default:
			return Run{}, &LoadError{ln, `neither a trace record ("op") nor an event ("event")`}
		}
	}
	if err := sc.Err(); err != nil {
		return Run{}, &LoadError{0, err.Error()}
	}
	if len(r.Events) == 0 && len(r.Commands) == 0 {
		return Run{}, &LoadError{0, "no events or trace records"}
	}
	return r, nil
}

// parseEvent accepts sim.Event's JSON form and QMP's {"event", "data"}.
func parseEvent(raw []byte) (sim.Event, error) {
	var q struct {
		Event string         `json:"event"`
		Data  map[string]any `json:"data"`
		Time  int64          `json:"time_ns"` // jobsim's JSON; absent in QMP
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return sim.Event{}, err
	}
	if q.Event == "" {
		return sim.Event{}, fmt.Errorf("event without a name")
	}
	if q.Data == nil {
		var e sim.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return sim.Event{}, err
		}
		if e.Job == "" {
			return sim.Event{}, fmt.Errorf("%s without a job", e.Name)
		}
		return e, nil
	}
	e := sim.Event{Name: sim.EventName(q.Event), Time: q.Time}
	str := func(k string) string { s, _ := q.Data[k].(string); return s }
	num := func(k string) int64 { f, _ := q.Data[k].(float64); return int64(f) }
	switch e.Name {
	case sim.EventJobStatusChange:
		e.Job = str("id")
		s, ok := fsm.ParseStatus(str("status"))
		if !ok {
			return sim.Event{}, fmt.Errorf("unknown job status %q", str("status"))
		}
		e.Status = s
	case sim.EventBlockJobPending:
		e.Job, e.Type = str("id"), sim.JobType(str("type"))
	case sim.EventBlockJobError:
		e.Job, e.Operation, e.Action = str("device"), str("operation"), sim.ErrorAction(str("action"))
	case sim.EventBlockJobReady, sim.EventBlockJobCompleted, sim.EventBlockJobCancelled:
		e.Job, e.Type = str("device"), sim.JobType(str("type"))
		e.Len, e.Offset, e.Speed = num("len"), num("offset"), num("speed")
		if _, ok := q.Data["error"]; ok {
			e.HasError, e.Error = true, str("error")
		}
	default:
		return sim.Event{}, fmt.Errorf("unknown event %q", q.Event)
	}
	if e.Job == "" {
		return sim.Event{}, fmt.Errorf("%s without a job id", e.Name)
	}
	return e, nil
}
