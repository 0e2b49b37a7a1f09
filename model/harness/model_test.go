package harness

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/rapidmain"
	"github.com/jobfsm/jobfsm/model"
	"pgregory.net/rapid"
)

// Defaults of the property tests, chosen so that `go test -race ./model/...`
// stays well under three minutes on two cores: 2000 sequences of 50–60
// random actions each (plus each sequence's drain-down).
const (
	defaultChecks = 2000
	minSteps      = 50
	maxSteps      = 60
)

// TestMain runs rapid with this package's defaults (CI: seed 1; `make
// model-random` draws a new one) and prints the seed.
func TestMain(m *testing.M) {
	rapidmain.Run(m, "model", defaultChecks, "go test ./model/harness -run TestRandomSequences")
}

// rapidSource draws the generator's choices from rapid, so that rapid
// shrinks a failing sequence (towards 0: no-ops and the simplest options).
type rapidSource struct{ t *rapid.T }

func (s rapidSource) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	return rapid.IntRange(0, n-1).Draw(s.t, "c")
}

// sequences returns one property-test case: a random sequence of 50–60
// actions against sim and the model on a runner from newRunner, every
// invariant after every action, then the drain-down and the liveness check.
func sequences(newRunner func(seed uint64) *Runner) func(*rapid.T) {
	return func(t *rapid.T) {
		simSeed := rapid.Uint64Range(0, 1<<16).Draw(t, "sim-seed")
		steps := rapid.IntRange(minSteps, maxSteps).Draw(t, "steps")
		r := newRunner(simSeed)
		src := rapidSource{t}
		for range steps {
			if err := r.Do(NextAction(src, r)); err != nil {
				t.Fatalf("%v\n%s", err, r.Timeline(nil))
			}
		}
		if err := r.Finish(); err != nil {
			t.Fatalf("%v\n%s", err, r.Timeline(nil))
		}
	}
}

// TestRandomSequences is the property test: rapid's state-machine style
// with explicit steps, so each sequence has at least 50 actions.
//
// Checks: model agreement (M) and invariants I1–I9, I13–I21.
func TestRandomSequences(t *testing.T) {
	rapid.Check(t, sequences(NewRunner))
}

// TestBlockJobSequences is the property test in block mode: real backup,
// mirror, commit and stream jobs (alone and in grouped transactions) on
// simulated images, guest writes and injected I/O faults among the
// test-driver jobs, with the data invariant I12 checked whenever a real job
// completes. It runs a twentieth of -rapid.checks (100 by default): a real
// job costs more than a scripted one.
func TestBlockJobSequences(t *testing.T) {
	withChecksDividedBy(20, func() { rapid.Check(t, sequences(NewBlockRunner)) })
}

// withChecksDividedBy runs f with -rapid.checks divided by div (at least 1).
func withChecksDividedBy(div int, f func()) {
	fl := flag.Lookup("rapid.checks")
	old := fl.Value.String()
	n, _ := strconv.Atoi(old)
	_ = fl.Value.Set(strconv.Itoa(max(n/div, 1)))
	defer func() { _ = fl.Value.Set(old) }()
	f()
}

// at10 returns a runner constructor at QEMU 10.0.
func at10(newAt func(fsm.Version, uint64) *Runner) func(uint64) *Runner {
	return func(seed uint64) *Runner { return newAt(fsm.QEMU10_0, seed) }
}

// TestRandomSequences10 is TestRandomSequences with sim and the model at
// QEMU 10.0 (block-job-change among the verbs, drain blips when a block
// job is freed). It runs a tenth of -rapid.checks (200 by default) to keep
// CI's time small; the mutation proof runs it at full strength.
func TestRandomSequences10(t *testing.T) {
	withChecksDividedBy(10, func() { rapid.Check(t, sequences(at10(NewRunnerAt))) })
}

// TestBlockJobSequences10 is TestBlockJobSequences at QEMU 10.0 (real
// jobs' graph operations drain every node: blips on every running job),
// on a two-hundredth of -rapid.checks (10 by default: CI's time; `jobsim
// check --qemu 10.0` runs 1000 block-mode sequences).
func TestBlockJobSequences10(t *testing.T) {
	withChecksDividedBy(200, func() { rapid.Check(t, sequences(at10(NewBlockRunnerAt))) })
}

// TestVersionDifferencesAreExercised: the random sequences at 10.0 do
// reach what 10.0 does differently, so the 10.0 tests above are not 7.2's
// run again. Over a dozen fixed sequences (two in three in block mode; the
// seed is one whose real mirrors get block-job-change), 10.0's model
// accepted drain blips, and block-job-change was accepted by a test driver
// with .change (its callback ran), by a real mirror (no callback observed)
// and refused by a driver without .change (QEMU's text); at 7.2 there is
// neither a blip nor the command.
func TestVersionDifferencesAreExercised(t *testing.T) {
	type tally struct{ blips, change, changeTest, changeMirror, changeNo int }
	count := func(v fsm.Version, seed uint64, sequences int) tally {
		var n tally
		for i := range sequences {
			r, _, err := RunSequenceAt(v, i%3 != 0, SimSeed(seed, i), 60, NewPCGSource(seed, uint64(i)))
			if err != nil {
				t.Fatalf("%s sequence %d: %v\n%s", v, i, err, r.Timeline(nil))
			}
			n.blips += r.Model().DrainBlips()
			for _, st := range r.Log {
				if !strings.HasPrefix(st.Desc, "block-job-change ") {
					continue
				}
				n.change++
				called := slices.ContainsFunc(st.Events, func(e model.Event) bool { return e.Kind == model.EvCall && e.Call == "change" })
				switch {
				case strings.HasSuffix(st.Desc, " -> ok") && called:
					n.changeTest++
				case strings.HasSuffix(st.Desc, " -> ok"):
					n.changeMirror++
				case strings.HasSuffix(st.Desc, " -> error: Job type does not support change"):
					n.changeNo++
				}
			}
		}
		return n
	}
	n := count(fsm.QEMU10_0, changeSeed, 12)
	if n.blips == 0 || n.changeTest == 0 || n.changeMirror == 0 || n.changeNo == 0 {
		t.Errorf("10.0: %d drain blips; block-job-change accepted by a test driver %d times, by a real mirror %d times, refused for want of .change %d times: each must be > 0",
			n.blips, n.changeTest, n.changeMirror, n.changeNo)
	} else {
		t.Logf("10.0: %d drain blips; block-job-change %d times: accepted by a test driver %d, by a real mirror %d, refused for want of .change %d",
			n.blips, n.change, n.changeTest, n.changeMirror, n.changeNo)
	}
	if n := count(fsm.QEMU7_2, changeSeed, 6); n.blips != 0 || n.change != 0 {
		t.Errorf("7.2: %d drain blips, %d block-job-change: want none", n.blips, n.change)
	}
}

// changeSeed is TestVersionDifferencesAreExercised's seed.
const changeSeed = 7

// TestReplayIsDeterministic replays sequences and compares traces (I17).
func TestReplayIsDeterministic(t *testing.T) {
	for i := range 30 {
		simSeed := SimSeed(7, i)
		run := RunSequence
		if i%3 == 2 {
			run = RunBlockSequence
		}
		r, acts, err := run(simSeed, 60, NewPCGSource(7, uint64(i)))
		if err != nil {
			t.Fatalf("sequence %d: %v\n%s", i, err, r.Timeline(nil))
		}
		r2, err := ReplaySequence(model.Sequence{SimSeed: simSeed, Block: i%3 == 2, Actions: acts})
		if err != nil {
			t.Fatalf("sequence %d replay: %v", i, err)
		}
		if fmt.Sprint(r.Trace) != fmt.Sprint(r2.Trace) {
			t.Fatalf("sequence %d: replay gave a different trace", i)
		}
		if len(r.Trace) == 0 {
			t.Fatalf("sequence %d emitted no events", i)
		}
	}
}

// readSequence loads a kept sequence file.
func readSequence(t *testing.T, path string) model.Sequence {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s model.Sequence
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// TestRegressions replays every kept sequence under testdata/regress.
func TestRegressions(t *testing.T) {
	files, err := filepath.Glob("testdata/regress/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression sequences (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s := readSequence(t, f)
			r, err := ReplaySequence(s)
			if err != nil {
				t.Fatalf("%v\n%s", err, r.Timeline(nil))
			}
		})
	}
}

// TestCampaign runs a small campaign and checks its counts add up.
func TestCampaign(t *testing.T) {
	var calls int
	goroutines := runtime.NumGoroutine()
	rep, err := Campaign(3, 20, 40, func(done int) { calls = done })
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("campaign leaked goroutines: %d before, %d after (I17)", goroutines, n)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failure != nil {
		t.Fatalf("campaign failed:\n%s", rep.Failure.Timeline)
	}
	if rep.Sequences != 20 || calls != 20 || rep.Replays != 2 {
		t.Errorf("sequences %d, progress %d, replays %d; want 20, 20, 2", rep.Sequences, calls, rep.Replays)
	}
	if rep.Steps < 20*40 || rep.InvariantChecks < rep.Steps*10 {
		t.Errorf("steps %d, invariant checks %d: too few", rep.Steps, rep.InvariantChecks)
	}
	if _, err := Campaign(1, 0, 10, nil); err == nil {
		t.Error("Campaign accepted 0 sequences")
	}
}

// TestModelWalk: the model alone accepts every step it says is enabled.
func TestModelWalk(t *testing.T) {
	total := 0
	for i := range 300 {
		n, err := ModelWalk(NewPCGSource(5, uint64(i)), 100)
		if err != nil {
			t.Fatalf("walk %d: %v", i, err)
		}
		total += n
	}
	if total < 300*20 {
		t.Fatalf("only %d events in 300 walks", total)
	}
}

// BenchmarkRandomSequence measures 100-step random sequences:
//   - model: the model alone (ModelWalk; the goal is at least 5,000
//     sequences/s per core);
//   - sim: the full harness, sim.Manager with the model and every invariant
//     checked after every action, plus each sequence's drain-down;
//   - block: the same in block mode (real block jobs on simulated images).
func BenchmarkRandomSequence(b *testing.B) {
	b.Run("model", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := ModelWalk(NewPCGSource(13, uint64(i)), 100); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "sequences/s")
	})
	for _, mode := range []string{"sim", "block"} {
		run := RunSequence
		if mode == "block" {
			run = RunBlockSequence
		}
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, err := run(uint64(i), 100, NewPCGSource(11, uint64(i))); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "sequences/s")
		})
	}
}

// TestMinimizeShrinks pads a failing sequence with irrelevant actions and
// checks Minimize removes them again while the failure stays. The sequence
// is the fixed mirror bug's regression case; its failure is planted for
// the test as an extra invariant that flags a guest write while a job is
// pending (what exposed the bug), so the test does not depend on a bug
// still being open.
func TestMinimizeShrinks(t *testing.T) {
	s := readSequence(t, "testdata/regress/mirror_write_while_pending_lost.json")
	s.Want = "planted"
	saved := model.Catalogue
	t.Cleanup(func() { model.Catalogue = saved })
	model.Catalogue = append(slices.Clone(saved), model.Invariant{ID: s.Want, Check: func(o *model.Obs) error {
		if o.Action.Op != model.OpWrite {
			return nil
		}
		for _, q := range o.PrevJobs {
			if q.Status == fsm.Pending {
				return fmt.Errorf("guest write while %s is pending", q.ID)
			}
		}
		return nil
	}})
	padded := s
	padded.Actions = nil
	for _, a := range s.Actions {
		padded.Actions = append(padded.Actions, a,
			model.Action{Op: model.OpCreate, Jobs: []model.JobPlan{{Type: "stream", Steps: 2}}, Start: true},
			model.Action{Op: model.OpVerb, Verb: 1, Target: model.TargetUnknown},
			model.Action{Op: model.OpDisconnect, Mon: 1})
	}
	if _, err := ReplaySequence(padded); err == nil {
		t.Fatal("the padded sequence does not fail")
	}
	small, r, err := Minimize(padded, s.Want, 2000, time.Minute)
	var v *Violation
	if !errors.As(err, &v) || v.ID != s.Want {
		t.Fatalf("minimized sequence fails with %v, want %s", err, s.Want)
	}
	if len(small.Actions) > len(s.Actions) {
		t.Fatalf("minimized to %d actions, want at most %d:\n%s", len(small.Actions), len(s.Actions), r.Timeline(err))
	}
}

// TestSequenceJSON: actions survive a JSON round trip, and bad files are
// clear errors, not panics.
func TestSequenceJSON(t *testing.T) {
	_, acts, err := RunBlockSequence(3, 40, NewPCGSource(3, 9))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(model.Sequence{SimSeed: 3, Block: true, Actions: acts})
	if err != nil {
		t.Fatal(err)
	}
	var back model.Sequence
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the sequence:\n%s\n%s", b, b2)
	}
	// A 10.0 sequence keeps its version and its change verbs.
	ten := `{"sim_seed":1,"qemu":"10.0","actions":[{"op":"verb","verb":"change","block":true}]}`
	var s10 model.Sequence
	if err := json.Unmarshal([]byte(ten), &s10); err != nil {
		t.Fatalf("10.0 sequence: %v", err)
	}
	if s10.Version != fsm.QEMU10_0 || s10.Actions[0].Verb != fsm.VerbChange {
		t.Errorf("10.0 sequence read as %+v", s10)
	}
	if b, _ := json.Marshal(s10); string(b) != ten {
		t.Errorf("10.0 sequence written as %s, want %s", b, ten)
	}
	for _, bad := range []string{
		`{"actions":[{"op":"jump"}]}`,
		`{"actions":[{"op":"verb","verb":"change"}]}`,
		`{"qemu":"7.2","actions":[{"op":"verb","verb":"change"}]}`,
		`{"qemu":"9.0","actions":[]}`,
		`{"actions":[{"op":"verb","verb":"pause","job":-1}]}`,
		`{"actions":[{"op":"verb","verb":"pause","target":7}]}`,
	} {
		var s model.Sequence
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
