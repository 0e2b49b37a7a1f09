package fsm

import (
	"context"
	"fmt"

	"github.com/qmuntal/stateless"
)

// Subject is what a Machine needs from the job it drives: the job's own
// status (the machine keeps none of its own) and the flags its guards read.
type Subject interface {
	Status() Status
	SetStatus(Status)
	AutoDismiss() bool
	Started() bool
}

// verbTrigger keeps verbs apart from internal triggers inside stateless.
type verbTrigger Verb

// String names the verb in stateless's DOT rendering ("verb pause").
func (v verbTrigger) String() string { return "verb " + Verb(v).String() }

// Machine is one job's state machine: a stateless.StateMachine configured
// from the canonical table, reading and writing the Subject's status.
type Machine struct {
	sm   *stateless.StateMachine
	subj Subject
}

// TransitionError reports a trigger fired in a status where the table does
// not allow it (in QEMU an assert() in job_state_transition_locked).
type TransitionError struct {
	Trigger Trigger
	From    Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("fsm: trigger %s is not allowed in status %s", e.Trigger, e.From)
}

// NewMachine returns a machine for subj, configured from the canonical table.
func NewMachine(subj Subject) *Machine {
	sm := stateless.NewStateMachineWithExternalStorage(
		func(context.Context) (stateless.State, error) { return subj.Status(), nil },
		func(_ context.Context, s stateless.State) error { subj.SetStatus(s.(Status)); return nil },
		stateless.FiringImmediate)
	configure(sm, subj)
	return &Machine{sm: sm, subj: subj}
}

func guardFunc(g Guard, subj Subject) []stateless.GuardFunc {
	switch g {
	case GuardAutoDismissOrUnstarted:
		return []stateless.GuardFunc{func(context.Context, ...any) bool {
			return subj.AutoDismiss() || !subj.Started()
		}}
	}
	return nil
}

func configure(sm *stateless.StateMachine, subj Subject) {
	for _, r := range rules {
		for _, from := range r.From {
			c := sm.Configure(from)
			if from == r.To {
				c.PermitReentry(r.Trigger, guardFunc(r.Guard, subj)...)
			} else {
				c.Permit(r.Trigger, r.To, guardFunc(r.Guard, subj)...)
			}
		}
	}
	noop := func(context.Context, ...any) error { return nil }
	for v, in := range verbRules {
		for _, s := range in {
			sm.Configure(s).InternalTransition(verbTrigger(v), noop)
		}
	}
	// Every status is configured, so the graph lists null and undefined too.
	for _, s := range Statuses() {
		sm.Configure(s)
	}
}

// Fire applies trigger t to the job. It returns the status before and after;
// before == after for the aborting self-transition. When the table does not
// allow t in the current status (or its guard fails), nothing changes and the
// error is a *TransitionError.
func (m *Machine) Fire(t Trigger) (from, to Status, err error) {
	from = m.subj.Status()
	if err := m.sm.Fire(t); err != nil {
		return from, from, &TransitionError{Trigger: t, From: from}
	}
	return from, m.subj.Status(), nil
}

// CanFire reports whether trigger t is allowed now (guards included).
func (m *Machine) CanFire(t Trigger) bool {
	ok, _ := m.sm.CanFire(t)
	return ok
}

// Accepts reports whether the table accepts verb v in the job's status.
func (m *Machine) Accepts(v Verb) bool {
	ok, _ := m.sm.CanFire(verbTrigger(v))
	return ok
}

// CheckVerb returns nil if verb v is accepted in the job's current status and
// otherwise QEMU's rejection (job_apply_verb_locked) as a *VerbError.
func (m *Machine) CheckVerb(id string, v Verb) error {
	if m.Accepts(v) {
		return nil
	}
	return &VerbError{ID: id, Status: m.subj.Status(), Verb: v}
}

// Graph returns the machine in Graphviz DOT, as stateless renders it.
func (m *Machine) Graph() string { return m.sm.ToGraph() }

// VerbError is QEMU's rejection of a verb in the wrong status
// (job.c job_apply_verb_locked). Class GenericError.
type VerbError struct {
	ID     string
	Status Status
	Verb   Verb
}

func (e *VerbError) Error() string {
	return fmt.Sprintf("Job '%s' in state '%s' cannot accept command verb '%s'", e.ID, e.Status, e.Verb)
}

// QMPClass is the QMP error class: GenericError.
func (e *VerbError) QMPClass() string { return "GenericError" }

// probe is a Subject used once, at init, to read the table back out of a
// stateless machine; the derived matrices below are what Permits and Allows
// consult, so they answer without allocating and are safe for concurrent use.
type probe struct {
	s                    Status
	autoDismiss, started bool
}

func (p *probe) Status() Status     { return p.s }
func (p *probe) SetStatus(s Status) { p.s = s }
func (p *probe) AutoDismiss() bool  { return p.autoDismiss }
func (p *probe) Started() bool      { return p.started }

var (
	permits [numStatuses][numVerbs]bool
	allows  [numStatuses][numStatuses]bool
)

func init() {
	p := &probe{autoDismiss: true}
	m := NewMachine(p)
	for s := range numStatuses {
		for v := range numVerbs {
			p.s = s
			permits[s][v] = m.Accepts(v)
		}
		for t := range numTriggers {
			p.s = s
			if m.CanFire(t) {
				_, to, err := m.Fire(t)
				if err == nil {
					allows[s][to] = true
				}
			}
		}
	}
}

// Permits reports whether JobVerbTable accepts verb v in status s.
func Permits(s Status, v Verb) bool {
	return s < numStatuses && v < numVerbs && permits[s][v]
}

// Allows reports whether from -> to is a JobSTT edge.
func Allows(from, to Status) bool {
	return from < numStatuses && to < numStatuses && allows[from][to]
}

// Transition is one JobSTT edge.
type Transition struct {
	From Status `json:"from"`
	To   Status `json:"to"`
}

// Transitions returns every JobSTT edge, ordered by From then To (QAPI order).
func Transitions() []Transition {
	var out []Transition
	for f := range numStatuses {
		for t := range numStatuses {
			if allows[f][t] {
				out = append(out, Transition{f, t})
			}
		}
	}
	return out
}

// AcceptingStatuses returns the statuses in which verb v is accepted, in QAPI order.
func AcceptingStatuses(v Verb) []Status {
	var out []Status
	for s := range numStatuses {
		if Permits(s, v) {
			out = append(out, s)
		}
	}
	return out
}
