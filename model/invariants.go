package model

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qemuid"
)

// Invariant is one numbered entry of the catalogue (spec/invariants.md).
// Check judges one step's observation; it is nil for the few invariants that
// are checked elsewhere (Where says where).
type Invariant struct {
	ID        string
	Statement string
	Check     func(*Obs) error
	Where     string
}

// Catalogue is every invariant, in id order. I1–I15 are the reference's
// (qemu-jobs.md §11), I16–I21 add the list and what the harness can
// see besides.
var Catalogue = []Invariant{
	{ID: "I1", Statement: "A job's status changes only along a JobSTT edge; each change emits exactly one JOB_STATUS_CHANGE, in order, so every job's event sequence is a path of the table from undefined and ends at the status queries report; self-transitions emit none.", Check: checkI1},
	{ID: "I2", Statement: "A verb is applied only if JobVerbTable allows it in the current status and the command's extra checks pass (e.g. no complete after a cancel request); a refused verb changes nothing: no event, no driver call, identical query-jobs and query-block-jobs.", Check: checkI2},
	{ID: "I3", Statement: "A started block job emits exactly one of BLOCK_JOB_COMPLETED / BLOCK_JOB_CANCELLED, after pending or aborting and before concluded; a job that never started emits neither.", Check: checkI3},
	{ID: "I4", Statement: "CANCELLED only for a force-cancelled job (a forced user cancel of it or of a transaction member, or a member's failure); COMPLETED carries error iff the job aborted, and query-jobs then reports the same error; a soft cancel of a READY ready-style job ends in COMPLETED.", Check: checkI4},
	{ID: "I5", Statement: "BLOCK_JOB_PENDING is emitted iff a block job with auto-finalize=false enters pending, immediately after that status event.", Check: checkI5},
	{ID: "I6", Statement: "A started job with auto-dismiss=false disappears only by job-dismiss; while concluded it stays in query-jobs with its error (present iff it aborted). A job with auto-dismiss=true, or one that never started, goes to null right after concluded.", Check: checkI6},
	{ID: "I7", Statement: "Grouped transaction atomicity: members never both commit and abort; members finalize (conclude) in reverse creation order.", Check: checkI7},
	{ID: "I8", Statement: "No member of a transaction with an auto-finalize=false member leaves pending except in a step where a member was finalized or cancelled.", Check: checkI8},
	{ID: "I9", Statement: "Graph changes happen only in the finalize phase: prepare only in pending, commit/abort/clean only in pending or aborting and never before job-finalize when auto-finalize is off; exactly one of commit/abort (commit iff success) and one clean before concluded.", Check: checkI9},
	{ID: "I10", Statement: "No dirty bit is lost: after a backup that used a bitmap every cluster written during the job is dirty; on failure or cancel with bitmap-mode on-success or never every bit dirty at start is still dirty; on success with on-success or always the bitmap is exactly the clusters written during the job.", Check: checkI10, Where: "block mode only (TestBlockJobSequences): real backups with a bitmap, checked when they conclude"},
	{ID: "I11", Statement: "While a job holds a bitmap it is busy: remove, clear, enable, disable, merge and a second backup with it are refused with \"Bitmap '%s' is currently in use by another operation and cannot be used\" and the bitmap is unchanged.", Check: checkI11, Where: "block mode only (TestBlockJobSequences)"},
	{ID: "I12", Statement: "A successful backup's target equals the source at job start (an incremental one on a blank target: on the clusters dirty at start; a full backup plus on-success incrementals into one target: everywhere, at the last incremental's start); a completed mirror's target equals the source at the pivot; after commit or stream the surviving top reads what the old top read.", Check: checkI12, Where: "block mode only (TestBlockJobSequences): real jobs with guest writes and faults"},
	{ID: "I13", Statement: "pause_count >= 0; at rest a job sits in paused/standby iff it is started, not finished and pause_count > 0 (it reaches its pause point before the step ends), and running/ready only with pause_count 0.", Check: checkI13},
	{ID: "I14", Statement: "Job ids are unique among existing jobs (concluded included); creating with an id in use fails with \"Job ID '%s' already in use\", and an id is reusable after dismiss.", Check: checkI14},
	{ID: "I15", Statement: "Liveness: with fair progress and a user who starts, resumes, completes, finalizes and dismisses, every job reaches null and no transaction waits forever.", Where: "Runner.Finish, at the end of every sequence"},
	{ID: "I16", Statement: "Progress is monotonic (current never decreases, never exceeds a known total) and a successful job ends with current = total.", Check: checkI16},
	{ID: "I17", Statement: "Determinism and robustness: the same seed and actions give the identical event trace; no input panics.", Where: "Runner.Do (panics) and Replay (traces)"},
	{ID: "I18", Statement: "A connected monitor receives exactly the emitted events in order, a disconnected one none; a monitor that missed events reconstructs every job's true status and result from query-jobs alone.", Check: checkI18},
	{ID: "I19", Statement: "query-jobs lists every job newest first; query-block-jobs lists the block jobs of it in the same order with the same status, ready iff ready/standby, paused iff pause_count > 0, and the same error.", Check: checkI19},
	{ID: "I20", Statement: "At rest nothing is half done: no job is left aborting, and no transaction whose members all finished is left waiting.", Check: checkI20},
	{ID: "I21", Statement: "Every event's QMP data has exactly QEMU 7.2's members (e.g. BLOCK_JOB_PENDING has type and id, no device).", Check: checkI21},
}

// Obs is one step as the invariants see it.
type Obs struct {
	Step   int
	Action Action
	Verb   *VerbTry
	// Creates lists the creations this step attempted, in order.
	Creates []CreateTry
	// Events are the step's events and driver calls, in order.
	Events []Event
	// Jobs and Block are query-jobs and query-block-jobs after the step;
	// PrevJobs and PrevBlock before it.
	Jobs, PrevJobs   []QJob
	Block, PrevBlock []QBlock
	// Reconnected lists monitors that reconnected in this step.
	Reconnected []int
	Payload     []string
	// DataErr, BitmapErr and BusyErr are the block-mode data checks'
	// findings (I12, I10, I11).
	DataErr, BitmapErr, BusyErr error
	Hist                        *History
	Model                       *Model

	pre   []shadow           // state of each event's job just before it
	final map[string]*shadow // state after the step, by id
}

// VerbTry is the QMP command a step issued.
type VerbTry struct {
	Cmd    string
	Verb   fsm.Verb
	Block  bool
	ID     string
	Force  bool
	Speed  int64
	Found  bool       // the id was listed by query-jobs before the step
	Before fsm.Status // its status then
	Err    error
}

// CreateTry is one attempted creation.
type CreateTry struct {
	ID   string
	Spec Spec
	Err  error
}

// shadow is what the observation stream says about one job.
type shadow struct {
	ID                        string
	Seq                       int
	Txn                       int
	Block                     bool
	AutoFinalize, AutoDismiss bool
	ReadyDriver               bool
	NoCalls                   bool // driver callbacks not observed (real jobs)
	Status                    fsm.Status
	Started                   bool
	Ends                      int
	EndKind                   Kind
	EndErr                    *string
	Aborted                   bool
	UserForced, SoftReady     bool
	Offset                    int64
	Commits, Aborts, Cleans   int
}

// TxnHist is what the observation stream says about one transaction.
type TxnHist struct {
	Commits, Aborts int
	Manual          bool
	Size            int
	LastConcluded   int // Seq of the member that concluded last, -1 none
	members         []string
}

// History is the observation stream so far, per job (the current job with
// each id) and per transaction.
type History struct {
	jobs   map[string]*shadow
	txns   map[int]*TxnHist
	seq    int
	single int
	// counters prep computed for the step apply will commit
	pendingSeq, pendingSingle int
	// table is the QEMU version's whose verb table I2 checks against.
	table *fsm.Table
}

// NewHistory returns an empty history of QEMU 7.2 (fsm.DefaultVersion).
func NewHistory() *History { return NewHistoryAt(fsm.DefaultVersion) }

// NewHistoryAt returns an empty history whose verb checks (I2) follow QEMU
// version v's table.
func NewHistoryAt(v fsm.Version) *History {
	return &History{jobs: map[string]*shadow{}, txns: map[int]*TxnHist{}, table: fsm.For(v)}
}

// prep replays the step's events over the history into o.pre and o.final,
// without changing the history.
func (o *Obs) prep() {
	if o.final != nil {
		return
	}
	h := o.Hist
	o.final = map[string]*shadow{}
	get := func(id string) *shadow {
		if s := o.final[id]; s != nil {
			return s
		}
		if s := h.jobs[id]; s != nil {
			c := *s
			o.final[id] = &c
			return &c
		}
		return nil
	}
	seq, single := h.seq, h.single
	used := map[int]bool{}
	for _, e := range o.Events {
		s := get(e.Job)
		if e.Kind == EvStatus && e.Status == fsm.Created && (s == nil || s.Status == fsm.Null) {
			s = &shadow{ID: e.Job, Seq: seq, Offset: 0}
			seq++
			for k, c := range o.Creates {
				// The attempt that made this job: the first one with its id
				// that passed the id checks and was not used yet.
				if c.ID == e.Job && !used[k] && (c.Err == nil || c.Err.Error() == textNegSpeed) {
					used[k] = true
					s.Block, s.AutoFinalize, s.AutoDismiss, s.ReadyDriver = c.Spec.Block, c.Spec.AutoFinalize, c.Spec.AutoDismiss, c.Spec.Ready
					s.Txn = c.Spec.Txn
					s.NoCalls = c.Spec.NoCalls
					break
				}
			}
			if s.Txn == 0 {
				single--
				s.Txn = single
			}
			o.final[e.Job] = s
		}
		if s == nil {
			o.pre = append(o.pre, shadow{ID: e.Job, Status: fsm.Undefined})
			continue
		}
		o.pre = append(o.pre, *s)
		switch e.Kind {
		case EvStatus:
			if s.Status == fsm.Created && e.Status == fsm.Running {
				s.Started = true
			}
			if e.Status == fsm.Aborting {
				s.Aborted = true
			}
			s.Status = e.Status
		case EvCompleted, EvCancelled:
			s.Ends++
			s.EndKind = e.Kind
			if e.HasError {
				t := e.Error
				s.EndErr = &t
			}
		case EvCall:
			switch e.Call {
			case "commit":
				s.Commits++
			case "abort":
				s.Aborts++
			case "clean":
				s.Cleans++
			}
		}
	}
	if v := o.Verb; v != nil && v.Err == nil && v.Verb == fsm.VerbCancel {
		if s := get(v.ID); s != nil {
			forced := v.Force || !s.ReadyDriver || !v.Before.IsReady()
			if forced {
				s.UserForced = true
			} else {
				s.SoftReady = true
			}
		}
	}
	for _, q := range o.Jobs {
		if s := get(q.ID); s != nil && q.Current > s.Offset {
			s.Offset = q.Current
		}
	}
	// The seq/single counters are committed by apply.
	o.Hist.pendingSeq, o.Hist.pendingSingle = seq, single
}

// Apply commits the step to the history.
func (h *History) Apply(o *Obs) {
	o.prep()
	for _, e := range o.Events {
		if e.Kind == EvStatus && e.Status == fsm.Concluded {
			if s := o.final[e.Job]; s != nil {
				if t := h.txn(s); t != nil {
					t.LastConcluded = s.Seq
				}
			}
		}
	}
	for id, s := range o.final {
		old := h.jobs[id]
		h.jobs[id] = s
		if old == nil || old.Seq != s.Seq {
			t := h.txns[s.Txn]
			if t == nil {
				t = &TxnHist{LastConcluded: -1}
				h.txns[s.Txn] = t
			}
			t.Size++
			t.members = append(t.members, id)
			if !s.AutoFinalize {
				t.Manual = true
			}
		}
		if t := h.txns[s.Txn]; t != nil && old != nil && old.Seq == s.Seq {
			t.Commits += s.Commits - old.Commits
			t.Aborts += s.Aborts - old.Aborts
		} else if t != nil {
			t.Commits += s.Commits
			t.Aborts += s.Aborts
		}
	}
	h.seq, h.single = h.pendingSeq, h.pendingSingle
}

func (h *History) txn(s *shadow) *TxnHist { return h.txns[s.Txn] }

// stepActs reports whether the step's command was an accepted finalize or
// cancel on a member of transaction txn.
func (o *Obs) stepActs(txn int) bool {
	v := o.Verb
	if v == nil || v.Err != nil || (v.Verb != fsm.VerbFinalize && v.Verb != fsm.VerbCancel) {
		return false
	}
	if s := o.Hist.jobs[v.ID]; s != nil && s.Txn == txn {
		return true
	}
	return false
}

func checkI1(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		if e.Kind != EvStatus {
			continue
		}
		from := o.pre[i].Status
		if e.Status == fsm.Created && (from == fsm.Null || from == fsm.Undefined) {
			continue // a new job (possibly reusing a dismissed job's id)
		}
		if from == e.Status || !fsm.Allows(from, e.Status) {
			return fmt.Errorf("%s: %s -> %s is not a JobSTT edge", e.Job, from, e.Status)
		}
	}
	listed := map[string]fsm.Status{}
	for _, q := range o.Jobs {
		listed[q.ID] = q.Status
		s := o.final[q.ID]
		if s == nil {
			return fmt.Errorf("query-jobs lists %s, which no event ever created", q.ID)
		}
		if s.Status != q.Status {
			return fmt.Errorf("%s: events say %s, query-jobs says %s", q.ID, s.Status, q.Status)
		}
	}
	for id, s := range o.final {
		if _, ok := listed[id]; !ok && s.Status != fsm.Null {
			return fmt.Errorf("%s disappeared from query-jobs in status %s without a null event", id, s.Status)
		}
	}
	return nil
}

func checkI2(o *Obs) error {
	v := o.Verb
	if v == nil {
		return nil
	}
	if v.Found && v.Err == nil && !o.Hist.table.Permits(v.Before, v.Verb) {
		return fmt.Errorf("%s %s accepted in status %s", v.Cmd, v.ID, v.Before)
	}
	if s := o.Hist.jobs[v.ID]; v.Err == nil && v.Verb == fsm.VerbComplete && s != nil && (s.SoftReady || s.UserForced) {
		return fmt.Errorf("%s %s accepted after a cancel request (job_complete_locked refuses it)", v.Cmd, v.ID)
	}
	if v.Err == nil {
		return nil
	}
	if ve := (*fsm.VerbError)(nil); errors.As(v.Err, &ve) && ve.Status != v.Before {
		return fmt.Errorf("%s %s refused naming status %s, but the job was %s", v.Cmd, v.ID, ve.Status, v.Before)
	}
	if len(o.Events) > 0 {
		return fmt.Errorf("refused %s %s (%v) still caused %v", v.Cmd, v.ID, v.Err, o.Events)
	}
	if !slices.EqualFunc(o.PrevJobs, o.Jobs, SameQJob) {
		return fmt.Errorf("refused %s %s changed query-jobs (-before +after):\n%s", v.Cmd, v.ID, cmp.Diff(o.PrevJobs, o.Jobs))
	}
	if !slices.EqualFunc(o.PrevBlock, o.Block, SameQBlock) {
		return fmt.Errorf("refused %s %s changed query-block-jobs (-before +after):\n%s", v.Cmd, v.ID, cmp.Diff(o.PrevBlock, o.Block))
	}
	return nil
}

func checkI3(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		p := o.pre[i]
		switch {
		case e.Kind == EvCompleted || e.Kind == EvCancelled:
			if !p.Block || !p.Started {
				return fmt.Errorf("%s for %s, which is not a started block job", e, e.Job)
			}
			if p.Ends > 0 {
				return fmt.Errorf("second end event %s for %s", e, e.Job)
			}
			if p.Status != fsm.Pending && p.Status != fsm.Aborting {
				return fmt.Errorf("%s while %s (must follow pending or aborting)", e, p.Status)
			}
		case e.Kind == EvStatus && e.Status == fsm.Concluded:
			want := 0
			if p.Block && p.Started {
				want = 1
			}
			if p.Ends != want {
				return fmt.Errorf("%s concluded after %d end event(s), want %d", e.Job, p.Ends, want)
			}
		}
	}
	return nil
}

// causedByOther reports whether another member of j's transaction was
// force-cancelled by the user or aborted before event i.
func (o *Obs) causedByOther(i int, j shadow) bool {
	t := o.Hist.txns[j.Txn]
	var members []string
	if t != nil {
		members = t.members
	}
	for id, s := range o.final {
		if s.Txn == j.Txn && !slices.Contains(members, id) {
			members = append(members, id)
		}
	}
	for _, id := range members {
		if id == j.ID {
			continue
		}
		if s := o.final[id]; s != nil && s.Txn == j.Txn && s.UserForced {
			return true
		}
		if s := o.Hist.jobs[id]; s != nil && s.Txn == j.Txn && s.Aborted {
			return true
		}
		for k := 0; k < i; k++ {
			if o.Events[k].Job == id && o.Events[k].Kind == EvStatus && o.Events[k].Status == fsm.Aborting {
				return true
			}
		}
	}
	return false
}

func checkI4(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		p := o.pre[i]
		switch e.Kind {
		case EvCancelled:
			// This also covers a soft cancel of a READY ready-style job: it
			// is not forced, so it must end in COMPLETED.
			if !p.UserForced && !o.final[e.Job].UserForced && !o.causedByOther(i, p) {
				soft := ""
				if p.SoftReady {
					soft = " (it was soft-cancelled while ready)"
				}
				return fmt.Errorf("CANCELLED %s, but neither it nor a member of its transaction was force-cancelled or failed%s", e.Job, soft)
			}
		case EvCompleted:
			if e.HasError != p.Aborted {
				return fmt.Errorf("COMPLETED %s has error=%v but the job aborted=%v", e.Job, e.HasError, p.Aborted)
			}
		}
	}
	for _, q := range o.Jobs {
		s := o.final[q.ID]
		if s == nil || s.Ends == 0 {
			continue
		}
		switch {
		case s.EndKind == EvCompleted && s.EndErr == nil && q.Error != nil:
			return fmt.Errorf("%s: COMPLETED without error but query-jobs error %q", q.ID, *q.Error)
		case s.EndKind == EvCompleted && s.EndErr != nil && (q.Error == nil || *q.Error != *s.EndErr):
			return fmt.Errorf("%s: COMPLETED error %q but query-jobs error %v", q.ID, *s.EndErr, strp(q.Error))
		case s.EndKind == EvCancelled && q.Error == nil:
			return fmt.Errorf("%s: CANCELLED but query-jobs has no error", q.ID)
		}
	}
	return nil
}

func strp(s *string) string {
	if s == nil {
		return "<none>"
	}
	return fmt.Sprintf("%q", *s)
}

func checkI5(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		p := o.pre[i]
		manual := p.Block && !p.AutoFinalize
		if e.Kind == EvStatus && e.Status == fsm.Pending && manual {
			if i+1 >= len(o.Events) || o.Events[i+1].Kind != EvPending || o.Events[i+1].Job != e.Job {
				return fmt.Errorf("%s entered pending with auto-finalize=false but BLOCK_JOB_PENDING does not follow", e.Job)
			}
		}
		if e.Kind == EvPending {
			prev := i > 0 && o.Events[i-1].Kind == EvStatus && o.Events[i-1].Status == fsm.Pending && o.Events[i-1].Job == e.Job
			if !manual || !prev {
				return fmt.Errorf("BLOCK_JOB_PENDING for %s (auto-finalize=%v) not right after its pending event", e.Job, p.AutoFinalize)
			}
		}
	}
	return nil
}

func checkI6(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		p := o.pre[i]
		if e.Kind == EvStatus && e.Status == fsm.Concluded && (p.AutoDismiss || !p.Started) {
			// job_conclude_locked dismisses at once: null is its next event.
			next := -1
			for k := i + 1; k < len(o.Events); k++ {
				if o.Events[k].Kind != EvCall {
					next = k
					break
				}
			}
			if next < 0 || o.Events[next].Job != e.Job || o.Events[next].Kind != EvStatus || o.Events[next].Status != fsm.Null {
				return fmt.Errorf("%s (auto-dismiss=%v, started=%v) concluded but null does not follow", e.Job, p.AutoDismiss, p.Started)
			}
		}
		if e.Kind == EvStatus && e.Status == fsm.Null && p.Started && !p.AutoDismiss {
			v := o.Verb
			if v == nil || v.Err != nil || v.Verb != fsm.VerbDismiss || v.ID != e.Job {
				return fmt.Errorf("%s (auto-dismiss=false) reached null without job-dismiss", e.Job)
			}
		}
	}
	for id, s := range o.final {
		if s.Status != fsm.Concluded {
			continue
		}
		var q *QJob
		for k := range o.Jobs {
			if o.Jobs[k].ID == id {
				q = &o.Jobs[k]
			}
		}
		if q == nil || q.Status != fsm.Concluded {
			return fmt.Errorf("%s is concluded but query-jobs does not list it as concluded", id)
		}
		if (q.Error != nil) != s.Aborted {
			return fmt.Errorf("%s concluded (aborted=%v) but query-jobs error is %s", id, s.Aborted, strp(q.Error))
		}
	}
	return nil
}

func checkI7(o *Obs) error {
	o.prep()
	last := map[int]int{}
	for i, e := range o.Events {
		if e.Kind != EvStatus || e.Status != fsm.Concluded {
			continue
		}
		p := o.pre[i]
		prev, ok := last[p.Txn]
		if !ok {
			prev = -1
			if t := o.Hist.txns[p.Txn]; t != nil {
				prev = t.LastConcluded
			}
		}
		if prev >= 0 && p.Seq > prev {
			return fmt.Errorf("%s (created #%d) concluded after a member created before it (#%d): not reverse creation order", e.Job, p.Seq, prev)
		}
		last[p.Txn] = p.Seq
	}
	commits, aborts := map[int]int{}, map[int]int{}
	for id, t := range o.Hist.txns {
		commits[id], aborts[id] = t.Commits, t.Aborts
	}
	for i, e := range o.Events {
		if e.Kind == EvCall && (e.Call == "commit" || e.Call == "abort") {
			tx := o.pre[i].Txn
			if e.Call == "commit" {
				commits[tx]++
			} else {
				aborts[tx]++
			}
			if commits[tx] > 0 && aborts[tx] > 0 {
				return fmt.Errorf("transaction of %s has %d committed and %d aborted member(s)", e.Job, commits[tx], aborts[tx])
			}
		}
	}
	return nil
}

// txnManual reports whether transaction txn has a member with
// auto-finalize=false. A member whose creation early-failed (null without
// ever starting) left the transaction at once and does not count.
func (o *Obs) txnManual(txn int) bool {
	o.prep()
	var ids []string
	if t := o.Hist.txns[txn]; t != nil {
		ids = t.members
	}
	for id, s := range o.final {
		if s.Txn == txn {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		s := o.final[id]
		if s == nil {
			s = o.Hist.jobs[id]
		}
		if s == nil || s.Txn != txn {
			continue
		}
		if !s.AutoFinalize && (s.Started || s.Status != fsm.Null) {
			return true
		}
	}
	return false
}

func checkI8(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		p := o.pre[i]
		if e.Kind == EvStatus && p.Status == fsm.Pending && o.txnManual(p.Txn) && !o.stepActs(p.Txn) {
			return fmt.Errorf("%s left pending (-> %s) in a transaction with auto-finalize=false, without job-finalize or cancel", e.Job, e.Status)
		}
	}
	return nil
}

func checkI9(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		p := o.pre[i]
		switch {
		case e.Kind == EvCall && e.Call == "prepare":
			if p.Status != fsm.Pending {
				return fmt.Errorf("%s.prepare() while %s", e.Job, p.Status)
			}
			if o.txnManual(p.Txn) && !o.stepActs(p.Txn) {
				return fmt.Errorf("%s.prepare() before job-finalize in a transaction with auto-finalize=false", e.Job)
			}
		case e.Kind == EvCall && (e.Call == "commit" || e.Call == "abort" || e.Call == "clean"):
			if p.Status != fsm.Pending && p.Status != fsm.Aborting {
				return fmt.Errorf("%s.%s() while %s", e.Job, e.Call, p.Status)
			}
			if e.Call == "commit" && p.Aborted {
				return fmt.Errorf("%s.commit() for a job that aborted", e.Job)
			}
			if e.Call == "abort" && !p.Aborted {
				return fmt.Errorf("%s.abort() for a job that did not abort", e.Job)
			}
			if e.Call != "abort" && o.txnManual(p.Txn) && !o.stepActs(p.Txn) && !p.Aborted {
				return fmt.Errorf("%s.%s() before job-finalize in a transaction with auto-finalize=false", e.Job, e.Call)
			}
		case e.Kind == EvStatus && e.Status == fsm.Concluded && !p.NoCalls:
			if p.Commits+p.Aborts != 1 || p.Cleans != 1 {
				return fmt.Errorf("%s concluded after %d commit, %d abort, %d clean", e.Job, p.Commits, p.Aborts, p.Cleans)
			}
		}
	}
	return nil
}

func checkI13(o *Obs) error {
	o.prep()
	for _, q := range o.Jobs {
		if q.PauseCount < 0 {
			return fmt.Errorf("%s: pause_count %d", q.ID, q.PauseCount)
		}
		_, hasPausePoint := fsm.Target(q.Status, fsm.TriggerPausePoint)
		switch {
		case fsm.InPause(q.Status):
			if q.PauseCount == 0 {
				return fmt.Errorf("%s sits in %s at rest with pause_count 0", q.ID, q.Status)
			}
		case hasPausePoint:
			if q.PauseCount > 0 {
				return fmt.Errorf("%s is %s at rest with pause_count %d: it should have reached its pause point", q.ID, q.Status, q.PauseCount)
			}
		}
	}
	return nil
}

func checkI14(o *Obs) error {
	seen := map[string]bool{}
	for _, q := range o.Jobs {
		if seen[q.ID] {
			return fmt.Errorf("query-jobs lists id %s twice", q.ID)
		}
		seen[q.ID] = true
	}
	existing := map[string]bool{}
	for _, q := range o.PrevJobs {
		existing[q.ID] = true
	}
	for _, c := range o.Creates {
		dupText := fmt.Sprintf("Job ID '%s' already in use", c.ID)
		isDup := c.Err != nil && c.Err.Error() == dupText
		switch {
		case isDup && !existing[c.ID]:
			return fmt.Errorf("create %s refused as in use, but no job has that id", c.ID)
		case existing[c.ID] && !isDup:
			return fmt.Errorf("create %s with an id in use: %v", c.ID, ErrText(c.Err))
		case !existing[c.ID] && qemuid.WellFormed(c.ID) && c.Spec.Speed >= 0 && c.Err != nil:
			return fmt.Errorf("create %s with a free id failed: %v", c.ID, c.Err)
		}
		if c.Err == nil {
			existing[c.ID] = true
		}
	}
	return nil
}

func checkI16(o *Obs) error {
	o.prep()
	for i, e := range o.Events {
		if e.Kind != EvReady && e.Kind != EvCompleted && e.Kind != EvCancelled {
			continue
		}
		p := o.pre[i]
		if e.Offset < p.Offset || (e.Len > 0 && e.Offset > e.Len) {
			return fmt.Errorf("%s: offset %d (len %d) after progress %d", e, e.Offset, e.Len, p.Offset)
		}
		if e.Kind == EvCompleted && !e.HasError && e.Offset != e.Len {
			return fmt.Errorf("%s succeeded with offset %d != len %d", e.Job, e.Offset, e.Len)
		}
	}
	for _, q := range o.Jobs {
		if s := o.Hist.jobs[q.ID]; s != nil && s.Seq == o.final[q.ID].Seq && q.Current < s.Offset {
			return fmt.Errorf("%s: current-progress went back from %d to %d", q.ID, s.Offset, q.Current)
		}
		if q.Total > 0 && q.Current > q.Total {
			return fmt.Errorf("%s: current-progress %d > total %d", q.ID, q.Current, q.Total)
		}
	}
	return nil
}

func checkI18(o *Obs) error {
	if len(o.Reconnected) == 0 {
		return nil
	}
	o.prep()
	// The reconnected client knows nothing reliable from events; query-jobs
	// alone must give every job's true status and result.
	view := map[string]QJob{}
	for _, q := range o.Jobs {
		view[q.ID] = q
	}
	for _, j := range o.Model.Jobs() {
		q, ok := view[j.ID]
		if !ok {
			return fmt.Errorf("reconnected monitor cannot see %s (%s) in query-jobs", j.ID, j.Status)
		}
		if q.Status != j.Status || (q.Error != nil) != j.Failed {
			return fmt.Errorf("reconnected monitor reads %s as %s error=%s; truth is %s failed=%v", j.ID, q.Status, strp(q.Error), j.Status, j.Failed)
		}
		delete(view, j.ID)
	}
	for id := range view {
		return fmt.Errorf("query-jobs lists %s, which the model says is gone", id)
	}
	return nil
}

func checkI19(o *Obs) error {
	o.prep()
	byID := map[string]QJob{}
	var blockOrder []string
	prevSeq := -1
	for k, q := range o.Jobs {
		byID[q.ID] = q
		s := o.final[q.ID]
		if s == nil {
			continue
		}
		if k > 0 && s.Seq > prevSeq {
			return fmt.Errorf("query-jobs is not newest first at %s", q.ID)
		}
		prevSeq = s.Seq
		if s.Block {
			blockOrder = append(blockOrder, q.ID)
		}
	}
	var got []string
	for _, b := range o.Block {
		got = append(got, b.Device)
		q, ok := byID[b.Device]
		if !ok {
			return fmt.Errorf("query-block-jobs lists %s, query-jobs does not", b.Device)
		}
		if b.Status != q.Status || b.Ready != q.Status.IsReady() || b.Paused != (q.PauseCount > 0) || b.Type != q.Type {
			return fmt.Errorf("%s: query-block-jobs status=%s ready=%v paused=%v type=%s vs query-jobs status=%s pause_count=%d type=%s",
				b.Device, b.Status, b.Ready, b.Paused, b.Type, q.Status, q.PauseCount, q.Type)
		}
		if strp(b.Error) != strp(q.Error) {
			return fmt.Errorf("%s: query-block-jobs error %s, query-jobs error %s", b.Device, strp(b.Error), strp(q.Error))
		}
		if b.Len != q.Total || b.Offset != q.Current {
			return fmt.Errorf("%s: len/offset %d/%d vs total/current %d/%d", b.Device, b.Len, b.Offset, q.Total, q.Current)
		}
	}
	if !slices.Equal(got, blockOrder) {
		return fmt.Errorf("query-block-jobs order %v, block jobs of query-jobs %v", got, blockOrder)
	}
	return nil
}

func checkI20(o *Obs) error {
	for _, q := range o.Jobs {
		if q.Status == fsm.Aborting {
			return fmt.Errorf("%s is left aborting at rest", q.ID)
		}
		if q.Status == fsm.Waiting {
			all := len(q.TxnMemberStatus) > 0
			for _, s := range q.TxnMemberStatus {
				if !s.IsCompleted() {
					all = false
				}
			}
			if all {
				return fmt.Errorf("%s is left waiting although every member of its transaction finished", q.ID)
			}
		}
	}
	return nil
}

func checkI21(o *Obs) error {
	if len(o.Payload) > 0 {
		return errors.New(o.Payload[0])
	}
	return nil
}

func checkI12(o *Obs) error { return o.DataErr }

func checkI10(o *Obs) error { return o.BitmapErr }
func checkI11(o *Obs) error { return o.BusyErr }
