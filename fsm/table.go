package fsm

// This file is the canonical transition table of jobfsm: the one place where
// a status change or a verb is declared legal. Everything else (the stateless
// machines, Permits/Allows, the TLA+ JobTable modules, the spec tables and the
// diagrams) is derived from the data below, one Table per QEMU version.

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
	// Source names the QEMU function that performs the change.
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

// verbRow is one row of JobVerbTable: the statuses in which a verb is
// accepted, and the QEMU function that checks it.
type verbRow struct {
	verb   Verb
	in     []Status
	source string
}

// setSpeedStatuses is where set-speed is accepted; 10.0's change row is the
// same set (job.c JobVerbTable: the two rows are identical).
var setSpeedStatuses = []Status{Created, Running, Paused, Ready, Standby}

// verbRows72 is QEMU 7.2's JobVerbTable (job.c), in QAPI JobVerb order: the
// statuses in which each verb is accepted. In 7.2 complete is accepted in
// ready and standby.
var verbRows72 = []verbRow{
	{VerbCancel, []Status{Created, Running, Paused, Ready, Standby, Waiting, Pending}, "job_cancel_locked"},
	{VerbPause, []Status{Created, Running, Paused, Ready, Standby}, "job_user_pause_locked"},
	{VerbResume, []Status{Created, Running, Paused, Ready, Standby}, "job_user_resume_locked"},
	{VerbSetSpeed, setSpeedStatuses, "block_job_set_speed_locked"},
	{VerbComplete, []Status{Ready, Standby}, "job_complete_locked"},
	{VerbDismiss, []Status{Concluded}, "job_dismiss_locked"},
	{VerbFinalize, []Status{Pending}, "job_finalize_locked"},
}

// versionTables is every version's table as data: the trigger rules (JobSTT,
// unchanged since 7.2: fsm/testdata/qemu-10.0_jobstt.txt) and the verb rows.
// QEMU 10.0's JobVerbTable is 7.2's plus the row change (JOB_VERB_CHANGE,
// since 8.2), which block_job_change_locked checks through
// job_apply_verb_locked, accepted exactly where set-speed is.
var versionTables = [numVersions]struct {
	rules []Rule
	verbs []verbRow
	// tlaModule names the TLA+ module Render("tla") writes: TLA+ module
	// names cannot contain dots, and 7.2's keeps the name it always had.
	tlaModule string
}{
	QEMU7_2: {rules, verbRows72, "JobTable"},
	QEMU10_0: {rules, append(verbRows72[:len(verbRows72):len(verbRows72)],
		verbRow{VerbChange, setSpeedStatuses, "block_job_change_locked"}), "JobTable10_0"},
}

// Rules returns a copy of DefaultVersion's declarative table, in table order.
func Rules() []Rule { return defaultTable.Rules() }
