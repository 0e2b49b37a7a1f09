package fsm

import (
	"context"
	"errors"
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

// Machine is one job's handle on the shared state machine: the job's status
// lives in the Subject, the configured table in the one stateless machine
// every job fires through.
type Machine struct {
	ctx subjectContext
}

// subjectContext is the context a Machine fires with. stateless hands the
// context given to FireCtx to the state accessor, the mutator and the guards,
// so the shared machine finds the job there. It is a Machine's own field, so
// firing allocates nothing (context.WithValue would allocate on every fire).
type subjectContext struct {
	context.Context
	subj Subject
}

// subjectOf returns the job a fire is about; nil for any other context (as
// when stateless renders the graph with context.Background).
func subjectOf(ctx context.Context) Subject {
	if c, ok := ctx.(*subjectContext); ok {
		return c.subj
	}
	return nil
}

// errNoSubject is what the shared machine's mutator returns when asked to
// change a status with no job in the context; only a bug in fsm reaches it.
var errNoSubject = errors.New("fsm: no job in the firing context")

// shared is the one stateless machine configured from the table. It is
// configured once, at init, and never again: stateless's fires only read its
// configuration (every status is configured, so no lookup adds one), and the
// immediate firing mode keeps no queue, so concurrent fires on different jobs
// are safe.
var shared = newSharedMachine()

func newSharedMachine() *stateless.StateMachine {
	sm := stateless.NewStateMachineWithExternalStorage(
		func(ctx context.Context) (stateless.State, error) {
			if subj := subjectOf(ctx); subj != nil {
				return subj.Status(), nil
			}
			// The status before job_create: where the rendered graph starts.
			return Undefined, nil
		},
		func(ctx context.Context, s stateless.State) error {
			subj := subjectOf(ctx)
			if subj == nil {
				return errNoSubject
			}
			subj.SetStatus(s.(Status))
			return nil
		},
		stateless.FiringImmediate)
	configure(sm)
	return sm
}

// NewMachine returns the machine of the job subj.
func NewMachine(subj Subject) *Machine {
	return &Machine{ctx: subjectContext{Context: context.Background(), subj: subj}}
}

// autoDismissOrUnstarted is GuardAutoDismissOrUnstarted; stateless shows the
// function's name in the rendered graph.
func autoDismissOrUnstarted(ctx context.Context, _ ...any) bool {
	subj := subjectOf(ctx)
	return subj != nil && (subj.AutoDismiss() || !subj.Started())
}

func guardFunc(g Guard) []stateless.GuardFunc {
	switch g {
	case GuardAutoDismissOrUnstarted:
		return []stateless.GuardFunc{autoDismissOrUnstarted}
	}
	return nil
}

func configure(sm *stateless.StateMachine) {
	for _, r := range rules {
		for _, from := range r.From {
			c := sm.Configure(from)
			if from == r.To {
				c.PermitReentry(r.Trigger, guardFunc(r.Guard)...)
			} else {
				c.Permit(r.Trigger, r.To, guardFunc(r.Guard)...)
			}
		}
	}
	noop := func(context.Context, ...any) error { return nil }
	for v, in := range verbRules {
		for _, s := range in {
			sm.Configure(s).InternalTransition(verbTrigger(v), noop)
		}
	}
	// Every status is configured, so the graph lists null and undefined too
	// and no fire ever adds a status to the shared configuration.
	for _, s := range Statuses() {
		sm.Configure(s)
	}
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

// Fire applies trigger t to the job. It returns the status before and after;
// before == after for the aborting self-transition. When the table does not
// allow t in the current status (or its guard fails), nothing changes and the
// error is a *TransitionError.
func (m *Machine) Fire(t Trigger) (from, to Status, err error) {
	from = m.ctx.subj.Status()
	if err := shared.FireCtx(&m.ctx, t); err != nil {
		return from, from, &TransitionError{Trigger: t, From: from}
	}
	return from, m.ctx.subj.Status(), nil
}

// CanFire reports whether trigger t is allowed now (guards included).
func (m *Machine) CanFire(t Trigger) bool {
	ok, _ := shared.CanFireCtx(&m.ctx, t)
	return ok
}

// Accepts reports whether the table accepts verb v in the job's status.
func (m *Machine) Accepts(v Verb) bool {
	ok, _ := shared.CanFireCtx(&m.ctx, verbTrigger(v))
	return ok
}

// CheckVerb returns nil if verb v is accepted in the job's current status and
// otherwise QEMU's rejection (job_apply_verb_locked) as a *VerbError.
func (m *Machine) CheckVerb(id string, v Verb) error {
	if m.Accepts(v) {
		return nil
	}
	return &VerbError{ID: id, Status: m.ctx.subj.Status(), Verb: v}
}

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
	// targets[s][t] is where trigger t takes a job in status s, plus one:
	// zero means the table has no rule for t in s.
	targets [numStatuses][numTriggers]uint8
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
					targets[s][t] = uint8(to) + 1
				}
			}
		}
	}
}

// Target returns the status trigger t takes a job in status s to, and false
// when the table has no rule for t in s. It is the table's answer with every
// guard holding: a job's Machine also asks the guard (auto-dismiss reads the
// job's flags).
func Target(s Status, t Trigger) (Status, bool) {
	if s >= numStatuses || t >= numTriggers || targets[s][t] == 0 {
		return s, false
	}
	return Status(targets[s][t] - 1), true
}

// Drainable reports whether a job in status s can enter a drained section
// (child_job_drained_begin). A drained section is job_pause_locked, the same
// pause the pause verb applies, and it matters exactly where that verb is
// accepted: until the job completes, while a pause point can still park it.
func Drainable(s Status) bool { return Permits(s, VerbPause) }

// InPause reports whether a job in status s sits in a pause point (paused or
// standby): the statuses the unpause trigger leaves.
func InPause(s Status) bool {
	_, ok := Target(s, TriggerUnpause)
	return ok
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
