package harness

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model"
)

// Report is the outcome of a random campaign.
type Report struct {
	Seed uint64
	// Version is the QEMU version sim and the model followed.
	Version fsm.Version
	// Sequences and Steps count what ran (Steps includes every sequence's
	// drain-down); InvariantChecks counts invariant evaluations (one per
	// invariant with a Check per step); Replays counts the determinism
	// replays (I17).
	Sequences, Steps, InvariantChecks, Replays int
	Elapsed                                    time.Duration
	// Failure is nil when every check held.
	Failure *Failure
}

// Failure is a minimized counterexample.
type Failure struct {
	Sequence  int    // index of the failing sequence in the campaign
	SimSeed   uint64 // the sim.Manager seed of that sequence
	Block     bool   // the sequence ran in block mode
	Violation *Violation
	// Actions is the minimized action list; Replay reproduces
	// Violation.ID from it.
	Actions       []model.Action
	OriginalSteps int
	// Replay is the minimized sequence, ready to save under
	// testdata/regress once the bug is fixed.
	Replay model.Sequence
	// Log is the minimized run's step log; Timeline renders it per job.
	Log      []StepRecord
	Timeline string
}

// SimSeed is the sim.Manager seed of sequence i of a campaign with seed.
func SimSeed(seed uint64, i int) uint64 { return seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15 }

// Campaign runs sequences random sequences of steps actions each (plus each
// sequence's drain-down) against sim.Manager, checking the model and every
// invariant after every step, and replays every tenth sequence to check the
// trace is identical (I17). Every fifth sequence runs in block mode (real
// block jobs, guest writes, faults; see NewBlockRunner). progress, when set, is called after each
// sequence with the number done. The same seed gives the same sequences.
//
// The error is non-nil only for invalid arguments; a violation is reported
// in Report.Failure, minimized and rendered as a per-job timeline.
//
// Campaign runs at QEMU 7.2 (fsm.DefaultVersion); CampaignAt at any version.
func Campaign(seed uint64, sequences, steps int, progress func(done int)) (Report, error) {
	return CampaignAt(fsm.DefaultVersion, seed, sequences, steps, progress)
}

// CampaignAt is Campaign with sim and the model at QEMU version v: the same
// seed draws the same choices, but a version's own verbs (10.0's change)
// change what they pick.
func CampaignAt(v fsm.Version, seed uint64, sequences, steps int, progress func(done int)) (Report, error) {
	if sequences < 1 || steps < 1 {
		return Report{}, fmt.Errorf("model: campaign needs at least one sequence and one step (got %d, %d)", sequences, steps)
	}
	start := time.Now()
	rep := Report{Seed: seed, Version: v}
	for i := range sequences {
		simSeed := SimSeed(seed, i)
		seq := model.Sequence{SimSeed: simSeed, Block: i%5 == 4, Version: v}
		r, acts, err := RunSequenceAt(v, seq.Block, simSeed, steps, NewPCGSource(seed, uint64(i)))
		seq.Actions = acts
		rep.Steps += r.Steps
		rep.InvariantChecks += r.Checks
		if err == nil && i%10 == 0 {
			rep.Replays++
			r2, err2 := ReplaySequence(seq)
			rep.Steps += r2.Steps
			rep.InvariantChecks += r2.Checks
			if err2 == nil && !slices.Equal(r.Trace, r2.Trace) {
				err = &Violation{ID: "I17", Step: r.Steps, Detail: "replaying the same actions with the same seed gave a different event trace"}
			} else if err2 != nil {
				err = err2
			}
		}
		if err != nil {
			rep.Failure = failure(i, seq, err)
			rep.Sequences = i + 1
			break
		}
		rep.Sequences = i + 1
		if progress != nil {
			progress(i + 1)
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func failure(i int, seq model.Sequence, err error) *Failure {
	var v *Violation
	if !errors.As(err, &v) {
		v = &Violation{ID: "?", Detail: err.Error()}
	}
	small, r, merr := Minimize(seq, v.ID, 4000, 30*time.Second)
	f := &Failure{Sequence: i, SimSeed: seq.SimSeed, Block: seq.Block, Violation: v, Actions: small.Actions,
		OriginalSteps: len(seq.Actions), Log: r.Log, Replay: small}
	f.Replay.Want = v.ID
	var mv *Violation
	if errors.As(merr, &mv) {
		f.Violation = mv
	}
	mode := ""
	if seq.Block {
		mode = " (block mode)"
	}
	if seq.Version != fsm.DefaultVersion {
		mode += " at QEMU " + seq.Version.String()
	}
	f.Timeline = fmt.Sprintf("counterexample: sequence %d%s, sim seed %d, %d of %d actions after minimizing\n%s",
		i, mode, seq.SimSeed, len(small.Actions), len(seq.Actions), r.Timeline(merr))
	return f
}

// Minimize shrinks a failing sequence: it removes chunks of actions
// (delta debugging), then members of grouped creations, as long as the run
// still fails with the same invariant id. budget bounds the replays and
// limit the time. It returns the smallest list found, the runner of its
// final replay and that replay's error.
func Minimize(seq model.Sequence, id string, budget int, limit time.Duration) (model.Sequence, *Runner, error) {
	deadline := time.Now().Add(limit)
	replay := func(c []model.Action) (*Runner, error) {
		s := seq
		s.Actions = c
		return ReplaySequence(s)
	}
	fails := func(c []model.Action) bool {
		if budget <= 0 || time.Now().After(deadline) {
			return false
		}
		budget--
		_, err := replay(c)
		var v *Violation
		return errors.As(err, &v) && v.ID == id
	}
	cur := slices.Clone(seq.Actions)
	for n := 2; len(cur) >= 1; {
		chunk := (len(cur) + n - 1) / n
		removed := false
		for lo := 0; lo < len(cur); lo += chunk {
			hi := min(lo+chunk, len(cur))
			try := append(slices.Clone(cur[:lo]), cur[hi:]...)
			if fails(try) {
				cur, removed = try, true
				n = max(n-1, 2)
				break
			}
		}
		if !removed {
			if chunk == 1 {
				break
			}
			n = min(2*n, len(cur))
		}
	}
	for i := 0; i < len(cur); i++ {
		if cur[i].Op != model.OpCreate {
			continue
		}
		for k := 0; len(cur[i].Jobs) > 1 && k < len(cur[i].Jobs); {
			try := slices.Clone(cur)
			try[i].Jobs = slices.Delete(slices.Clone(cur[i].Jobs), k, k+1)
			if fails(try) {
				cur = try
			} else {
				k++
			}
		}
	}
	r, err := replay(cur)
	out := seq
	out.Actions = cur
	return out, r, err
}

// ReplaySequence runs the sequence on a fresh runner of its version and
// mode, then the drain-down.
func ReplaySequence(s model.Sequence) (*Runner, error) {
	r := newRunner(s.Version, s.Block, s.SimSeed)
	return r, r.run(s.Actions)
}
