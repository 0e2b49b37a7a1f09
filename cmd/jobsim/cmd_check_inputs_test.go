package main

import (
	"strings"
	"testing"
)

// TestCheckMissingInputFailsFirst: without the TLC configs, jobsim check
// says so at once (exit 3) instead of running the 20 s campaign first.
func TestCheckMissingInputFailsFirst(t *testing.T) {
	code, out, errOut := jobsim(t, "check", "--tla", t.TempDir())
	if code != exitInput {
		t.Errorf("exit %d, want %d", code, exitInput)
	}
	if out != "" {
		t.Errorf("something ran before the input check:\n%s", out)
	}
	if !strings.Contains(errOut, "MC_small.cfg") || !strings.Contains(errOut, "--no-explore") {
		t.Errorf("stderr %q does not name the missing config and the way around it", errOut)
	}
}
