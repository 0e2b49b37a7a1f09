package explore

import (
	"errors"

	"github.com/jobfsm/jobfsm/fsm"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what Explore reports; the JSON names are the ones `jobsim
// explore --format json` prints.
type Result struct {
	DistinctStates  int     `json:"distinct_states"`
	StatesGenerated int64   `json:"states_generated"`
	Depth           int     `json:"depth"` // BFS levels, as TLC counts them
	Seconds         float64 `json:"seconds"`
	StatesPerSecond float64 `json:"states_per_second"` // distinct states per second
	Workers         int     `json:"workers"`
	// CanTerminate: from every reachable state some path leads to a state
	// where every job is null (checked when the search found no violation
	// and Options.NoTermination is false).
	CanTerminate    *bool      `json:"can_terminate,omitempty"`
	TerminationSecs float64    `json:"termination_seconds,omitempty"`
	Violation       *Violation `json:"violation,omitempty"`
}

// Violation is the first error found: an invariant or step property that
// failed, a deadlock, or a status change off the table (the spec's Hop
// assertion). Trace leads from the initial state to the bad state (for a
// step property, to the bad step's target).
type Violation struct {
	Kind  string `json:"kind"` // invariant, property, deadlock, assertion
	Name  string `json:"name"`
	Trace []Step `json:"trace"`
}

// Step is one state of a counterexample and the action that reached it.
type Step struct {
	Action string `json:"action"`
	State  string `json:"state"`
}

// Options tune Explore.
type Options struct {
	// Workers is the number of goroutines; 0 means GOMAXPROCS.
	Workers int
	// NoTermination skips the CanTerminate check (a second pass over the
	// state graph: every reachable state can still reach "all jobs null").
	NoTermination bool
}

const nShards = 256

type shard struct {
	mu sync.Mutex
	m  map[State]State // state -> parent (the initial state is its own parent)
}

var seed = maphash.MakeSeed()

type found struct {
	kind, name string
	state      State
	parent     State
	hasParent  bool
}

// Explore runs a breadth-first search of every state of c reachable from
// Init, checking Invariants in every state, StepProperties on every
// transition, the Hop assertion, and deadlock (when c.CheckDeadlock). It
// stops at the end of the level in which it finds the first violation.
func Explore(c *Config, opt Options) (*Result, error) {
	if c == nil || c.N < 1 || c.N > MaxJobs || c.NMonitors > MaxMonitors {
		return nil, errors.New("explore: config out of bounds")
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	shards := make([]shard, nShards)
	for i := range shards {
		shards[i].m = map[State]State{}
	}
	insert := func(s, parent State) bool {
		sh := &shards[maphash.Comparable(seed, s)%nShards]
		sh.mu.Lock()
		_, dup := sh.m[s]
		if !dup {
			sh.m[s] = parent
		}
		sh.mu.Unlock()
		return !dup
	}
	var (
		generated atomic.Int64
		distinct  atomic.Int64
		errMu     sync.Mutex
		first     *found
	)
	report := func(f found) {
		errMu.Lock()
		if first == nil {
			first = &f
		}
		errMu.Unlock()
	}
	checkState := func(s *State, parent State, hasParent bool) {
		for _, inv := range Invariants {
			if !inv.OK(c, s) {
				report(found{"invariant", inv.Name, *s, parent, hasParent})
				return
			}
		}
	}
	init := c.Init()
	insert(init, init)
	distinct.Add(1)
	checkState(&init, init, false)
	frontier := []State{init}
	depth := 0
	for len(frontier) > 0 && first == nil {
		depth++
		var next [][]State
		var wg sync.WaitGroup
		chunk := (len(frontier) + workers - 1) / workers
		next = make([][]State, workers)
		for w := 0; w < workers; w++ {
			lo := w * chunk
			if lo >= len(frontier) {
				break
			}
			hi := min(lo+chunk, len(frontier))
			wg.Add(1)
			go func(w int, part []State) {
				defer wg.Done()
				var local []State
				var gen int64
				for i := range part {
					s := &part[i]
					nsucc := 0
					err := c.Successors(s, func(n *State, action string) {
						nsucc++
						gen++
						for _, p := range StepProperties {
							if !p.OK(c, s, n) {
								report(found{"property", p.Name, *n, *s, true})
							}
						}
						if insert(*n, *s) {
							local = append(local, *n)
							checkState(n, *s, true)
						}
					})
					if err != nil {
						report(found{"assertion", err.Error(), *s, *s, false})
					}
					if nsucc == 0 && c.CheckDeadlock {
						report(found{"deadlock", "Deadlock", *s, *s, false})
					}
				}
				next[w] = local
				generated.Add(gen)
			}(w, frontier[lo:hi])
		}
		wg.Wait()
		frontier = frontier[:0:0]
		for _, l := range next {
			frontier = append(frontier, l...)
		}
		distinct.Add(int64(len(frontier)))
	}
	secs := time.Since(start).Seconds()
	var stuck *State
	var canTerminate *bool
	var termSecs float64
	if first == nil && !opt.NoTermination {
		t0 := time.Now()
		stuck = c.canTerminate(shards)
		ok := stuck == nil
		canTerminate = &ok
		termSecs = time.Since(t0).Seconds()
	}
	res := &Result{
		DistinctStates:  int(distinct.Load()),
		StatesGenerated: generated.Load(),
		Depth:           depth,
		Seconds:         secs,
		Workers:         workers,
		CanTerminate:    canTerminate,
		TerminationSecs: termSecs,
	}
	if stuck != nil {
		res.Violation = &Violation{Kind: "liveness", Name: "CanTerminate", Trace: c.trace(shards, *stuck)}
	}
	if secs > 0 {
		res.StatesPerSecond = float64(res.DistinctStates) / secs
	}
	if first != nil {
		v := &Violation{Kind: first.kind, Name: first.name}
		if first.kind == "property" {
			// The bad step: its source's path, then the step itself.
			v.Trace = c.trace(shards, first.parent)
			v.Trace = append(v.Trace, Step{Action: c.actionBetween(first.parent, first.state), State: c.Format(&first.state)})
		} else {
			v.Trace = c.trace(shards, first.state)
		}
		res.Violation = v
	}
	return res, nil
}

// trace follows parents from s back to the initial state and names each
// step's action by re-expanding its predecessor.
func (c *Config) trace(shards []shard, s State) []Step {
	var states []State
	for x := s; ; {
		states = append(states, x)
		p, ok := shards[maphash.Comparable(seed, x)%nShards].m[x]
		if !ok || p == x {
			break
		}
		x = p
	}
	out := make([]Step, 0, len(states))
	for i := len(states) - 1; i >= 0; i-- {
		action := "Init"
		if i+1 < len(states) {
			action = c.actionBetween(states[i+1], states[i])
		}
		out = append(out, Step{Action: action, State: c.Format(&states[i])})
	}
	return out
}

// actionBetween names an action that leads from s to n.
func (c *Config) actionBetween(s, n State) string {
	action := "?"
	_ = c.Successors(&s, func(x *State, a string) {
		if action == "?" && *x == n {
			action = a
		}
	})
	return action
}

// canTerminate returns a reachable state from which no path leads to a state
// where every job is null, or nil. It numbers the states, builds the reverse
// graph by expanding every state again, and searches backwards from the
// terminated states.
func (c *Config) canTerminate(shards []shard) *State {
	idx := map[State]int32{}
	var states []State
	for i := range shards {
		for s := range shards[i].m {
			idx[s] = int32(len(states))
			states = append(states, s)
		}
	}
	radj := make([][]int32, len(states))
	var queue []int32
	reached := make([]bool, len(states))
	for i := range states {
		s := &states[i]
		done := true
		for j := 0; j < c.N; j++ {
			if s.J[j].St != fsm.Null {
				done = false
			}
		}
		if done {
			reached[i] = true
			queue = append(queue, int32(i))
		}
		_ = c.Successors(s, func(n *State, _ string) {
			if k, ok := idx[*n]; ok && int(k) != i {
				radj[k] = append(radj[k], int32(i))
			}
		})
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, p := range radj[k] {
			if !reached[p] {
				reached[p] = true
				queue = append(queue, p)
			}
		}
	}
	for i := range states {
		if !reached[i] {
			return &states[i]
		}
	}
	return nil
}
