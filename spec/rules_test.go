package spec_test

// The rules of spec/README.md, checked against fsm and the simulator. Every
// expected value below was written by hand from the specification (and the
// QEMU 7.2 reference it restates), never copied from this code's output.
// Scenario files under sim/testdata/lifecycle are the lifecycle tests'
// hand-written expectations, and those under testdata/rules this package's;
// the tests here name the rules each one checks.

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/scenario"
	"github.com/jobfsm/jobfsm/sim"
)

// scenarioDirs hold the scenarios the rules are checked on: the simulator's
// lifecycle corpus and this package's rule scenarios (testdata/rules).
var scenarioDirs = []string{filepath.Join("..", "sim", "testdata", "lifecycle"), filepath.Join("testdata", "rules")}

// scenarioFiles returns every scenario file, by name (the file name without
// .json). A missing directory or a name in both directories is an error.
func scenarioFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range scenarioDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no scenarios under %s (%v)", dir, err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			if prev, ok := out[name]; ok {
				t.Fatalf("scenario %s is both %s and %s", name, prev, f)
			}
			out[name] = f
		}
	}
	return out
}

// play runs the scenario named name with a few seeds and fails on any unmet
// expectation.
func play(t *testing.T, name string) *scenario.Result {
	t.Helper()
	f, ok := scenarioFiles(t)[name]
	if !ok {
		t.Fatalf("no scenario %s under %v", name, scenarioDirs)
	}
	s, err := scenario.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	var res *scenario.Result
	for _, seed := range []uint64{0, 1, 7} {
		s.Seed = seed
		res = s.Run()
		for _, m := range res.Mismatches {
			t.Errorf("%s (seed %d): %s", s.Name, seed, m)
		}
	}
	return res
}

func playAll(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		play(t, n)
	}
}

// loadAll loads every scenario, in name order.
func loadAll(t *testing.T) []*scenario.Scenario {
	t.Helper()
	files := scenarioFiles(t)
	names := slices.Sorted(maps.Keys(files))
	out := make([]*scenario.Scenario, len(names))
	for i, n := range names {
		s, err := scenario.Load(files[n])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

// allScenarios runs every scenario once, for the properties that must hold
// in any run.
func allScenarios(t *testing.T) []*scenario.Result {
	t.Helper()
	var out []*scenario.Result
	for _, s := range loadAll(t) {
		out = append(out, s.Run())
	}
	return out
}

// Checks: R1, R2
func TestStatusAndVerbNames(t *testing.T) {
	var st, vb []string
	for _, s := range fsm.Statuses() {
		st = append(st, s.String())
	}
	for _, v := range fsm.Verbs() {
		vb = append(vb, v.String())
	}
	if diff := cmp.Diff([]string{"undefined", "created", "running", "paused", "ready", "standby", "waiting", "pending", "aborting", "concluded", "null"}, st); diff != "" {
		t.Errorf("statuses (-spec +fsm):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize"}, vb); diff != "" {
		t.Errorf("verbs (-spec +fsm):\n%s", diff)
	}
	if _, ok := fsm.ParseVerb("change"); ok {
		t.Error("7.2 has no verb change")
	}
}

// Checks: R3, R5
func TestTablesMatchSpecification(t *testing.T) {
	// R3's 20 edges, typed from the specification.
	edges := "undefined>created created>running created>aborting created>null " +
		"running>paused running>ready running>waiting running>aborting paused>running " +
		"ready>standby ready>waiting ready>aborting standby>ready waiting>pending " +
		"waiting>aborting pending>aborting pending>concluded aborting>aborting " +
		"aborting>concluded concluded>null"
	var got []string
	for _, tr := range fsm.Transitions() {
		got = append(got, tr.From.String()+">"+tr.To.String())
	}
	want := strings.Fields(edges)
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JobSTT edges (-spec +fsm):\n%s", diff)
	}
	// R5's verb table.
	verbs := map[string]string{
		"cancel":    "created running paused ready standby waiting pending",
		"pause":     "created running paused ready standby",
		"resume":    "created running paused ready standby",
		"set-speed": "created running paused ready standby",
		"complete":  "ready standby",
		"finalize":  "pending",
		"dismiss":   "concluded",
	}
	for _, v := range fsm.Verbs() {
		var in []string
		for _, s := range fsm.AcceptingStatuses(v) {
			in = append(in, s.String())
		}
		if w := verbs[v.String()]; strings.Join(in, " ") != w {
			t.Errorf("verb %s accepted in %q, spec says %q", v, strings.Join(in, " "), w)
		}
	}
	// The tables printed in the specification are fsm's current ones.
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "<!-- BEGIN GENERATED TABLES -->\n"+fsm.Markdown()+"<!-- END GENERATED TABLES -->") {
		t.Error("spec/README.md's generated tables are stale: run go generate ./spec")
	}
}

// Every traced trigger follows an edge, and each real change (not the
// aborting self-transition) is exactly one JOB_STATUS_CHANGE, in order.
//
// Checks: R3, R4
func TestOneEventPerStatusChange(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "sim", "testdata", "lifecycle", "*.json"))
	selfSeen := false
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		var changes []string
		res := s.RunWith(sim.Options{Tracer: func(r sim.TraceRecord) {
			if r.Op != "trigger" || r.Err != "" {
				return
			}
			if !fsm.Allows(r.From, r.To) {
				t.Errorf("%s: %s moved %s -> %s, not an edge", s.Name, r.Job, r.From, r.To)
			}
			if r.From == r.To {
				selfSeen = true
				return
			}
			changes = append(changes, r.Job+" "+r.To.String())
		}})
		var events []string
		for _, e := range res.Events {
			if e.Name == sim.EventJobStatusChange {
				events = append(events, e.String())
			}
		}
		if diff := cmp.Diff(changes, events); diff != "" {
			t.Errorf("%s: status changes vs JOB_STATUS_CHANGE events (-changes +events):\n%s", s.Name, diff)
		}
	}
	if !selfSeen {
		t.Error("no scenario exercised the aborting self-transition")
	}
}

// Checks: R5, R6, R7, R10, R11, R13, R22
func TestBadInput(t *testing.T) { play(t, "bad_input") }

// Checks: R6, R20
func TestRefusedVerbsChangeNothing(t *testing.T) {
	play(t, "refused")
}

// Checks: R7, R8, R9
func TestJobIDs(t *testing.T) {
	play(t, "ids")
	// R9: pause_count is 1 at creation and 0 once started.
	m := sim.New(sim.Options{})
	j, err := m.Create(sim.JobSpec{ID: "p", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1})})
	if err != nil {
		t.Fatal(err)
	}
	if j.PauseCount() != 1 || j.Status() != fsm.Created || j.Started() {
		t.Fatalf("new job: pause_count %d, status %s, started %v", j.PauseCount(), j.Status(), j.Started())
	}
	if err := m.Start(j); err != nil {
		t.Fatal(err)
	}
	if j.PauseCount() != 0 || !j.Started() {
		t.Fatalf("started job: pause_count %d, started %v", j.PauseCount(), j.Started())
	}
}

// Checks: R11, R37, R38
func TestNonBlockJob(t *testing.T) {
	play(t, "non_block")
	m := sim.New(sim.Options{})
	if _, err := m.Create(sim.JobSpec{ID: "c0", Driver: sim.NewTestDriver(sim.TestSpec{Type: sim.TypeCreate, Steps: 1})}); err != nil {
		t.Fatal(err)
	}
	if len(m.QueryBlockJobs()) != 0 || len(m.QueryJobs()) != 1 {
		t.Fatalf("query-block-jobs %v, query-jobs %v", m.QueryBlockJobs(), m.QueryJobs())
	}
}

// Checks: R12, R13, R14, R15
func TestPausing(t *testing.T) {
	playAll(t, "pause_nesting", "cancel_standby", "flags_manual_both")
	play(t, "pause_resume")
}

// R39's paused field is pause_count > 0, whatever the status: a drain of a
// job whose run has finished shows paused=true while it stays pending.
//
// Checks: R15, R39
func TestPausedFieldIsPauseCount(t *testing.T) {
	m := sim.New(sim.Options{})
	j, _ := m.Create(sim.JobSpec{ID: "j0", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1}), ManualFinalize: true})
	if q := m.QueryBlockJobs(); len(q) != 1 || !q[0].Paused || q[0].Status != fsm.Created {
		t.Fatalf("created job (pause_count 1): %+v", q)
	}
	if err := m.Start(j); err != nil {
		t.Fatal(err)
	}
	m.RunUntil(func() bool { return j.Status() == fsm.Pending }, 1e12)
	if q := m.QueryBlockJobs(); q[0].Paused {
		t.Fatalf("pending job without pauses: %+v", q[0])
	}
	rec := m.Record()
	m.DrainBegin(j)
	m.Settle()
	if q := m.QueryBlockJobs(); !q[0].Paused || q[0].Status != fsm.Pending {
		t.Fatalf("drained pending job: %+v", q[0])
	}
	m.DrainEnd(j)
	m.Settle()
	if q := m.QueryBlockJobs(); q[0].Paused || q[0].Status != fsm.Pending {
		t.Fatalf("after the drain: %+v", q[0])
	}
	if ev := rec.Events(); len(ev) != 0 {
		t.Fatalf("a drain of a finished run emitted %v", ev)
	}
}

// Checks: R16, R17, R18, R19, R20
func TestCancel(t *testing.T) {
	playAll(t, "cancel_created", "cancel_running", "cancel_paused", "cancel_ready_soft",
		"cancel_ready_force", "cancel_standby", "cancel_pending", "cancel_concluded", "error_stop_cancel")
}

// Checks: R21, R48
func TestComplete(t *testing.T) {
	playAll(t, "standby_complete", "cancel_ready_soft")
	play(t, "complete")
}

// Checks: R23, R24, R25, R28, R29
func TestSuccessfulCompletion(t *testing.T) {
	playAll(t, "flags_auto_auto", "flags_manual_finalize", "flags_manual_dismiss", "flags_manual_both",
		"txn3_success", "txn2_manual_finalize")
	play(t, "txn_mixed_finalize")
}

// Checks: R26, R27, R28, R31
func TestFailureAndTransactionAbort(t *testing.T) {
	playAll(t, "txn1_fails", "txn1_prepare_fails", "txn2_cancel_one", "txn2_cancel_waiting",
		"txn2_prepare_fails", "txn3_one_fails", "txn3_one_fails_others_waiting", "txn5_one_fails")
}

// Checks: R19, R33
func TestRollbackOfUnstartedJobs(t *testing.T) { play(t, "rollback_unstarted") }

// Properties of every run: each started block job emits exactly one of
// COMPLETED/CANCELLED, after pending/aborting and before concluded; a job
// that never started emits neither.
//
// Checks: R29
func TestOutcomeEventsInEveryRun(t *testing.T) {
	for _, res := range allScenarios(t) {
		type life struct {
			started, seenPA bool
			outcomes        int
			block           bool
		}
		jobs := map[string]*life{}
		for _, e := range res.Events {
			l := jobs[e.Job]
			if l == nil {
				l = &life{}
				jobs[e.Job] = l
			}
			switch e.Name {
			case sim.EventJobStatusChange:
				switch e.Status {
				case fsm.Created:
					*l = life{}
				case fsm.Running:
					l.started = true
				case fsm.Pending, fsm.Aborting:
					l.seenPA = true
				case fsm.Concluded:
					if l.started && l.block && l.outcomes != 1 {
						t.Errorf("%s: %s concluded after %d outcome events", res.Scenario.Name, e.Job, l.outcomes)
					}
					if !l.started && l.outcomes != 0 {
						t.Errorf("%s: never-started %s emitted an outcome", res.Scenario.Name, e.Job)
					}
				}
			case sim.EventBlockJobCompleted, sim.EventBlockJobCancelled:
				l.outcomes++
				l.block = true
				if !l.seenPA {
					t.Errorf("%s: %s %s before pending/aborting", res.Scenario.Name, e.Name, e.Job)
				}
			}
		}
	}
}

// Per transaction, either every member commits or every member aborts.
//
// Checks: R32
func TestAtomicityInEveryRun(t *testing.T) {
	checked := 0
	for _, res := range allScenarios(t) {
		groups := map[string][]string{}
		for _, st := range res.Scenario.Steps {
			if st.Op == "create" && st.Txn != "" && st.Error == "" {
				groups[st.Txn] = append(groups[st.Txn], st.ID)
			}
		}
		for txn, ids := range groups {
			commits := 0
			for _, id := range ids {
				if slices.Contains(res.Drivers[id].Calls, "commit") {
					commits++
				}
			}
			if commits != 0 && commits != len(ids) {
				t.Errorf("%s: txn %s: %d of %d members committed", res.Scenario.Name, txn, commits, len(ids))
			}
			checked++
		}
	}
	if checked < 5 {
		t.Fatalf("only %d transactions checked", checked)
	}
}

// Checks: R30
func TestConcludedUntilDismissed(t *testing.T) {
	playAll(t, "flags_manual_dismiss", "cancel_concluded")
	play(t, "concluded_error")
}

// Every combination of transaction size (1–3), per-member outcome (success,
// run failure, prepare failure, ready-then-complete, cancelled at start) and
// auto-finalize/auto-dismiss flags: a user who completes ready jobs,
// finalizes pending ones and dismisses concluded ones sees every job reach
// null, and nothing is left queued.
//
// Checks: R34
func TestEveryJobReachesNull(t *testing.T) {
	kinds := []string{"ok", "fail", "prepare-fail", "ready", "cancel"}
	runs := 0
	var gen func(n int, prefix []string)
	gen = func(n int, prefix []string) {
		if len(prefix) == n {
			for flags := 0; flags < 4; flags++ {
				liveness(t, prefix, flags)
				runs++
			}
			return
		}
		for _, k := range kinds {
			gen(n, append(prefix, k))
		}
	}
	for n := 1; n <= 3; n++ {
		gen(n, nil)
	}
	if runs != 4*(5+25+125) {
		t.Fatalf("ran %d combinations", runs)
	}
}

func liveness(t *testing.T, kinds []string, flags int) {
	t.Helper()
	m := sim.New(sim.Options{Seed: uint64(flags)})
	var txn *sim.Txn
	if len(kinds) > 1 {
		txn = m.NewTxn()
	}
	var jobs []*sim.Job
	for i, k := range kinds {
		spec := sim.TestSpec{Steps: 3}
		switch k {
		case "fail":
			spec.FailAt = 2
		case "prepare-fail":
			spec.PrepareErr = &sim.JobError{Errno: errno.EIO}
		case "ready":
			spec.Ready = true
		}
		j, err := m.Create(sim.JobSpec{ID: string(rune('a' + i)), Driver: sim.NewTestDriver(spec), Txn: txn,
			ManualFinalize: flags&1 != 0 && i == 0, ManualDismiss: flags&2 != 0})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	// Every member starts before any command can reach one (QMP's
	// transaction starts them all in its commit phase); a force cancel
	// ends a job's run inside the command and may abort the transaction.
	for _, j := range jobs {
		if err := m.Start(j); err != nil {
			t.Fatal(err)
		}
	}
	for i, j := range jobs {
		// an earlier cancel may have aborted the transaction already
		if kinds[i] == "cancel" && m.Job(j.ID()) == j && !j.Status().IsCompleted() {
			if err := m.Cancel(j, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := 0; round < 20 && len(m.Jobs()) > 0; round++ {
		m.RunUntil(func() bool { return false }, 1e12)
		for _, j := range m.Jobs() {
			switch j.Status() {
			case fsm.Ready, fsm.Standby:
				_ = m.Complete(j)
			case fsm.Pending:
				_ = m.Finalize(j)
			case fsm.Concluded:
				_ = m.Dismiss(j)
			}
		}
	}
	if left := m.Jobs(); len(left) > 0 {
		var st []string
		for _, j := range left {
			st = append(st, j.ID()+" "+j.Status().String())
		}
		t.Errorf("kinds %v flags %d: jobs never reached null: %v", kinds, flags, st)
	}
	if !m.Idle() {
		t.Errorf("kinds %v flags %d: work still queued", kinds, flags)
	}
}

// Checks: R35, R36
func TestEventPayloads(t *testing.T) {
	res := play(t, "payloads")
	keys := map[sim.EventName][]string{}
	for _, e := range res.Events {
		var ks []string
		for k := range e.Data() {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		name := e.Name
		if e.Name == sim.EventBlockJobCompleted && e.HasError {
			name += "+error"
		}
		if prev, ok := keys[name]; ok && !reflect.DeepEqual(prev, ks) {
			t.Errorf("%s: keys %v and %v", name, prev, ks)
		}
		keys[name] = ks
	}
	want := map[sim.EventName][]string{
		sim.EventJobStatusChange:              {"id", "status"},
		sim.EventBlockJobReady:                {"device", "len", "offset", "speed", "type"},
		sim.EventBlockJobCancelled:            {"device", "len", "offset", "speed", "type"},
		sim.EventBlockJobCompleted:            {"device", "len", "offset", "speed", "type"},
		sim.EventBlockJobCompleted + "+error": {"device", "error", "len", "offset", "speed", "type"},
		sim.EventBlockJobPending:              {"id", "type"},
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("payload keys (-spec +sim):\n%s", diff)
	}
	// R36: ready, then BLOCK_JOB_READY, with len == offset (in sync).
	for i, e := range res.Events {
		if e.Name == sim.EventBlockJobReady {
			prev := res.Events[i-1]
			if prev.Name != sim.EventJobStatusChange || prev.Status != fsm.Ready || prev.Job != e.Job {
				t.Errorf("BLOCK_JOB_READY not right after %s's ready: %s", e.Job, prev)
			}
			d := e.Data()
			if d["len"] != int64(2048) || d["offset"] != int64(2048) || d["type"] != "backup" || d["device"] != "m" {
				t.Errorf("BLOCK_JOB_READY data %v", d)
			}
		}
	}
}

// Checks: R37
func TestMonitorsLoseEventsWhileDisconnected(t *testing.T) {
	m := sim.New(sim.Options{})
	mon := m.NewMonitor()
	j, _ := m.Create(sim.JobSpec{ID: "j0", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 2})})
	mon.Disconnect()
	_ = m.Start(j)
	m.Settle()
	mon.Connect()
	_ = m.Pause(j)
	m.Settle()
	var got []string
	for _, e := range mon.Take() {
		got = append(got, e.String())
	}
	if diff := cmp.Diff([]string{"j0 created", "j0 paused"}, got); diff != "" {
		t.Errorf("monitor saw (-want +got):\n%s", diff)
	}
	if mon.Lost() != 1 {
		t.Errorf("lost %d events, want 1 (running)", mon.Lost())
	}
}

// Checks: R38, R39
func TestQueries(t *testing.T) {
	m := sim.New(sim.Options{})
	a, _ := m.Create(sim.JobSpec{ID: "a", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 2, FailAt: 1}), ManualDismiss: true})
	b, _ := m.Create(sim.JobSpec{ID: "b", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 100, Ready: true}), ManualFinalize: true, Speed: 7})
	_ = m.Start(a)
	_ = m.Start(b)
	m.RunUntil(func() bool { return b.Status() == fsm.Ready && a.Status() == fsm.Concluded }, 1e12)
	_ = m.Pause(b)
	m.Settle()
	jobs := m.QueryJobs()
	if len(jobs) != 2 || jobs[0].ID != "b" || jobs[1].ID != "a" {
		t.Fatalf("query-jobs not newest first: %+v", jobs)
	}
	if jobs[0].Status != fsm.Standby || jobs[0].Error != nil {
		t.Errorf("b: %+v", jobs[0])
	}
	if jobs[1].Status != fsm.Concluded || jobs[1].Error == nil || *jobs[1].Error != "Input/output error" {
		t.Errorf("a: %+v", jobs[1])
	}
	bj := m.QueryBlockJobs()
	if len(bj) != 2 || bj[0].Device != "b" {
		t.Fatalf("query-block-jobs: %+v", bj)
	}
	if got := bj[0]; !got.Ready || !got.Paused || got.Speed != 7 || got.AutoFinalize || !got.AutoDismiss || got.IOStatus != sim.IOStatusOK || got.Type != "backup" {
		t.Errorf("b's BlockJobInfo: %+v", got)
	}
	if got := bj[1]; got.Ready || got.Paused || got.Error == nil || *got.Error != "Input/output error" || got.AutoDismiss {
		t.Errorf("a's BlockJobInfo: %+v", got)
	}
}

// Checks: R40
func TestPolicyToAction(t *testing.T) {
	want := map[sim.OnError][2]sim.ErrorAction{ // {ENOSPC, EIO}
		sim.OnErrorReport: {sim.ActionReport, sim.ActionReport},
		sim.OnErrorIgnore: {sim.ActionIgnore, sim.ActionIgnore},
		sim.OnErrorStop:   {sim.ActionStop, sim.ActionStop},
		sim.OnErrorEnospc: {sim.ActionStop, sim.ActionReport},
		sim.OnErrorAuto:   {sim.ActionStop, sim.ActionReport},
	}
	for p, w := range want {
		if got := [2]sim.ErrorAction{p.Decide(errno.ENOSPC), p.Decide(errno.EIO)}; got != w {
			t.Errorf("%s: %v, want %v", p, got, w)
		}
	}
	if _, ok := sim.ParseOnError("sometimes"); ok {
		t.Error("unknown policy accepted")
	}
}

// Checks: R40, R41, R42, R16
func TestErrorPolicies(t *testing.T) {
	playAll(t, "error_stop_resume", "error_stop_cancel", "error_ignore")
	// ENOSPC under enospc stops with io-status nospace; resume resets it.
	m := sim.New(sim.Options{})
	j, _ := m.Create(sim.JobSpec{ID: "j0", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 3, IOErrorAt: 2, IOErrno: errno.ENOSPC, OnError: sim.OnErrorEnospc})})
	_ = m.Start(j)
	if !m.RunUntil(func() bool { return j.Status() == fsm.Paused }, 1e12) {
		t.Fatal("enospc + ENOSPC did not stop the job")
	}
	if j.IOStatus() != sim.IOStatusNoSpace || !j.UserPaused() {
		t.Fatalf("io-status %s, user-paused %v", j.IOStatus(), j.UserPaused())
	}
	if err := m.Resume(j); err != nil || j.IOStatus() != sim.IOStatusOK {
		t.Fatalf("resume: %v, io-status %s", err, j.IOStatus())
	}
	// enospc with EIO reports: the job fails.
	play(t, "enospc_eio")
}

// Checks: R51
func TestDeterministicRuns(t *testing.T) {
	for _, s := range loadAll(t) {
		for _, seed := range []uint64{0, 42} {
			s.Seed = seed
			var tr1, tr2 []sim.TraceRecord
			r1 := s.RunWith(sim.Options{Seed: seed, Tracer: func(r sim.TraceRecord) { tr1 = append(tr1, r) }})
			r2 := s.RunWith(sim.Options{Seed: seed, Tracer: func(r sim.TraceRecord) { tr2 = append(tr2, r) }})
			if !reflect.DeepEqual(r1.Events, r2.Events) || !reflect.DeepEqual(tr1, tr2) || !reflect.DeepEqual(r1.Steps, r2.Steps) {
				t.Errorf("%s seed %d: two runs differ", s.Name, seed)
			}
		}
	}
}
