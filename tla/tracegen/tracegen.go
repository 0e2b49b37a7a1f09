// Package tracegen runs random scenarios in jobfsm's simulator and writes
// them as NDJSON traces for tla/TraceJobLifecycle.tla, which checks with TLC
// that each trace is a behaviour of tla/JobLifecycle.tla (trace validation in
// the style of etcd-io/raft's tla/Traceetcdraft.tla).
//
// The first line is a header naming the scenario's bounds in the spec's
// terms (the trace spec takes its CONSTANTS from it); then one line per
// simulator step the spec can observe: every trigger fired and every verb
// tried, exactly as sim.Options.Tracer reports them (verb lines carry the
// cancel's force and the refusal text), plus the scenario's drained sections
// and monitor disconnect / connect / query-jobs lines (a query line carries
// what the monitor had seen of each job, so the trace spec checks the event
// stream too). Scenarios mix grouped transactions, failing runs and
// prepares, mirror-like jobs, manual finalize/dismiss, drains and monitors
// that lose events, and I/O errors under on-error=stop (an error pause that
// only resume or cancel undoes).
package tracegen

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/sim"
)

// Header is the trace's first line: the scenario's bounds, as the spec's
// CONSTANTS (job numbers 1..N; job k's id is "jk").
type Header struct {
	Op             string `json:"op"` // "config"
	Seed           uint64 `json:"seed"`
	N              int    `json:"n"`
	Grouped        []int  `json:"grouped"`
	ManualFinalize []int  `json:"manual_finalize"`
	ManualDismiss  []int  `json:"manual_dismiss"`
	Ready          []int  `json:"ready"`
	MayFail        []int  `json:"may_fail"`
	StopOnError    []int  `json:"stop_on_error"`
	PrepareMayFail []int  `json:"prepare_may_fail"`
	MaxDrains      int    `json:"max_drains"`
	Monitors       int    `json:"monitors"`
	// Qemu is the QEMU version whose table explains the trace (the spec's
	// QemuVersion): the simulator's version for a simulator trace.
	Qemu fsm.Version `json:"qemu"`
}

// Line is one step of the trace.
type Line struct {
	sim.TraceRecord
	Force  *bool             `json:"force,omitempty"`  // verb cancel
	Mon    int               `json:"mon,omitempty"`    // op monitor: 1-based
	Action string            `json:"action,omitempty"` // op drain: begin|end; op monitor: disconnect|connect|query
	Seen   map[string]string `json:"seen,omitempty"`   // op monitor, action query
}

// Options bound a scenario.
type Options struct {
	Seed  uint64
	Steps int // random actions after the jobs exist (default 80)
	// Version is the QEMU version the simulator follows (default 7.2).
	Version fsm.Version
}

type job struct {
	id      string
	k       int // 1-based
	spec    sim.JobSpec
	j       *sim.Job
	status  fsm.Status
	drains  int
	created bool
}

type gen struct {
	rng    *rand.Rand
	m      *sim.Manager
	w      io.Writer
	enc    *json.Encoder
	err    error
	jobs   []*job
	byID   map[string]*job
	hdr    Header
	force  *bool // force of the cancel being traced
	mons   []*sim.Monitor
	views  []map[string]string
	txn    *sim.Txn
	nsteps int
}

func (g *gen) write(v any) {
	if g.err == nil {
		g.err = g.enc.Encode(v)
	}
}

func (g *gen) tracer(r sim.TraceRecord) {
	l := Line{TraceRecord: r}
	if r.Op == "verb" && r.Verb == fsm.VerbCancel.String() {
		l.Force = g.force
	}
	if r.Op == "trigger" {
		if jb := g.byID[r.Job]; jb != nil {
			jb.status = r.To
			if r.To == fsm.Null {
				jb.drains = 0
			}
		}
	}
	g.write(l)
}

// drainEvents moves each monitor's received status events into its view.
func (g *gen) drainEvents() {
	for i, mon := range g.mons {
		for _, e := range mon.Take() {
			if e.Name == sim.EventJobStatusChange {
				g.views[i][e.Job] = e.Status.String()
			}
		}
	}
}

// Generate runs one random scenario and writes its trace to w.
func Generate(w io.Writer, opt Options) error {
	if opt.Steps <= 0 {
		opt.Steps = 80
	}
	g := &gen{rng: rand.New(rand.NewPCG(opt.Seed, 0x7a1e)), w: w, enc: json.NewEncoder(w), byID: map[string]*job{}}
	g.m = sim.New(sim.Options{Seed: opt.Seed, Tracer: g.tracer, Version: opt.Version})
	g.scenario(opt.Seed)
	g.hdr.Qemu = g.m.Version()
	g.write(g.hdr)
	for range g.hdr.Monitors {
		g.mons = append(g.mons, g.m.NewMonitor())
		g.views = append(g.views, map[string]string{})
	}
	for _, jb := range g.jobs {
		for _, v := range g.views {
			v[jb.id] = fsm.Undefined.String()
		}
	}
	for i := 0; i < opt.Steps && g.err == nil; i++ {
		g.randomAction()
		g.drainEvents()
	}
	g.windDown()
	return g.err
}

func (g *gen) chance(n int) bool { return g.rng.IntN(n) == 0 }

// scenario picks the jobs and their flags.
func (g *gen) scenario(seed uint64) {
	n := 2 + g.rng.IntN(2)
	h := Header{Op: "config", Seed: seed, N: n, MaxDrains: 1 + g.rng.IntN(2), Monitors: 1 + g.rng.IntN(2),
		Grouped: []int{}, ManualFinalize: []int{}, ManualDismiss: []int{}, Ready: []int{},
		MayFail: []int{}, StopOnError: []int{}, PrepareMayFail: []int{}}
	grouped := map[int]bool{}
	if g.chance(2) {
		// a grouped transaction of 2..n consecutive jobs from job 1
		size := 2 + g.rng.IntN(n-1)
		for k := 1; k <= size; k++ {
			grouped[k] = true
			h.Grouped = append(h.Grouped, k)
		}
		g.txn = g.m.NewTxn()
	}
	for k := 1; k <= n; k++ {
		ts := sim.TestSpec{Steps: 2 + g.rng.IntN(5)}
		spec := sim.JobSpec{ID: fmt.Sprintf("j%d", k)}
		if g.chance(3) {
			ts.Ready = true
			ts.Type = sim.TypeMirror
			h.Ready = append(h.Ready, k)
		}
		if g.chance(3) {
			ts.FailAt = 1 + g.rng.IntN(ts.Steps)
			h.MayFail = append(h.MayFail, k)
		}
		if g.chance(4) {
			// an I/O error with on-error=stop: the job error-pauses once
			// and goes on after resume
			ts.IOErrorAt = 1 + g.rng.IntN(ts.Steps)
			ts.OnError = sim.OnErrorStop
			h.StopOnError = append(h.StopOnError, k)
		}
		if g.chance(4) {
			ts.PrepareErr = &sim.JobError{Errno: errno.EIO}
			h.PrepareMayFail = append(h.PrepareMayFail, k)
		}
		if g.chance(3) {
			spec.ManualFinalize = true
			h.ManualFinalize = append(h.ManualFinalize, k)
		}
		if g.chance(3) {
			spec.ManualDismiss = true
			h.ManualDismiss = append(h.ManualDismiss, k)
		}
		spec.Driver = sim.NewTestDriver(ts)
		if grouped[k] {
			spec.Txn = g.txn
		}
		jb := &job{id: spec.ID, k: k, spec: spec}
		g.jobs = append(g.jobs, jb)
		g.byID[jb.id] = jb
	}
	g.hdr = h
}

func (g *gen) pick() *job { return g.jobs[g.rng.IntN(len(g.jobs))] }

// create creates the next job, or all members of the grouped transaction at
// once (one QMP transaction's prepare phase).
func (g *gen) create() bool {
	for _, jb := range g.jobs {
		if jb.created {
			continue
		}
		batch := []*job{jb}
		if jb.spec.Txn != nil {
			batch = nil
			for _, o := range g.jobs {
				if o.spec.Txn != nil {
					batch = append(batch, o)
				}
			}
		}
		for _, o := range batch {
			j, err := g.m.Create(o.spec)
			if err != nil {
				g.err = fmt.Errorf("tracegen: create %s: %w", o.id, err)
				return true
			}
			o.j, o.created = j, true
		}
		return true
	}
	return false
}

func (g *gen) randomAction() {
	if g.chance(3) && g.create() {
		return
	}
	switch r := g.rng.IntN(100); {
	case r < 40:
		g.m.Step()
	case r < 50:
		jb := g.pick()
		if jb.created && jb.status == fsm.Created && !jb.j.Started() {
			_ = g.m.Start(jb.j)
		}
	case r < 80:
		g.verb(g.pick())
	case r < 88:
		g.drain(g.pick())
	default:
		g.monitor(g.rng.IntN(len(g.mons)))
	}
}

// verbDraws are the commands a draw picks, as QMP names them: a forced
// cancel is job-cancel, a soft one block-job-cancel; complete is drawn
// twice as often as the other verbs.
var verbDraws = []sim.VerbCommand{
	{Verb: fsm.VerbPause},
	{Verb: fsm.VerbResume},
	{Verb: fsm.VerbCancel, Force: true},
	{Verb: fsm.VerbCancel, Block: true},
	{Verb: fsm.VerbComplete},
	{Verb: fsm.VerbFinalize},
	{Verb: fsm.VerbDismiss},
	{Verb: fsm.VerbSetSpeed},
	{Verb: fsm.VerbComplete},
}

func (g *gen) verb(jb *job) {
	if !jb.created || jb.status == fsm.Null {
		return // not found: no verb is tried
	}
	c := verbDraws[g.rng.IntN(len(verbDraws))]
	c.ID = jb.id
	if c.Verb == fsm.VerbSetSpeed {
		c.Speed = int64(g.rng.IntN(3)) << 20
	}
	if c.Verb == fsm.VerbCancel {
		force := !c.Block
		g.force = &force
	}
	_ = g.m.Apply(c)
	g.force = nil
}

func (g *gen) drain(jb *job) {
	if !jb.created {
		return
	}
	if fsm.Drainable(jb.status) && jb.drains < g.hdr.MaxDrains && g.chance(2) {
		g.write(Line{TraceRecord: sim.TraceRecord{Time: g.m.Now(), Op: "drain", Job: jb.id}, Action: "begin"})
		jb.drains++
		g.m.DrainBegin(jb.j)
		return
	}
	if jb.drains > 0 && jb.status != fsm.Null {
		g.write(Line{TraceRecord: sim.TraceRecord{Time: g.m.Now(), Op: "drain", Job: jb.id}, Action: "end"})
		jb.drains--
		g.m.DrainEnd(jb.j)
	}
}

func (g *gen) monitor(i int) {
	mon := g.mons[i]
	l := Line{TraceRecord: sim.TraceRecord{Time: g.m.Now(), Op: "monitor"}, Mon: i + 1}
	switch {
	case !mon.Connected():
		l.Action = "connect"
		g.write(l)
		mon.Connect()
	case g.chance(2):
		l.Action = "disconnect"
		g.write(l)
		mon.Disconnect()
	default:
		// query-jobs: the line carries what the monitor knew before it.
		l.Action = "query"
		l.Seen = map[string]string{}
		for k, v := range g.views[i] {
			l.Seen[k] = v
		}
		g.write(l)
		for _, jb := range g.jobs {
			g.views[i][jb.id] = jb.status.String()
		}
	}
}

// windDown lets every job finish: it resumes, ends drains, completes,
// finalizes, dismisses and runs the loop until nothing is left, so most
// traces end with every job null.
func (g *gen) windDown() {
	for g.create() {
	}
	for round := 0; round < 200 && g.err == nil; round++ {
		progress := false
		ids := make([]string, 0, len(g.jobs))
		for _, jb := range g.jobs {
			ids = append(ids, jb.id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			jb := g.byID[id]
			j := jb.j
			switch {
			case jb.status == fsm.Null:
				continue
			case jb.status == fsm.Created && !j.Started():
				_ = g.m.Start(j)
			case j.UserPaused():
				_ = g.m.Resume(j)
			case jb.drains > 0:
				g.write(Line{TraceRecord: sim.TraceRecord{Time: g.m.Now(), Op: "drain", Job: jb.id}, Action: "end"})
				jb.drains--
				g.m.DrainEnd(j)
			case jb.status == fsm.Ready && !j.CancelRequested():
				_ = g.m.Complete(j)
			case jb.status == fsm.Pending:
				_ = g.m.Finalize(j)
			case jb.status == fsm.Concluded:
				_ = g.m.Dismiss(j)
			default:
				continue
			}
			progress = true
			g.drainEvents()
		}
		if g.m.Step() {
			progress = true
		}
		g.drainEvents()
		if !progress {
			break
		}
	}
	for i := range g.mons {
		if !g.mons[i].Connected() {
			g.monitor(i) // reconnect
		}
		g.write(Line{TraceRecord: sim.TraceRecord{Time: g.m.Now(), Op: "monitor"}, Mon: i + 1, Action: "query", Seen: copyView(g.views[i])})
		for _, jb := range g.jobs {
			g.views[i][jb.id] = jb.status.String()
		}
	}
}

func copyView(v map[string]string) map[string]string {
	out := make(map[string]string, len(v))
	for k, s := range v {
		out[k] = s
	}
	return out
}
