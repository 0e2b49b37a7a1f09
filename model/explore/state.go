package explore

import (
	"fmt"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

// Job results (JobLifecycle's Results).
const (
	retOK uint8 = iota
	retError
	retCanceled
)

var retNames = [...]string{"ok", "error", "canceled"}

// Bitmap states.
const (
	bmNone uint8 = iota
	bmFrozen
	bmCommitted
	bmRestored
)

var bmNames = [...]string{"none", "frozen", "committed", "restored"}

// Job flag bits.
const (
	fStarted uint8 = 1 << iota
	fDeferred
	fUserPaused
	fCancelled
	fForced
	fComplete
	fGraph // graph changed
)

// Job is one job's variables of JobLifecycle.tla.
type Job struct {
	St     fsm.Status
	Ret    uint8
	Drains uint8
	Bitmap uint8
	F      uint8
}

func (j *Job) has(f uint8) bool { return j.F&f != 0 }
func (j *Job) set(f uint8, on bool) {
	if on {
		j.F |= f
	} else {
		j.F &^= f
	}
}

// State is one state of JobLifecycle.tla, packed: jobs 0..N-1 are the spec's
// 1..N; transaction bit 0 is the grouped transaction, bit i+1 job i's own.
// It is comparable, so it is its own key in the visited set.
type State struct {
	J     [MaxJobs]Job
	Abort uint8
	Conn  uint8
	Lost  [MaxMonitors]uint8
	Seen  [MaxMonitors][MaxJobs]fsm.Status
}

// Init is the spec's initial state.
func (c *Config) Init() State {
	var s State
	for m := 0; m < c.NMonitors; m++ {
		s.Conn |= 1 << m
	}
	return s
}

// --- helpers mirroring the spec's operators ---------------------------------

func (c *Config) in(set uint8, j int) bool { return set&(1<<j) != 0 }

// txn returns the bit of job j's transaction.
func (c *Config) txn(j int) uint8 {
	if c.in(c.Grouped, j) {
		return 1
	}
	return 1 << (j + 1)
}

func live(s fsm.Status) bool {
	return s != fsm.Undefined && s != fsm.Concluded && s != fsm.Null
}

// members returns the live jobs of transaction bit t, as a mask.
func (c *Config) members(s *State, t uint8) uint8 {
	var m uint8
	for j := 0; j < c.N; j++ {
		if c.txn(j) == t && live(s.J[j].St) {
			m |= 1 << j
		}
	}
	return m
}

// head is the newest (highest) member.
func head(members uint8) int {
	for j := MaxJobs - 1; j >= 0; j-- {
		if members&(1<<j) != 0 {
			return j
		}
	}
	return -1
}

func (c *Config) abortInProgress(s *State, t uint8) bool {
	return s.Abort&t != 0 && c.members(s, t) != 0
}

func (c *Config) blocked(s *State) bool {
	var seen uint8
	for j := 0; j < c.N; j++ {
		t := c.txn(j)
		if seen&t == 0 {
			seen |= t
			if c.abortInProgress(s, t) {
				return true
			}
		}
	}
	return false
}

func pauseCount(j *Job) int {
	n := int(j.Drains)
	if !j.has(fStarted) {
		n++
	}
	if j.has(fUserPaused) {
		n++
	}
	return n
}

// IllegalEdgeError is the spec's Hop assertion: a step tried a status change
// that is not an edge of fsm's table.
type IllegalEdgeError struct{ From, To fsm.Status }

func (e *IllegalEdgeError) Error() string {
	return fmt.Sprintf("not a JobSTT edge: %s -> %s", e.From, e.To)
}

// gen carries one expansion: the state being expanded and where successors go.
type gen struct {
	c    *Config
	s    *State
	emit func(next *State, action string)
	err  error // first Hop failure
}

// fire is the spec's Hop(s, Target(t, s)): the status trigger t takes s to,
// as fsm's table says (the pause/resume mapping, for one).
func (g *gen) fire(s fsm.Status, t fsm.Trigger) fsm.Status {
	to, ok := g.c.Table().Target(s, t)
	if !ok && g.err == nil {
		g.err = &fsm.TransitionError{Trigger: t, From: s}
	}
	return to
}

func (g *gen) hop(a, b fsm.Status) fsm.Status {
	if !g.c.Table().Allows(a, b) && g.err == nil {
		g.err = &IllegalEdgeError{a, b}
	}
	return b
}

// tail is the spec's Tail: drains of dismissed jobs reset, monitors receive
// or lose the status events of the step.
func (g *gen) tail(n *State) {
	for j := 0; j < g.c.N; j++ {
		if n.J[j].St == fsm.Null {
			n.J[j].Drains = 0
		}
		if n.J[j].St == g.s.J[j].St {
			continue
		}
		for m := 0; m < g.c.NMonitors; m++ {
			if g.s.Conn&(1<<m) != 0 {
				n.Seen[m][j] = n.J[j].St
			} else {
				n.Lost[m] |= 1 << j
			}
		}
	}
}

func (g *gen) out(n *State, action string) {
	g.tail(n)
	g.emit(n, action)
}

// abortSet is AbortSet(j): the other members a txn abort started by j
// force-cancels.
func (g *gen) abortSet(j int) uint8 {
	t := g.c.txn(j)
	if g.s.Abort&t != 0 {
		return 0
	}
	return g.c.members(g.s, t) &^ (1 << j)
}

// startAbort applies the abort start for j on n: the others' cancel flags
// (job_cancel_async_locked(other, true)) and txn->aborting.
func (g *gen) startAbort(n *State, j int) {
	a := g.abortSet(j)
	for k := 0; k < g.c.N; k++ {
		if a&(1<<k) != 0 {
			n.J[k].set(fUserPaused, false)
			n.J[k].set(fCancelled, true)
			n.J[k].set(fForced, true)
		}
	}
	n.Abort |= g.c.txn(j)
}

// single is Single(h, s0) applied to n.J[h].
func (g *gen) single(n *State, h int, s0 fsm.Status) {
	o := &g.s.J[h]
	r := o.Ret
	if r == retOK && o.has(fForced) {
		r = retCanceled
	}
	s := s0
	if r != retOK {
		s = g.hop(s, fsm.Aborting)
	}
	s = g.hop(s, fsm.Concluded)
	if !g.c.in(g.c.ManualDismiss, h) || !o.has(fStarted) {
		s = g.hop(s, fsm.Null)
	}
	nj := &n.J[h]
	nj.St, nj.Ret = s, r
	if r == retOK {
		nj.set(fGraph, true)
	}
	if g.c.in(g.c.BitmapJobs, h) {
		if r == retOK {
			nj.Bitmap = bmCommitted
		} else {
			nj.Bitmap = bmRestored
		}
	}
}

// doFinalize is DoFinalize(t, S, st): n already holds st.
func (g *gen) doFinalize(n *State, S uint8, action string) {
	// f = 0: everyone commits.
	ok := *n
	for k := 0; k < g.c.N; k++ {
		if S&(1<<k) != 0 {
			g.single(&ok, k, n.J[k].St)
		}
	}
	g.out(&ok, action)
	// f: the first prepare to fail.
	for f := 0; f < g.c.N; f++ {
		if S&(1<<f) == 0 || !g.c.in(g.c.PrepareMayFail, f) || g.s.J[f].Ret != retOK {
			continue
		}
		bad := *n
		bad.J[f].St = g.hop(n.J[f].St, fsm.Aborting)
		bad.J[f].Ret = retError
		g.startAbort(&bad, f)
		g.out(&bad, action+"/prepare-fails")
	}
}

// Successors calls emit with every successor of s under Next (the same state
// may come more than once; a Terminated stutter is emitted as s itself).
// It returns the spec's Hop assertion failure, if any step hit one.
func (c *Config) Successors(s *State, emit func(next *State, action string)) error {
	g := &gen{c: c, s: s, emit: emit}
	blocked := c.blocked(s)
	for j := 0; j < c.N; j++ {
		if !blocked {
			g.client(j)
		}
		g.jobSteps(j)
	}
	var done uint8
	for j := 0; j < c.N; j++ {
		t := c.txn(j)
		if done&t == 0 {
			done |= t
			g.abortNext(t)
		}
	}
	if !blocked {
		for m := 0; m < c.NMonitors; m++ {
			bit := uint8(1) << m
			n := *s
			n.Conn ^= bit
			if s.Conn&bit != 0 {
				emit(&n, "Disconnect")
				q := *s
				for j := 0; j < c.N; j++ {
					q.Seen[m][j] = s.J[j].St
				}
				q.Lost[m] = 0
				emit(&q, "Query")
			} else {
				emit(&n, "Connect")
			}
		}
	}
	terminated := true
	for j := 0; j < c.N; j++ {
		if s.J[j].St != fsm.Null {
			terminated = false
		}
	}
	if terminated {
		emit(s, "Terminated")
	}
	return g.err
}

func (g *gen) client(j int) {
	c, s := g.c, g.s
	o := &s.J[j]
	st := o.St
	// Create: in id order; the grouped members all at once.
	if st == fsm.Undefined {
		prev := true
		for i := 0; i < j; i++ {
			if s.J[i].St == fsm.Undefined {
				prev = false
			}
		}
		if prev {
			n := *s
			newJobs := uint8(1) << j
			if c.in(c.Grouped, j) {
				newJobs = c.Grouped
			}
			for k := 0; k < c.N; k++ {
				if newJobs&(1<<k) != 0 {
					n.J[k].St = g.hop(s.J[k].St, fsm.Created)
					if c.in(c.BitmapJobs, k) {
						n.J[k].Bitmap = bmFrozen
					}
				}
			}
			g.out(&n, "Create")
		}
	}
	// Start
	if st == fsm.Created && !o.has(fStarted) {
		ok := true
		if c.in(c.Grouped, j) {
			for k := 0; k < c.N; k++ {
				if c.in(c.Grouped, k) && s.J[k].St == fsm.Undefined {
					ok = false
				}
			}
		}
		if ok {
			n := *s
			n.J[j].St = g.hop(st, fsm.Running)
			n.J[j].set(fStarted, true)
			g.out(&n, "Start")
		}
	}
	// Pause
	if g.c.Table().Permits(st, fsm.VerbPause) && !o.has(fUserPaused) {
		n := *s
		n.J[j].set(fUserPaused, true)
		g.out(&n, "Pause")
	}
	// Resume
	if o.has(fUserPaused) && g.c.Table().Permits(st, fsm.VerbResume) {
		n := *s
		n.J[j].set(fUserPaused, false)
		g.unpauseIfFree(&n, j, pauseCount(o)-1)
		g.out(&n, "Resume")
	}
	// Cancel
	if g.c.Table().Permits(st, fsm.VerbCancel) {
		for _, force := range []bool{true, false} {
			if force || !o.has(fUserPaused) {
				g.cancel(j, force)
			}
		}
	}
	// Complete
	if g.c.Table().Permits(st, fsm.VerbComplete) && !o.has(fCancelled) {
		n := *s
		n.J[j].set(fComplete, true)
		g.out(&n, "Complete")
	}
	// Finalize
	if g.c.Table().Permits(st, fsm.VerbFinalize) || (c.FinalizeInWaiting && st == fsm.Waiting) {
		t := c.txn(j)
		mem := c.members(s, t)
		n := *s
		var S uint8
		for k := 0; k < c.N; k++ {
			if mem&(1<<k) == 0 {
				continue
			}
			switch s.J[k].St {
			case fsm.Waiting:
				n.J[k].St = g.hop(fsm.Waiting, fsm.Pending)
				S |= 1 << k
			case fsm.Pending:
				S |= 1 << k
			}
		}
		g.doFinalize(&n, S, "Finalize")
	}
	// Dismiss
	if g.c.Table().Permits(st, fsm.VerbDismiss) {
		n := *s
		n.J[j].St = g.hop(st, fsm.Null)
		g.out(&n, "Dismiss")
	}
	// DrainBegin
	if g.c.Table().Drainable(st) && int(o.Drains) < c.MaxDrains {
		n := *s
		n.J[j].Drains++
		g.out(&n, "DrainBegin")
	}
	// DrainEnd
	if o.Drains > 0 {
		n := *s
		n.J[j].Drains--
		g.unpauseIfFree(&n, j, pauseCount(o)-1)
		g.out(&n, "DrainEnd")
	}
}

// unpauseIfFree is UnpauseIfFree(j, pc) applied to n.
func (g *gen) unpauseIfFree(n *State, j int, pc int) {
	o := &g.s.J[j]
	if pc == 0 && o.has(fStarted) && !o.has(fDeferred) && g.c.Table().InPause(o.St) {
		n.J[j].St = g.fire(o.St, fsm.TriggerUnpause)
	}
}

func (g *gen) cancel(j int, force bool) {
	c, s := g.c, g.s
	o := &s.J[j]
	eff := true
	if c.in(c.ReadyJobs, j) {
		eff = force || !o.St.IsReady()
	}
	setC := eff || !o.has(fDeferred)
	c1 := o.has(fCancelled) || setC
	f1 := o.has(fForced) || (setC && eff)
	n := *s
	action := "Cancel(soft)"
	if force {
		action = "Cancel(force)"
	}
	switch {
	case !o.has(fStarted):
		n.J[j].St = g.hop(o.St, fsm.Aborting)
		if o.Ret == retOK && f1 {
			n.J[j].Ret = retCanceled
		}
		g.startAbort(&n, j)
		n.J[j].set(fUserPaused, false)
		n.J[j].set(fCancelled, c1)
		n.J[j].set(fForced, f1)
	case o.has(fDeferred) && f1:
		g.startAbort(&n, j)
		n.J[j].set(fUserPaused, false)
		n.J[j].set(fCancelled, c1)
		n.J[j].set(fForced, f1)
	default:
		if !o.has(fDeferred) && g.c.Table().InPause(o.St) {
			n.J[j].St = g.fire(o.St, fsm.TriggerUnpause)
		}
		n.J[j].set(fUserPaused, false)
		n.J[j].set(fCancelled, c1)
		n.J[j].set(fForced, f1)
	}
	g.out(&n, action)
}

func (g *gen) jobSteps(j int) {
	c, s := g.c, g.s
	o := &s.J[j]
	st := o.St
	runnable := o.has(fStarted) && !o.has(fDeferred) && (st == fsm.Running || st == fsm.Ready)
	if runnable {
		// PausePoint
		if pauseCount(o) > 0 && !o.has(fForced) {
			n := *s
			n.J[j].St = g.fire(st, fsm.TriggerPausePoint)
			g.out(&n, "PausePoint")
		}
		// Ready
		if c.in(c.ReadyJobs, j) && st == fsm.Running && !o.has(fForced) {
			n := *s
			n.J[j].St = g.hop(st, fsm.Ready)
			g.out(&n, "Ready")
		}
		// ErrorStop
		if c.in(c.StopOnError, j) && st == fsm.Running && !o.has(fForced) && !o.has(fUserPaused) {
			n := *s
			n.J[j].set(fUserPaused, true)
			g.out(&n, "ErrorStop")
		}
		// RunDone ok
		if !c.in(c.ReadyJobs, j) || o.has(fForced) ||
			(st == fsm.Ready && (o.has(fComplete) || o.has(fCancelled))) {
			n := *s
			n.J[j].set(fDeferred, true)
			n.J[j].Ret = retOK
			g.out(&n, "RunDone(ok)")
		}
		// RunDone error
		if c.in(c.MayFail, j) && st == fsm.Running && !o.has(fForced) {
			n := *s
			n.J[j].set(fDeferred, true)
			n.J[j].Ret = retError
			g.out(&n, "RunDone(error)")
		}
	}
	// Exit
	if o.has(fStarted) && o.has(fDeferred) && (st == fsm.Running || st == fsm.Ready) {
		g.exit(j)
	}
}

func completed(s fsm.Status) bool { return s.IsCompleted() }

func (g *gen) exit(j int) {
	c, s := g.c, g.s
	o := &s.J[j]
	t := c.txn(j)
	r := o.Ret
	if r == retOK && o.has(fForced) {
		r = retCanceled
	}
	n := *s
	if r != retOK {
		n.J[j].St = g.hop(o.St, fsm.Aborting)
		n.J[j].Ret = r
		g.startAbort(&n, j)
		g.out(&n, "Exit(fail)")
		return
	}
	mem := c.members(s, t)
	others := mem &^ (1 << j)
	for k := 0; k < c.N; k++ {
		if others&(1<<k) != 0 && !completed(s.J[k].St) {
			n.J[j].St = g.hop(o.St, fsm.Waiting)
			g.out(&n, "Exit(wait)")
			return
		}
	}
	n.J[j].St = g.hop(g.hop(o.St, fsm.Waiting), fsm.Pending)
	manual := false
	for k := 0; k < c.N; k++ {
		if others&(1<<k) != 0 {
			n.J[k].St = g.hop(s.J[k].St, fsm.Pending)
		}
		if mem&(1<<k) != 0 && c.in(c.ManualFinalize, k) {
			manual = true
		}
	}
	if manual {
		g.out(&n, "Exit(pending)")
		return
	}
	g.doFinalize(&n, mem, "Exit(finalize)")
}

func (g *gen) abortNext(t uint8) {
	c, s := g.c, g.s
	if !c.abortInProgress(s, t) {
		return
	}
	h := head(c.members(s, t))
	o := &s.J[h]
	switch {
	case completed(o.St) || (!o.has(fStarted) && !c.RollbackQEMU72):
		s0 := o.St
		if !completed(o.St) {
			s0 = g.hop(o.St, fsm.Aborting)
		}
		n := *s
		g.single(&n, h, s0)
		g.out(&n, "AbortNext")
	case o.has(fStarted) && !o.has(fDeferred) && g.c.Table().InPause(o.St):
		n := *s
		n.J[h].St = g.fire(o.St, fsm.TriggerUnpause)
		g.out(&n, "AbortNext(enter)")
	}
}

// Format renders s in the spec's terms, one variable per line.
func (c *Config) Format(s *State) string {
	var b strings.Builder
	for j := 0; j < c.N; j++ {
		o := &s.J[j]
		var flags []string
		for i, name := range []string{"started", "deferred", "userPaused", "cancelled", "forced", "completeReq", "graphChanged"} {
			if o.F&(1<<i) != 0 {
				flags = append(flags, name)
			}
		}
		fmt.Fprintf(&b, "job %d: %s ret=%s drains=%d bitmap=%s %s\n", j+1, o.St, retNames[o.Ret], o.Drains, bmNames[o.Bitmap], strings.Join(flags, ","))
	}
	fmt.Fprintf(&b, "aborting=%05b", s.Abort)
	for m := 0; m < c.NMonitors; m++ {
		fmt.Fprintf(&b, " monitor %d: connected=%v seen=%v lost=%04b", m+1, s.Conn&(1<<m) != 0, s.Seen[m][:c.N], s.Lost[m])
	}
	b.WriteByte('\n')
	return b.String()
}
