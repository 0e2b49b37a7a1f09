package harness

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// plantedBugs are the bugs sim can plant in a -tags jobfsm_mutation build
// (sim/bugs.go); each one must make the property test fail.
var plantedBugs = []string{
	"finalize-in-waiting",
	"txn-member-not-aborted",
	"auto-dismiss-ignored",
	"ready-pauses-to-paused",
	"commit-before-finalize",
	"pending-event-always",
	"complete-after-cancel",
	"id-not-released",
}

var violationRE = regexp.MustCompile(`step \d+: (M|I\d+): [^\n]*`)

// TestPlantedBugsAreCaught is the mutation proof: it builds this package's
// tests with the jobfsm_mutation tag, then runs TestRandomSequences once per
// planted bug, at its default settings (2000 sequences of 50–60 actions,
// stopping at the first failure), and requires each run to fail; and the
// same at QEMU 10.0 (TestRandomSequences10 on 2000 sequences too). Shrinking
// is capped at a few seconds to keep the test's time bounded; it does not
// change whether a bug is found. A run with no bug planted must pass, so
// the failures are the bugs' and not the build's.
func TestPlantedBugsAreCaught(t *testing.T) {
	if os.Getenv("JOBFSM_PLANTED_BUG") != "" {
		t.Skip("inside a mutation run")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the mutation proof builds a test binary with the go tool: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "model-mutation.test")
	build := exec.Command(goTool, "test", "-c", "-tags", "jobfsm_mutation", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the mutation test binary: %v\n%s", err, out)
	}
	seed := flag.Lookup("rapid.seed").Value.String()
	run := func(bug, test string, extra ...string) ([]byte, error) {
		args := append([]string{"-test.run", "^" + test + "$", "-rapid.nofailfile",
			"-rapid.shrinktime", "3s", "-rapid.seed", seed}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "JOBFSM_PLANTED_BUG="+bug)
		return cmd.CombinedOutput()
	}
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		if out, err := run("", "TestRandomSequences", "-rapid.checks", "100"); err != nil {
			t.Fatalf("the mutation build fails with no bug planted: %v\n%s", err, out)
		}
	})
	t.Run("failure-report", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(bin, "-test.run", "^TestFailureReportPlanted$")
		cmd.Env = append(os.Environ(), "JOBFSM_PLANTED_BUG=ready-pauses-to-paused")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("failure report with a planted bug: %v\n%s", err, out)
		}
	})
	// The 10.0 test runs a tenth of -rapid.checks: ten times the default
	// gives it TestRandomSequences's 2000 sequences.
	versions := []struct {
		name, test string
		extra      []string
	}{
		{"", "TestRandomSequences", nil},
		{"@10.0", "TestRandomSequences10", []string{"-rapid.checks", strconv.Itoa(10 * defaultChecks)}},
	}
	for _, bug := range plantedBugs {
		for _, v := range versions {
			t.Run(bug+v.name, func(t *testing.T) {
				t.Parallel()
				caught(t, bug, v.test, seed, func() ([]byte, error) { return run(bug, v.test, v.extra...) })
			})
		}
	}
}

// caught runs a mutation build of test with bug planted and requires a
// property-test failure.
func caught(t *testing.T, bug, test, seed string, run func() ([]byte, error)) {
	start := time.Now()
	out, err := run()
	if err == nil {
		t.Fatalf("planted bug %s was NOT caught by %s (seed %s)", bug, test, seed)
	}
	if !bytes.Contains(out, []byte("--- FAIL: "+test+" ")) {
		t.Fatalf("planted bug %s: the run failed, but not as a property-test failure:\n%s", bug, out)
	}
	what := "a panic"
	if m := violationRE.Find(out); m != nil {
		what = string(m)
		if len(what) > 160 {
			what = what[:160] + "…"
		}
	}
	t.Logf("caught in %v by %s", time.Since(start).Round(time.Millisecond), what)
}
