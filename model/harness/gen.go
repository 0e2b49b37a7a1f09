package harness

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/timeline"
)

// Source supplies the generator's choices. Intn returns a value in [0, n);
// every choice is arranged so that 0 is the simplest option, which is where
// a shrinker drives it.
type Source interface {
	Intn(n int) int
}

// PCGSource is a Source over a seeded PCG generator.
type PCGSource struct{ r *rand.Rand }

// NewPCGSource returns a Source for seed and stream.
func NewPCGSource(seed, stream uint64) *PCGSource {
	return &PCGSource{r: rand.New(rand.NewPCG(seed, stream))}
}

// Intn returns a uniform value in [0, n).
func (s *PCGSource) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	return s.r.IntN(n)
}

var (
	genTypes    = []string{"backup", "mirror", "commit", "stream", "create"}
	genPolicies = []string{"report", "ignore", "stop", "enospc", "auto"}
	genAdvance  = []int64{0, stepNS / 2, stepNS, 2 * stepNS, 5 * stepNS, 20 * stepNS}
)

// drawID picks the plan's id: mostly fresh, sometimes one already used,
// rarely a malformed one.
func drawID(src Source, p *model.JobPlan) {
	switch k := src.Intn(20); {
	case k == 19:
		p.IDKind, p.IDRef = 2, src.Intn(len(malformedIDs))
	case k >= 17:
		p.IDKind, p.IDRef = 1, src.Intn(8)
	}
}

// genPlan draws a test-driver job of a version with table's verbs.
func genPlan(src Source, table *fsm.Table) model.JobPlan {
	p := model.JobPlan{Type: genTypes[src.Intn(len(genTypes))]}
	if (p.Type == "mirror" || p.Type == "commit") && src.Intn(3) != 0 {
		p.Ready = true
		p.Lazy = src.Intn(2) == 1
	}
	p.ManualFinalize = src.Intn(3) == 1
	p.ManualDismiss = src.Intn(3) == 1
	p.Steps = src.Intn(6)
	switch src.Intn(6) {
	case 1:
		p.FailAt = 1 + src.Intn(p.Steps+1)
	case 2:
		p.IOErrorAt = 1 + src.Intn(p.Steps+1)
		p.OnError = genPolicies[src.Intn(len(genPolicies))]
		p.NoSpace = src.Intn(2) == 1
		p.IORead = src.Intn(2) == 1
	}
	p.PrepareFails = src.Intn(8) == 1
	switch src.Intn(12) {
	case 10:
		p.Speed = 1 << 20
	case 11:
		p.Speed = -1
	}
	if _, ok := table.ParseVerb(fsm.VerbChange.String()); ok {
		// A version with block-job-change: half the drivers have .change
		// (drawn only there, so that 7.2's draws stay as they were).
		p.Changeable = src.Intn(2) == 1
	}
	drawID(src, &p)
	return p
}

func genRealPlan(src Source) model.JobPlan {
	p := model.JobPlan{Real: true, Type: []string{"backup", "mirror", "commit", "stream"}[src.Intn(4)]}
	p.Active = p.Type == "commit" && src.Intn(2) == 1
	p.ManualFinalize = src.Intn(3) == 1
	p.ManualDismiss = src.Intn(3) == 1
	p.OnError = genPolicies[src.Intn(len(genPolicies))]
	if src.Intn(3) == 1 {
		p.Speed = 16 << 20
	}
	if p.Type == "backup" && src.Intn(2) == 1 {
		p.BitmapMode = []string{"on-success", "always", "never"}[src.Intn(3)]
		p.SyncBitmap = src.Intn(2) == 1
	}
	drawID(src, &p)
	return p
}

// NextAction draws one action. It looks at the runner's state only to
// make good choices likely (verbs the job's status accepts, starting a job
// that is created); wrong and unknown targets stay possible throughout.
func NextAction(src Source, r *Runner) model.Action {
	n := len(r.ids)
	table := fsm.For(r.Version()) // the version's verbs (10.0 adds change)
	pickJob := func() int {
		if n == 0 {
			return 0
		}
		// Mostly a job that still exists; sometimes any id of the
		// sequence, dismissed ones included.
		var live []int
		for i, id := range r.ids {
			if r.mod.Job(id) != nil {
				live = append(live, i)
			}
		}
		if len(live) > 0 && src.Intn(4) != 3 {
			return live[src.Intn(len(live))]
		}
		return src.Intn(n)
	}
	if r.g != nil {
		// Block mode: guest writes, faults and real jobs besides the rest.
		switch src.Intn(12) {
		case 1:
			return model.Action{Op: model.OpWrite, Job: pickJob()}
		case 2:
			return model.Action{Op: model.OpFault, Job: pickJob(), Force: src.Intn(3) == 2} // Force: disarm
		case 3:
			return model.Action{Op: model.OpCreate, Jobs: []model.JobPlan{genRealPlan(src)}}
		case 4:
			return model.Action{Op: model.OpCreate, Jobs: []model.JobPlan{genRealPlan(src), genRealPlan(src)}}
		case 5:
			return model.Action{Op: model.OpBitmap, Job: pickJob(), Mon: src.Intn(len(bitmapOps))}
		case 6:
			p := model.JobPlan{Real: true, Type: "backup", Chain: true, ChainRef: src.Intn(8),
				ManualFinalize: src.Intn(3) == 1, ManualDismiss: src.Intn(3) == 1,
				OnError: genPolicies[src.Intn(len(genPolicies))]}
			return model.Action{Op: model.OpCreate, Jobs: []model.JobPlan{p}}
		}
	}
	switch k := src.Intn(100); {
	case k < 2:
		return model.Action{Op: model.OpNoop}
	case k < 12:
		return model.Action{Op: model.OpCreate, Jobs: []model.JobPlan{genPlan(src, table)}, Start: src.Intn(4) != 3}
	case k < 17:
		size := 2 + src.Intn(2)
		plans := make([]model.JobPlan, size)
		for i := range plans {
			plans[i] = genPlan(src, table)
		}
		return model.Action{Op: model.OpCreate, Jobs: plans, Start: src.Intn(5) != 4}
	case k < 22:
		var created []int
		for i, id := range r.ids {
			if j := r.mod.Job(id); j != nil && j.Status == fsm.Created && !j.Started {
				created = append(created, i)
			}
		}
		if len(created) > 0 && src.Intn(4) != 3 {
			return model.Action{Op: model.OpStart, Job: created[src.Intn(len(created))]}
		}
		return model.Action{Op: model.OpStart, Job: pickJob()}
	case k < 70:
		a := model.Action{Op: model.OpVerb}
		switch t := src.Intn(20); {
		case t == 18:
			a.Target = model.TargetUnknown
		case t == 19:
			a.Target, a.Job = model.TargetMalformed, src.Intn(len(malformedIDs))
		}
		if a.Target == model.TargetJob {
			a.Job = pickJob()
		}
		var ok []fsm.Verb
		var tricky bool
		if a.Target == model.TargetJob && n > 0 {
			if j := r.mod.Job(r.ids[a.Job%n]); j != nil {
				for _, v := range table.Verbs() {
					if table.Permits(j.Status, v) {
						ok = append(ok, v)
					}
				}
				// A ready job with a cancel requested: complete must be
				// refused although the table accepts it; try it often.
				tricky = j.Cancelled && j.Status.IsReady()
			}
		}
		if tricky && src.Intn(2) == 1 {
			a.Verb = fsm.VerbComplete
		} else if len(ok) > 0 && src.Intn(3) != 2 {
			a.Verb = ok[src.Intn(len(ok))]
		} else {
			vs := table.Verbs()
			a.Verb = vs[src.Intn(len(vs))]
		}
		a.Block = src.Intn(2) == 1
		if a.Verb == fsm.VerbCancel {
			a.Force = src.Intn(2) == 1
		}
		if a.Verb == fsm.VerbSetSpeed {
			a.Speed = []int64{0, 4096, 1 << 30, -5}[src.Intn(4)]
		}
		return a
	case k < 86:
		return model.Action{Op: model.OpAdvance, Ns: genAdvance[src.Intn(len(genAdvance))]}
	case k < 90:
		return model.Action{Op: model.OpDrainBegin, Job: pickJob()}
	case k < 94:
		var open []int
		for i, id := range r.ids {
			if r.drains[id] > 0 {
				open = append(open, i)
			}
		}
		if len(open) > 0 {
			return model.Action{Op: model.OpDrainEnd, Job: open[src.Intn(len(open))]}
		}
		return model.Action{Op: model.OpDrainEnd, Job: pickJob()}
	case k < 97:
		return model.Action{Op: model.OpDisconnect, Mon: src.Intn(2)}
	default:
		return model.Action{Op: model.OpConnect, Mon: src.Intn(2)}
	}
}

// RunSequence runs steps drawn actions on a fresh runner with seed, then the
// drain-down; it returns the runner, the actions executed and the first
// violation.
func RunSequence(seed uint64, steps int, src Source) (*Runner, []model.Action, error) {
	return runSequence(NewRunner(seed), steps, src)
}

// RunBlockSequence is RunSequence in block mode (real jobs, guest writes,
// faults).
func RunBlockSequence(seed uint64, steps int, src Source) (*Runner, []model.Action, error) {
	return runSequence(NewBlockRunner(seed), steps, src)
}

// RunSequenceAt is RunSequence (block false) or RunBlockSequence (block
// true) at QEMU version v.
func RunSequenceAt(v fsm.Version, block bool, seed uint64, steps int, src Source) (*Runner, []model.Action, error) {
	return runSequence(newRunner(v, block, seed), steps, src)
}

// newRunner is NewRunnerAt or, in block mode, NewBlockRunnerAt.
func newRunner(v fsm.Version, block bool, seed uint64) *Runner {
	if block {
		return NewBlockRunnerAt(v, seed)
	}
	return NewRunnerAt(v, seed)
}

func runSequence(r *Runner, steps int, src Source) (*Runner, []model.Action, error) {
	var acts []model.Action
	for range steps {
		a := NextAction(src, r)
		acts = append(acts, a)
		if err := r.Do(a); err != nil {
			return r, acts, err
		}
	}
	return r, acts, r.Finish()
}

func (r *Runner) run(acts []model.Action) error {
	for _, a := range acts {
		if err := r.Do(a); err != nil {
			return err
		}
	}
	return r.Finish()
}

// Timeline renders what a run did with the timeline package's text table
// (one column per job: its statuses, events and the commands naming it),
// then the violation.
func (r *Runner) Timeline(err error) string {
	var b strings.Builder
	if werr := timeline.Text(&b, TimelineRun("", r.Log)); werr != nil {
		fmt.Fprintf(&b, "(timeline: %v)\n", werr)
	}
	if err != nil {
		fmt.Fprintf(&b, "violation: %v\n", err)
	}
	return b.String()
}

// modelKinds maps the model's event kinds to QMP event names; driver
// callbacks (EvCall) are not events and are left out of the picture.
var modelKinds = map[model.Kind]sim.EventName{
	model.EvStatus:    sim.EventJobStatusChange,
	model.EvReady:     sim.EventBlockJobReady,
	model.EvCompleted: sim.EventBlockJobCompleted,
	model.EvCancelled: sim.EventBlockJobCancelled,
	model.EvPending:   sim.EventBlockJobPending,
	model.EvError:     sim.EventBlockJobError,
}

// TimelineRun turns a runner's log into a timeline: each action is a
// command on the lane of the first job it names, followed by its events.
// The model's log has no virtual time: entries are at time 0 and the step
// number leads each command's label.
func TimelineRun(title string, steps []StepRecord) timeline.Run {
	r := timeline.Run{Title: title}
	for _, st := range steps {
		// The model writes "cmd args -> ok" or "cmd args -> error: TEXT".
		desc, errText := st.Desc, ""
		if i := strings.Index(desc, " -> error: "); i >= 0 {
			desc, errText = desc[:i], desc[i+len(" -> error: "):]
		} else {
			desc = strings.TrimSuffix(desc, " -> ok")
		}
		c := timeline.Command{Op: fmt.Sprintf("%d:%s", st.Step, desc), EventSeq: len(r.Events), Error: errText}
		if len(st.Jobs) > 0 {
			c.Job = st.Jobs[0]
		}
		r.Commands = append(r.Commands, c)
		for _, e := range st.Events {
			name, ok := modelKinds[e.Kind]
			if !ok {
				continue
			}
			r.Events = append(r.Events, sim.Event{
				Seq: uint64(len(r.Events)), Name: name, Job: e.Job, Status: e.Status,
				Type: sim.TypeBackup, Len: e.Len, Offset: e.Offset, Speed: e.Speed,
				Error: e.Error, HasError: e.HasError, Operation: e.Op, Action: sim.ErrorAction(e.Action),
			})
		}
	}
	return r
}

// ModelWalk is a random walk of the model alone (no implementation): it
// issues random commands and lets random enabled spontaneous steps happen,
// consuming every required event as soon as the model states it. It
// measures the model's own speed and checks it never contradicts itself
// (every event it offers, it accepts). It returns the events judged.
func ModelWalk(src Source, steps int) (int, error) {
	m := model.New()
	var ids []string
	events := 0
	flush := func() error {
		for len(m.Expecting()) > 0 {
			e := m.Enabled()[0]
			if err := m.Observe(e); err != nil {
				return fmt.Errorf("model refuses its own required event %s: %w", e, err)
			}
			events++
		}
		return nil
	}
	group := 0
	for i := 0; i < steps; i++ {
		switch k := src.Intn(10); {
		case k < 2:
			p := genPlan(src, fsm.For(m.Version()))
			p.IDKind = 0
			id := fmt.Sprintf("j%d", len(ids))
			txn := 0
			if src.Intn(3) == 1 {
				txn = group/2 + 1 // two consecutive creations share a transaction
				group++
			}
			_, spec := planSpecs(p, id, txn)
			if m.Create(spec) == nil {
				ids = append(ids, id)
			}
		case k < 3 && len(ids) > 0:
			_ = m.Start(ids[src.Intn(len(ids))])
		case k < 6 && len(ids) > 0:
			j := m.Job(ids[src.Intn(len(ids))])
			if j == nil {
				continue
			}
			// Draw the arguments a verb takes, in the order the generator
			// always drew them (block, then force), so that a seed's walk
			// stays the same.
			a := model.Action{Op: model.OpVerb, Verb: fsm.Verb(src.Intn(7))}
			switch a.Verb {
			case fsm.VerbCancel:
				a.Block = src.Intn(2) == 1
				a.Force = src.Intn(2) == 1
			case fsm.VerbSetSpeed:
				a.Speed = int64(src.Intn(3)) - 1
			}
			_ = m.Verb(j, a)
		default:
			if en := m.Enabled(); len(en) > 0 {
				e := en[src.Intn(len(en))]
				if err := m.Observe(e); err != nil {
					return events, fmt.Errorf("model refuses the step %s it enabled: %w", e, err)
				}
				events++
			}
		}
		if err := flush(); err != nil {
			return events, err
		}
	}
	return events, nil
}
