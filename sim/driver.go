package sim

import "github.com/jobfsm/jobfsm/internal/errno"

// JobType is QAPI JobType. Only backup, commit, mirror and stream are block
// jobs (emit BLOCK_JOB_* events and appear in query-block-jobs).
type JobType string

const (
	TypeCommit         JobType = "commit"
	TypeStream         JobType = "stream"
	TypeMirror         JobType = "mirror"
	TypeBackup         JobType = "backup"
	TypeCreate         JobType = "create"
	TypeAmend          JobType = "amend"
	TypeSnapshotLoad   JobType = "snapshot-load"
	TypeSnapshotSave   JobType = "snapshot-save"
	TypeSnapshotDelete JobType = "snapshot-delete"
)

// IsBlockJob reports whether t is a block job type (blockjob.c is_block_job).
func (t JobType) IsBlockJob() bool {
	switch t {
	case TypeBackup, TypeCommit, TypeMirror, TypeStream:
		return true
	}
	return false
}

// Driver is a job's driver: the body of its run coroutine plus optional
// callbacks (Preparer, Committer, Aborter, Cleaner, Canceler, Completer,
// Freer), as in QEMU's JobDriver. Drivers never block and never read the
// wall clock: Run does one slice of work and says what the job does next.
type Driver interface {
	// Type is the job type reported in queries and events.
	Type() JobType
	// Run performs one slice of the job's run. The manager calls it when the
	// job starts and each time the job continues after a Step, always after
	// passing a pause point.
	Run(j *Job) Step
}

// Preparer is JobDriver.prepare: run for each member of a successful
// transaction before any member commits; an error aborts the transaction.
type Preparer interface{ Prepare(j *Job) error }

// Committer is JobDriver.commit (success).
type Committer interface{ Commit(j *Job) }

// Aborter is JobDriver.abort (failure or cancel).
type Aborter interface{ Abort(j *Job) }

// Cleaner is JobDriver.clean, after commit or abort.
type Cleaner interface{ Clean(j *Job) }

// Canceler is JobDriver.cancel: it returns the effective force. Drivers
// without it are always force-cancelled.
type Canceler interface{ Cancel(j *Job, force bool) bool }

// Completer is JobDriver.complete (mirror and active commit only).
type Completer interface{ Complete(j *Job) error }

// Freer is called when the job is dismissed and freed (block_job_free):
// the block layer drops the job's op blockers and node references.
type Freer interface{ Free(j *Job) }

type stepKind uint8

const (
	stepContinue stepKind = iota
	stepSleep
	stepYield
	stepAwaitLoop
	stepFinish
)

// Step is what a job does after one slice of Run.
type Step struct {
	kind stepKind
	ns   int64
	err  error
}

// Continue yields to the loop with a request in flight and, when it
// completes at the same virtual time, passes a pause point and runs the
// next slice (an I/O completion followed by job_pause_point). While in
// flight the job is busy: commands do not enter it.
func Continue() Step { return Step{kind: stepContinue} }

// Sleep waits ns of virtual time, then passes a pause point (job_sleep_ns).
// A pause request or a kick wakes the job early.
func Sleep(ns int64) Step { return Step{kind: stepSleep, ns: ns} }

// Yield waits until the job is entered (job_yield): by a kick, a pause
// request, a cancel or a resume; then passes a pause point.
func Yield() Step { return Step{kind: stepYield} }

// AwaitLoop waits, still busy, for something the main loop runs at the same
// virtual time, then runs the next slice with no pause point on either
// side: a coroutine that calls bdrv_drained_begin yields to a bottom half
// (bdrv_co_yield_to_drain) and resumes from it. Commands cannot enter the
// job meanwhile (job_enter_cond_locked does nothing to a busy job), so
// whatever the job does next comes after the command's return.
func AwaitLoop() Step { return Step{kind: stepAwaitLoop} }

// Finish ends the run (the driver's run returned). err == nil is ret 0; a
// *JobError (or any error, taken as EIO) is the job's failure.
func Finish(err error) Step { return Step{kind: stepFinish, err: err} }

// JobError is a driver's failure: errno is the job's -ret, Msg its error text
// (empty: strerror(errno), as job_update_rc_locked does).
type JobError struct {
	Errno errno.Errno
	Msg   string
}

func (e *JobError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return e.Errno.String()
}

// OnError is BlockdevOnError, a block job's error policy.
type OnError string

const (
	OnErrorReport OnError = "report"
	OnErrorIgnore OnError = "ignore"
	OnErrorEnospc OnError = "enospc"
	OnErrorStop   OnError = "stop"
	OnErrorAuto   OnError = "auto"
)

// ParseOnError validates a policy name.
func ParseOnError(s string) (OnError, bool) {
	switch p := OnError(s); p {
	case OnErrorReport, OnErrorIgnore, OnErrorEnospc, OnErrorStop, OnErrorAuto:
		return p, true
	}
	return "", false
}

// ErrorAction is BlockErrorAction, what a job does about one I/O error.
type ErrorAction string

const (
	ActionReport ErrorAction = "report"
	ActionIgnore ErrorAction = "ignore"
	ActionStop   ErrorAction = "stop"
)

// Decide maps a policy and an errno to an action (block_job_error_action).
func (p OnError) Decide(e errno.Errno) ErrorAction {
	switch p {
	case OnErrorIgnore:
		return ActionIgnore
	case OnErrorStop:
		return ActionStop
	case OnErrorEnospc, OnErrorAuto:
		if e == errno.ENOSPC {
			return ActionStop
		}
		return ActionReport
	}
	return ActionReport
}

// IOStatus is BlockDeviceIoStatus as a job reports it.
type IOStatus string

const (
	IOStatusOK      IOStatus = "ok"
	IOStatusFailed  IOStatus = "failed"
	IOStatusNoSpace IOStatus = "nospace"
)
