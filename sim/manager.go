package sim

import (
	"errors"
	"fmt"
	"math"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qemuid"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// Options configure a Manager.
type Options struct {
	// Seed selects the interleaving of work due at the same virtual time.
	Seed uint64
	// Version is the QEMU version whose behaviour the manager follows
	// (zero: fsm.DefaultVersion, QEMU 7.2).
	Version fsm.Version
	// Tracer, when set, receives every trigger fired and every verb tried,
	// in order (the NDJSON trace that tla/TraceJobLifecycle.tla checks).
	Tracer func(TraceRecord)
}

// TraceRecord is one step of the manager, for trace validation.
type TraceRecord struct {
	Time    int64      `json:"t"`
	Op      string     `json:"op"` // "trigger" or "verb"
	Job     string     `json:"job"`
	Trigger string     `json:"trigger,omitempty"`
	Verb    string     `json:"verb,omitempty"`
	From    fsm.Status `json:"from"`
	To      fsm.Status `json:"to"`
	Err     string     `json:"err,omitempty"`
}

// Manager owns every job, the transactions, the virtual clock and the event
// subscribers. It is not safe for concurrent use: one goroutine drives it,
// which is what makes a run deterministic.
type Manager struct {
	eng    engine
	opts   Options
	head   *Job // newest job first, as QEMU's global job list
	byID   map[string]*Job
	subs   []*subscriber
	nextTx int
	// cmd is the command being executed (see command.go).
	cmd commandScope
}

// New returns an empty manager at virtual time 0.
func New(opts Options) *Manager {
	return &Manager{eng: newEngine(opts.Seed), opts: opts, byID: map[string]*Job{}}
}

// Now is the virtual time in nanoseconds.
func (m *Manager) Now() int64 { return m.eng.now }

// Txn is a job transaction (QEMU JobTxn). Jobs created without one each get
// their own (completion-mode individual).
type Txn struct {
	id       int
	head     *Job // members, newest first (QLIST_INSERT_HEAD)
	n        int  // members
	nDone    int  // members whose status is completed (job_is_completed)
	nManual  int  // members with auto-finalize off
	aborting bool
}

// NewTxn returns an empty transaction for grouped completion.
func (m *Manager) NewTxn() *Txn {
	m.nextTx++
	return &Txn{id: m.nextTx}
}

// ID is the transaction's number, unique within its manager.
func (t *Txn) ID() int { return t.id }

// Members returns the transaction's jobs in list order (newest first).
func (t *Txn) Members() []*Job {
	var out []*Job
	for j := t.head; j != nil; j = j.txnNext {
		out = append(out, j)
	}
	return out
}

// Aborting reports whether the transaction has started aborting.
func (t *Txn) Aborting() bool { return t.aborting }

// JobSpec describes a job to create.
type JobSpec struct {
	ID     string
	Driver Driver
	// Txn groups the job with others (completion-mode grouped); nil gives
	// the job a transaction of its own.
	Txn *Txn
	// ManualFinalize and ManualDismiss are QMP's auto-finalize=false and
	// auto-dismiss=false (JOB_MANUAL_FINALIZE, JOB_MANUAL_DISMISS); the zero
	// value is QEMU's default.
	ManualFinalize, ManualDismiss bool
	Speed                         int64
}

// CheckNewID returns job_create's error for id, or nil if a job may be
// created with it.
func (m *Manager) CheckNewID(id string) error {
	if !qemuid.WellFormed(id) {
		return qerr.Generic("Invalid job ID '%s'", id)
	}
	if _, dup := m.byID[id]; dup {
		return qerr.Generic("Job ID '%s' already in use", id)
	}
	return nil
}

// Create creates a job in status created (job_create, then block_job_create's
// speed setting). A negative speed early-fails the job: its created and null
// events are emitted and the error is returned.
func (m *Manager) Create(spec JobSpec) (*Job, error) {
	if spec.Driver == nil {
		return nil, fmt.Errorf("sim: job %q has no driver", spec.ID)
	}
	if err := m.CheckNewID(spec.ID); err != nil {
		return nil, err
	}
	j := &Job{
		m: m, id: spec.ID, driver: spec.Driver,
		autoFinalize: !spec.ManualFinalize, autoDismiss: !spec.ManualDismiss,
		pauseCount: 1, paused: true, iostatus: IOStatusOK,
		blockJob: spec.Driver.Type().IsBlockJob(),
	}
	// The job fires through its manager's QEMU version's table.
	j.machine = fsm.For(m.Version()).NewMachine((*machineView)(j))
	j.next = m.head
	if m.head != nil {
		m.head.prev = j
	}
	m.head = j
	m.byID[j.id] = j
	t := spec.Txn
	if t == nil {
		t = m.NewTxn()
	}
	t.add(j)
	m.fire(j, fsm.TriggerCreate)
	if spec.Speed < 0 {
		m.EarlyFail(j)
		return nil, errNegativeSpeed
	}
	j.speed = spec.Speed
	return j, nil
}

var errNegativeSpeed = qerr.Generic("Parameter 'speed' expects a non-negative value")

// Start starts a created job (job_start) and enters its run at once, as
// aio_co_enter does from the main loop: it runs until it first waits.
func (m *Manager) Start(j *Job) error {
	if !j.machine.CanFire(fsm.TriggerStart) {
		return fmt.Errorf("sim: job %q cannot start in status %s", j.id, j.status)
	}
	j.pauseCount--
	j.busy = true
	j.paused = false
	j.started = true
	m.fire(j, fsm.TriggerStart)
	// job_co_entry: a pause point, then run.
	if m.pausePoint(j) {
		return nil
	}
	m.runSlices(j)
	return nil
}

// EarlyFail dismisses a created job whose creation failed after job_create
// (job_early_fail): created -> null.
func (m *Manager) EarlyFail(j *Job) {
	m.doDismiss(j, fsm.TriggerEarlyFail)
}

// Job returns the job with id, or nil.
func (m *Manager) Job(id string) *Job { return m.byID[id] }

// Jobs returns every job, newest first (QEMU's list order).
func (m *Manager) Jobs() []*Job {
	var out []*Job
	for j := m.head; j != nil; j = j.next {
		out = append(out, j)
	}
	return out
}

// fire applies trigger t through the job's machine and emits
// JOB_STATUS_CHANGE for a real change. A refused trigger is a bug in the
// manager (an assert() in QEMU) and panics.
func (m *Manager) fire(j *Job, t fsm.Trigger) {
	from, to, err := j.machine.Fire(t)
	if err != nil {
		panic(fmt.Sprintf("sim: job %q: %v", j.id, err))
	}
	if m.opts.Tracer != nil {
		m.opts.Tracer(TraceRecord{Time: m.eng.now, Op: "trigger", Job: j.id, Trigger: t.String(), From: from, To: to})
	}
	if tx := j.txn; tx != nil && from.IsCompleted() != to.IsCompleted() {
		if to.IsCompleted() {
			tx.nDone++
		} else {
			tx.nDone--
		}
	}
	if from != to {
		m.emit(Event{Name: EventJobStatusChange, Job: j.id, Status: to})
	}
}

func (t *Txn) add(j *Job) {
	j.txn = t
	j.txnNext = t.head
	if t.head != nil {
		t.head.txnPrev = j
	}
	t.head = j
	t.n++
	if j.status.IsCompleted() {
		t.nDone++
	}
	if !j.autoFinalize {
		t.nManual++
	}
}

func (t *Txn) remove(j *Job) {
	if j.txn != t {
		return
	}
	if j.txnPrev != nil {
		j.txnPrev.txnNext = j.txnNext
	} else {
		t.head = j.txnNext
	}
	if j.txnNext != nil {
		j.txnNext.txnPrev = j.txnPrev
	}
	j.txnPrev, j.txnNext, j.txn = nil, nil, nil
	t.n--
	if j.status.IsCompleted() {
		t.nDone--
	}
	if !j.autoFinalize {
		t.nManual--
	}
}

// --- the run coroutine ---------------------------------------------------

// pausePoint is job_pause_point_locked: if the job should pause and is not
// force-cancelled it moves to paused (standby when ready) and yields; it
// reports whether the job yielded.
func (m *Manager) pausePoint(j *Job) bool {
	if j.pauseCount <= 0 || j.forceCancelled {
		return false
	}
	if plantedBug(bugReadyPausesToPaused) && j.status == fsm.Ready {
		m.plantedReadyToPaused(j)
	} else {
		m.fire(j, fsm.TriggerPausePoint)
	}
	j.paused = true
	j.busy = false
	j.waitEnter = true
	j.inPause = true
	return true
}

// enter is job_enter_cond_locked(job, NULL): wake a job that waits (sleeping,
// yielded or paused) unless it has not started, has finished its run, or is
// running already. It cancels a pending sleep.
func (m *Manager) enter(j *Job) {
	if !j.started || j.deferred || j.busy || !j.waitEnter {
		return
	}
	if j.sleep != nil {
		m.eng.cancel(j.sleep)
		j.sleep = nil
	}
	j.busy = true
	j.waitEnter = false
	if j.inPause {
		// The tail of the pause point: back to the saved status.
		j.inPause = false
		j.paused = false
		m.fire(j, fsm.TriggerUnpause)
	} else if m.pausePoint(j) {
		// The tail of job_sleep_ns / job_yield is a pause point.
		return
	}
	m.runSlices(j)
}

// runSlices runs the driver until the job waits or finishes.
func (m *Manager) runSlices(j *Job) {
	cancelledWaits := 0
	for {
		st := j.driver.Run(j)
		switch st.kind {
		case stepContinue:
			// An I/O completion followed by job_pause_point. With simulated
			// I/O the "completion" is instant, but the job yields to the
			// loop first, as a coroutine does while its request is in
			// flight: commands and other jobs interleave with a long copy,
			// and a driver with no rate limit cannot monopolise the loop.
			// In flight the job stays busy, so a command's job_enter does
			// nothing to it (a cancel is noticed, and a pause reached, only
			// once the request has completed: after the command's return).
			m.eng.schedule(m.eng.now, func() {
				if m.pausePoint(j) {
					return
				}
				m.runSlices(j)
			})
			return
		case stepSleep, stepYield:
			// job_sleep_ns / job_yield: a force-cancelled job returns at
			// once; a job asked to pause skips the wait and goes straight
			// to its pause point; otherwise it waits, and passes the pause
			// point when entered again.
			if j.forceCancelled {
				cancelledWaits++
				if cancelledWaits > maxCancelledWaits {
					panic(fmt.Sprintf("sim: job %q: driver %T keeps waiting after a forced cancel", j.id, j.driver))
				}
				continue
			}
			if m.pausePoint(j) {
				return
			}
			if st.kind == stepYield {
				j.busy = false
				j.waitEnter = true
				return
			}
			m.wait(j, st.ns)
			return
		case stepAwaitLoop:
			m.eng.schedule(m.eng.now, func() { m.runSlices(j) })
			return
		case stepFinish:
			m.runFinished(j, st.err)
			return
		}
	}
}

// maxCancelledWaits bounds how often a force-cancelled job's driver may ask
// to wait again without finishing: every driver checks IsCancelled within a
// few slices, so more is a driver bug that would otherwise spin forever.
const maxCancelledWaits = 1 << 20

// wait parks the job until the clock reaches now+ns or it is entered.
func (m *Manager) wait(j *Job, ns int64) {
	j.busy = false
	j.waitEnter = true
	j.sleep = m.eng.schedule(m.eng.now+max(ns, 0), func() {
		j.sleep = nil
		m.enter(j)
	})
}

// Kick enters a job that waits in Yield or Sleep (job_enter), e.g. when new
// work arrives for it. It does nothing to a job that is paused by a pause
// count, running, not started or finished.
func (m *Manager) Kick(j *Job) {
	if j.inPause {
		return
	}
	m.enter(j)
}

// asJobError returns the *JobError in err's chain, or err taken as EIO with
// its text as the job's error message.
func asJobError(err error) *JobError {
	var je *JobError
	if errors.As(err, &je) {
		return je
	}
	return &JobError{Errno: errno.EIO, Msg: err.Error()}
}

// runFinished records the run's result and queues job_exit on the main loop.
// A run that a command entered and that finished without yielding has its
// job_exit run before the command returns (command.go).
func (m *Manager) runFinished(j *Job, err error) {
	if err != nil {
		je := asJobError(err)
		j.ret = je.Errno
		if je.Msg != "" {
			j.err, j.hasErr = je.Msg, true
		}
	}
	j.deferred = true
	j.busy = true
	j.exit = m.eng.schedule(m.eng.now, func() { m.exitJob(j) })
	m.cmd.noteExit(j)
}

// exitJob is job_exit: the bottom half that completes a finished run.
func (m *Manager) exitJob(j *Job) {
	j.exit = nil
	j.busy = false
	m.completed(j)
}

// --- pausing -------------------------------------------------------------

// pause is job_pause_locked.
func (m *Manager) pause(j *Job) {
	j.pauseCount++
	if !j.paused {
		m.enter(j)
	}
}

// resume is job_resume_locked: re-enter only when no sleep timer is pending.
func (m *Manager) resume(j *Job) {
	if j.pauseCount <= 0 {
		panic(fmt.Sprintf("sim: job %q resumed with pause_count %d", j.id, j.pauseCount))
	}
	j.pauseCount--
	if j.pauseCount == 0 && j.sleep == nil {
		m.enter(j)
	}
}

// DrainBegin is an internal pause, as a drained section of one of the job's
// nodes causes (child_job_drained_begin).
func (m *Manager) DrainBegin(j *Job) { m.pause(j) }

// DrainEnd ends an internal pause (child_job_drained_end).
func (m *Manager) DrainEnd(j *Job) { m.resume(j) }

// ErrorAction applies policy p to an I/O error of the running job
// (block_job_error_action): it emits BLOCK_JOB_ERROR and, on stop, pauses the
// job as a user pause and sets its io-status. The driver acts on the result.
func (j *Job) ErrorAction(p OnError, isRead bool, e errno.Errno) ErrorAction {
	m := j.m
	action := p.Decide(e)
	op := "write"
	if isRead {
		op = "read"
	}
	if j.blockJob {
		m.emit(Event{Name: EventBlockJobError, Job: j.id, Operation: op, Action: action})
	}
	if action == ActionStop {
		if !j.userPaused {
			m.pause(j)
			j.userPaused = true
		}
		if j.iostatus == IOStatusOK {
			if e == errno.ENOSPC {
				j.iostatus = IOStatusNoSpace
			} else {
				j.iostatus = IOStatusFailed
			}
		}
	}
	return action
}

// TransitionToReady is job_transition_to_ready: running -> ready, then
// BLOCK_JOB_READY.
func (j *Job) TransitionToReady() {
	m := j.m
	m.fire(j, fsm.TriggerReady)
	if j.blockJob {
		m.emit(Event{Name: EventBlockJobReady, Job: j.id, Type: j.Type(), Len: j.total, Offset: j.progress, Speed: j.speed})
	}
}

// --- completion ----------------------------------------------------------

// completed is job_completed_locked.
func (m *Manager) completed(j *Job) {
	if j.completed {
		return
	}
	j.completed = true
	m.updateRC(j, fsm.TriggerAbort)
	if j.ret != 0 {
		m.txnAbort(j)
	} else {
		m.txnSuccess(j)
	}
}

// updateRC is job_update_rc_locked: a forced cancel with ret 0 becomes
// -ECANCELED, and a failure moves the job to aborting. via names the
// trigger to prefer where the table allows it (prepare-failed in pending).
func (m *Manager) updateRC(j *Job, via fsm.Trigger) {
	if j.ret == 0 && j.forceCancelled {
		j.ret = errno.ECANCELED
	}
	if j.ret == 0 {
		return
	}
	if !j.hasErr {
		j.err, j.hasErr = j.ret.String(), true
	}
	// Which failure it is depends on how far the job got; the table knows:
	// unstarted, failed run, the caller's (prepare-failed in pending), or a
	// late abort. The last one is fired even when refused, so that the
	// table's refusal surfaces.
	m.fireFirst(j, fsm.TriggerCancelUnstarted, fsm.TriggerRunFailed, via, fsm.TriggerAbort)
}

// fireFirst fires the first of ts that the table allows the job now, and the
// last one (to be refused) when it allows none.
func (m *Manager) fireFirst(j *Job, ts ...fsm.Trigger) {
	for _, t := range ts[:len(ts)-1] {
		if j.machine.CanFire(t) {
			m.fire(j, t)
			return
		}
	}
	m.fire(j, ts[len(ts)-1])
}

// txnSuccess is job_completed_txn_success_locked.
func (m *Manager) txnSuccess(j *Job) {
	m.fire(j, fsm.TriggerRunSucceeded)
	t := j.txn
	if t.nDone < t.n {
		return
	}
	for o := t.head; o != nil; o = o.txnNext {
		m.fire(o, fsm.TriggerAllMembersDone)
		if (!o.autoFinalize || plantedBug(bugPendingEventAlways)) && o.blockJob {
			m.emit(Event{Name: EventBlockJobPending, Job: o.id, Type: o.Type()})
		}
	}
	if plantedBug(bugCommitBeforeFinalize) && t.nManual > 0 {
		m.plantedEarlyCommit(t)
	}
	if t.nManual == 0 {
		m.doFinalize(j)
	}
}

// doFinalize is job_do_finalize_locked: prepare every member, then commit
// them all, or abort the transaction if any prepare failed.
func (m *Manager) doFinalize(j *Job) {
	t := j.txn
	var failed *Job
	for o := t.head; o != nil; o = o.txnNext {
		p, ok := o.driver.(Preparer)
		if o.ret != 0 || !ok {
			continue
		}
		if err := p.Prepare(o); err != nil {
			je := asJobError(err)
			o.ret = je.Errno
			if je.Msg != "" {
				o.err, o.hasErr = je.Msg, true
			}
			m.updateRC(o, fsm.TriggerPrepareFailed)
			failed = o
			break
		}
	}
	if failed != nil {
		// QEMU 7.2 aborts on behalf of j, the job finalize was called for,
		// which would commit j itself; jobfsm aborts on behalf of the member
		// that failed so the transaction stays atomic (spec/deviations.md D2).
		m.txnAbort(failed)
		return
	}
	for t.head != nil {
		m.finalizeSingle(t.head)
	}
}

// txnAbort is job_completed_txn_abort_locked.
func (m *Manager) txnAbort(j *Job) {
	t := j.txn
	if t == nil || t.aborting {
		return
	}
	t.aborting = true
	for o := t.head; o != nil; o = o.txnNext {
		if o != j && !plantedBug(bugTxnMemberNotAborted) {
			m.cancelAsync(o, true)
		}
	}
	for t.head != nil {
		o := t.head
		if !o.status.IsCompleted() {
			m.finishSync(o)
		}
		m.finalizeSingle(o)
	}
}

// finishSync runs the loop until o's run has completed (job_finish_sync).
// A member that never started is completed directly: QEMU 7.2 polls for it
// forever here (the grouped-transaction rollback hang, spec/deviations.md D1).
func (m *Manager) finishSync(o *Job) {
	if !o.started {
		m.completed(o)
		return
	}
	for !o.status.IsCompleted() {
		m.enter(o)
		if o.status.IsCompleted() {
			break
		}
		if !m.eng.runOne(math.MaxInt64) {
			panic(fmt.Sprintf("sim: job %q can never complete (status %s)", o.id, o.status))
		}
	}
}

// finalizeSingle is job_finalize_single_locked.
func (m *Manager) finalizeSingle(j *Job) {
	m.updateRC(j, fsm.TriggerAbort)
	if j.ret == 0 {
		if c, ok := j.driver.(Committer); ok {
			c.Commit(j)
		}
	} else if a, ok := j.driver.(Aborter); ok {
		a.Abort(j)
	}
	if c, ok := j.driver.(Cleaner); ok {
		c.Clean(j)
	}
	j.finalized = true
	if j.started && j.blockJob {
		e := Event{Job: j.id, Type: j.Type(), Len: j.total, Offset: j.progress, Speed: j.speed}
		if j.forceCancelled {
			e.Name = EventBlockJobCancelled
		} else {
			e.Name = EventBlockJobCompleted
			if j.ret != 0 {
				e.Error, e.HasError = j.err, true
			}
		}
		m.emit(e)
	}
	if j.txn != nil {
		j.txn.remove(j)
	}
	m.fire(j, fsm.TriggerConclude)
	if j.machine.CanFire(fsm.TriggerAutoDismiss) && !plantedBug(bugAutoDismissIgnored) {
		m.doDismiss(j, fsm.TriggerAutoDismiss)
	}
}

// doDismiss is job_do_dismiss_locked (and job_early_fail): the job goes to
// null, leaves its transaction and the job list, and is freed.
func (m *Manager) doDismiss(j *Job, t fsm.Trigger) {
	j.busy = false
	j.paused = false
	j.deferred = true
	if j.txn != nil {
		j.txn.remove(j)
	}
	m.fire(j, t)
	if j.prev != nil {
		j.prev.next = j.next
	} else {
		m.head = j.next
	}
	if j.next != nil {
		j.next.prev = j.prev
	}
	j.prev, j.next = nil, nil
	if !plantedBug(bugIDNotReleased) {
		delete(m.byID, j.id)
	}
	if j.sleep != nil {
		m.eng.cancel(j.sleep)
		j.sleep = nil
	}
	if f, ok := j.driver.(Freer); ok {
		f.Free(j)
	}
	if j.blockJob {
		m.DrainAllFor(DrainJobFree)
	}
}

// --- cancel --------------------------------------------------------------

// cancelAsync is job_cancel_async_locked.
func (m *Manager) cancelAsync(j *Job, force bool) {
	if c, ok := j.driver.(Canceler); ok {
		force = c.Cancel(j, force)
	} else {
		force = true
	}
	if j.userPaused {
		if j.blockJob {
			j.iostatus = IOStatusOK
		}
		j.userPaused = false
		j.pauseCount--
	}
	if force || !j.deferred {
		j.cancelled = true
		j.forceCancelled = j.forceCancelled || force
	}
}

// cancel is job_cancel_locked.
func (m *Manager) cancel(j *Job, force bool) {
	if j.status == fsm.Concluded {
		m.doDismiss(j, fsm.TriggerDismiss)
		return
	}
	m.cancelAsync(j, force)
	switch {
	case !j.started:
		m.completed(j)
	case j.deferred:
		if j.forceCancelled {
			m.txnAbort(j)
		}
	default:
		m.enter(j)
	}
}

// --- events --------------------------------------------------------------

type subscriber struct {
	fn   func(Event)
	dead bool
}

// Subscribe calls fn with every event from now on, in order; the returned
// function stops it.
func (m *Manager) Subscribe(fn func(Event)) (unsubscribe func()) {
	s := &subscriber{fn: fn}
	m.subs = append(m.subs, s)
	return func() {
		s.dead = true
		for i, o := range m.subs {
			if o == s {
				m.subs = append(m.subs[:i:i], m.subs[i+1:]...)
				return
			}
		}
	}
}

func (m *Manager) emit(e Event) {
	e.Time = m.eng.now
	for _, s := range m.subs {
		if !s.dead {
			s.fn(e)
		}
	}
}

// --- the loop ------------------------------------------------------------

// Settle runs everything due now (bottom halves, expired timers) without
// advancing the clock.
func (m *Manager) Settle() {
	for m.eng.runOne(m.eng.now) {
	}
}

// Advance runs everything due within d nanoseconds, then sets the clock to
// now+d.
func (m *Manager) Advance(d int64) {
	end := m.eng.now + max(d, 0)
	for m.eng.runOne(end) {
	}
	m.eng.now = max(m.eng.now, end)
}

// Step runs the next queued entry, advancing the clock to it; false when
// nothing is queued.
func (m *Manager) Step() bool { return m.eng.runOne(math.MaxInt64) }

// RunUntil runs queued work, advancing the clock, until cond holds, nothing
// is queued, or the next entry is due after the deadline. It reports cond.
func (m *Manager) RunUntil(cond func() bool, deadline int64) bool {
	for !cond() {
		if !m.eng.runOne(deadline) {
			return cond()
		}
	}
	return true
}

// NextDue returns the virtual time of the next queued entry.
func (m *Manager) NextDue() (int64, bool) { return m.eng.next() }

// Idle reports that nothing is queued: every job waits for a command.
func (m *Manager) Idle() bool { return m.eng.live == 0 }

// Version is the QEMU version whose behaviour the manager follows.
func (m *Manager) Version() fsm.Version { return m.opts.Version }
