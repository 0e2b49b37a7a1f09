package harness

import (
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/sim"
)

// stepNS is the virtual duration of one test-driver work slice.
const stepNS = 1_000_000

// Violation is a failed check: the model disagreeing with the
// implementation ("M"), or a numbered invariant of Catalogue.
type Violation struct {
	ID     string // "M" or "I1".."I21"
	Step   int    // 1-based index of the action that exposed it
	Detail string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("step %d: %s: %s", v.Step, v.ID, v.Detail)
}

// Runner drives one sim.Manager and one Model with the same actions and
// checks them against each other and against every invariant after every
// action.
type Runner struct {
	seed    uint64
	sim     *sim.Manager
	mod     *model.Model
	ids     []string
	idSet   map[string]bool
	nextID  int
	simJobs map[string]*sim.Job
	group   int
	mons    []*sim.Monitor
	monOn   []bool
	drains  map[string]int

	cur      []model.Event // events (and driver calls) not yet judged
	deferred []func()      // model operations to apply when an event needs them

	// Block mode (NewBlockRunner): the block graph and the real jobs.
	g        *blockdev.Graph
	real     map[string]*realJob
	devs     map[string]*devState
	devOrder []string
	nodeSeq  int
	dataErrs []string
	events   []model.Event // this step's events
	payload  []string
	hist     *model.History

	prevJobs  []model.QJob
	prevBlock []model.QBlock

	// Log is one line group per executed action, for timelines.
	Log []StepRecord
	// Steps and Checks count executed actions and invariant evaluations.
	Steps, Checks int
	// Trace is every event in order, as text (determinism, I17).
	Trace []string
}

// StepRecord is what one action did, for the counterexample timeline.
type StepRecord struct {
	Step   int
	Desc   string   // the command as issued, with its result
	Jobs   []string // ids the command named
	Events []model.Event
}

// NewRunner returns a runner over a fresh sim.Manager with seed, at QEMU 7.2
// (fsm.DefaultVersion).
func NewRunner(seed uint64) *Runner { return NewRunnerAt(fsm.DefaultVersion, seed) }

// NewRunnerAt returns a runner over a fresh sim.Manager with seed, both it
// and the model (and the history's verb checks) at QEMU version v.
func NewRunnerAt(v fsm.Version, seed uint64) *Runner {
	r := &Runner{
		seed: seed, sim: sim.New(sim.Options{Seed: seed, Version: v}), mod: model.NewAt(v),
		idSet: map[string]bool{}, simJobs: map[string]*sim.Job{}, drains: map[string]int{},
		hist: model.NewHistoryAt(v),
	}
	r.sim.Subscribe(func(e sim.Event) {
		me, bad := fromSim(e)
		if bad != "" {
			r.payload = append(r.payload, bad)
		}
		r.cur = append(r.cur, me)
	})
	for range 2 {
		r.mons = append(r.mons, r.sim.NewMonitor())
		r.monOn = append(r.monOn, true)
	}
	r.prevJobs, r.prevBlock = r.query()
	return r
}

// Model returns the runner's model.
func (r *Runner) Model() *model.Model { return r.mod }

// Version is the QEMU version the runner's sim and model follow.
func (r *Runner) Version() fsm.Version { return r.mod.Version() }

// fromSim converts a sim event and checks its QMP data members against
// QEMU's (reference §3.1; the same in 10.0's transcripts), invariant I21.
func fromSim(e sim.Event) (model.Event, string) {
	me := convert(e)
	var keys []string
	switch me.Kind {
	case model.EvStatus:
		keys = []string{"id", "status"}
	case model.EvReady, model.EvCancelled:
		keys = []string{"device", "len", "offset", "speed", "type"}
	case model.EvCompleted:
		keys = []string{"device", "len", "offset", "speed", "type"}
		if e.HasError {
			keys = []string{"device", "error", "len", "offset", "speed", "type"}
		}
	case model.EvPending:
		keys = []string{"id", "type"}
	case model.EvError:
		keys = []string{"action", "device", "operation"}
	default:
		return me, fmt.Sprintf("unknown event %q", e.Name)
	}
	got := slices.Sorted(maps.Keys(e.Data()))
	if !slices.Equal(got, keys) {
		return me, fmt.Sprintf("%s data members %v, QEMU sends %v", e.Name, got, keys)
	}
	return me, ""
}

// convert is a sim event in the model's terms (an unknown name gets an
// invalid Kind, which the model refuses).
func convert(e sim.Event) model.Event {
	me := model.Event{Kind: model.EvUnknown, Job: e.Job, Status: e.Status, HasError: e.HasError, Error: e.Error,
		Len: e.Len, Offset: e.Offset, Speed: e.Speed, Op: e.Operation, Action: string(e.Action)}
	if k, ok := kindOfEvent[e.Name]; ok {
		me.Kind = k
	}
	return me
}

// kindOfEvent is modelKinds read backwards: the model's kind of a QMP event.
var kindOfEvent = func() map[sim.EventName]model.Kind {
	m := make(map[sim.EventName]model.Kind, len(modelKinds))
	for k, name := range modelKinds {
		m[name] = k
	}
	return m
}()

// probe wraps the test driver so that its callbacks join the event stream
// in order: the model and I9 judge when graph changes happen.
//
// A lazy probe also behaves like QEMU's mirror after a soft cancel while
// ready: it goes on for one more slice (mirror_run treats the request like
// complete and exits once converged), so the job stays ready with a cancel
// requested for a while, the window in which complete must be refused.
type probe struct {
	*sim.TestDriver
	r       *Runner
	lazy    bool
	delayed bool
}

func (p *probe) call(j *sim.Job, name string) {
	p.r.cur = append(p.r.cur, model.Event{Kind: model.EvCall, Job: j.ID(), Call: name})
}
func (p *probe) Prepare(j *sim.Job) error           { p.call(j, "prepare"); return p.TestDriver.Prepare(j) }
func (p *probe) Commit(j *sim.Job)                  { p.call(j, "commit"); p.TestDriver.Commit(j) }
func (p *probe) Abort(j *sim.Job)                   { p.call(j, "abort"); p.TestDriver.Abort(j) }
func (p *probe) Clean(j *sim.Job)                   { p.call(j, "clean"); p.TestDriver.Clean(j) }
func (p *probe) Free(j *sim.Job)                    { p.call(j, "free"); p.TestDriver.Free(j) }
func (p *probe) Complete(j *sim.Job) error          { p.call(j, "complete"); return p.TestDriver.Complete(j) }
func (p *probe) Cancel(j *sim.Job, force bool) bool { return p.TestDriver.Cancel(j, force) }
func (p *probe) Change(j *sim.Job, o sim.ChangeOptions) error {
	p.call(j, "change")
	return p.TestDriver.Change(j, o)
}

func (p *probe) Run(j *sim.Job) sim.Step {
	// Like mirror_run after a soft cancel while ready: one more slice
	// before the run ends (testdata/regress/sleep_while_pause_requested.json).
	if p.lazy && !p.delayed && j.CancelRequested() && !j.IsCancelled() && j.Status().IsReady() {
		p.delayed = true
		return sim.Sleep(stepNS)
	}
	return p.TestDriver.Run(j)
}

// observe feeds the events collected since the last call to the model.
func (r *Runner) observe(step int) error {
	evs := r.cur
	r.cur = nil
	for i, e := range evs {
		r.events = append(r.events, e)
		if e.Kind != model.EvCall {
			r.Trace = append(r.Trace, e.String())
		}
		err := r.mod.Observe(e)
		// A model operation the implementation performed inside the call
		// (a drained section ending within blockdev-backup) is applied
		// when an event needs it, one at a time, in the order given.
		for err != nil && len(r.deferred) > 0 {
			r.deferred[0]()
			r.deferred = r.deferred[1:]
			err = r.mod.Observe(e)
		}
		if err != nil {
			r.events = append(r.events, evs[i+1:]...)
			return &Violation{ID: "M", Step: step, Detail: err.Error()}
		}
	}
	for _, f := range r.deferred {
		f()
	}
	r.deferred = nil
	return nil
}

func sameErr(want, got error) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil:
		return fmt.Sprintf("model: success; sim: %s %q", qerr.ClassOf(got), got.Error())
	case got == nil:
		var rf *model.Refusal
		errors.As(want, &rf)
		return fmt.Sprintf("model: %s %q; sim: success", rf.Class, rf.Text)
	}
	var rf *model.Refusal
	if !errors.As(want, &rf) {
		return "model error of unknown type: " + want.Error()
	}
	if rf.Text != got.Error() || rf.Class != qerr.ClassOf(got) {
		return fmt.Sprintf("model: %s %q; sim: %s %q", rf.Class, rf.Text, qerr.ClassOf(got), got.Error())
	}
	return ""
}

var malformedIDs = []string{"", "1job", "j 0", "-j", "j/0", "é"}

func (r *Runner) freshID() string {
	for {
		id := fmt.Sprintf("j%d", r.nextID)
		r.nextID++
		if !r.idSet[id] {
			return id
		}
	}
}

func (r *Runner) planID(p model.JobPlan) string {
	switch p.IDKind {
	case 1:
		if len(r.ids) > 0 {
			return r.ids[mod(p.IDRef, len(r.ids))]
		}
	case 2:
		return malformedIDs[mod(p.IDRef, len(malformedIDs))]
	}
	return r.freshID()
}

func (r *Runner) jobID(a model.Action) string {
	switch a.Target {
	case model.TargetUnknown:
		return "ghost"
	case model.TargetMalformed:
		return malformedIDs[mod(a.Job, len(malformedIDs))]
	}
	if len(r.ids) == 0 {
		return "ghost"
	}
	return r.ids[mod(a.Job, len(r.ids))]
}

var blockTypes = map[string]bool{"backup": true, "mirror": true, "commit": true, "stream": true}

// specs turns a plan into the sim test-driver script and the model's spec
// of the same job.
func planSpecs(p model.JobPlan, id string, txn int) (sim.TestSpec, model.Spec) {
	if p.Type == "" {
		p.Type = "backup"
	}
	block := blockTypes[p.Type]
	if !block {
		// Non-block jobs never emit BLOCK_JOB_ERROR and QEMU always
		// creates them with auto-dismiss off.
		p.IOErrorAt = 0
		p.ManualDismiss = true
	}
	ts := sim.TestSpec{Type: sim.JobType(p.Type), Steps: p.Steps, StepTime: stepNS, Ready: p.Ready,
		FailAt: p.FailAt, IOErrorAt: p.IOErrorAt, OnError: sim.OnError(p.OnError), IORead: p.IORead,
		Changeable: p.Changeable}
	if ts.OnError == "" {
		ts.OnError = sim.OnErrorReport
	}
	failText := ""
	if p.FailAt > 0 {
		ts.FailErrno = errno.EIO
		failText = model.Strerror(5)
		if p.FailAt%2 == 0 {
			ts.FailMsg = fmt.Sprintf("slice %d failed", p.FailAt)
			failText = ts.FailMsg
		}
	}
	ioErrno := 5
	if p.NoSpace {
		ioErrno = 28
		ts.IOErrno = errno.ENOSPC
	}
	prepareText := model.Strerror(22)
	if p.PrepareFails {
		ts.PrepareErr = &sim.JobError{Errno: errno.EINVAL}
		if p.Steps%2 == 1 {
			// A driver's own message rather than strerror.
			ts.PrepareErr.Msg = "prepare refused the graph change"
			prepareText = ts.PrepareErr.Msg
		}
	}
	s := model.Spec{ID: id, Type: p.Type, Block: block, Txn: txn,
		AutoFinalize: !p.ManualFinalize, AutoDismiss: !p.ManualDismiss, Speed: p.Speed,
		Ready: p.Ready, HasPrepare: true, HasComplete: true, HasChange: p.Changeable,
		PrepareFails: p.PrepareFails, PrepareText: prepareText}
	// Walk the script as the driver will: the first failure decides.
	for slice := 1; slice <= p.Steps; slice++ {
		if slice == p.FailAt {
			s.Fails, s.FailText = true, failText
			break
		}
		if slice == p.IOErrorAt {
			op := "write"
			if p.IORead {
				op = "read"
			}
			action := errorAction(string(ts.OnError), p.NoSpace)
			s.IOError = &model.IOError{Op: op, Action: action, NoSpace: p.NoSpace}
			if action == "report" {
				s.Fails, s.FailText = true, model.Strerror(ioErrno)
				break
			}
		}
	}
	return ts, s
}

// errorAction is block_job_error_action's policy table (reference §5.1).
func errorAction(policy string, enospc bool) string {
	switch policy {
	case "ignore":
		return "ignore"
	case "stop":
		return "stop"
	case "enospc", "auto":
		if enospc {
			return "stop"
		}
	}
	return "report"
}

// Do executes one action on both sides and runs every check. It returns
// the first violation.
func (r *Runner) Do(a model.Action) (err error) {
	step := r.Steps + 1
	r.Steps++
	r.events = r.events[:0]
	r.payload = r.payload[:0]
	obs := &model.Obs{Step: step, Action: a, Hist: r.hist, Model: r.mod, PrevJobs: r.prevJobs, PrevBlock: r.prevBlock}
	rec := StepRecord{Step: step}
	defer func() {
		if p := recover(); p != nil {
			err = &Violation{ID: "I17", Step: step, Detail: fmt.Sprintf("panic: %v\n%s", p, debug.Stack())}
		}
		// The step's record, also when it failed half-way: the timeline
		// shows every event up to the failure.
		rec.Events = append(slices.Clone(r.events), r.cur...)
		r.cur = nil
		r.Log = append(r.Log, rec)
	}()
	// A disagreement with the model ends the run, but the step is still
	// completed and the invariants still judged: when one of them fails
	// too, the numbered invariant is reported (with the model's view), so
	// a bug is named by the property it breaks.
	var modelErr *Violation
	keep := func(err error) error {
		var v *Violation
		if errors.As(err, &v) && v.ID == "M" {
			if modelErr == nil {
				modelErr = v
			}
			return nil
		}
		return err
	}
	if err := keep(r.exec(a, obs, &rec, step)); err != nil {
		return err
	}
	r.sim.Settle()
	if err := keep(r.observe(step)); err != nil {
		return err
	}
	if modelErr == nil {
		if err := r.mod.Quiesce(); err != nil {
			modelErr = &Violation{ID: "M", Step: step, Detail: err.Error()}
		}
	}
	obs.Events = r.events
	obs.Payload = r.payload
	obs.Jobs, obs.Block = r.query()
	if modelErr == nil {
		if err := keep(r.compareQueries(obs, step)); err != nil {
			return err
		}
	}
	if err := r.checkMonitors(obs, step); err != nil {
		return err
	}
	if r.g != nil && modelErr == nil {
		// These read the model's view of each job's result.
		obs.DataErr = r.checkData(obs)
		obs.BitmapErr = r.checkBitmaps(obs)
	}
	for _, inv := range model.Catalogue {
		if inv.Check == nil || modelErr != nil && inv.ID == "I18" {
			continue // I18 compares with the model's truth
		}
		r.Checks++
		if err := inv.Check(obs); err != nil {
			v := &Violation{ID: inv.ID, Step: step, Detail: err.Error()}
			if modelErr != nil {
				v.Detail += "\n(the model disagrees too: " + modelErr.Detail + ")"
			}
			return v
		}
	}
	if modelErr != nil {
		return modelErr
	}
	r.hist.Apply(obs)
	r.prevJobs, r.prevBlock = obs.Jobs, obs.Block
	// A drained section of a job that is gone ends with it; a new job
	// reusing the id starts without one.
	for id := range r.drains {
		if r.mod.Job(id) == nil {
			delete(r.drains, id)
		}
	}
	return nil
}

// existingJob names the action's job in rec ("op id") and returns it; ok
// is false, and the step marked skipped, when sim or the model has no such
// job.
func (r *Runner) existingJob(op string, a model.Action, rec *StepRecord) (string, *sim.Job, bool) {
	id := r.jobID(model.Action{Job: a.Job})
	rec.Desc, rec.Jobs = op+" "+id, []string{id}
	j := r.simJobs[id]
	if j == nil || r.mod.Job(id) == nil {
		rec.Desc += " (no such job: skipped)"
		return id, nil, false
	}
	return id, j, true
}

func (r *Runner) exec(a model.Action, obs *model.Obs, rec *StepRecord, step int) error {
	switch a.Op {
	case model.OpNoop:
		rec.Desc = "settle"
	case model.OpCreate:
		return r.create(a, obs, rec, step)
	case model.OpStart:
		id, j, ok := r.existingJob("start", a, rec)
		if !ok {
			return nil
		}
		merr := r.mod.Start(id)
		serr := r.sim.Start(j)
		if (merr == nil) != (serr == nil) {
			return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("start %s: model %v, sim %v", id, merr, serr)}
		}
		rec.Desc += " -> " + model.ErrText(serr)
		return r.observe(step)
	case model.OpVerb:
		return r.verb(a, obs, rec, step)
	case model.OpAdvance:
		rec.Desc = fmt.Sprintf("advance %dns", a.Ns)
		r.sim.Advance(a.Ns)
	case model.OpDrainBegin:
		id, j, ok := r.existingJob("drain-begin", a, rec)
		if !ok {
			return nil
		}
		r.drains[id]++
		r.mod.DrainBegin(id)
		r.sim.DrainBegin(j)
		return r.observe(step)
	case model.OpDrainEnd:
		id := r.jobID(model.Action{Job: a.Job})
		rec.Desc, rec.Jobs = "drain-end "+id, []string{id}
		if r.drains[id] == 0 {
			rec.Desc += " (no drain open: skipped)"
			return nil
		}
		r.drains[id]--
		if r.mod.Job(id) == nil {
			rec.Desc += " (job gone)"
			return nil
		}
		r.mod.DrainEnd(id)
		r.sim.DrainEnd(r.simJobs[id])
		return r.observe(step)
	case model.OpDisconnect:
		i := mod(a.Mon, len(r.mons))
		rec.Desc = fmt.Sprintf("monitor %d disconnects", i)
		r.mons[i].Disconnect()
		r.monOn[i] = false
	case model.OpWrite, model.OpFault, model.OpBitmap:
		id := r.jobID(model.Action{Job: a.Job})
		rec.Jobs = []string{id}
		if r.g == nil {
			rec.Desc = a.Op.String() + " (not in block mode: skipped)"
			return nil
		}
		switch a.Op {
		case model.OpWrite:
			rec.Desc = r.guestWrite(id)
		case model.OpFault:
			rec.Desc = r.armFault(id, a.Force)
		default:
			rec.Desc, obs.BusyErr = r.bitmapOp(id, a.Mon)
		}
		return r.observe(step)
	case model.OpConnect:
		i := mod(a.Mon, len(r.mons))
		rec.Desc = fmt.Sprintf("monitor %d connects", i)
		r.mons[i].Connect()
		r.monOn[i] = true
		obs.Reconnected = append(obs.Reconnected, i)
	}
	return nil
}

// newGroup opens a grouped transaction for a creation of n > 1 jobs and
// returns it with its group number; a single job gets neither (nil, 0).
func (r *Runner) newGroup(n int) (*sim.Txn, int) {
	if n <= 1 {
		return nil, 0
	}
	r.group++
	return r.sim.NewTxn(), r.group
}

func (r *Runner) create(a model.Action, obs *model.Obs, rec *StepRecord, step int) error {
	plans := a.Jobs
	if len(plans) == 0 {
		plans = []model.JobPlan{{}}
	}
	if r.g != nil && plans[0].Real {
		return r.createReal(slices.Clone(plans), obs, rec, step)
	}
	simTxn, gid := r.newGroup(len(plans))
	var descs []string
	var started []string
	for _, p := range plans {
		id := r.planID(p)
		ts, spec := planSpecs(p, id, gid)
		obs.Creates = append(obs.Creates, model.CreateTry{ID: id, Spec: spec})
		merr := r.mod.Create(spec)
		sj, serr := r.sim.Create(sim.JobSpec{ID: id, Driver: &probe{TestDriver: sim.NewTestDriver(ts), r: r, lazy: p.Lazy && p.Ready}, Txn: simTxn,
			ManualFinalize: p.ManualFinalize, ManualDismiss: !spec.AutoDismiss, Speed: p.Speed})
		descs = append(descs, fmt.Sprintf("%s [%s] -> %s", id, p, model.ErrText(serr)))
		rec.Jobs = append(rec.Jobs, id)
		if err := r.created(obs, step, id, merr, serr); err != nil {
			return err
		}
		if serr == nil {
			delete(r.real, id) // a real job that had this id is gone
			r.track(id, sj)
			started = append(started, id)
		}
	}
	kind := "create"
	if gid > 0 {
		kind = fmt.Sprintf("create grouped txn %d", gid)
	}
	rec.Desc = kind + ": " + strings.Join(descs, "; ")
	if !a.Start {
		return nil
	}
	rec.Desc += "; start all"
	for _, id := range started {
		if err := r.mod.Start(id); err != nil {
			return &Violation{ID: "M", Step: step, Detail: err.Error()}
		}
		if err := r.sim.Start(r.simJobs[id]); err != nil {
			return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("start %s: sim refused: %v", id, err)}
		}
		if err := r.observe(step); err != nil {
			return err
		}
	}
	return nil
}

// created records a creation's outcome, which must be the model's, and
// observes the step.
func (r *Runner) created(obs *model.Obs, step int, id string, merr, serr error) error {
	obs.Creates[len(obs.Creates)-1].Err = serr
	if d := sameErr(merr, serr); d != "" {
		return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("create %s: %s", id, d)}
	}
	return r.observe(step)
}

// track makes a created sim job the one its id names from now on.
func (r *Runner) track(id string, sj *sim.Job) {
	r.simJobs[id] = sj
	if !r.idSet[id] {
		r.idSet[id] = true
		r.ids = append(r.ids, id)
	}
}

func (r *Runner) verb(a model.Action, obs *model.Obs, rec *StepRecord, step int) error {
	id := r.jobID(a)
	sc := sim.VerbCommand{Verb: a.Verb, Block: a.Block, ID: id, Force: a.Force, Speed: a.Speed}
	block, cmd := sc.IsBlock(), sc.Name()
	vt := &model.VerbTry{Cmd: cmd, Verb: a.Verb, Block: block, ID: id, Force: a.Force || !block, Speed: a.Speed}
	for _, q := range r.prevJobs {
		if q.ID == id {
			vt.Found, vt.Before = true, q.Status
		}
	}
	obs.Verb = vt
	rec.Jobs = []string{id}
	args := fmt.Sprintf("%s %q", cmd, id)
	if a.Verb == fsm.VerbCancel && block {
		args += fmt.Sprintf(" force=%v", a.Force)
	}
	if a.Verb == fsm.VerbSetSpeed {
		args += fmt.Sprintf(" speed=%d", a.Speed)
	}

	// The model first: its state must include the command before it judges
	// the events the command causes.
	var merr error
	mj, lerr := r.mod.Lookup(id, block)
	if lerr != nil {
		merr = lerr
	} else {
		merr = r.mod.Verb(mj, a)
	}

	serr := r.sim.Apply(sc)
	vt.Err = serr
	rec.Desc = args + " -> " + model.ErrText(serr)
	if d := sameErr(merr, serr); d != "" {
		return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("%s: %s", args, d)}
	}
	if err := r.observe(step); err != nil {
		return err
	}
	// R52: what the model derives from the command alone (a finalize's
	// or a transaction abort's cascade, a dismiss, a cancel of a job that
	// never started) reaches the client before the command's return.
	if want := r.mod.Expecting(); len(want) > 0 {
		return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("%s returned before the events it causes: %v", args, want)}
	}
	return nil
}

func (r *Runner) query() ([]model.QJob, []model.QBlock) {
	var jobs []model.QJob
	for _, in := range r.sim.QueryJobs() {
		q := model.QJob{ID: in.ID, Type: string(in.Type), Status: in.Status, Current: in.CurrentProgress,
			Total: in.TotalProgress, Error: in.Error}
		if j := r.sim.Job(in.ID); j != nil {
			q.PauseCount, q.UserPaused = j.PauseCount(), j.UserPaused()
			if t := j.Txn(); t != nil {
				for _, o := range t.Members() {
					q.TxnMemberStatus = append(q.TxnMemberStatus, o.Status())
				}
			}
		}
		jobs = append(jobs, q)
	}
	return jobs, r.sim.QueryBlockJobs()
}

func (r *Runner) compareQueries(o *model.Obs, step int) error {
	gotErr := map[string]*string{}
	var got []model.JobInfo
	for _, q := range o.Jobs {
		gotErr[q.ID] = q.Error
		got = append(got, model.JobInfo{ID: q.ID, Type: q.Type, Status: q.Status.String(), Error: q.Error})
	}
	want := r.mod.QueryJobs(gotErr)
	if got == nil {
		got = []model.JobInfo{}
	}
	// cmp.Diff only when they differ: it is slow, and this runs every step.
	if !slices.EqualFunc(want, got, func(a, b model.JobInfo) bool {
		return a.ID == b.ID && a.Type == b.Type && a.Status == b.Status && model.SameText(a.Error, b.Error)
	}) {
		d := cmp.Diff(want, got)
		return &Violation{ID: "M", Step: step, Detail: "query-jobs (-model +sim):\n" + d}
	}
	gotBErr := map[string]*string{}
	gotB := []model.BlockJobInfo{}
	for _, b := range o.Block {
		gotBErr[b.Device] = b.Error
		gotB = append(gotB, model.BlockJobInfo{Type: b.Type, Device: b.Device, Status: b.Status.String(), Ready: b.Ready,
			Paused: b.Paused, Speed: b.Speed, IOStatus: string(b.IOStatus), AutoFinalize: b.AutoFinalize,
			AutoDismiss: b.AutoDismiss, Error: b.Error})
	}
	wantB := r.mod.QueryBlockJobs(gotBErr)
	if !slices.EqualFunc(wantB, gotB, func(a, b model.BlockJobInfo) bool {
		e := a.Error
		a.Error = b.Error
		return a == b && model.SameText(e, b.Error)
	}) {
		d := cmp.Diff(wantB, gotB)
		return &Violation{ID: "M", Step: step, Detail: "query-block-jobs (-model +sim):\n" + d}
	}
	return nil
}

// checkMonitors is invariant I18's event half: a connected monitor got
// exactly this step's events, a disconnected one none.
func (r *Runner) checkMonitors(o *model.Obs, step int) error {
	var qmp []string
	for _, e := range o.Events {
		if e.Kind != model.EvCall {
			qmp = append(qmp, e.String())
		}
	}
	for i, mon := range r.mons {
		var got []string
		for _, e := range mon.Take() {
			got = append(got, convert(e).String())
		}
		want := qmp
		if !r.monOn[i] {
			want = nil
		}
		if !slices.Equal(got, want) {
			return &Violation{ID: "I18", Step: step, Detail: fmt.Sprintf("monitor %d (connected=%v) received %v, emitted %v", i, r.monOn[i], got, want)}
		}
	}
	return nil
}

// Finish drives every remaining job to its end the way a patient user
// would (end drains, start, resume, complete, finalize, dismiss, let time
// pass) with every check still running, then checks liveness (I15): no job
// is left and nothing is queued.
func (r *Runner) Finish() error {
	for i := range r.mons {
		if !r.monOn[i] {
			if err := r.Do(model.Action{Op: model.OpConnect, Mon: i}); err != nil {
				return err
			}
		}
	}
	idx := func(id string) int { return slices.Index(r.ids, id) }
	for round := 0; round < 100; round++ {
		if len(r.mod.Jobs()) == 0 && r.sim.Idle() {
			break
		}
		var acts []model.Action
		for id, n := range r.drains {
			if n > 0 && idx(id) >= 0 {
				acts = append(acts, model.Action{Op: model.OpDrainEnd, Job: idx(id)})
			}
		}
		slices.SortFunc(acts, func(a, b model.Action) int { return a.Job - b.Job })
		for _, j := range r.mod.Jobs() {
			k := idx(j.ID)
			if k < 0 {
				continue
			}
			v := model.Action{Op: model.OpVerb, Job: k}
			switch {
			case j.Status == fsm.Created && !j.Started:
				acts = append(acts, model.Action{Op: model.OpStart, Job: k})
				continue
			case j.UserPaused:
				v.Verb = fsm.VerbResume
			case j.Speed > 0 && j.Block && fsm.Permits(j.Status, fsm.VerbSetSpeed):
				// Lift the rate limit: liveness assumes fair progress.
				v.Verb, v.Block, v.Speed = fsm.VerbSetSpeed, true, 0
			case j.Status.IsReady() && !j.Completing && !j.Cancelled:
				v.Verb = fsm.VerbComplete
			case j.Status == fsm.Pending:
				v.Verb = fsm.VerbFinalize
			case j.Status == fsm.Concluded:
				v.Verb = fsm.VerbDismiss
			default:
				continue
			}
			acts = append(acts, v)
		}
		acts = append(acts, model.Action{Op: model.OpAdvance, Ns: 20 * stepNS})
		for _, a := range acts {
			if err := r.Do(a); err != nil {
				return err
			}
		}
	}
	if n := len(r.mod.Jobs()); n > 0 || len(r.prevJobs) > 0 || !r.sim.Idle() {
		return &Violation{ID: "I15", Step: r.Steps, Detail: fmt.Sprintf("after the drain-down %d job(s) remain (sim lists %d, idle=%v)", n, len(r.prevJobs), r.sim.Idle())}
	}
	return nil
}

// mod is k mod n in [0, n), for indices read from files.
func mod(k, n int) int { return ((k % n) + n) % n }
