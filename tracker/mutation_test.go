package tracker

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// caughtBy lists the rules a planted bug may be caught by (the shrunk
// counterexample shows the simplest violation: acting on an event of a job
// that is not tracked finalizes other clients' jobs (T5), and already
// decided ones again (T4)).
var caughtBy = map[string][]string{
	"dismiss-before-journal": {"T3:"},
	"event-by-name":          {"T4:", "T5:"},
	"missing-succeeded":      {"T1:", "T2:"},
	"skip-finalize":          {"liveness:"},
	"clear-on-failure":       {"T1: bitmap"},
}

// TestPlantedBugsAreCaught is the mutation proof: it reruns this test
// binary's TestTrackerProperty once per planted bug (Options.bug, selected
// by JOBFSM_TRACKER_BUG) at the default seed and checks, and requires each
// run to fail on the rule the bug breaks. Shrinking is capped at 100 ms
// (the first violation is what counts); it does not change whether a bug is found.
func TestPlantedBugsAreCaught(t *testing.T) {
	if os.Getenv("JOBFSM_TRACKER_BUG") != "" {
		t.Skip("inside a mutation run")
	}
	if len(caughtBy) != len(bugNames) {
		t.Fatalf("caughtBy names %d bugs, bugNames %d", len(caughtBy), len(bugNames))
	}
	seed := flag.Lookup("rapid.seed").Value.String()
	checks := flag.Lookup("rapid.checks").Value.String()
	names := slices.Sorted(maps.Keys(bugNames))
	for _, bug := range names {
		t.Run(bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run", "^TestTrackerProperty$", "-rapid.nofailfile",
				"-rapid.shrinktime", "100ms", "-rapid.seed", seed, "-rapid.checks", checks)
			cmd.Env = append(os.Environ(), "JOBFSM_TRACKER_BUG="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("planted bug %s was NOT caught by TestTrackerProperty (seed %s, %s checks)", bug, seed, checks)
			}
			if !bytes.Contains(out, []byte("--- FAIL: TestTrackerProperty")) {
				t.Fatalf("planted bug %s: the run failed, but not as a property failure:\n%s", bug, out)
			}
			for _, rule := range caughtBy[bug] {
				if bytes.Contains(out, []byte(rule)) {
					return
				}
			}
			t.Fatalf("planted bug %s was caught, but not by %q:\n%s", bug, caughtBy[bug], out)
		})
	}
}
