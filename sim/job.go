package sim

import (
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
)

// Job is one background job. Its status is stored here and changed only by
// firing triggers through its fsm.Machine. Fields mirror QEMU's Job and
// BlockJob (job.h, blockjob.h).
type Job struct {
	m       *Manager
	id      string
	driver  Driver
	machine *fsm.Machine
	txn     *Txn
	status  fsm.Status

	autoFinalize, autoDismiss bool

	started        bool // job_start ran (job->co != NULL in QEMU)
	pauseCount     int
	userPaused     bool
	paused         bool // sitting in a pause point
	busy           bool
	cancelled      bool // cancel requested, soft or forced
	forceCancelled bool // job_is_cancelled
	deferred       bool // deferred_to_main_loop: run finished, exit queued or done
	completed      bool // job_completed_locked ran
	finalized      bool // job_finalize_single_locked ran

	ret    errno.Errno // 0 or the positive errno of job->ret
	err    string
	hasErr bool

	speed           int64
	progress, total int64
	iostatus        IOStatus
	blockJob        bool

	// waiting on the clock or for an enter
	sleep     *entry
	waitEnter bool // yielded (job_yield) or sleeping: job_enter may enter
	inPause   bool // yielded inside a pause point
	// exit is the queued job_exit bottom half while the run has finished
	// and job_completed has not yet run.
	exit *entry

	prev, next       *Job
	txnPrev, txnNext *Job

	// Data is private to the driver; the manager never reads it.
	Data any
}

// Status returns the job's status.
func (j *Job) Status() fsm.Status { return j.status }

// AutoDismiss reports whether the job was created with auto-dismiss on.
func (j *Job) AutoDismiss() bool { return j.autoDismiss }

// Started reports whether job_start ran.
func (j *Job) Started() bool { return j.started }

// machineView is the job as its fsm.Machine sees it (fsm.Subject). It is a
// separate type so that setting the status stays out of Job's public API:
// only the machine, firing a trigger the table allows, changes it.
type machineView Job

func (v *machineView) Status() fsm.Status     { return v.status }
func (v *machineView) SetStatus(s fsm.Status) { v.status = s }
func (v *machineView) AutoDismiss() bool      { return v.autoDismiss }
func (v *machineView) Started() bool          { return v.started }

// ID returns the job id.
func (j *Job) ID() string { return j.id }

// Type returns the job type.
func (j *Job) Type() JobType { return j.driver.Type() }

// Driver returns the job's driver.
func (j *Job) Driver() Driver { return j.driver }

// Manager returns the manager that owns the job.
func (j *Job) Manager() *Manager { return j.m }

// Txn returns the job's transaction (nil once it left it in finalize).
func (j *Job) Txn() *Txn { return j.txn }

// AutoFinalize reports the auto-finalize creation flag.
func (j *Job) AutoFinalize() bool { return j.autoFinalize }

// UserPaused reports whether the job is paused by the user (or by an error
// policy's stop).
func (j *Job) UserPaused() bool { return j.userPaused }

// PauseCount is QEMU's pause_count: user pause plus internal (drain) pauses.
func (j *Job) PauseCount() int { return j.pauseCount }

// IsCancelled reports a forced cancel (job_is_cancelled): drivers stop.
func (j *Job) IsCancelled() bool { return j.forceCancelled }

// CancelRequested reports any cancel request, soft or forced
// (job_cancel_requested).
func (j *Job) CancelRequested() bool { return j.cancelled }

// Speed is the job's speed limit in bytes per second (0: unlimited).
func (j *Job) Speed() int64 { return j.speed }

// Progress returns current and total progress.
func (j *Job) Progress() (current, total int64) { return j.progress, j.total }

// SetProgressTotal sets the progress total (progress_set_remaining style
// drivers call it as they learn the size).
func (j *Job) SetProgressTotal(total int64) { j.total = total }

// AddProgress advances current progress by n.
func (j *Job) AddProgress(n int64) { j.progress += n }

// AddProgressTotal grows the progress total by n (job_progress_increase_remaining).
func (j *Job) AddProgressTotal(n int64) { j.total += n }

// IOStatus returns the job's io-status.
func (j *Job) IOStatus() IOStatus { return j.iostatus }

// Result returns the job's errno (0 on success) and error text.
func (j *Job) Result() (errno.Errno, string, bool) { return j.ret, j.err, j.hasErr }

// Now is the virtual time in nanoseconds.
func (j *Job) Now() int64 { return j.m.eng.now }

// Rand is the manager's seeded generator, for drivers that need chance.
func (j *Job) Rand() uint64 { return j.m.eng.rng.Uint64() }

// Busy is QEMU's busy flag.
func (j *Job) Busy() bool { return j.busy }

// IsPaused reports whether the job sits at a pause point.
func (j *Job) IsPaused() bool { return j.paused }

// Deferred reports that the run has finished (deferred_to_main_loop).
func (j *Job) Deferred() bool { return j.deferred }

// Finalized reports that the job went through commit or abort.
func (j *Job) Finalized() bool { return j.finalized }
