package sim_test

import (
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/scenario"
)

// rewrite replaces the expected event logs of testdata/lifecycle with what
// the simulator does now, as etcd's datadriven tests do: for a deliberate
// change of behaviour, after which the diff of those files is what a reviewer
// checks against QEMU. Nothing else in a file changes.
var rewrite = flag.Bool("rewrite", false, "rewrite the \"events\" of testdata/lifecycle/*.json from this run")

// TestLifecycleScenarios runs every scenario under testdata/lifecycle: the
// expected event logs and error texts in those files were written by hand
// from QEMU 7.2's job.c and the transcripts recorded on QEMU, never from
// this code's output (-rewrite is for reviewed, deliberate changes).
//
// Checks: R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R23, R24, R25, R26, R27, R28, R29, R30, R31, R33, R40, R41, R42.
func TestLifecycleScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/lifecycle/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("want at least 20 lifecycle scenarios, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			s, err := scenario.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if s.Events == nil {
				t.Fatal("scenario states no expected events")
			}
			// Every seed must give the same log: none of these scenarios
			// has two things due at the same instant whose order matters.
			var first []string
			for _, seed := range []uint64{0, 1, 2, 3} {
				s.Seed = seed
				res := s.Run()
				got := res.EventStrings()
				if *rewrite {
					if seed == 0 {
						first = got
					} else if diff := cmp.Diff(first, got); diff != "" {
						t.Fatalf("seed %d logs differently from seed 0, nothing to rewrite to (-seed 0 +seed %d):\n%s", seed, seed, diff)
					}
				} else if diff := cmp.Diff(s.Events, got); diff != "" {
					t.Errorf("seed %d: event log (-want +got):\n%s", seed, diff)
				}
				for _, m := range res.Mismatches {
					if !strings.HasPrefix(m, "event log differs") {
						t.Errorf("seed %d: %s", seed, m)
					}
				}
			}
			if *rewrite && !t.Failed() && !slices.Equal(s.Events, first) {
				if err := rewriteEvents(f, first); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
		})
	}
}
