package fsm_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
)

var qapiStatuses = []string{"undefined", "created", "running", "paused", "ready", "standby",
	"waiting", "pending", "aborting", "concluded", "null"}

// readMatrix reads a 0/1 matrix typed in from the reference: row name, then
// one cell per status in QAPI order.
func readMatrix(t *testing.T, path string) map[string][]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 12 {
			t.Fatalf("%s: bad row %q", path, line)
		}
		row := make([]bool, 11)
		for i, c := range fields[1:] {
			row[i] = c == "1"
		}
		out[fields[0]] = row
	}
	return out
}

// Checks: R1 (statuses), R2 (transition table).
func TestStatusNamesAreQAPI(t *testing.T) {
	var got []string
	for _, s := range fsm.Statuses() {
		got = append(got, s.String())
		back, ok := fsm.ParseStatus(s.String())
		if !ok || back != s {
			t.Errorf("ParseStatus(%q) = %v, %v", s, back, ok)
		}
	}
	if diff := cmp.Diff(qapiStatuses, got); diff != "" {
		t.Fatalf("statuses (-qapi +fsm):\n%s", diff)
	}
	var verbs []string
	for _, v := range fsm.Verbs() {
		verbs = append(verbs, v.String())
	}
	if diff := cmp.Diff([]string{"cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize"}, verbs); diff != "" {
		t.Fatalf("verbs (-qapi +fsm):\n%s", diff)
	}
	if _, ok := fsm.ParseVerb("change"); ok {
		t.Fatal("QEMU 7.2 has no verb change")
	}
}

// Checks: R3.
func TestTransitionsAreJobSTT(t *testing.T) {
	want := readMatrix(t, "testdata/qemu72_jobstt.txt")
	edges := 0
	for _, from := range qapiStatuses {
		for ti, to := range qapiStatuses {
			f, _ := fsm.ParseStatus(from)
			tt, _ := fsm.ParseStatus(to)
			if got := fsm.Allows(f, tt); got != want[from][ti] {
				t.Errorf("Allows(%s, %s) = %v, JobSTT says %v", from, to, got, want[from][ti])
			}
			if want[from][ti] {
				edges++
			}
		}
	}
	if edges != 20 || len(fsm.Transitions()) != 20 {
		t.Fatalf("JobSTT has %d edges, fsm.Transitions() %d; want 20", edges, len(fsm.Transitions()))
	}
}

// Every (status, verb) pair: accepted exactly per JobVerbTable, and a
// rejection's text is QEMU's.
//
// Checks: R5, R6.
func TestVerbTableIsJobVerbTable(t *testing.T) {
	want := readMatrix(t, "testdata/qemu72_jobverbtable.txt")
	for _, v := range fsm.Verbs() {
		row, ok := want[v.String()]
		if !ok {
			t.Fatalf("verb %s missing from the reference table", v)
		}
		for si, name := range qapiStatuses {
			s, _ := fsm.ParseStatus(name)
			if got := fsm.Permits(s, v); got != row[si] {
				t.Errorf("Permits(%s, %s) = %v, JobVerbTable says %v", name, v, got, row[si])
			}
			// The same answer from a per-job machine, with QEMU's text.
			subj := &job{status: s}
			err := fsm.NewMachine(subj).CheckVerb("j0", v)
			if row[si] {
				if err != nil {
					t.Errorf("CheckVerb(%s, %s) = %v, want nil", name, v, err)
				}
				continue
			}
			wantText := fmt.Sprintf("Job 'j0' in state '%s' cannot accept command verb '%s'", name, v)
			var ve *fsm.VerbError
			if !errors.As(err, &ve) || err.Error() != wantText || ve.Status != s || ve.Verb != v {
				t.Errorf("CheckVerb(%s, %s) = %v, want %q", name, v, err, wantText)
			}
			if ve != nil && ve.QMPClass() != "GenericError" {
				t.Errorf("class %s", ve.QMPClass())
			}
		}
	}
}

type job struct {
	status               fsm.Status
	autoDismiss, started bool
}

func (j *job) Status() fsm.Status     { return j.status }
func (j *job) SetStatus(s fsm.Status) { j.status = s }
func (j *job) AutoDismiss() bool      { return j.autoDismiss }
func (j *job) Started() bool          { return j.started }

// A trigger moves the job only along its rule; elsewhere it is refused and
// the status is untouched.
func TestMachineFiresOnlyTableEdges(t *testing.T) {
	for _, s := range fsm.Statuses() {
		for _, tr := range fsm.Triggers() {
			j := &job{status: s, autoDismiss: true, started: true}
			m := fsm.NewMachine(j)
			from, to, err := m.Fire(tr)
			if err != nil {
				var te *fsm.TransitionError
				if !errors.As(err, &te) || te.From != s || te.Trigger != tr {
					t.Errorf("Fire(%s) in %s: error %v", tr, s, err)
				}
				if j.status != s {
					t.Errorf("refused Fire(%s) in %s changed the status to %s", tr, s, j.status)
				}
				continue
			}
			if from != s || to != j.status || !fsm.Allows(from, to) {
				t.Errorf("Fire(%s) in %s: %s -> %s is not a JobSTT edge", tr, s, from, to)
			}
		}
	}
}

// The auto-dismiss rule: concluded -> null automatically only with
// auto-dismiss set or when the job never started (job_conclude_locked).
func TestAutoDismissGuard(t *testing.T) {
	for _, c := range []struct {
		autoDismiss, started, want bool
	}{{true, true, true}, {false, true, false}, {false, false, true}, {true, false, true}} {
		j := &job{status: fsm.Concluded, autoDismiss: c.autoDismiss, started: c.started}
		m := fsm.NewMachine(j)
		if got := m.CanFire(fsm.TriggerAutoDismiss); got != c.want {
			t.Errorf("auto-dismiss=%v started=%v: CanFire = %v, want %v", c.autoDismiss, c.started, got, c.want)
		}
		if !m.CanFire(fsm.TriggerDismiss) {
			t.Error("user dismiss must always be possible in concluded")
		}
	}
}

// The aborting self-transition is allowed and reported as from == to.
func TestAbortingSelfTransition(t *testing.T) {
	j := &job{status: fsm.Aborting}
	from, to, err := fsm.NewMachine(j).Fire(fsm.TriggerAbort)
	if err != nil || from != fsm.Aborting || to != fsm.Aborting {
		t.Fatalf("aborting -> aborting: %v %v %v", from, to, err)
	}
}

// The fixed JSON shape of `jobsim table --format json`.
func TestJSONShape(t *testing.T) {
	var got struct {
		Statuses    []string            `json:"statuses"`
		Transitions []map[string]string `json:"transitions"`
		Verbs       map[string][]string `json:"verbs"`
	}
	dec := json.NewDecoder(strings.NewReader(string(fsm.JSON())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(qapiStatuses, got.Statuses); diff != "" {
		t.Error(diff)
	}
	if len(got.Transitions) != 20 || got.Transitions[0]["from"] != "undefined" || got.Transitions[0]["to"] != "created" {
		t.Errorf("transitions: %v", got.Transitions)
	}
	if diff := cmp.Diff([]string{"ready", "standby"}, got.Verbs["complete"]); diff != "" {
		t.Error(diff)
	}
	if len(got.Verbs) != 7 {
		t.Errorf("verbs: %v", got.Verbs)
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if _, err := fsm.Render("yaml"); err == nil || !strings.Contains(err.Error(), "unknown table format") {
		t.Fatalf("Render(yaml) = %v", err)
	}
	for _, f := range fsm.Formats {
		out, err := fsm.Render(f)
		if err != nil || len(out) == 0 {
			t.Errorf("Render(%s): %v", f, err)
		}
	}
}

func TestOutOfRangeValuesAreRejectedNotPanicking(t *testing.T) {
	if fsm.Permits(fsm.Status(200), fsm.VerbCancel) || fsm.Permits(fsm.Running, fsm.Verb(99)) || fsm.Allows(fsm.Status(99), fsm.Running) {
		t.Fatal("out-of-range values must be rejected")
	}
	if s := fsm.Status(99).String(); s != "Status(99)" {
		t.Fatal(s)
	}
	var s fsm.Status
	if err := s.UnmarshalText([]byte("bogus")); err == nil {
		t.Fatal("UnmarshalText(bogus) succeeded")
	}
}

// The trigger relation, as the explorer, the model and the TLA+ spec ask it:
// the pause/resume mapping and the drainable and paused statuses, written out
// here as QEMU 7.2 has them (job_pause_point_locked, child_job_drained_begin).
func TestTriggerTargets(t *testing.T) {
	for _, c := range []struct {
		s    fsm.Status
		t    fsm.Trigger
		want fsm.Status
	}{
		{fsm.Running, fsm.TriggerPausePoint, fsm.Paused},
		{fsm.Ready, fsm.TriggerPausePoint, fsm.Standby},
		{fsm.Paused, fsm.TriggerUnpause, fsm.Running},
		{fsm.Standby, fsm.TriggerUnpause, fsm.Ready},
		{fsm.Created, fsm.TriggerCancelUnstarted, fsm.Aborting},
		{fsm.Pending, fsm.TriggerPrepareFailed, fsm.Aborting},
		{fsm.Aborting, fsm.TriggerAbort, fsm.Aborting},
		{fsm.Concluded, fsm.TriggerAutoDismiss, fsm.Null},
	} {
		if got, ok := fsm.Target(c.s, c.t); !ok || got != c.want {
			t.Errorf("Target(%s, %s) = %s, %v; want %s", c.s, c.t, got, ok, c.want)
		}
	}
	var pausePoint, drainable, inPause []string
	for _, s := range fsm.Statuses() {
		if _, ok := fsm.Target(s, fsm.TriggerPausePoint); ok {
			pausePoint = append(pausePoint, s.String())
		}
		if fsm.Drainable(s) {
			drainable = append(drainable, s.String())
		}
		if fsm.InPause(s) {
			inPause = append(inPause, s.String())
		}
	}
	if diff := cmp.Diff([]string{"running", "ready"}, pausePoint); diff != "" {
		t.Errorf("statuses with a pause point (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"created", "running", "paused", "ready", "standby"}, drainable); diff != "" {
		t.Errorf("drainable statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"paused", "standby"}, inPause); diff != "" {
		t.Errorf("statuses in a pause point (-want +got):\n%s", diff)
	}
	for _, c := range []struct {
		s fsm.Status
		t fsm.Trigger
	}{{fsm.Running, fsm.TriggerStart}, {fsm.Created, fsm.TriggerAbort}, {fsm.Status(99), fsm.TriggerStart}, {fsm.Running, fsm.Trigger(99)}} {
		if got, ok := fsm.Target(c.s, c.t); ok {
			t.Errorf("Target(%s, %s) = %s, want no rule", c.s, c.t, got)
		}
	}
}

// Target answers exactly what the declarative rules say.
func TestTargetFollowsRules(t *testing.T) {
	n := 0
	for _, r := range fsm.Rules() {
		for _, from := range r.From {
			n++
			if got, ok := fsm.Target(from, r.Trigger); !ok || got != r.To {
				t.Errorf("rule %s %s -> %s: Target = %s, %v", r.Trigger, from, r.To, got, ok)
			}
		}
	}
	got := 0
	for _, s := range fsm.Statuses() {
		for _, tr := range fsm.Triggers() {
			if _, ok := fsm.Target(s, tr); ok {
				got++
			}
		}
	}
	if got != n || n != 22 {
		t.Errorf("%d (status, trigger) pairs have a target, the rules list %d, want 22", got, n)
	}
}

// Every job fires through the one shared machine: jobs on different
// goroutines must not see each other's status (run under -race in CI).
func TestJobsShareOneMachineSafely(t *testing.T) {
	const workers, fires = 4, 500
	jobs := make([]*job, workers)
	var wg sync.WaitGroup
	for w := range jobs {
		jobs[w] = &job{status: fsm.Running}
		wg.Add(1)
		go func(j *job) {
			defer wg.Done()
			m := fsm.NewMachine(j)
			for i := range fires {
				tr, want := fsm.TriggerPausePoint, fsm.Paused
				if i%2 == 1 {
					tr, want = fsm.TriggerUnpause, fsm.Running
				}
				if _, to, err := m.Fire(tr); err != nil || to != want {
					t.Errorf("fire %d (%s): %s, %v; want %s", i, tr, to, err, want)
					return
				}
			}
		}(jobs[w])
	}
	wg.Wait()
	for w, j := range jobs {
		if j.status != fsm.Running {
			t.Errorf("job %d ends %s, want running after %d pause/unpause pairs", w, j.status, fires/2)
		}
	}
}
