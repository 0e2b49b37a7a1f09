package conformance

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/qmp"
)

var (
	update       = flag.Bool("update", false, "re-record spec/conformance transcripts on qemu-storage-daemon")
	updateJobsim = flag.Bool("update-jobsim", false, "re-record the jobsim transcripts of deviating scenarios (in-process)")
	only         = flag.String("only", "", "run only this scenario")
	timeout      = flag.Duration("scenario-timeout", 30*time.Second, "per-scenario timeout")
)

const (
	corpusDir      = "../spec/conformance"
	deviationsFile = "../spec/deviations.md"
)

// pendingJobsim lists scenarios jobsim does not pass yet at 7.2, with the
// reason; they are run and reported, and a pass makes the test fail so the
// entry gets removed.
var pendingJobsim = map[string]string{}

// pendingByVersion is pendingJobsim for every version. 10.0's list is
// empty since drains10's pause blips (spec/qemu-10.0.md §1) joined: every
// scenario's 10.0 transcript is jobsim's too.
var pendingByVersion = map[fsm.Version]map[string]string{
	fsm.QEMU7_2:  pendingJobsim,
	fsm.QEMU10_0: {},
}

func openCorpus(t testing.TB) *Corpus { return openCorpusAt(t, fsm.DefaultVersion) }

// openCorpusAt opens the corpus compared with QEMU version v's transcripts.
func openCorpusAt(t testing.TB, v fsm.Version) *Corpus {
	t.Helper()
	c, err := OpenCorpusAt(corpusDir, deviationsFile, v)
	if err != nil {
		t.Fatal(err)
	}
	if *only != "" {
		var keep []*Scenario
		for _, s := range c.Scenarios {
			if s.Name == *only {
				keep = append(keep, s)
			}
		}
		c.Scenarios = keep
	}
	return c
}

// haveQEMU reports whether real QEMU is installed; under CI it must be.
func haveQEMU(t testing.TB) bool {
	t.Helper()
	for _, bin := range []string{"qemu-storage-daemon", "qemu-img", "qemu-io"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing under CI=true: the conformance suite must run against real QEMU (scripts/setup.sh installs it)", bin)
			}
			return false
		}
	}
	return true
}

var (
	buildOnce sync.Once
	jobsimBin string
	buildErr  error
)

// jobsim builds cmd/jobsim once per test binary.
func jobsim(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jobsim-bin-")
		if err != nil {
			buildErr = err
			return
		}
		jobsimBin = filepath.Join(dir, "jobsim")
		out, err := exec.Command("go", "build", "-o", jobsimBin, "../cmd/jobsim").CombinedOutput()
		if err != nil {
			buildErr = err
			jobsimBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building jobsim: %v\n%s", buildErr, jobsimBin)
	}
	return jobsimBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if jobsimBin != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(jobsimBin))
	}
	os.Exit(code)
}

// runCorpus checks every scenario on srv.
func runCorpus(t *testing.T, c *Corpus, srv Server, qemu bool, skip func(*Scenario) string) {
	t.Helper()
	var results []*Result
	for _, s := range c.Scenarios {
		if why := skip(s); why != "" {
			t.Logf("SKIP %s: %s", s.Name, why)
			continue
		}
		reason, pending := pendingByVersion[c.Version][s.Name]
		to := *timeout
		if pending && !qemu {
			// a missing event would otherwise hold the run for the full timeout
			to = 5 * time.Second
		}
		r := c.Check(s, srv, qemu, to)
		results = append(results, r)
		switch {
		case qemu && !r.OK():
			t.Errorf("%s", r)
		case !qemu && pending && r.OK():
			t.Errorf("%s passes on %s now: remove it from pendingByVersion[%s]", s.Name, srv.Name(), c.Version)
		case !qemu && pending:
			t.Logf("pending %s (%s): %s", s.Name, reason, r)
		case !r.OK():
			t.Errorf("%s", r)
		}
	}
	t.Logf("%s: %s", srv.Name(), lastLine(Summary(results)))
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// jobsimSkip is why jobsim does not run a scenario ("" when it does).
func jobsimSkip(c *Corpus) func(*Scenario) string {
	return func(s *Scenario) string {
		if c.QEMUOnly(s) {
			return "QEMU only, deviation " + s.Deviation
		}
		return needsImg(s)
	}
}

func needsImg(s *Scenario) string {
	if s.NeedsQemuImg() {
		if _, err := exec.LookPath("qemu-img"); err != nil {
			if os.Getenv("CI") == "true" {
				return ""
			}
			return "needs qemu-img"
		}
	}
	return ""
}

func TestCorpusQEMU(t *testing.T) {
	if !haveQEMU(t) {
		t.Skip("qemu-storage-daemon not installed (set CI=true to make this a failure)")
	}
	c := openCorpus(t)
	srv := &Process{Label: "qemu-storage-daemon", Command: QEMUCommand}
	corpusQEMU(t, c, srv)
}

// qemu10Command returns how to start QEMU 10.0's qemu-storage-daemon
// (QEMUDaemon: where scripts/setup-qemu10.sh installs it, QEMU10Dir) and
// puts that install's qemu-img and qemu-io first on PATH for the test (the
// runner makes images with them by name). Under CI=true a missing install
// is a failure, otherwise a skip naming `make setup-qemu10`.
func qemu10Command(t *testing.T) []string {
	t.Helper()
	srv, err := QEMUDaemon(fsm.QEMU10_0)
	bin := filepath.Join(QEMU10Dir(), "bin")
	for _, tool := range []string{"qemu-img", "qemu-io"} {
		if err != nil {
			break
		}
		_, err = os.Stat(filepath.Join(bin, tool+"-10.0"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("QEMU 10.0 is missing under CI=true (%v): run `make setup-qemu10` (or set QEMU10_DIR)", err)
		}
		t.Skipf("QEMU 10.0 not installed (%v): run `make setup-qemu10` (or set QEMU10_DIR); CI=true makes this a failure", err)
	}
	tools := t.TempDir()
	for _, tool := range []string{"qemu-img", "qemu-io"} {
		if err := os.Symlink(filepath.Join(bin, tool+"-10.0"), filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", tools+string(os.PathListSeparator)+os.Getenv("PATH"))
	return srv.Command
}

// TestCorpusQEMU10 replays the corpus on QEMU 10.0.13 and compares it with
// the transcripts recorded there (spec/conformance/qemu-10.0); with -update
// it records them again.
func TestCorpusQEMU10(t *testing.T) {
	cmd := qemu10Command(t)
	c := openCorpusAt(t, fsm.QEMU10_0)
	srv := &Process{Label: "qemu-storage-daemon 10.0", Command: cmd}
	corpusQEMU(t, c, srv)
}

// corpusQEMU replays the corpus on a QEMU daemon and compares it with the
// transcripts recorded there; with -update it records them again.
func corpusQEMU(t *testing.T, c *Corpus, srv *Process) {
	if *update {
		for _, s := range c.Scenarios {
			got, err := Run(s, srv, *timeout)
			if err != nil {
				t.Fatalf("recording %s: %v", s.Name, err)
			}
			if err := os.WriteFile(c.QEMUPath(s), got.Marshal(), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("RECORDED %s (%d responses, %d events)", s.Name, len(got.Responses), len(got.Events))
		}
		return
	}
	runCorpus(t, c, srv, true, func(*Scenario) string { return "" })
}

func TestCorpusInProcess(t *testing.T) { corpusInProcess(t, fsm.QEMU7_2) }

// TestCorpusInProcess10 is the corpus on jobsim speaking 10.0, compared with
// QEMU 10.0.13's transcripts.
func TestCorpusInProcess10(t *testing.T) { corpusInProcess(t, fsm.QEMU10_0) }

func corpusInProcess(t *testing.T, v fsm.Version) {
	c := openCorpusAt(t, v)
	srv := &InProcess{Options: qmp.Options{Version: v}}
	if *updateJobsim {
		for _, s := range c.Scenarios {
			if s.Deviation == "" || s.QEMUOnly {
				continue
			}
			got, err := Run(s, srv, *timeout)
			if err != nil {
				t.Fatalf("recording %s: %v", s.Name, err)
			}
			if err := os.WriteFile(c.JobsimPath(s), got.Marshal(), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("RECORDED jobsim %s", s.Name)
		}
	}
	runCorpus(t, c, srv, false, jobsimSkip(c))
}

func TestCorpusJobsimProcess(t *testing.T) { corpusJobsimProcess(t, fsm.QEMU7_2) }

// TestCorpusJobsimProcess10 is the corpus on `jobsim qmp --qemu 10.0`.
func TestCorpusJobsimProcess10(t *testing.T) { corpusJobsimProcess(t, fsm.QEMU10_0) }

func corpusJobsimProcess(t *testing.T, v fsm.Version) {
	if testing.Short() {
		t.Skip("short")
	}
	c := openCorpusAt(t, v)
	cmd := []string{jobsim(t), "qmp"}
	label := "jobsim qmp"
	if v != fsm.DefaultVersion {
		cmd = append(cmd, "--qemu", v.String())
		label += " --qemu " + v.String()
	}
	t.Run("virtual", func(t *testing.T) {
		runCorpus(t, c, &Process{Label: label + " --clock virtual", Command: append(cmd[:len(cmd):len(cmd)], "--clock", "virtual")}, false, jobsimSkip(c))
	})
	t.Run("wall", func(t *testing.T) {
		// The wall-clock server runs time-bound scenarios in real time; the
		// virtual run above covers them.
		runCorpus(t, c, &Process{Label: label, Command: cmd}, false, func(s *Scenario) string {
			if s.HasTag("time-bound") {
				return "time-bound (covered by --clock virtual)"
			}
			return jobsimSkip(c)(s)
		})
	})
}

// TestTranscriptsCanonical keeps the corpus files in their canonical form
// and every scenario recorded.
func TestTranscriptsCanonical(t *testing.T) {
	c := openCorpus(t)
	if len(c.Scenarios) < 30 && *only == "" {
		t.Errorf("corpus has %d scenarios, want at least 30", len(c.Scenarios))
	}
	var names []string
	for _, s := range c.Scenarios {
		names = append(names, s.Name)
		tr, err := LoadTranscript(c.QEMUPath(s))
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		if len(tr.Responses) == 0 {
			t.Errorf("%s: empty transcript", s.Name)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("scenarios not sorted")
	}
}

var serverCmd = flag.String("server", "", "run the corpus against this QMP server command on stdio (space-separated words), compared with QEMU's transcripts")

// TestCorpusServer checks any QMP server, as record.py does:
//
//	go test ./conformance -run TestCorpusServer -server "my-qmp-server --stdio" -v
func TestCorpusServer(t *testing.T) {
	if *serverCmd == "" {
		t.Skip("no -server given")
	}
	c := openCorpus(t)
	srv := &Process{Label: *serverCmd, Command: strings.Fields(*serverCmd)}
	runCorpus(t, c, srv, true, needsImg)
}
