package sim

// Planted bugs, for the mutation proof only (model/harness TestPlantedBugsAreCaught).
// Each names one known-wrong behaviour that a few `if plantedBug(...)` call
// sites in the manager can switch on. In every normal build plantedBug is a
// constant false (bugs_off.go) and the compiler drops those branches; only a
// test binary built with -tags jobfsm_mutation can enable one, selected by
// the JOBFSM_PLANTED_BUG environment variable (bugs_on.go).
type plantedBugID uint8

const (
	bugNone plantedBugID = iota
	// finalize is accepted (and does nothing) in status waiting.
	bugFinalizeInWaiting
	// a transaction abort does not force-cancel the other members.
	bugTxnMemberNotAborted
	// auto-dismiss is ignored: concluded jobs stay until job-dismiss.
	bugAutoDismissIgnored
	// a pause point in ready goes to paused instead of standby.
	bugReadyPausesToPaused
	// the driver commits (changes the graph) when the transaction reaches
	// pending, before job-finalize.
	bugCommitBeforeFinalize
	// BLOCK_JOB_PENDING is emitted with auto-finalize on too.
	bugPendingEventAlways
	// complete is accepted after a cancel request.
	bugCompleteAfterCancel
	// a dismissed job's id stays reserved (and findable).
	bugIDNotReleased
	numPlantedBugs
)

var plantedBugNames = [numPlantedBugs]string{
	"", "finalize-in-waiting", "txn-member-not-aborted", "auto-dismiss-ignored",
	"ready-pauses-to-paused", "commit-before-finalize", "pending-event-always",
	"complete-after-cancel", "id-not-released",
}
