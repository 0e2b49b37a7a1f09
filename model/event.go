package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

// Kind is what an Event is: one of QEMU's job events, or a driver callback
// (which is not a QMP event but tells when the driver's graph changes
// happen, invariant I9).
type Kind uint8

const (
	EvStatus    Kind = iota // JOB_STATUS_CHANGE
	EvReady                 // BLOCK_JOB_READY
	EvCompleted             // BLOCK_JOB_COMPLETED
	EvCancelled             // BLOCK_JOB_CANCELLED
	EvPending               // BLOCK_JOB_PENDING
	EvError                 // BLOCK_JOB_ERROR
	EvCall                  // a driver callback: prepare, commit, abort, clean, free, complete, change
	EvUnknown               // an event name the model does not know: it refuses every such event
)

var kindNames = [...]string{"JOB_STATUS_CHANGE", "BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED",
	"BLOCK_JOB_CANCELLED", "BLOCK_JOB_PENDING", "BLOCK_JOB_ERROR", "call"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Event is one observation, in the model's own terms.
type Event struct {
	Kind   Kind
	Job    string
	Status fsm.Status // EvStatus
	// EvCompleted: the optional error member.
	HasError bool
	Error    string
	// EvReady, EvCompleted, EvCancelled: progress and speed at emission.
	Len, Offset, Speed int64
	// EvError: "read"/"write" and "ignore"/"report"/"stop".
	Op, Action string
	// EvCall: the callback's name.
	Call string
}

func (e Event) String() string {
	switch e.Kind {
	case EvStatus:
		return e.Job + " " + e.Status.String()
	case EvCompleted:
		if e.HasError {
			return fmt.Sprintf("COMPLETED %s error=%q", e.Job, e.Error)
		}
		return "COMPLETED " + e.Job
	case EvCancelled:
		return "CANCELLED " + e.Job
	case EvReady:
		return "READY " + e.Job
	case EvPending:
		return "PENDING " + e.Job
	case EvError:
		return "ERROR " + e.Job + " " + e.Op + " " + e.Action
	case EvCall:
		return e.Job + "." + e.Call + "()"
	}
	return e.Kind.String() + " " + e.Job
}

// want is an event the model requires next. errs, for a COMPLETED with an
// error, lists the texts the model allows; job is narrowed to the one seen.
type want struct {
	ev   Event
	errs []string
	job  *Job
}

func (w want) String() string {
	if w.ev.Kind == EvCompleted && w.ev.HasError {
		return fmt.Sprintf("COMPLETED %s error in {%s}", w.ev.Job, quoteAll(w.errs))
	}
	return w.ev.String()
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// matches reports whether e is the wanted event. Progress is not predicted
// (the invariants check it); speed is.
func (w want) matches(e Event) bool {
	x := w.ev
	if x.Kind != e.Kind || x.Job != e.Job {
		return false
	}
	switch x.Kind {
	case EvStatus:
		return x.Status == e.Status
	case EvCompleted:
		if x.HasError != e.HasError || x.Speed != e.Speed {
			return false
		}
		return !x.HasError || slices.Contains(w.errs, e.Error)
	case EvReady, EvCancelled:
		return x.Speed == e.Speed
	case EvCall:
		return x.Call == e.Call
	}
	return true
}
