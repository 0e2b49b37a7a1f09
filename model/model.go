package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qemuid"
)

// QEMU's texts the model states on its own (reference §1.3, §2, §4.6), so a
// wrong text in sim is a disagreement rather than a shared mistake.
const (
	textCanceled     = "Operation canceled"
	textJobNotFound  = "Job not found"
	textNegSpeed     = "Parameter 'speed' expects a non-negative value"
	textNoChange     = "Job type does not support change"
	classGeneric     = "GenericError"
	classNotActive   = "DeviceNotActive"
	textAlreadyPause = "Job is already paused"
	textNotPaused    = "Can't resume a job that was not paused"
)

// Strerror is glibc's text for the errnos the drivers use.
func Strerror(errno int) string {
	switch errno {
	case 1:
		return "Operation not permitted"
	case 5:
		return "Input/output error"
	case 22:
		return "Invalid argument"
	case 28:
		return "No space left on device"
	case 125:
		return textCanceled
	}
	return fmt.Sprintf("Unknown error %d", errno)
}

// Refusal is a command's expected QMP error.
type Refusal struct {
	Class string
	Text  string
}

func (r *Refusal) Error() string { return r.Text }

func generic(format string, a ...any) *Refusal {
	return &Refusal{Class: classGeneric, Text: fmt.Sprintf(format, a...)}
}

// IOError describes the one I/O error a driver's run may hit: the operation
// ("read"/"write") and the action its error policy decides.
type IOError struct {
	Op      string // "" for either
	Action  string // "ignore", "report" or "stop"
	NoSpace bool   // ENOSPC (io-status "nospace" on stop) rather than EIO
	// Repeat: the driver may hit such errors any number of times, also
	// while ready (a real driver under injected faults).
	Repeat bool
}

// Spec is a job as the model knows it: its creation arguments and what its
// driver may do. The driver's behaviour is declared, not simulated: the
// model uses it only to decide which spontaneous steps are allowed.
type Spec struct {
	ID    string
	Type  string // QAPI JobType
	Block bool   // backup, commit, mirror or stream
	// Txn > 0 groups the job with every other job of the same Txn
	// (completion-mode grouped); 0 gives it a transaction of its own.
	Txn                       int
	AutoFinalize, AutoDismiss bool
	Speed                     int64

	// Ready: the run becomes ready after its work and then waits for
	// complete or a cancel (mirror, active commit). Only such drivers treat
	// a soft cancel while ready as a successful completion (mirror_cancel).
	Ready bool
	// Fails: the run ends in failure with FailText unless force-cancelled
	// first. MayFail: it may end in failure (with one of FailTexts) or
	// succeed, as a real driver may under injected faults.
	Fails     bool
	FailText  string
	MayFail   bool
	FailTexts []string
	// NoCalls: the driver's callbacks are not observed for this job.
	NoCalls bool
	// IOError, when set, is one BLOCK_JOB_ERROR the run may emit.
	IOError *IOError
	// HasPrepare, HasComplete: the driver has .prepare / .complete.
	HasPrepare, HasComplete bool
	// HasChange: the driver has .change (QEMU 8.2+ block-job-change:
	// mirror_job_driver has, the active commit driver has not).
	HasChange bool
	// DrainsOnExit: the run drains its source before it returns and the
	// drained section lasts until the job is finalized (mirror and active
	// commit: mirror_run's bdrv_drained_begin, ended by
	// mirror_exit_common). The drain is a pause of the job itself, so its
	// pause count stays raised while it waits or is pending and
	// query-block-jobs reports it paused.
	DrainsOnExit bool
	// PrepareFails: .prepare fails with PrepareText.
	PrepareFails bool
	PrepareText  string
}

// Job is the model's state of one job.
type Job struct {
	Spec
	Seq        int // creation order
	Status     fsm.Status
	Started    bool
	UserPaused bool
	PauseCount int
	// Cancelled is any cancel request (job_cancel_requested); Force is a
	// forced one (job_is_cancelled).
	Cancelled, Force bool
	Readied          bool // has been ready
	Completing       bool // complete was accepted
	IOErrSeen        bool
	IOStatus         string
	Speed            int64
	// Failed: the job's result is a failure (ret != 0). Errs are the error
	// texts still possible (a forced cancel racing a driver failure leaves
	// two until a query tells).
	Failed bool
	Errs   []string
	Gone   bool // reached null
	// ExitDrained: the run ended with the job's source drained
	// (Spec.DrainsOnExit); finalization ends the drain.
	ExitDrained bool
	// InBlip: a drain of every node paused the job (Model.drainBlip) and
	// has not ended yet; the drain holds one pause until its unpause.
	// StepBlips counts the job's drain pauses in the current step.
	InBlip    bool
	StepBlips int
	txn       *Txn
}

// Txn is a transaction: members newest first (QLIST_INSERT_HEAD), as QEMU
// finalizes them.
type Txn struct {
	ID       int
	members  []*Job
	aborting bool
}

// Model is the reference job manager.
type Model struct {
	// NoCalls: do not require driver callbacks (prepare, commit, abort,
	// clean, free, complete) among the events, e.g. to judge a QMP
	// transcript, which has none.
	NoCalls bool

	jobs    []*Job // existing jobs (not yet null), newest first
	byID    map[string]*Job
	txns    map[int]*Txn
	expect  []want
	frames  []*Txn // aborting transactions waiting for a member, innermost last
	seq     int
	nextTxn int
	table   *fsm.Table
	rules   versionRules
	// drains is how many drains of every node the graph operations of
	// block jobs (creation, completion, freeing) since the last Quiesce
	// may take in the model's version: each running job may blip that
	// often (drainBlip).
	drains int
	blips  int
}

// versionRules is what the model knows differs between QEMU versions
// beyond the verb table: per-version data, looked up once in NewAt.
type versionRules struct {
	// graphDrains is, per job type, how many times each graph operation
	// of a block job drains every node. From QEMU 8.2 every graph change
	// takes the graph write lock, which drains every node
	// (bdrv_graph_wrlock); each drain gives every running job a
	// paused/running (ready jobs standby/ready) pair. 7.2 drains every node
	// only in a transaction, which the harness does not issue: no entry.
	graphDrains map[string]drainCounts
}

// graphOp is a graph operation of a block job.
type graphOp uint8

const (
	opCreate graphOp = iota // the driver's start, with block_job_create; also when that refuses the id
	opFinish                // the driver's prepare/commit/abort/clean, before concluded
	opFree                  // block_job_free, after null
	numGraphOps
)

// drainCounts is how many drains of every node each graphOp takes.
type drainCounts [numGraphOps]int

// rulesOf is measured data, restated from spec/qemu-10.0.md §1 "The rule"
// (spec/versions.md "Drains of every node"; qemu-storage-daemon 10.0.13),
// each count the largest of the step's outcomes:
//   - backup: created 4 (bdrv_cbw_append) + 1 (block_job_create), refused
//     after the filter went in 4 + 2; backup_clean 3; freed 1.
//   - mirror: mirror_start_job 2 + 2, refused 2 + 2; mirror_exit_common 4
//     without pivot, 5 with; freed 1.
//   - commit: commit_start 1 + 4; commit_prepare+clean 4, commit_abort+clean
//     5; freed 1. An active commit runs the mirror's code (4, 5): within
//     these bounds.
//   - stream: stream_start 3 + 2, refused 3 + 2; stream_prepare+clean 3,
//     stream_clean 2; freed 1 + 1.
var rulesOf = map[fsm.Version]versionRules{
	fsm.QEMU7_2: {},
	fsm.QEMU10_0: {graphDrains: map[string]drainCounts{
		"backup": {opCreate: 6, opFinish: 3, opFree: 1},
		"mirror": {opCreate: 4, opFinish: 5, opFree: 1},
		"commit": {opCreate: 5, opFinish: 5, opFree: 1},
		"stream": {opCreate: 5, opFinish: 3, opFree: 2},
	}},
}

// New returns an empty model of QEMU 7.2 (fsm.DefaultVersion).
func New() *Model { return NewAt(fsm.DefaultVersion) }

// NewAt returns an empty model of QEMU version v: the verbs it knows and
// accepts are v's table's (fsm.For(v); 10.0 adds change), and in 10.0 the
// graph operations of block jobs drain every node (versionRules). The
// trigger rules are the same in every version.
func NewAt(v fsm.Version) *Model {
	return &Model{table: fsm.For(v), rules: rulesOf[v], byID: map[string]*Job{}, txns: map[int]*Txn{}}
}

// Version is the QEMU version the model follows.
func (m *Model) Version() fsm.Version { return m.table.Version() }

// DrainBlips is how many pauses of drains of every node the model has
// accepted (each the first half of a paused/running or standby/ready pair).
func (m *Model) DrainBlips() int { return m.blips }

// Job returns the existing job with id, or nil.
func (m *Model) Job(id string) *Job { return m.byID[id] }

// Jobs returns the existing jobs, newest first.
func (m *Model) Jobs() []*Job { return m.jobs }

// Members returns the job's transaction members still in the transaction,
// newest first.
func (j *Job) Members() []*Job {
	if j.txn == nil {
		return nil
	}
	return j.txn.members
}

// Expecting returns the events the model requires next, in order.
func (m *Model) Expecting() []string {
	var out []string
	for _, w := range m.expect {
		out = append(out, w.String())
	}
	return out
}

func (m *Model) push(j *Job, e Event) { m.expect = append(m.expect, want{ev: e, job: j}) }

func (m *Model) pushStatus(j *Job, s fsm.Status) {
	m.push(j, Event{Kind: EvStatus, Job: j.ID, Status: s})
	j.Status = s
}

func (m *Model) pushCall(j *Job, name string) {
	if m.NoCalls || j.NoCalls {
		return
	}
	m.push(j, Event{Kind: EvCall, Job: j.ID, Call: name})
}

// --- commands ---------------------------------------------------------------

// Create is job_create + block_job_create: the expected error, or nil. On
// success (and on an early failure) it requires the events that follow.
func (m *Model) Create(s Spec) error {
	// A block job's driver changes the graph around block_job_create,
	// also when that refuses the id (its filter goes again).
	m.graphChange(&s, opCreate)
	if !qemuid.WellFormed(s.ID) {
		return generic("Invalid job ID '%s'", s.ID)
	}
	if m.byID[s.ID] != nil {
		return generic("Job ID '%s' already in use", s.ID)
	}
	j := &Job{Spec: s, Seq: m.seq, PauseCount: 1, IOStatus: "ok"}
	m.seq++
	m.jobs = append([]*Job{j}, m.jobs...)
	m.byID[s.ID] = j
	var t *Txn
	if s.Txn > 0 {
		t = m.txns[s.Txn]
		if t == nil {
			t = &Txn{ID: s.Txn}
			m.txns[s.Txn] = t
		}
	} else {
		m.nextTxn--
		t = &Txn{ID: m.nextTxn}
	}
	j.txn = t
	t.members = append([]*Job{j}, t.members...)
	m.pushStatus(j, fsm.Created)
	if s.Speed < 0 {
		// job_early_fail: created -> null.
		m.dismiss(j)
		return generic(textNegSpeed)
	}
	j.Speed = s.Speed
	return nil
}

// Start is job_start on a created job. It returns an error when the job
// cannot be started (the harness's own precondition, not a QMP error).
func (m *Model) Start(id string) error {
	j := m.byID[id]
	if j == nil || j.Status != fsm.Created || j.Started {
		return fmt.Errorf("cannot start %q", id)
	}
	j.PauseCount--
	j.Started = true
	m.pushStatus(j, fsm.Running)
	return nil
}

// DrainBegin and DrainEnd are an internal pause (child_job_drained_begin/end).
func (m *Model) DrainBegin(id string) {
	if j := m.byID[id]; j != nil {
		j.PauseCount++
	}
}

// DrainEnd ends an internal pause.
func (m *Model) DrainEnd(id string) {
	if j := m.byID[id]; j != nil {
		j.PauseCount--
	}
}

// AllowFailure declares that job id's driver may now hit I/O errors as io
// says and end in failure with one of texts (the harness armed a fault on a
// node the job writes).
func (m *Model) AllowFailure(id string, io *IOError, texts []string) {
	j := m.byID[id]
	if j == nil {
		return
	}
	j.MayFail, j.IOError = true, io
	for _, t := range texts {
		if !slices.Contains(j.FailTexts, t) {
			j.FailTexts = append(j.FailTexts, t)
		}
	}
}

// Lookup is find_job_locked (block false: job-* commands) or
// find_block_job_locked (block true: block-job-* commands).
func (m *Model) Lookup(id string, block bool) (*Job, error) {
	j := m.byID[id]
	if block {
		if j == nil || !j.Block {
			return nil, &Refusal{Class: classNotActive, Text: fmt.Sprintf("Block job '%s' not found", id)}
		}
		return j, nil
	}
	if j == nil {
		return nil, generic(textJobNotFound)
	}
	return j, nil
}

func (m *Model) verbErr(j *Job, v fsm.Verb) error {
	if m.table.Permits(j.Status, v) {
		return nil
	}
	return generic("Job '%s' in state '%s' cannot accept command verb '%s'", j.ID, j.Status, v)
}

// Verb applies a's verb (with its family and arguments: Block, Force,
// Speed) to j, the model's one dispatch from a verb to its rule; lookup is
// Lookup's. set-speed and change are block-job commands whatever a.Block
// says. A verb the model's version does not know (change in 7.2) is an
// error of the caller: QEMU has no such command.
func (m *Model) Verb(j *Job, a Action) error {
	if _, known := m.table.ParseVerb(a.Verb.String()); !known {
		return fmt.Errorf("model: %s is not a job verb of QEMU %s", a.Verb, m.Version())
	}
	switch a.Verb {
	case fsm.VerbPause:
		return m.Pause(j)
	case fsm.VerbResume:
		return m.Resume(j)
	case fsm.VerbCancel:
		return m.Cancel(j, a.Block, a.Force)
	case fsm.VerbComplete:
		return m.Complete(j)
	case fsm.VerbFinalize:
		return m.Finalize(j)
	case fsm.VerbDismiss:
		return m.Dismiss(j)
	case fsm.VerbSetSpeed:
		return m.SetSpeed(j, a.Speed)
	case fsm.VerbChange:
		return m.Change(j)
	}
	return fmt.Errorf("model: %s is not a job verb", a.Verb)
}

// Pause is job_user_pause_locked.
func (m *Model) Pause(j *Job) error {
	if err := m.verbErr(j, fsm.VerbPause); err != nil {
		return err
	}
	if j.UserPaused {
		return generic(textAlreadyPause)
	}
	j.UserPaused = true
	j.PauseCount++
	return nil
}

// Resume is job_user_resume_locked: the paused check precedes the verb check.
func (m *Model) Resume(j *Job) error {
	if !j.UserPaused || j.PauseCount <= 0 {
		return generic(textNotPaused)
	}
	if err := m.verbErr(j, fsm.VerbResume); err != nil {
		return err
	}
	if j.Block {
		j.IOStatus = "ok"
	}
	j.UserPaused = false
	j.PauseCount--
	return nil
}

// Cancel is job-cancel (block false, always forced) or block-job-cancel
// (block true, force as given; a soft cancel of a user-paused job is refused
// first).
func (m *Model) Cancel(j *Job, block, force bool) error {
	if !block {
		force = true
	}
	if block && j.UserPaused && !force {
		return generic("The block job for device '%s' is currently paused", j.ID)
	}
	if err := m.verbErr(j, fsm.VerbCancel); err != nil {
		return err
	}
	m.cancel(j, force)
	return nil
}

// cancelAsync is job_cancel_async_locked.
func (m *Model) cancelAsync(j *Job, force bool) {
	// The driver's .cancel decides the effective force: only a ready-style
	// driver cancelled softly while ready stays soft (mirror_cancel).
	if !j.Ready {
		force = true
	} else {
		force = force || !j.Status.IsReady()
	}
	if j.UserPaused {
		if j.Block {
			j.IOStatus = "ok"
		}
		j.UserPaused = false
		j.PauseCount--
	}
	deferred := j.Status.IsCompleted()
	if force || !deferred {
		j.Cancelled = true
		j.Force = j.Force || force
	}
}

// cancel is job_cancel_locked.
func (m *Model) cancel(j *Job, force bool) {
	m.cancelAsync(j, force)
	switch {
	case !j.Started:
		// job_completed_locked at once: created -> aborting.
		m.completeUnstarted(j)
		m.txnAbort(j)
	case j.Status.IsCompleted():
		if j.Force {
			m.txnAbort(j)
		}
	}
	// Otherwise the job notices at its next check: its exit is spontaneous.
}

func (m *Model) completeUnstarted(j *Job) {
	j.Failed = true
	j.Errs = []string{textCanceled}
	m.pushStatus(j, fsm.Aborting)
}

// Complete is job_complete_locked.
func (m *Model) Complete(j *Job) error {
	if err := m.verbErr(j, fsm.VerbComplete); err != nil {
		return err
	}
	if j.Cancelled || !j.HasComplete {
		return generic("The active block job '%s' cannot be completed", j.ID)
	}
	j.Completing = true
	m.pushCall(j, "complete")
	return nil
}

// Finalize is job_finalize_locked: finalizes the whole transaction.
func (m *Model) Finalize(j *Job) error {
	if err := m.verbErr(j, fsm.VerbFinalize); err != nil {
		return err
	}
	m.doFinalize(j.txn)
	return nil
}

// Dismiss is job_dismiss_locked.
func (m *Model) Dismiss(j *Job) error {
	if err := m.verbErr(j, fsm.VerbDismiss); err != nil {
		return err
	}
	m.dismiss(j)
	return nil
}

// SetSpeed is block_job_set_speed_locked: verb check, then the sign.
func (m *Model) SetSpeed(j *Job, speed int64) error {
	if err := m.verbErr(j, fsm.VerbSetSpeed); err != nil {
		return err
	}
	if speed < 0 {
		return generic(textNegSpeed)
	}
	j.Speed = speed
	return nil
}

// Change is block_job_change_locked (QEMU 10.0, block-job-change): the verb
// check, then the driver's: only a mirror has a .change (mirror_change).
// A mirror's copy mode is not modelled (it changes no status); what the
// mirror says about the requested mode is the QMP layer's.
func (m *Model) Change(j *Job) error {
	if err := m.verbErr(j, fsm.VerbChange); err != nil {
		return err
	}
	if !j.HasChange {
		return generic(textNoChange)
	}
	m.pushCall(j, "change")
	return nil
}

// --- completion ---------------------------------------------------------------

// dismiss is job_do_dismiss_locked: null, then the driver frees the job.
func (m *Model) dismiss(j *Job) {
	m.leaveTxn(j)
	m.pushStatus(j, fsm.Null)
	m.pushCall(j, "free")
	m.graphChange(&j.Spec, opFree)
	j.Gone = true
	delete(m.byID, j.ID)
	for i, o := range m.jobs {
		if o == j {
			m.jobs = append(m.jobs[:i:i], m.jobs[i+1:]...)
			break
		}
	}
}

func (m *Model) leaveTxn(j *Job) {
	t := j.txn
	if t == nil {
		return
	}
	for i, o := range t.members {
		if o == j {
			t.members = append(t.members[:i:i], t.members[i+1:]...)
			break
		}
	}
	j.txn = nil
}

// txnSuccess is job_completed_txn_success_locked after j went waiting.
func (m *Model) txnSuccess(j *Job) {
	t := j.txn
	for _, o := range t.members {
		if !o.Status.IsCompleted() {
			return
		}
	}
	manual := false
	for _, o := range t.members {
		m.pushStatus(o, fsm.Pending)
		if !o.AutoFinalize {
			manual = true
			if o.Block {
				m.push(o, Event{Kind: EvPending, Job: o.ID})
			}
		}
	}
	if !manual {
		m.doFinalize(t)
	}
}

// doFinalize is job_do_finalize_locked with jobfsm's corrected rule: a
// failed prepare aborts the transaction on behalf of the member that failed
// (spec/deviations.md).
func (m *Model) doFinalize(t *Txn) {
	for _, o := range t.members {
		if o.Failed || !o.HasPrepare {
			continue
		}
		m.pushCall(o, "prepare")
		if o.PrepareFails {
			o.Failed = true
			o.Errs = []string{o.PrepareText}
			m.pushStatus(o, fsm.Aborting)
			m.txnAbort(o)
			return
		}
	}
	for len(t.members) > 0 {
		m.finalizeSingle(t.members[0])
	}
}

// finalizeSingle is job_finalize_single_locked.
func (m *Model) finalizeSingle(j *Job) {
	if !j.Failed && j.Force {
		j.Failed = true
		j.Errs = []string{textCanceled}
	}
	if j.Failed && j.Status != fsm.Aborting {
		m.pushStatus(j, fsm.Aborting)
	}
	if j.Failed {
		m.pushCall(j, "abort")
	} else {
		m.pushCall(j, "commit")
	}
	m.pushCall(j, "clean")
	m.graphChange(&j.Spec, opFinish)
	if j.ExitDrained {
		// mirror_exit_common's bdrv_drained_end
		j.ExitDrained = false
		j.PauseCount--
	}
	if j.Started && j.Block {
		switch {
		case j.Force:
			m.push(j, Event{Kind: EvCancelled, Job: j.ID, Speed: j.Speed})
		case j.Failed:
			m.expect = append(m.expect, want{ev: Event{Kind: EvCompleted, Job: j.ID, HasError: true, Speed: j.Speed}, errs: j.Errs, job: j})
		default:
			m.push(j, Event{Kind: EvCompleted, Job: j.ID, Speed: j.Speed})
		}
	}
	m.leaveTxn(j)
	m.pushStatus(j, fsm.Concluded)
	if j.AutoDismiss || !j.Started {
		m.dismiss(j)
	}
}

// txnAbort is job_completed_txn_abort_locked: force-cancel every other
// member, then finalize the members one after another in list order,
// waiting for each one's run to end.
func (m *Model) txnAbort(j *Job) {
	t := j.txn
	if t == nil || t.aborting {
		return
	}
	t.aborting = true
	for _, o := range t.members {
		if o != j {
			m.cancelAsync(o, true)
		}
	}
	m.frames = append(m.frames, t)
	m.runFrames()
}

// runFrames lets the innermost aborting transaction go on. An abort that
// waits for a running member (job_finish_sync) polls the event loop, and
// whatever happens during that poll (other jobs' work, another
// transaction's whole abort) nests inside it: only the innermost abort can
// progress, the outer ones resume in order once it is done.
func (m *Model) runFrames() {
	for len(m.frames) > 0 {
		t := m.frames[len(m.frames)-1]
		if !m.advanceAbort(t) {
			return
		}
		m.frames = m.frames[:len(m.frames)-1]
	}
}

// advanceAbort finalizes head members whose run has ended, in list order;
// it reports false when it must wait for a running head (whose exit is a
// spontaneous step) and true when no member is left.
func (m *Model) advanceAbort(t *Txn) bool {
	for len(t.members) > 0 {
		h := t.members[0]
		if !h.Status.IsCompleted() {
			if h.Started {
				return false
			}
			// job_finish_sync on a member that never started completes it
			// directly (jobfsm's corrected rule; QEMU 7.2 hangs here).
			m.completeUnstarted(h)
		}
		m.finalizeSingle(h)
	}
	return true
}

// --- observing ----------------------------------------------------------------

// Observe judges one event the implementation emitted: it must be the next
// required event, or, when none is required, a spontaneous step the model
// allows in its current state. A nil error means the event is allowed; the
// model's state then includes it.
func (m *Model) Observe(e Event) error {
	if len(m.expect) > 0 {
		w := m.expect[0]
		if !w.matches(e) {
			if m.nestedStep(e) == nil {
				return nil
			}
			return fmt.Errorf("model requires %s next (then %d more), got %s", w, len(m.expect)-1, e)
		}
		m.expect = m.expect[1:]
		if w.ev.Kind == EvCompleted && w.ev.HasError && w.job != nil {
			w.job.Errs = []string{e.Error}
		}
		return nil
	}
	return m.spontaneous(e)
}

// nestedStep accepts e, a spontaneous step of a job the required events do
// not name, in the middle of a command's or a cascade's required events
// when a drain of every node polled there (drains: a version whose
// graph changes drain every node, spec/qemu-10.0.md §1): the drain
// (AIO_WAIT_WHILE) runs the event loop until every running job sits at its
// pause point, so those jobs go on meanwhile (reach the pause point, hit an
// I/O error, become ready, finish). What such a step requires comes at once,
// before the rest.
func (m *Model) nestedStep(e Event) error {
	if m.drains == 0 || m.byID[e.Job] == nil {
		return errNotNested
	}
	for _, w := range m.expect {
		if w.ev.Job == e.Job {
			return errNotNested
		}
	}
	outer := m.expect
	m.expect = nil
	err := m.spontaneous(e)
	m.expect = append(m.expect, outer...)
	return err
}

var errNotNested = errors.New("not a step inside a drain")

func (m *Model) spontaneous(e Event) error {
	j := m.byID[e.Job]
	if j == nil {
		return fmt.Errorf("%s: event for a job the model does not have", e)
	}
	switch e.Kind {
	case EvStatus:
		return m.statusStep(j, e.Status)
	case EvError:
		return m.ioErrorStep(j, e)
	}
	return fmt.Errorf("%s: not allowed now (model: %s)", e, j.describe())
}

func (j *Job) describe() string {
	return fmt.Sprintf("%s status=%s started=%v pause_count=%d user_paused=%v cancelled=%v force=%v readied=%v completing=%v failed=%v",
		j.ID, j.Status, j.Started, j.PauseCount, j.UserPaused, j.Cancelled, j.Force, j.Readied, j.Completing, j.Failed)
}

func (m *Model) statusStep(j *Job, to fsm.Status) error {
	from := j.Status
	ends := blipEnds(j, to)
	if ends {
		// The drain ends: its pause goes before the job leaves the
		// pause point.
		j.PauseCount--
	}
	if why := statusGuard(j, to); why != "" {
		if !m.drainBlip(j, to) {
			if ends {
				j.PauseCount++
			}
			return fmt.Errorf("%s -> %s of %s not allowed: %s (model: %s)", from, to, j.ID, why, j.describe())
		}
		// A drain of every node holds the job at its pause point until
		// the drain ends.
		j.InBlip = true
		j.PauseCount++
		j.StepBlips++
		m.blips++
	}
	if ends {
		j.InBlip = false
	}
	j.Status = to
	if j.DrainsOnExit && !j.ExitDrained && (to == fsm.Waiting || to == fsm.Aborting && (from == fsm.Running || from == fsm.Ready)) {
		// the run returned with its source drained
		j.ExitDrained = true
		j.PauseCount++
	}
	switch t, _ := ownTrigger(from, to); t {
	case fsm.TriggerReady:
		j.Readied = true
		if j.Block {
			m.push(j, Event{Kind: EvReady, Job: j.ID, Speed: j.Speed})
		}
	case fsm.TriggerRunSucceeded:
		m.txnSuccess(j)
	case fsm.TriggerRunFailed:
		j.Failed = true
		j.Errs = nil
		if j.Force {
			j.Errs = append(j.Errs, textCanceled)
		}
		if j.Fails {
			j.Errs = append(j.Errs, j.FailText)
		}
		if j.MayFail {
			j.Errs = append(j.Errs, j.FailTexts...)
		}
		if j.txn.aborting {
			m.runFrames()
		} else {
			m.txnAbort(j)
		}
	}
	return nil
}

// graphChange records graph operation op of the job s (nothing for a job
// that is not a block job): in a version whose graph changes drain every
// node, running jobs may blip that many times more until the next Quiesce.
func (m *Model) graphChange(s *Spec, op graphOp) {
	if s.Block {
		m.drains += m.rules.graphDrains[s.Type][op]
	}
}

// drainBlip says whether j's change to status to is the pause of a drain of
// every node (spec/qemu-10.0.md §1 "The rule"): in a version whose graph
// changes drain every node, after a block job's graph operation, a job
// that is running (started, not force-cancelled: a force-cancelled job
// skips pause points) and not paused otherwise reaches its pause point
// (running -> paused, ready -> standby) and stays there until the drain
// ends (blipEnds). A drain gives a job whose run has ended nothing, and
// one that QEMU's drain does not reach in time shows no pair: the model
// allows the pair, it does not require it.
func (m *Model) drainBlip(j *Job, to fsm.Status) bool {
	if j.StepBlips >= m.drains || j.InBlip || !j.Started || j.Force || j.PauseCount != 0 {
		return false
	}
	t, ok := ownTrigger(j.Status, to)
	return ok && t == fsm.TriggerPausePoint
}

// blipEnds says whether j's change to status to leaves the pause point a
// drain of every node held it at: the drain ended.
func blipEnds(j *Job, to fsm.Status) bool {
	if !j.InBlip {
		return false
	}
	t, ok := ownTrigger(j.Status, to)
	return ok && t == fsm.TriggerUnpause
}

// statusGuard says whether j may change to status to by itself now (a
// spontaneous step), without changing anything: "" if so, else why not.
func statusGuard(j *Job, to fsm.Status) string {
	from := j.Status
	if from == to || !fsm.Allows(from, to) {
		return "not a JobSTT edge (I1)"
	}
	t, ok := ownTrigger(from, to)
	if !ok {
		return "only a command or the transaction's cascade may do this"
	}
	switch t {
	case fsm.TriggerPausePoint:
		// job_pause_point_locked
		if !j.Started || j.PauseCount <= 0 {
			return "pause point reached with pause_count 0"
		}
		if j.Force {
			return "a force-cancelled job skips pause points"
		}
	case fsm.TriggerUnpause:
		// Leaving the pause point: every pause undone, or a cancel entered it.
		if j.PauseCount > 0 && !j.Cancelled {
			return "left a pause point while pause_count > 0"
		}
	case fsm.TriggerReady:
		if !j.Spec.Ready || j.Readied || j.Fails || j.Force {
			return "this driver does not become ready now"
		}
	case fsm.TriggerRunSucceeded:
		// The run returned 0 and the job was not force-cancelled.
		if j.Force || j.Fails {
			return "the run cannot succeed"
		}
		if j.Spec.Ready && !(j.Readied && (j.Completing || j.Cancelled)) {
			return "a ready-style job finishes only after complete or a soft cancel"
		}
	case fsm.TriggerRunFailed:
		// job_update_rc_locked at the job's exit.
		if !j.Force && !j.Fails && !j.MayFail {
			return "the run neither fails nor was force-cancelled"
		}
	}
	return ""
}

// ownTriggers are the triggers a job fires by itself, from its coroutine or
// its exit; every other status change is a command's or the transaction's.
var ownTriggers = [...]fsm.Trigger{fsm.TriggerPausePoint, fsm.TriggerUnpause, fsm.TriggerReady, fsm.TriggerRunSucceeded, fsm.TriggerRunFailed}

// ownTrigger returns the job's own trigger that fsm's table says takes a job
// from status from to status to.
func ownTrigger(from, to fsm.Status) (fsm.Trigger, bool) {
	for _, t := range ownTriggers {
		if s, ok := fsm.Target(from, t); ok && s == to {
			return t, true
		}
	}
	return 0, false
}

func ioGuard(j *Job) bool {
	io := j.IOError
	if io == nil || !j.Block || j.Force {
		return false
	}
	if io.Repeat {
		return j.Status == fsm.Running || j.Status == fsm.Ready
	}
	return !j.IOErrSeen && j.Status == fsm.Running
}

func (m *Model) ioErrorStep(j *Job, e Event) error {
	io := j.IOError
	if !ioGuard(j) {
		return fmt.Errorf("%s: this job cannot hit an I/O error now (model: %s)", e, j.describe())
	}
	if (io.Op != "" && e.Op != io.Op) || e.Action != io.Action {
		return fmt.Errorf("%s: want operation %s action %s", e, io.Op, io.Action)
	}
	j.IOErrSeen = true
	if io.Action == "stop" {
		if !j.UserPaused {
			j.PauseCount++
			j.UserPaused = true
		}
		if j.IOStatus == "ok" {
			j.IOStatus = "failed"
			if io.NoSpace {
				j.IOStatus = "nospace"
			}
		}
	}
	return nil
}

// Quiesce checks the model's obligations at rest, when the implementation
// has run everything due: no required event is outstanding, no drain of
// every node still holds a job and no transaction is left half-aborted. It
// ends the step: further drain blips need a new graph operation.
func (m *Model) Quiesce() error {
	m.drains = 0
	for _, j := range m.jobs {
		j.StepBlips = 0
	}
	for _, j := range m.jobs {
		if j.InBlip {
			return fmt.Errorf("%s is still held by a drain of every node at rest (its %s has no unpause)", j.ID, j.Status)
		}
	}
	if len(m.expect) > 0 {
		return fmt.Errorf("model still requires %d event(s): %v", len(m.expect), m.Expecting())
	}
	if len(m.frames) > 0 {
		return fmt.Errorf("I20: %d transaction abort(s) still wait for a member at rest", len(m.frames))
	}
	for _, j := range m.jobs {
		if t := j.txn; t != nil && t.aborting {
			return fmt.Errorf("I20: transaction of %s is aborting but %s is still a member at rest", j.ID, j.ID)
		}
	}
	return nil
}

// --- queries ------------------------------------------------------------------

// JobInfo is the part of query-jobs the model predicts.
type JobInfo struct {
	ID     string
	Type   string
	Status string
	Error  *string
}

// BlockJobInfo is the part of query-block-jobs the model predicts.
type BlockJobInfo struct {
	Type         string
	Device       string
	Status       string
	Ready        bool
	Paused       bool
	Speed        int64
	IOStatus     string
	AutoFinalize bool
	AutoDismiss  bool
	Error        *string
}

// errorFor picks the job's error text for a query: the text the
// implementation reported when the model allows it (narrowing the model's
// choice), else the model's first choice so the diff shows the mismatch.
func (j *Job) errorFor(got *string) *string {
	if !j.Failed {
		return nil
	}
	if got != nil && slices.Contains(j.Errs, *got) {
		j.Errs = []string{*got}
		s := *got
		return &s
	}
	s := j.Errs[0]
	return &s
}

// QueryJobs is what query-jobs must return; got (the implementation's
// answer, by id) resolves the model's remaining choices.
func (m *Model) QueryJobs(got map[string]*string) []JobInfo {
	out := []JobInfo{}
	for _, j := range m.jobs {
		out = append(out, JobInfo{ID: j.ID, Type: j.Type, Status: j.Status.String(), Error: j.errorFor(got[j.ID])})
	}
	return out
}

// QueryBlockJobs is what query-block-jobs must return.
func (m *Model) QueryBlockJobs(got map[string]*string) []BlockJobInfo {
	out := []BlockJobInfo{}
	for _, j := range m.jobs {
		if !j.Block {
			continue
		}
		out = append(out, BlockJobInfo{
			Type: j.Type, Device: j.ID, Status: j.Status.String(), Ready: j.Status.IsReady(),
			Paused: j.PauseCount > 0, Speed: j.Speed, IOStatus: j.IOStatus,
			AutoFinalize: j.AutoFinalize, AutoDismiss: j.AutoDismiss, Error: j.errorFor(got[j.ID]),
		})
	}
	return out
}

// Enabled lists the steps the model allows next: the required event when
// one is outstanding, otherwise every spontaneous step some job may take
// (reach a pause point, leave it, become ready, finish, fail, hit its I/O
// error). It is what a model-only random walk chooses from.
func (m *Model) Enabled() []Event {
	if len(m.expect) > 0 {
		w := m.expect[0]
		e := w.ev
		if e.Kind == EvCompleted && e.HasError {
			e.Error = w.errs[0]
		}
		return []Event{e}
	}
	var out []Event
	for _, j := range m.jobs {
		for _, to := range [...]fsm.Status{fsm.Running, fsm.Paused, fsm.Ready, fsm.Standby, fsm.Waiting, fsm.Aborting} {
			if j.Started && statusGuard(j, to) == "" {
				out = append(out, Event{Kind: EvStatus, Job: j.ID, Status: to})
			}
		}
		if ioGuard(j) {
			out = append(out, Event{Kind: EvError, Job: j.ID, Op: j.IOError.Op, Action: j.IOError.Action})
		}
	}
	return out
}
