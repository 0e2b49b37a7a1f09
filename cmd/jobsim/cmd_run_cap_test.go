package main

import (
	"strings"
	"testing"
)

// TestRunCapIsAFailure: a "run" step that stops at its bound with a job
// still queued (here one whose single slice lasts longer than the 10⁶ s
// horizon) is an error and a non-zero exit, not a silent pass.
func TestRunCapIsAFailure(t *testing.T) {
	sc := `{
  "name": "never-ends",
  "jobs": {"j0": {"steps": 2, "step_ns": 2000000000000000}},
  "steps": [
    {"op": "create", "id": "j0"},
    {"op": "start", "id": "j0"},
    {"op": "run"}
  ]
}`
	code, _, errOut := jobsim(t, "run", writeFile(t, "s.json", sc))
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(errOut, "run stopped at the horizon") {
		t.Errorf("stderr %q does not say the run stopped at its bound", errOut)
	}
}
