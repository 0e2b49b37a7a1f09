package explore

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

const tlaDir = "../../tla"

// readmeCounts reads the "distinct states" table of tla/README.md: rows
// `| MC_x | distinct | depth | ...` recorded from TLC's runs.
func readmeCounts(t *testing.T) map[string][2]int {
	t.Helper()
	f, err := os.Open(filepath.Join(tlaDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 4 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if !strings.HasPrefix(name, "MC_") {
			continue
		}
		d, err1 := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(cells[2]), ",", ""))
		depth, err2 := strconv.Atoi(strings.TrimSpace(cells[3]))
		if err1 != nil || err2 != nil {
			continue // a row of another table
		}
		out[name] = [2]int{d, depth}
	}
	return out
}

// exploreFile explores the model config at path under its own bounds.
func exploreFile(t *testing.T, path string) *Result {
	t.Helper()
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Explore(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCountsMatchREADME: the explorer finds exactly the distinct-state
// counts and depths TLC found (recorded in tla/README.md), for every config
// TLC checks without error. `make tlc` compares the two live in CI; this
// test pins the recorded figures for a plain `go test`.
func TestCountsMatchREADME(t *testing.T) {
	want := readmeCounts(t)
	cfgs, err := filepath.Glob(filepath.Join(tlaDir, "MC_*.cfg"))
	if err != nil || len(cfgs) == 0 {
		t.Fatalf("no MC_*.cfg in %s: %v", tlaDir, err)
	}
	checked := 0
	for _, path := range cfgs {
		name := strings.TrimSuffix(filepath.Base(path), ".cfg")
		exp, err := ReadExpectation(path)
		if err != nil {
			t.Fatal(err)
		}
		if exp.NoExplorer || !exp.OK() {
			continue // not a JobLifecycle config, or an expected violation (TestExpectedViolations)
		}
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("tla/README.md records no distinct-state count for %s", name)
			}
			res := exploreFile(t, path)
			if res.Violation != nil {
				t.Fatalf("%s %s violated:\n%v", res.Violation.Kind, res.Violation.Name, res.Violation.Trace)
			}
			if res.DistinctStates != w[0] || res.Depth != w[1] {
				t.Errorf("explorer: %d distinct states, depth %d; TLC (README): %d, depth %d",
					res.DistinctStates, res.Depth, w[0], w[1])
			}
		})
		checked++
	}
	if checked < 4 {
		t.Errorf("only %d configs checked", checked)
	}
}

// TestExpectedViolations: every config whose Expect line names a violation
// makes the explorer report exactly that one: the QEMU 7.2 rollback rule
// deadlocks (reference 12), the broken variant (finalize in waiting) breaks
// transaction atomicity. The traces are the shortest ones.
func TestExpectedViolations(t *testing.T) {
	cfgs, err := filepath.Glob(filepath.Join(tlaDir, "MC_*.cfg"))
	if err != nil || len(cfgs) == 0 {
		t.Fatalf("no MC_*.cfg in %s: %v", tlaDir, err)
	}
	seen := map[string]string{}
	for _, path := range cfgs {
		name := strings.TrimSuffix(filepath.Base(path), ".cfg")
		exp, err := ReadExpectation(path)
		if err != nil {
			t.Fatal(err)
		}
		if exp.NoExplorer || exp.OK() {
			continue
		}
		seen[name] = exp.String()
		t.Run(name, func(t *testing.T) {
			res := exploreFile(t, path)
			v := res.Violation
			if !exp.MetBy(v) {
				t.Fatalf("Expect: %s, got %+v", exp, v)
			}
			last := v.Trace[len(v.Trace)-1]
			switch name {
			case "MC_hang", "MC_hang_10_0":
				// Create(both), then a cancel of an unstarted member: the
				// other unstarted member heads the aborting transaction.
				if len(v.Trace) != 3 || !strings.HasPrefix(last.Action, "Cancel") || !strings.Contains(last.State, "job 2: created") {
					t.Errorf("unexpected deadlock trace: %+v", v.Trace)
				}
			case "MC_broken":
				if last.Action != "Finalize" {
					t.Errorf("last step %q, want Finalize", last.Action)
				}
			}
		})
	}
	// Not vacuous: the checker is shown to find a deadlock and a violated
	// invariant (which ones, the configs' Expect lines say).
	kinds := map[string]bool{}
	for _, e := range seen {
		kinds[strings.Fields(e)[0]] = true
	}
	if !kinds["deadlock"] || !kinds["invariant"] {
		t.Errorf("the explorer configs must include an expected deadlock and an expected invariant violation; got %v", seen)
	}
	// Without deadlock checking, the hang shows as a state from which the
	// jobs can never all reach null.
	c, err := LoadConfig(filepath.Join(tlaDir, "MC_hang.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	c.CheckDeadlock = false
	res, err := Explore(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Violation; v == nil || v.Kind != "liveness" || v.Name != "CanTerminate" {
		t.Errorf("MC_hang without deadlock check: want CanTerminate violated, got %+v", v)
	}
	c, err = LoadConfig(filepath.Join(tlaDir, "MC_hang_fixed.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	res, err = Explore(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation != nil || res.CanTerminate == nil || !*res.CanTerminate {
		t.Errorf("the corrected rollback rule must not deadlock: %+v", res.Violation)
	}
}

// TestWorkersAgree: the parallel search finds the same states as a single
// worker.
func TestWorkersAgree(t *testing.T) {
	c, err := LoadConfig(filepath.Join(tlaDir, "MC_txn.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	one, err := Explore(c, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	many, err := Explore(c, Options{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if one.DistinctStates != many.DistinctStates || one.Depth != many.Depth {
		t.Errorf("1 worker: %d states depth %d; 4 workers: %d depth %d",
			one.DistinctStates, one.Depth, many.DistinctStates, many.Depth)
	}
}

const goodCfg = `CONSTANTS
    N = 2
    Grouped = {1, 2}
    ManualFinalize = {}
    ManualDismiss = {2}
    ReadyJobs = {}
    MayFail = {1}
    StopOnError = {}
    PrepareMayFail = {}
    BitmapJobs = {}
    MaxDrains = 0
    NMonitors = 1
    RollbackRule = "fixed"
    FinalizeInWaiting = FALSE
    QemuVersion = "10.0"
SPECIFICATION Spec
CHECK_DEADLOCK FALSE
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("good", strings.NewReader(goodCfg))
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 2 || c.Grouped != 0b11 || c.ManualDismiss != 0b10 || c.MayFail != 0b01 ||
		c.NMonitors != 1 || c.RollbackQEMU72 || c.FinalizeInWaiting || c.CheckDeadlock || c.Version != fsm.QEMU10_0 {
		t.Errorf("parsed %+v", c)
	}
	for _, tc := range []struct{ name, from, to, msg string }{
		{"missing", "    MaxDrains = 0\n", "", "constant MaxDrains missing"},
		{"unknown", "    N = 2\n", "    N = 2\n    Jobs = {1}\n", "unknown constant Jobs"},
		{"twice", "    N = 2\n", "    N = 2\n    N = 3\n", "given twice"},
		{"N range", "N = 2", "N = 9", "want a number in 1..4"},
		{"not a job", "MayFail = {1}", "MayFail = {3}", `"3" is not a job in 1..2`},
		{"not a set", "MayFail = {1}", "MayFail = 1", "want a set"},
		{"rule", `RollbackRule = "fixed"`, `RollbackRule = fixed`, "want \"qemu72\" or \"fixed\""},
		{"bool", "FinalizeInWaiting = FALSE", "FinalizeInWaiting = no", "want TRUE or FALSE"},
		{"version", `QemuVersion = "10.0"`, `QemuVersion = "9.0"`, `QemuVersion: want one of "7.2", "10.0" as a TLA+ string, got "9.0"`},
		{"version unquoted", `QemuVersion = "10.0"`, `QemuVersion = 10.0`, `want one of "7.2", "10.0" as a TLA+ string, got 10.0`},
		{"version missing", "    QemuVersion = \"10.0\"\n", "", "constant QemuVersion missing"},
		{"syntax", "    N = 2\n", "    N 2\n", "want Name = value"},
	} {
		_, err := ParseConfig("bad.cfg", strings.NewReader(strings.Replace(goodCfg, tc.from, tc.to, 1)))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want a *ConfigError containing %q", tc.name, err, tc.msg)
		}
	}
}

// TestInvariantsCanFail: every invariant rejects a state that breaks it, so
// none of them holds vacuously.
func TestInvariantsCanFail(t *testing.T) {
	c, err := ParseConfig("good", strings.NewReader(goodCfg))
	if err != nil {
		t.Fatal(err)
	}
	c.BitmapJobs = 0b01
	base := func() State {
		s := c.Init()
		for j := 0; j < c.N; j++ {
			s.J[j] = Job{St: fsm.Running, F: fStarted}
			s.Seen[0][j] = fsm.Running
		}
		s.J[0].Bitmap = bmFrozen
		return s
	}
	ok := base()
	for _, inv := range Invariants {
		if !inv.OK(c, &ok) {
			t.Fatalf("%s fails on the good state", inv.Name)
		}
	}
	bad := map[string]func(s *State){
		"TypeOK": func(s *State) { s.J[0].Ret = 7 },
		"TxnAtomic": func(s *State) {
			s.J[1] = Job{St: fsm.Null, F: fStarted | fGraph}
		},
		"PendingOnlyWhenAllDone": func(s *State) { s.J[1].St = fsm.Pending },
		"GraphOnlyAfterFinalize": func(s *State) { s.J[1].F |= fGraph },
		"BitmapSafe": func(s *State) {
			s.J[0] = Job{St: fsm.Concluded, F: fStarted, Ret: retError, Bitmap: bmCommitted}
		},
		"PauseConsistent":        func(s *State) { s.J[1].St = fsm.Paused },
		"ConcludedReportsResult": func(s *State) { s.J[1] = Job{St: fsm.Concluded, F: fStarted | fForced} },
		"MonitorView":            func(s *State) { s.Seen[0][1] = fsm.Ready },
	}
	for _, inv := range Invariants {
		f, ok := bad[inv.Name]
		if !ok {
			t.Errorf("no breaking state for invariant %s", inv.Name)
			continue
		}
		s := base()
		f(&s)
		if inv.OK(c, &s) {
			t.Errorf("%s holds in a state that breaks it:\n%s", inv.Name, c.Format(&s))
		}
	}
}

// TestStepPropertiesCanFail: every step property rejects a step that breaks it.
func TestStepPropertiesCanFail(t *testing.T) {
	c, err := ParseConfig("good", strings.NewReader(goodCfg))
	if err != nil {
		t.Fatal(err)
	}
	c.ManualFinalize = 0b01
	from := c.Init()
	from.J[0] = Job{St: fsm.Running, F: fStarted}
	from.J[1] = Job{St: fsm.Aborting, F: fStarted, Ret: retError}
	cases := map[string]func(n *State){
		"StatusAlongTable":           func(n *State) { n.J[0].St = fsm.Created },
		"ConcludedStaysUntilDismiss": func(n *State) { n.J[1].St = fsm.Null },
		"ManualFinalizeWaits":        func(n *State) { n.J[0].St, n.J[0].F = fsm.Concluded, fStarted|fGraph },
	}
	for _, p := range StepProperties {
		f, ok := cases[p.Name]
		if !ok {
			t.Errorf("no breaking step for property %s", p.Name)
			continue
		}
		n := from
		if !p.OK(c, &from, &n) {
			t.Fatalf("%s fails on a stuttering step", p.Name)
		}
		f(&n)
		if p.OK(c, &from, &n) {
			t.Errorf("%s holds on a step that breaks it", p.Name)
		}
	}
}

// BenchmarkExplore reports the explorer's distinct states per second on
// MC_small and MC_txn (run with -benchtime=1x: one search is one op).
func BenchmarkExplore(b *testing.B) {
	for _, name := range []string{"MC_small", "MC_txn"} {
		for _, workers := range []int{1, 2} {
			b.Run(name+"/workers="+strconv.Itoa(workers), func(b *testing.B) {
				c, err := LoadConfig(filepath.Join(tlaDir, name+".cfg"))
				if err != nil {
					b.Fatal(err)
				}
				states := 0
				for b.Loop() {
					res, err := Explore(c, Options{Workers: workers})
					if err != nil {
						b.Fatal(err)
					}
					states += res.DistinctStates
				}
				b.ReportMetric(float64(states)/b.Elapsed().Seconds(), "states/s")
			})
		}
	}
}

// TestExpectLines: every model config of tla/ states its expected outcome
// exactly once (ReadExpectation fails otherwise), and `Explorer: none` marks
// exactly the configs whose spec is not JobLifecycle (their CONSTANTS are
// not the explorer's).
func TestExpectLines(t *testing.T) {
	cfgs, err := filepath.Glob(filepath.Join(tlaDir, "MC_*.cfg"))
	if err != nil || len(cfgs) == 0 {
		t.Fatalf("no MC_*.cfg in %s: %v", tlaDir, err)
	}
	twins := 0
	for _, path := range cfgs {
		exp, err := ReadExpectation(path)
		if err != nil {
			t.Fatal(err)
		}
		_, lerr := LoadConfig(path)
		if exp.NoExplorer != (lerr != nil) {
			t.Errorf("%s: Explorer: none is %v, but LoadConfig says %v", filepath.Base(path), exp.NoExplorer, lerr)
		}
		if !exp.NoExplorer {
			twins++
		}
	}
	if twins == len(cfgs) || twins == 0 {
		t.Errorf("%d of %d configs have an explorer twin: want the JobLifecycle ones, not the Tracker ones", twins, len(cfgs))
	}
}

func TestParseExpectation(t *testing.T) {
	ok := []struct {
		text string
		want Expectation
	}{
		{"\\* Expect: ok\nCONSTANTS\n", Expectation{Kind: "ok"}},
		{"\\* Expect:   deadlock  \n", Expectation{Kind: "deadlock"}},
		{"\\* Expect: invariant TxnAtomic\n", Expectation{Kind: "invariant", Name: "TxnAtomic"}},
		{"\\* Expect: property T5\n\\* Explorer: none (Tracker.tla)\n", Expectation{Kind: "property", Name: "T5", NoExplorer: true}},
	}
	for _, tc := range ok {
		got, err := ParseExpectation("x.cfg", strings.NewReader(tc.text))
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.text, got, err, tc.want)
		}
	}
	bad := []struct{ text, msg string }{
		{"CONSTANTS\n    N = 1\n", "x.cfg: no `\\* Expect:` line"},
		{"  \\* Expect: ok\n", "x.cfg: no `\\* Expect:` line"},
		{"\\* Expect: ok\n\\* Expect: deadlock\n", "x.cfg:2: second Expect line (the first is line 1)"},
		{"\\* Expect: invariant\n", "x.cfg:1: want `\\* Expect: ok|deadlock|invariant NAME|property NAME`"},
		{"\\* Expect: violation TxnAtomic\n", "x.cfg:1: want"},
		{"\\* Expect: ok TxnAtomic\n", "x.cfg:1: want"},
		{"\\* Expect: ok\n\\* Explorer: yes\n", "x.cfg:2: want `\\* Explorer: none"},
	}
	for _, tc := range bad {
		_, err := ParseExpectation("x.cfg", strings.NewReader(tc.text))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("%q: got %v, want a *ConfigError starting %q", tc.text, err, tc.msg)
		}
	}
	// MetBy: the explorer's violation kinds against the expectation.
	inv := &Violation{Kind: "invariant", Name: "TxnAtomic"}
	dl := &Violation{Kind: "deadlock", Name: "Deadlock"}
	for _, tc := range []struct {
		e    Expectation
		v    *Violation
		want bool
	}{
		{Expectation{Kind: "ok"}, nil, true},
		{Expectation{Kind: "ok"}, inv, false},
		{Expectation{Kind: "deadlock"}, dl, true},
		{Expectation{Kind: "deadlock"}, nil, false},
		{Expectation{Kind: "deadlock"}, inv, false},
		{Expectation{Kind: "invariant", Name: "TxnAtomic"}, inv, true},
		{Expectation{Kind: "invariant", Name: "BitmapSafe"}, inv, false},
		{Expectation{Kind: "property", Name: "TxnAtomic"}, inv, false},
		{Expectation{Kind: "invariant", Name: "TxnAtomic"}, nil, false},
	} {
		if got := tc.e.MetBy(tc.v); got != tc.want {
			t.Errorf("%s met by %+v: %v, want %v", tc.e, tc.v, got, tc.want)
		}
	}
}

// TestVersionsExploreAlike: QEMU 10.0's table differs from 7.2's only in the
// verb change, which the spec does not model (it changes no status), so the
// same bounds give the same states under both versions. Two configs, each
// explored under both tables: not vacuous, since a table that differed in
// any edge or modeled verb would change the counts.
func TestVersionsExploreAlike(t *testing.T) {
	for _, name := range []string{"MC_txn", "MC_small_10_0"} {
		c, err := LoadConfig(filepath.Join(tlaDir, name+".cfg"))
		if err != nil {
			t.Fatal(err)
		}
		var counts [][2]int
		for _, v := range fsm.Versions() {
			cv := *c
			cv.Version = v
			res, err := Explore(&cv, Options{})
			if err != nil || res.Violation != nil {
				t.Fatalf("%s under %s: %v %+v", name, v, err, res.Violation)
			}
			counts = append(counts, [2]int{res.DistinctStates, res.Depth})
		}
		if counts[0] != counts[1] {
			t.Errorf("%s: (distinct, depth) %v under 7.2, %v under 10.0", name, counts[0], counts[1])
		}
	}
}
