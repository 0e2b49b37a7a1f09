package scenario_test

import (
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/scenario"
)

// block-job-change's arguments are checked when the file is parsed, with an
// error that names the step and what QEMU would answer; so is the version.
func TestParseChangeSteps(t *testing.T) {
	const head = `{"name": "x", "jobs": {"j0": {"steps": 1}}, "steps": [`
	for _, c := range []struct{ steps, want string }{
		{`{"op": "block-job-change", "id": "j0"}`, "step 0: block-job-change of type mirror needs copy_mode (QEMU: Parameter 'copy-mode' is missing)"},
		{`{"op": "block-job-change", "id": "j0", "copy_mode": "sometimes"}`, `step 0: block-job-change: unknown copy_mode "sometimes" (want background or write-blocking)`},
		{`{"op": "block-job-change", "id": "j0", "type": "nope"}`, `step 0: block-job-change: unknown type "nope" (QEMU: Parameter 'type' does not accept value 'nope')`},
		{`{"op": "block-job-change", "id": "j0", "type": "backup", "copy_mode": "background"}`, "step 0: block-job-change: copy_mode belongs to type mirror, not backup"},
		{`{"op": "create", "id": "j0"}, {"op": "block-job-set-speed", "id": "j0", "copy_mode": "background"}`, "step 1: block-job-set-speed takes no type or copy_mode (only block-job-change does)"},
		{`{"op": "job-change", "id": "j0"}`, `step 0: unknown op "job-change"`},
	} {
		_, err := scenario.Parse([]byte(head + c.steps + `]}`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", c.steps, err, c.want)
		}
	}
	for _, steps := range []string{
		`{"op": "block-job-change", "id": "j0", "copy_mode": "write-blocking"}`,
		`{"op": "block-job-change", "id": "j0", "type": "mirror", "copy_mode": "background"}`,
		`{"op": "block-job-change", "id": "j0", "type": "commit"}`,
		`{"op": "block-job-change", "id": "j0", "type": "snapshot-delete"}`,
	} {
		if _, err := scenario.Parse([]byte(head + steps + `]}`)); err != nil {
			t.Errorf("Parse(%s): %v", steps, err)
		}
	}
}

// "qemu" names the version a scenario follows: 7.2 when absent, an unknown
// one is a parse error naming the versions jobfsm speaks.
func TestParseVersion(t *testing.T) {
	for in, want := range map[string]fsm.Version{``: fsm.QEMU7_2, `"qemu": "7.2", `: fsm.QEMU7_2, `"qemu": "10.0", `: fsm.QEMU10_0} {
		s, err := scenario.Parse([]byte(`{` + in + `"name": "x", "jobs": {}, "steps": []}`))
		if err != nil || s.QEMU != want {
			t.Errorf("Parse(%s…) = %v, %v; want version %s", in, s, err, want)
		}
	}
	_, err := scenario.Parse([]byte(`{"qemu": "9.0", "name": "x", "jobs": {}, "steps": []}`))
	if err == nil || !strings.Contains(err.Error(), `unknown QEMU version "9.0" (jobfsm speaks 7.2, 10.0)`) {
		t.Errorf("Parse(qemu 9.0) = %v, want the unknown-version error", err)
	}
}

// The same change step is a command at 10.0 and CommandNotFound at 7.2, and
// at 7.2 it reaches no driver.
func TestChangeStepPerVersion(t *testing.T) {
	const file = `{"name": "x", "jobs": {"j0": {"steps": 3, "changeable": true}}, "steps": [
		{"op": "create", "id": "j0"}, {"op": "start", "id": "j0"},
		{"op": "block-job-change", "id": "j0", "copy_mode": "write-blocking"}]}`
	s, err := scenario.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v            fsm.Version
		err, class   string
		driverCalled bool
	}{
		{fsm.QEMU7_2, "The command block-job-change has not been found", "CommandNotFound", false},
		{fsm.QEMU10_0, "", "", true},
	} {
		s.QEMU = c.v
		res := s.Run()
		got := res.Steps[2]
		if got.Error != c.err || got.Class != c.class {
			t.Errorf("%s: block-job-change answered %q (%s), want %q (%s)", c.v, got.Error, got.Class, c.err, c.class)
		}
		called := strings.Contains(strings.Join(res.Drivers["j0"].Calls, ","), "change")
		if called != c.driverCalled {
			t.Errorf("%s: driver calls %v; change called %v, want %v", c.v, res.Drivers["j0"].Calls, called, c.driverCalled)
		}
	}
}

// Ops are the simulator's steps and every version's job-control commands,
// each once.
func TestOps(t *testing.T) {
	want := []string{"create", "start", "drain-begin", "drain-end", "advance", "run", "until", "settle", "query",
		"job-cancel", "job-pause", "job-resume", "job-complete", "job-dismiss", "job-finalize",
		"block-job-cancel", "block-job-pause", "block-job-resume", "block-job-set-speed", "block-job-complete",
		"block-job-dismiss", "block-job-finalize", "block-job-change"}
	if strings.Join(scenario.Ops, " ") != strings.Join(want, " ") {
		t.Errorf("Ops = %v, want %v", scenario.Ops, want)
	}
}
