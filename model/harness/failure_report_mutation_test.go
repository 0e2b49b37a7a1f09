//go:build jobfsm_mutation

package harness

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model"
)

// TestFailureReportPlanted: a campaign failure is minimized, replayable,
// and rendered as a per-job timeline naming the violation. It needs a real
// failure, so it runs only in the mutation build, with the bug
// ready-pauses-to-paused planted (TestPlantedBugsAreCaught runs it); at
// every version, whose failure names it and replays at it.
func TestFailureReportPlanted(t *testing.T) {
	if os.Getenv("JOBFSM_PLANTED_BUG") != "ready-pauses-to-paused" {
		t.Fatalf("run with JOBFSM_PLANTED_BUG=ready-pauses-to-paused (got %q)", os.Getenv("JOBFSM_PLANTED_BUG"))
	}
	// A ready job, a guest-irrelevant advance, a pause: a correct manager
	// moves it to standby; the planted bug moves it to paused (I1), and the
	// extra actions must be minimized away.
	const seq = `{"sim_seed": 0, "actions": [
	  {"op": "create", "start": true, "jobs": [{"type": "mirror", "steps": 0, "ready": true}]},
	  {"op": "advance", "ns": 1000000},
	  {"op": "advance", "ns": 1000000},
	  {"op": "verb", "verb": "pause"},
	  {"op": "advance", "ns": 1000000}
	]}`
	for _, v := range fsm.Versions() {
		t.Run(v.String(), func(t *testing.T) {
			var s model.Sequence
			if err := json.Unmarshal([]byte(seq), &s); err != nil {
				t.Fatal(err)
			}
			s.Version = v
			_, err := ReplaySequence(s)
			if err == nil {
				t.Fatal("the planted bug was not exposed by the sequence")
			}
			f := failure(7, s, err)
			if f.Violation.ID != "I1" || f.Replay.Want != "I1" || f.Sequence != 7 || len(f.Log) == 0 || f.Replay.Version != v {
				t.Fatalf("failure %+v", f)
			}
			if len(f.Actions) >= len(s.Actions) {
				t.Errorf("minimizing kept %d of %d actions", len(f.Actions), len(s.Actions))
			}
			head := "counterexample: sequence 7,"
			if v == fsm.QEMU10_0 {
				head = "counterexample: sequence 7 at QEMU 10.0,"
			}
			for _, want := range []string{head, "j0: created -> ", "violation: ", ": I1"} {
				if !strings.Contains(f.Timeline, want) {
					t.Errorf("timeline lacks %q:\n%s", want, f.Timeline)
				}
			}
			if _, err := ReplaySequence(f.Replay); err == nil {
				t.Error("the minimized sequence does not fail")
			}
		})
	}
}
