package fsm

import (
	"fmt"

	"github.com/qmuntal/stateless"
)

// Table is one QEMU version's lifecycle: its JobSTT (the trigger rules) and
// its JobVerbTable (the verb rows), configured once on its own stateless
// machine that every job of that version fires through. Tables are built at
// init from versionTables and never change, so every method is safe for
// concurrent use. For returns the table of a version.
type Table struct {
	version   Version
	rules     []Rule
	verbRows  []verbRow
	verbs     []Verb // the verbs the version knows, in QAPI order
	tlaModule string
	sm        *stateless.StateMachine

	// The matrices below are read back out of sm once, at build time (see
	// probe), so Permits, Allows and Target answer without allocating.
	permits [numStatuses][numVerbs]bool
	allows  [numStatuses][numStatuses]bool
	// targets[s][t] is where trigger t takes a job in status s, plus one:
	// zero means the table has no rule for t in s.
	targets [numStatuses][numTriggers]uint8
}

// tables holds every version's Table, indexed by Version.
var tables = buildTables()

// defaultTable is DefaultVersion's: the one the package-level functions
// (Permits, Allows, NewMachine, Render, ...) answer for.
var defaultTable = tables[DefaultVersion]

func buildTables() (out [numVersions]*Table) {
	for v := range numVersions {
		d := versionTables[v]
		t := &Table{version: v, rules: d.rules, verbRows: d.verbs, tlaModule: d.tlaModule}
		for verb := range numVerbs {
			for _, row := range d.verbs {
				if row.verb == verb {
					t.verbs = append(t.verbs, verb)
				}
			}
		}
		t.sm = newSharedMachine(t)
		t.probe()
		out[v] = t
	}
	return out
}

// For returns the table of QEMU version v. v must be one of Versions() (as
// ParseVersion and the Version flag guarantee); any other value is a bug in
// the caller, and For panics naming it.
func For(v Version) *Table {
	if v >= numVersions {
		panic(fmt.Sprintf("fsm.For(%s): not a version jobfsm speaks", v))
	}
	return tables[v]
}

// Version returns the QEMU version whose table this is.
func (t *Table) Version() Version { return t.version }

// Verbs returns the verbs this version knows, in QAPI order: seven in 7.2,
// eight (with change) in 10.0.
func (t *Table) Verbs() []Verb { return append([]Verb(nil), t.verbs...) }

// ParseVerb returns the verb with QAPI name name, if this version knows it.
func (t *Table) ParseVerb(name string) (Verb, bool) {
	for _, v := range t.verbs {
		if v.String() == name {
			return v, true
		}
	}
	return 0, false
}

// Rules returns a copy of the declarative trigger rules, in table order.
func (t *Table) Rules() []Rule {
	out := make([]Rule, len(t.rules))
	for i, r := range t.rules {
		r.From = append([]Status(nil), r.From...)
		out[i] = r
	}
	return out
}

// probe is a Subject used once per table, at build time, to read the table
// back out of its stateless machine into the matrices Permits, Allows and
// Target consult.
type probe struct {
	s                    Status
	autoDismiss, started bool
}

func (p *probe) Status() Status     { return p.s }
func (p *probe) SetStatus(s Status) { p.s = s }
func (p *probe) AutoDismiss() bool  { return p.autoDismiss }
func (p *probe) Started() bool      { return p.started }

func (t *Table) probe() {
	p := &probe{autoDismiss: true}
	m := t.NewMachine(p)
	for s := range numStatuses {
		for v := range numVerbs {
			p.s = s
			t.permits[s][v] = m.Accepts(v)
		}
		for tr := range numTriggers {
			p.s = s
			if m.CanFire(tr) {
				_, to, err := m.Fire(tr)
				if err == nil {
					t.allows[s][to] = true
					t.targets[s][tr] = uint8(to) + 1
				}
			}
		}
	}
}

// Target returns the status trigger tr takes a job in status s to, and false
// when the table has no rule for tr in s. It is the table's answer with every
// guard holding: a job's Machine also asks the guard (auto-dismiss reads the
// job's flags).
func (t *Table) Target(s Status, tr Trigger) (Status, bool) {
	if s >= numStatuses || tr >= numTriggers || t.targets[s][tr] == 0 {
		return s, false
	}
	return Status(t.targets[s][tr] - 1), true
}

// Drainable reports whether a job in status s can enter a drained section
// (child_job_drained_begin). A drained section is job_pause_locked, the same
// pause the pause verb applies, and it matters exactly where that verb is
// accepted: until the job completes, while a pause point can still park it.
func (t *Table) Drainable(s Status) bool { return t.Permits(s, VerbPause) }

// InPause reports whether a job in status s sits in a pause point (paused or
// standby): the statuses the unpause trigger leaves.
func (t *Table) InPause(s Status) bool {
	_, ok := t.Target(s, TriggerUnpause)
	return ok
}

// Permits reports whether this version's JobVerbTable accepts verb v in
// status s; false for a verb the version does not know.
func (t *Table) Permits(s Status, v Verb) bool {
	return s < numStatuses && v < numVerbs && t.permits[s][v]
}

// Allows reports whether from -> to is a JobSTT edge.
func (t *Table) Allows(from, to Status) bool {
	return from < numStatuses && to < numStatuses && t.allows[from][to]
}

// Transitions returns every JobSTT edge, ordered by From then To (QAPI order).
func (t *Table) Transitions() []Transition {
	var out []Transition
	for f := range numStatuses {
		for to := range numStatuses {
			if t.allows[f][to] {
				out = append(out, Transition{f, to})
			}
		}
	}
	return out
}

// AcceptingStatuses returns the statuses in which verb v is accepted, in QAPI
// order; none for a verb the version does not know.
func (t *Table) AcceptingStatuses(v Verb) []Status {
	var out []Status
	for s := range numStatuses {
		if t.Permits(s, v) {
			out = append(out, s)
		}
	}
	return out
}

// Transition is one JobSTT edge.
type Transition struct {
	From Status `json:"from"`
	To   Status `json:"to"`
}

// The package-level functions below answer for DefaultVersion (QEMU 7.2);
// For(v) gives the same questions for another version.

// Target is For(DefaultVersion).Target.
func Target(s Status, t Trigger) (Status, bool) { return defaultTable.Target(s, t) }

// Drainable is For(DefaultVersion).Drainable.
func Drainable(s Status) bool { return defaultTable.Drainable(s) }

// InPause is For(DefaultVersion).InPause.
func InPause(s Status) bool { return defaultTable.InPause(s) }

// Permits is For(DefaultVersion).Permits: whether QEMU 7.2's JobVerbTable
// accepts verb v in status s.
func Permits(s Status, v Verb) bool { return defaultTable.Permits(s, v) }

// Allows is For(DefaultVersion).Allows: whether from -> to is a JobSTT edge.
func Allows(from, to Status) bool { return defaultTable.Allows(from, to) }

// Transitions is For(DefaultVersion).Transitions.
func Transitions() []Transition { return defaultTable.Transitions() }

// AcceptingStatuses is For(DefaultVersion).AcceptingStatuses.
func AcceptingStatuses(v Verb) []Status { return defaultTable.AcceptingStatuses(v) }
