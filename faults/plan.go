package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/sim"
)

// Plan is a parsed, valid fault plan.
type Plan struct {
	// Seed draws every probabilistic rule; the same seed replays the same
	// faults for the same traffic.
	Seed  uint64
	Rules []Rule
}

// Kind names what a rule does.
type Kind string

const (
	KindDrop    Kind = "drop"
	KindDelay   Kind = "delay"
	KindClose   Kind = "close"
	KindRestart Kind = "restart"
	KindIO      Kind = "io"
)

// Rule is one fault. Which fields matter depends on Kind.
type Rule struct {
	Kind Kind
	// Event, Job and Monitor select the events a drop or delay rule acts on
	// and, for close and restart, the event before which they fire. Empty
	// Job and zero Monitor match any; monitors are numbered from 1 in the
	// order their connections were accepted.
	Event   string
	Job     string
	Monitor int
	// Probability that a matching message triggers the rule (default 1).
	Probability float64
	// Count is how many times the rule may fire (0: no limit).
	Count int
	// Messages is a delay's length: the event goes out after this many
	// further messages on its monitor.
	Messages int
	// AfterMessages makes close and restart fire once the monitor has sent
	// this many messages (the greeting counts).
	AfterMessages int
	// I/O fault (Kind io): I/O touching [Offset, Offset+Length) on Node
	// fails with Errno; Op is read, write or any; Once disarms it after
	// one failure.
	Node   string
	Offset int64
	Length int64
	Op     string
	Errno  int64
	Once   bool
}

// String is the rule as the log shows it.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(string(r.Kind))
	add := func(k string, v any) { fmt.Fprintf(&b, " %s=%v", k, v) }
	if r.Event != "" {
		add("event", r.Event)
	}
	if r.Job != "" {
		add("job", r.Job)
	}
	if r.Monitor != 0 {
		add("monitor", r.Monitor)
	}
	if r.Messages != 0 {
		add("messages", r.Messages)
	}
	if r.AfterMessages != 0 {
		add("after_messages", r.AfterMessages)
	}
	if r.Kind == KindIO {
		add("node", r.Node)
		add("offset", r.Offset)
		add("length", r.Length)
		add("op", r.Op)
		add("errno", r.Errno)
	}
	return b.String()
}

// PlanError is a bad plan: Field is the path of the offending member, as
// in rules[2].drop.event.
type PlanError struct {
	Field string
	Msg   string
}

func (e *PlanError) Error() string {
	if e.Field == "" {
		return "faults: " + e.Msg
	}
	return "faults: " + e.Field + ": " + e.Msg
}

// KnownEvents are the event names a rule may name: the job events QEMU
// 7.2 emits and jobsim simulates.
var KnownEvents = []string{
	string(sim.EventJobStatusChange), string(sim.EventBlockJobReady),
	string(sim.EventBlockJobCompleted), string(sim.EventBlockJobCancelled),
	string(sim.EventBlockJobPending), string(sim.EventBlockJobError),
}

func knownEvent(s string) bool {
	return slices.Contains(KnownEvents, s)
}

// Load reads and parses a plan file.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &PlanError{Msg: err.Error()}
	}
	return Parse(data)
}

// Parse checks a plan and returns it; the error is a *PlanError naming the
// first bad field.
func Parse(data []byte) (*Plan, error) {
	top, err := object(data, "")
	if err != nil {
		return nil, err
	}
	if err := top.only("seed", "rules"); err != nil {
		return nil, err
	}
	p := &Plan{}
	if _, ok := top.m["seed"]; ok {
		n, err := top.int("seed", 0, 0)
		if err != nil {
			return nil, err
		}
		p.Seed = uint64(n)
	}
	raw, ok := top.m["rules"]
	if !ok {
		return nil, &PlanError{"rules", "missing"}
	}
	var rules []json.RawMessage
	if err := json.Unmarshal(raw, &rules); err != nil {
		return nil, &PlanError{"rules", "must be a list of rules"}
	}
	for i, rr := range rules {
		r, err := parseRule(rr, fmt.Sprintf("rules[%d]", i))
		if err != nil {
			return nil, err
		}
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

func parseRule(data json.RawMessage, path string) (Rule, error) {
	o, err := object(data, path)
	if err != nil {
		return Rule{}, err
	}
	if len(o.m) != 1 {
		return Rule{}, &PlanError{path, "must have exactly one of drop, delay, close, restart, io"}
	}
	var kind string
	for k := range o.m {
		kind = k
	}
	fields := map[Kind][]string{
		KindDrop:    {"event", "job", "monitor", "probability", "count"},
		KindDelay:   {"event", "job", "monitor", "probability", "count", "messages"},
		KindClose:   {"before_event", "job", "monitor", "after_messages", "probability", "count"},
		KindRestart: {"before_event", "job", "monitor", "after_messages", "probability", "count"},
		KindIO:      {"node", "offset", "length", "op", "errno", "once", "probability"},
	}
	allowed, ok := fields[Kind(kind)]
	if !ok {
		return Rule{}, &PlanError{path + "." + kind, "unknown fault (want drop, delay, close, restart or io)"}
	}
	path += "." + kind
	b, err := object(o.m[kind], path)
	if err != nil {
		return Rule{}, err
	}
	if err := b.only(allowed...); err != nil {
		return Rule{}, err
	}
	r := Rule{Kind: Kind(kind), Probability: 1}
	if r.Job, err = b.str("job"); err != nil {
		return r, err
	}
	if r.Monitor, err = b.int("monitor", 0, 0); err != nil {
		return r, err
	}
	if r.Count, err = b.int("count", 0, 0); err != nil {
		return r, err
	}
	if _, ok := b.m["probability"]; ok {
		if err := json.Unmarshal(b.m["probability"], &r.Probability); err != nil || r.Probability < 0 || r.Probability > 1 {
			return r, &PlanError{path + ".probability", "must be a number from 0 to 1"}
		}
	}
	eventField := "event"
	if r.Kind == KindClose || r.Kind == KindRestart {
		eventField = "before_event"
	}
	if r.Event, err = b.str(eventField); err != nil {
		return r, err
	}
	if r.Event != "" && !knownEvent(r.Event) {
		return r, &PlanError{path + "." + eventField, fmt.Sprintf("unknown event %q", r.Event)}
	}
	switch r.Kind {
	case KindDrop:
		if r.Event == "" && r.Job == "" {
			return r, &PlanError{path, "needs event or job (dropping every message is not a fault, it is a dead monitor: use close)"}
		}
	case KindDelay:
		if r.Messages, err = b.int("messages", 0, 1); err != nil {
			return r, err
		}
		if _, ok := b.m["messages"]; !ok {
			return r, &PlanError{path + ".messages", "missing"}
		}
	case KindClose, KindRestart:
		if r.AfterMessages, err = b.int("after_messages", 0, 1); err != nil {
			return r, err
		}
		_, hasAfter := b.m["after_messages"]
		if hasAfter == (r.Event != "") {
			return r, &PlanError{path, "needs exactly one of after_messages and before_event"}
		}
		if hasAfter && r.Job != "" {
			return r, &PlanError{path + ".job", "only with before_event"}
		}
	case KindIO:
		if r.Node, err = b.str("node"); err != nil {
			return r, err
		}
		if r.Node == "" {
			return r, &PlanError{path + ".node", "missing"}
		}
		if _, ok := b.m["offset"]; !ok {
			return r, &PlanError{path + ".offset", "missing"}
		}
		var n int
		if n, err = b.int("offset", 0, 0); err != nil {
			return r, err
		}
		r.Offset = int64(n)
		if n, err = b.int("length", 1, 1); err != nil {
			return r, err
		}
		r.Length = int64(n)
		if n, err = b.int("errno", int(errno.EIO), 1); err != nil {
			return r, err
		}
		r.Errno = int64(n)
		if r.Op, err = b.str("op"); err != nil {
			return r, err
		}
		switch r.Op {
		case "":
			r.Op = "any"
		case "read", "write", "any":
		default:
			return r, &PlanError{path + ".op", fmt.Sprintf("must be read, write or any, not %q", r.Op)}
		}
		if raw, ok := b.m["once"]; ok {
			if err := json.Unmarshal(raw, &r.Once); err != nil {
				return r, &PlanError{path + ".once", "must be true or false"}
			}
		}
	}
	return r, nil
}

// NeedsSocket names the first rule that only works on a socket (closing a
// connection, restarting), or "" when the plan also works on stdio.
func (p *Plan) NeedsSocket() string {
	for i, r := range p.Rules {
		if r.Kind == KindClose || r.Kind == KindRestart {
			return fmt.Sprintf("rules[%d].%s", i, r.Kind)
		}
	}
	return ""
}

// obj is a JSON object being checked, with its path for errors.
type obj struct {
	path string
	m    map[string]json.RawMessage
}

func object(data []byte, path string) (obj, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil || m == nil {
		what := path
		if what == "" {
			return obj{}, &PlanError{"", "a plan must be a JSON object with \"rules\""}
		}
		return obj{}, &PlanError{what, "must be an object"}
	}
	return obj{path, m}, nil
}

func (o obj) field(k string) string {
	if o.path == "" {
		return k
	}
	return o.path + "." + k
}

func (o obj) only(allowed ...string) error {
	keys := slices.Sorted(maps.Keys(o.m))
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return &PlanError{o.field(k), "unknown field (want one of " + strings.Join(allowed, ", ") + ")"}
		}
	}
	return nil
}

func (o obj) str(k string) (string, error) {
	raw, ok := o.m[k]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &PlanError{o.field(k), "must be a string"}
	}
	return s, nil
}

// int reads an integer no smaller than min; def when it is absent.
func (o obj) int(k string, def, min int) (int, error) {
	raw, ok := o.m[k]
	if !ok {
		return def, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, &PlanError{o.field(k), "must be an integer"}
	}
	if n < int64(min) {
		return 0, &PlanError{o.field(k), fmt.Sprintf("must be at least %d", min)}
	}
	return int(n), nil
}
