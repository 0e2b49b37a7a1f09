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

// Machine is one job's handle on its version's shared state machine: the
// job's status lives in the Subject, the configured table in the one
// stateless machine every job of that QEMU version fires through.
type Machine struct {
	ctx   subjectContext
	table *Table
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

// newSharedMachine returns a stateless machine configured from t's rules and
// verb rows. It is configured once, when the Table is built, and never again:
// stateless's fires only read its configuration (every status is configured,
// so no lookup adds one), and the immediate firing mode keeps no queue, so
// concurrent fires on different jobs are safe.
func newSharedMachine(t *Table) *stateless.StateMachine {
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
	configure(sm, t)
	return sm
}

// NewMachine returns the machine of the job subj under DefaultVersion's
// table (Table.NewMachine for another version).
func NewMachine(subj Subject) *Machine { return defaultTable.NewMachine(subj) }

// NewMachine returns the machine of the job subj under this table.
func (t *Table) NewMachine(subj Subject) *Machine {
	return &Machine{ctx: subjectContext{Context: context.Background(), subj: subj}, table: t}
}

// Table returns the table the machine fires through.
func (m *Machine) Table() *Table { return m.table }

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

func configure(sm *stateless.StateMachine, t *Table) {
	for _, r := range t.rules {
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
	for _, row := range t.verbRows {
		for _, s := range row.in {
			sm.Configure(s).InternalTransition(verbTrigger(row.verb), noop)
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
	if err := m.table.sm.FireCtx(&m.ctx, t); err != nil {
		return from, from, &TransitionError{Trigger: t, From: from}
	}
	return from, m.ctx.subj.Status(), nil
}

// CanFire reports whether trigger t is allowed now (guards included).
func (m *Machine) CanFire(t Trigger) bool {
	ok, _ := m.table.sm.CanFireCtx(&m.ctx, t)
	return ok
}

// Accepts reports whether the table accepts verb v in the job's status.
func (m *Machine) Accepts(v Verb) bool {
	ok, _ := m.table.sm.CanFireCtx(&m.ctx, verbTrigger(v))
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
