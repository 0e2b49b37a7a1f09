package fsm

import "fmt"

// Status is a job's status, QAPI JobStatus. The numeric order is QAPI's.
type Status uint8

// The statuses in QAPI enum order (qapi/job.json).
const (
	Undefined Status = iota
	Created
	Running
	Paused
	Ready
	Standby
	Waiting
	Pending
	Aborting
	Concluded
	Null
	numStatuses
)

var statusNames = [numStatuses]string{
	"undefined", "created", "running", "paused", "ready", "standby",
	"waiting", "pending", "aborting", "concluded", "null",
}

// String returns the QAPI name, e.g. "standby".
func (s Status) String() string {
	if s < numStatuses {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// MarshalText encodes a status as its QAPI name.
func (s Status) MarshalText() ([]byte, error) {
	if s >= numStatuses {
		return nil, fmt.Errorf("fsm: invalid status %d", uint8(s))
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText decodes a QAPI status name.
func (s *Status) UnmarshalText(b []byte) error {
	v, ok := ParseStatus(string(b))
	if !ok {
		return fmt.Errorf("fsm: unknown job status %q", b)
	}
	*s = v
	return nil
}

// ParseStatus returns the status with QAPI name name.
func ParseStatus(name string) (Status, bool) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), true
		}
	}
	return 0, false
}

// Statuses returns every status in QAPI order.
func Statuses() []Status {
	out := make([]Status, numStatuses)
	for i := range out {
		out[i] = Status(i)
	}
	return out
}

// IsCompleted reports whether the job's run has finished (job.c
// job_is_completed): waiting, pending, aborting, concluded or null.
func (s Status) IsCompleted() bool {
	switch s {
	case Waiting, Pending, Aborting, Concluded, Null:
		return true
	}
	return false
}

// IsReady reports whether the job is ready or standby (job_is_ready).
func (s Status) IsReady() bool { return s == Ready || s == Standby }

// Verb is a QMP command verb, QAPI JobVerb. The numeric order is QAPI's.
// QEMU 7.2 has the first seven; change (block-job-change) came in 8.2, so a
// version's Table says which verbs it knows (Table.Verbs).
type Verb uint8

// The verbs in QAPI enum order (qapi/job.json).
const (
	VerbCancel Verb = iota
	VerbPause
	VerbResume
	VerbSetSpeed
	VerbComplete
	VerbDismiss
	VerbFinalize
	VerbChange
	numVerbs
)

var verbNames = [numVerbs]string{"cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize", "change"}

// String returns the QAPI name, e.g. "set-speed".
func (v Verb) String() string {
	if v < numVerbs {
		return verbNames[v]
	}
	return fmt.Sprintf("Verb(%d)", uint8(v))
}

// ParseVerb returns the verb with QAPI name name among DefaultVersion's verbs
// (so not change, which QEMU 7.2 does not know); Table.ParseVerb answers for
// another version.
func ParseVerb(name string) (Verb, bool) { return defaultTable.ParseVerb(name) }

// Verbs returns DefaultVersion's verbs in QAPI order (Table.Verbs for
// another version).
func Verbs() []Verb { return defaultTable.Verbs() }

// Trigger is an internal event that moves a job from one status to another.
// Each is named after what happens in QEMU, and each names the job.c function
// that performs it.
type Trigger uint8

const (
	TriggerCreate          Trigger = iota // job_create: undefined -> created
	TriggerStart                          // job_start: created -> running
	TriggerPausePoint                     // job_pause_point with pause_count > 0: running -> paused, ready -> standby
	TriggerUnpause                        // leaving the pause point: paused -> running, standby -> ready
	TriggerReady                          // job_transition_to_ready: running -> ready
	TriggerRunSucceeded                   // job_completed_txn_success: running|ready -> waiting
	TriggerAllMembersDone                 // job_transition_to_pending, once every txn member completed: waiting -> pending
	TriggerRunFailed                      // job_update_rc with ret != 0 after run: running|ready -> aborting
	TriggerCancelUnstarted                // job_cancel of a job never started: created -> aborting
	TriggerAbort                          // txn abort or late -ECANCELED in finalize: waiting|pending|aborting -> aborting
	TriggerPrepareFailed                  // job_prepare returned an error: pending -> aborting
	TriggerConclude                       // job_conclude (from job_finalize_single): pending|aborting -> concluded
	TriggerAutoDismiss                    // job_conclude when auto-dismiss is set or the job never started: concluded -> null
	TriggerDismiss                        // job_do_dismiss on job-dismiss or cancel of a concluded job: concluded -> null
	TriggerEarlyFail                      // job_early_fail, creation failed after job_create: created -> null
	numTriggers
)

var triggerNames = [numTriggers]string{
	"create", "start", "pause-point", "unpause", "ready", "run-succeeded",
	"all-members-done", "run-failed", "cancel-unstarted", "abort",
	"prepare-failed", "conclude", "auto-dismiss", "dismiss", "early-fail",
}

// String returns the trigger's name, e.g. "pause-point".
func (t Trigger) String() string {
	if t < numTriggers {
		return triggerNames[t]
	}
	return fmt.Sprintf("Trigger(%d)", uint8(t))
}

// ParseTrigger returns the trigger with the given name.
func ParseTrigger(name string) (Trigger, bool) {
	for i, n := range triggerNames {
		if n == name {
			return Trigger(i), true
		}
	}
	return 0, false
}

// Triggers returns every internal trigger.
func Triggers() []Trigger {
	out := make([]Trigger, numTriggers)
	for i := range out {
		out[i] = Trigger(i)
	}
	return out
}
