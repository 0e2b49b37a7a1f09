package fsm

// This file is the canonical transition table of jobfsm: the one place where
// a status change or a verb is declared legal. Everything else (the stateless
// machines, Permits/Allows, the TLA+ JobTable module, the spec tables and the
// diagrams) is derived from the two slices below.

// Guard names a condition a rule needs besides the current status. Guards read
// the job through the Subject interface.
type Guard uint8

const (
	// NoGuard: the rule applies whenever the trigger fires in a From status.
	NoGuard Guard = iota
	// GuardAutoDismissOrUnstarted: the job was created with auto-dismiss, or
	// it never started (job_conclude_locked dismisses those regardless).
	GuardAutoDismissOrUnstarted
)

func (g Guard) String() string {
	switch g {
	case GuardAutoDismissOrUnstarted:
		return "auto-dismiss || !started"
	}
	return ""
}

// Rule says: in any of the From statuses, Trigger moves the job to To (To may
// equal a From status: a self-transition, which emits no event), provided the
// Guard holds.
type Rule struct {
	Trigger Trigger
	From    []Status
	To      Status
	Guard   Guard
	// Source names the QEMU 7.2 function that performs the change.
	Source string
}

// rules is QEMU 7.2's JobSTT (job.c), edge by edge, grouped by the function
// that drives each edge. Its edge set is exactly JobSTT's 20 edges.
var rules = []Rule{
	{TriggerCreate, []Status{Undefined}, Created, NoGuard, "job_create"},
	{TriggerStart, []Status{Created}, Running, NoGuard, "job_start"},
	{TriggerPausePoint, []Status{Running}, Paused, NoGuard, "job_pause_point_locked"},
	{TriggerPausePoint, []Status{Ready}, Standby, NoGuard, "job_pause_point_locked"},
	{TriggerUnpause, []Status{Paused}, Running, NoGuard, "job_pause_point_locked"},
	{TriggerUnpause, []Status{Standby}, Ready, NoGuard, "job_pause_point_locked"},
	{TriggerReady, []Status{Running}, Ready, NoGuard, "job_transition_to_ready"},
	{TriggerRunSucceeded, []Status{Running, Ready}, Waiting, NoGuard, "job_completed_txn_success_locked"},
	{TriggerAllMembersDone, []Status{Waiting}, Pending, NoGuard, "job_transition_to_pending_locked"},
	{TriggerRunFailed, []Status{Running, Ready}, Aborting, NoGuard, "job_update_rc_locked"},
	{TriggerCancelUnstarted, []Status{Created}, Aborting, NoGuard, "job_cancel_locked -> job_completed_locked"},
	{TriggerAbort, []Status{Waiting, Pending, Aborting}, Aborting, NoGuard, "job_update_rc_locked"},
	{TriggerPrepareFailed, []Status{Pending}, Aborting, NoGuard, "job_do_finalize_locked"},
	{TriggerConclude, []Status{Pending, Aborting}, Concluded, NoGuard, "job_conclude_locked"},
	{TriggerAutoDismiss, []Status{Concluded}, Null, GuardAutoDismissOrUnstarted, "job_conclude_locked"},
	{TriggerDismiss, []Status{Concluded}, Null, NoGuard, "job_do_dismiss_locked"},
	{TriggerEarlyFail, []Status{Created}, Null, NoGuard, "job_early_fail"},
}

// verbRules is QEMU 7.2's JobVerbTable (job.c): the statuses in which each
// verb is accepted. In 7.2 complete is accepted in ready and standby.
var verbRules = [numVerbs][]Status{
	VerbCancel:   {Created, Running, Paused, Ready, Standby, Waiting, Pending},
	VerbPause:    {Created, Running, Paused, Ready, Standby},
	VerbResume:   {Created, Running, Paused, Ready, Standby},
	VerbSetSpeed: {Created, Running, Paused, Ready, Standby},
	VerbComplete: {Ready, Standby},
	VerbDismiss:  {Concluded},
	VerbFinalize: {Pending},
}

// Rules returns a copy of the declarative table, in table order.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.From = append([]Status(nil), r.From...)
		out[i] = r
	}
	return out
}
