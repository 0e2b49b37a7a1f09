package explore

import (
	"github.com/jobfsm/jobfsm/fsm"
)

// Invariant is one state predicate of JobLifecycle.tla, under the same name.
type Invariant struct {
	Name string
	Ref  string // the reference's invariant ids (qemu-jobs.md 11)
	OK   func(c *Config, s *State) bool
}

// StepProperty is one action property ([][A]_vars) of JobLifecycle.tla.
type StepProperty struct {
	Name string
	Ref  string
	OK   func(c *Config, s, n *State) bool
}

func committed(j *Job) bool {
	return (j.St == fsm.Concluded || j.St == fsm.Null) && j.has(fGraph)
}

func rolledBack(j *Job) bool {
	return j.St == fsm.Aborting || ((j.St == fsm.Concluded || j.St == fsm.Null) && j.Ret != retOK)
}

// Invariants are checked in every reachable state, in this order.
var Invariants = []Invariant{
	{"TypeOK", "", func(c *Config, s *State) bool {
		for j := 0; j < c.N; j++ {
			o := &s.J[j]
			if o.St > fsm.Null || o.Ret > retCanceled || int(o.Drains) > c.MaxDrains || o.Bitmap > bmRestored {
				return false
			}
		}
		return true
	}},
	{"TxnAtomic", "I7", func(c *Config, s *State) bool {
		for a := 0; a < c.N; a++ {
			if !c.in(c.Grouped, a) || !committed(&s.J[a]) {
				continue
			}
			for b := 0; b < c.N; b++ {
				if c.in(c.Grouped, b) && (rolledBack(&s.J[b]) || !completed(s.J[b].St)) {
					return false
				}
			}
		}
		return true
	}},
	{"PendingOnlyWhenAllDone", "I5 I8", func(c *Config, s *State) bool {
		for a := 0; a < c.N; a++ {
			if s.J[a].St != fsm.Pending {
				continue
			}
			for b := 0; b < c.N; b++ {
				if c.txn(b) == c.txn(a) && !completed(s.J[b].St) {
					return false
				}
			}
		}
		return true
	}},
	{"GraphOnlyAfterFinalize", "I9", func(c *Config, s *State) bool {
		for j := 0; j < c.N; j++ {
			o := &s.J[j]
			if o.has(fGraph) && !(committed(o) && o.Ret == retOK && o.has(fStarted)) {
				return false
			}
		}
		return true
	}},
	{"BitmapSafe", "I10 I11", func(c *Config, s *State) bool {
		for j := 0; j < c.N; j++ {
			o := &s.J[j]
			if !c.in(c.BitmapJobs, j) {
				if o.Bitmap != bmNone {
					return false
				}
				continue
			}
			if (o.Bitmap == bmFrozen) != live(o.St) {
				return false
			}
			if o.Bitmap == bmCommitted && o.Ret != retOK {
				return false
			}
			if (o.St == fsm.Concluded || o.St == fsm.Null) && o.Bitmap != bmCommitted && o.Bitmap != bmRestored {
				return false
			}
		}
		return true
	}},
	{"PauseConsistent", "I13", func(c *Config, s *State) bool {
		for j := 0; j < c.N; j++ {
			o := &s.J[j]
			if c.Table().InPause(o.St) && !(pauseCount(o) > 0 || (o.has(fForced) && s.Abort&c.txn(j) != 0)) {
				return false
			}
		}
		return true
	}},
	{"ConcludedReportsResult", "I6", func(c *Config, s *State) bool {
		for j := 0; j < c.N; j++ {
			o := &s.J[j]
			if o.St != fsm.Concluded {
				continue
			}
			if o.has(fForced) && o.Ret == retOK {
				return false
			}
			if (o.Ret == retOK) != o.has(fGraph) {
				return false
			}
		}
		return true
	}},
	{"MonitorView", "I1 I6", func(c *Config, s *State) bool {
		for m := 0; m < c.NMonitors; m++ {
			for j := 0; j < c.N; j++ {
				if s.Lost[m]&(1<<j) == 0 && s.Seen[m][j] != s.J[j].St {
					return false
				}
			}
		}
		return true
	}},
}

// reach[v][a] is the set of statuses reachable from a along version v's
// table (a included), as a bit mask.
var reach = func() (r [][fsm.Null + 1]uint16) {
	r = make([][fsm.Null + 1]uint16, len(fsm.Versions()))
	for _, v := range fsm.Versions() {
		r[v] = reachAlong(fsm.For(v))
	}
	return r
}()

func reachAlong(tab *fsm.Table) (r [fsm.Null + 1]uint16) {
	for a := fsm.Undefined; a <= fsm.Null; a++ {
		r[a] = 1 << a
		for changed := true; changed; {
			changed = false
			for _, t := range tab.Transitions() {
				if r[a]&(1<<t.From) != 0 && r[a]&(1<<t.To) == 0 {
					r[a] |= 1 << t.To
					changed = true
				}
			}
		}
	}
	return r
}

// StepProperties are checked on every transition.
var StepProperties = []StepProperty{
	{"StatusAlongTable", "I1", func(c *Config, s, n *State) bool {
		for j := 0; j < c.N; j++ {
			if reach[c.Version][s.J[j].St]&(1<<n.J[j].St) == 0 {
				return false
			}
		}
		return true
	}},
	{"ConcludedStaysUntilDismiss", "I6", func(c *Config, s, n *State) bool {
		for j := 0; j < c.N; j++ {
			if c.in(c.ManualDismiss, j) && s.J[j].has(fStarted) && n.J[j].St == fsm.Null &&
				s.J[j].St != fsm.Null && s.J[j].St != fsm.Concluded {
				return false
			}
		}
		return true
	}},
	{"ManualFinalizeWaits", "I8 I9", func(c *Config, s, n *State) bool {
		for j := 0; j < c.N; j++ {
			if n.J[j].has(fGraph) == s.J[j].has(fGraph) {
				continue
			}
			manual := false
			for k := 0; k < c.N; k++ {
				if c.txn(k) == c.txn(j) && c.in(c.ManualFinalize, k) {
					manual = true
				}
			}
			if manual && s.J[j].St != fsm.Pending {
				return false
			}
		}
		return true
	}},
}
