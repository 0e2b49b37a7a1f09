package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/model/harness"
	"github.com/jobfsm/jobfsm/timeline"
)

func TestProgressPlainLines(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, now: time.Now, lastTen: -1}
	for i := int64(0); i <= 200; i++ {
		p.update("explore", i, 200, "n states")
	}
	p.update("campaign", 0, 10, "0 sequences")
	p.update("campaign", 10, 10, "10 sequences")
	p.finish()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 13 {
		t.Fatalf("%d lines, want 11 for explore (0%%..100%%) and 2 for campaign:\n%s", len(lines), b.String())
	}
	if lines[0] != "check: explore   0% n states" || lines[10] != "check: explore 100% n states" || lines[12] != "check: campaign 100% 10 sequences" {
		t.Fatalf("lines:\n%s", b.String())
	}
	if strings.Contains(b.String(), "\r") || strings.Contains(b.String(), "\033") {
		t.Fatal("terminal control characters in plain mode")
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	clock := time.Unix(0, 0)
	p := &progress{w: &b, tty: true, now: func() time.Time { clock = clock.Add(time.Second); return clock }, lastTen: -1}
	p.update("explore", 15, 30, "15 states")
	p.finish()
	if got := b.String(); got != "\r\033[Kexplore   [###############...............]  50% 15 states\n" {
		t.Fatalf("bar %q", got)
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"check", "x"}, {"check", "--steps", "0"}, {"check", "--no-explore", "--no-campaign"}} {
		code, _, errOut := jobsim(t, args...)
		if code != exitUsage || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// dropTimes removes the lines that carry wall-clock durations.
func dropTimes(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "took ") || (strings.HasSuffix(t, "s") && strings.Count(t, " ") == 0 && strings.Contains(t, ".")) {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// The same seed runs the same campaign: identical summaries; another seed
// differs.
func TestCheckSeedReproducible(t *testing.T) {
	args := []string{"check", "--no-explore", "--sequences", "20", "--steps", "30"}
	c1, o1, e1 := jobsim(t, append(args, "--seed", "7")...)
	c2, o2, _ := jobsim(t, append(args, "--seed", "7")...)
	c3, o3, _ := jobsim(t, append(args, "--seed", "8")...)
	if c1 != exitOK || c2 != exitOK || c3 != exitOK {
		t.Fatalf("exits %d %d %d: %s", c1, c2, c3, e1)
	}
	if dropTimes(o1) != dropTimes(o2) {
		t.Errorf("seed 7 twice differs:\n%s\n---\n%s", o1, o2)
	}
	if dropTimes(o1) == dropTimes(o3) {
		t.Errorf("seeds 7 and 8 ran identical campaigns:\n%s", o1)
	}
	for _, s := range []string{"jobsim check (seed 7)", "random campaign: ok", "20 sequences of 30 random commands (seed 7)", "invariants: I1 "} {
		if !strings.Contains(o1, s) {
			t.Errorf("summary lacks %q:\n%s", s, o1)
		}
	}
	// Plain progress lines on a non-terminal stderr.
	if !strings.Contains(e1, "check: campaign 100% 20/20 sequences\n") {
		t.Errorf("progress lines: %q", e1)
	}
}

// A config that must pass but does not: exit 1, the counterexample as text
// and as an HTML timeline.
func TestCheckExploreFailureShowsCounterexample(t *testing.T) {
	dir := t.TempDir()
	src := map[string]string{ // the must-pass slots get small or broken configs
		"MC_small.cfg": "MC_broken.cfg", "MC_txn.cfg": "MC_hang_fixed.cfg", "MC_live.cfg": "MC_live.cfg",
		"MC_hang_fixed.cfg": "MC_hang_fixed.cfg", "MC_hang.cfg": "MC_hang.cfg", "MC_broken.cfg": "MC_broken.cfg",
	}
	for dst, from := range src {
		b, err := os.ReadFile(filepath.Join("..", "..", "tla", from))
		if err != nil {
			t.Fatalf("tla configs are part of the repository: %v", err)
		}
		if dst != from { // in a must-pass slot: it must pass
			b = regexp.MustCompile(`(?m)^\\\* Expect: .*$`).ReplaceAll(b, []byte(`\* Expect: ok`))
			if !bytes.Contains(b, []byte("\\* Expect: ok\n")) {
				t.Fatalf("%s has no Expect line to rewrite", from)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	html := filepath.Join(dir, "cex.html")
	code, out, errOut := jobsim(t, "check", "--no-campaign", "--tla", dir, "--html", html)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailure, out, errOut)
	}
	lastLine := errOut[strings.LastIndex(strings.TrimSuffix(errOut, "\n"), "\n")+1:]
	if lastLine != "jobsim check: exhaustive exploration: MC_small.cfg: invariant TxnAtomic violated (two independent jobs, bitmap, ready job, prepare failure, a monitor that loses events)\n" {
		t.Errorf("last stderr line %q", lastLine)
	}
	for _, s := range []string{"exhaustive exploration: FAILED", "MC_small.cfg", "TxnAtomic VIOLATED",
		"COUNTEREXAMPLE (exhaustive exploration)", "shortest trace:", " 1: Init", "> 6:Finalize", "FAILURE: MC_small.cfg: invariant TxnAtomic violated",
		"timeline written to " + html} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), "TxnAtomic") {
		t.Fatalf("html: %v\n%.300s", err, page)
	}
}

// A campaign counterexample's log becomes a timeline: commands on the lane
// of the job they name, events after them, driver callbacks left out.
func TestRunFromSteps(t *testing.T) {
	steps := []harness.StepRecord{
		{Step: 1, Desc: "create a (backup)", Jobs: []string{"a"}, Events: []model.Event{{Kind: model.EvStatus, Job: "a", Status: fsm.Created}}},
		{Step: 2, Desc: "start a -> ok", Jobs: []string{"a"}, Events: []model.Event{{Kind: model.EvStatus, Job: "a", Status: fsm.Running}}},
		{Step: 3, Desc: `job-resume "a" -> error: Can't resume a job that was not paused`, Jobs: []string{"a"}},
		{Step: 4, Desc: "advance 1ms", Events: []model.Event{
			{Kind: model.EvError, Job: "a", Op: "write", Action: "report"},
			{Kind: model.EvStatus, Job: "a", Status: fsm.Aborting},
			{Kind: model.EvCall, Job: "a", Call: "abort"},
			{Kind: model.EvCompleted, Job: "a", HasError: true, Error: "Input/output error"},
			{Kind: model.EvStatus, Job: "a", Status: fsm.Concluded},
		}},
	}
	r := harness.TimelineRun("cex", steps)
	got := timeline.Build(r).Summary()
	want := []string{"a: created -> running -> aborting -> concluded [ERROR write report, COMPLETED error=Input/output error]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
	want2 := []timeline.Command{
		{Op: "1:create a (backup)", Job: "a"},
		{Op: "2:start a", Job: "a", EventSeq: 1},
		{Op: `3:job-resume "a"`, Job: "a", EventSeq: 2, Error: "Can't resume a job that was not paused"},
		{Op: "4:advance 1ms", EventSeq: 2},
	}
	if diff := cmp.Diff(want2, r.Commands); diff != "" {
		t.Fatalf("commands (-want +got):\n%s", diff)
	}
}

// The Expect line decides what each config must report: a config that
// says deadlock but has none is a failure ("NOTHING FOUND"), and a config
// without an Expect line is not run at all.
func TestCheckReadsExpectLines(t *testing.T) {
	copyCfgs := func(t *testing.T, edit func(name string, b []byte) []byte) string {
		dir := t.TempDir()
		for _, c := range exploreConfigs[fsm.DefaultVersion] {
			b, err := os.ReadFile(filepath.Join("..", "..", "tla", c.file))
			if err != nil {
				t.Fatalf("tla configs are part of the repository: %v", err)
			}
			if err := os.WriteFile(filepath.Join(dir, c.file), edit(c.file, b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	small := func(name string, b []byte) []byte { // keep the run short: MC_small's slot gets MC_hang_fixed
		if name == "MC_small.cfg" {
			fixed, err := os.ReadFile(filepath.Join("..", "..", "tla", "MC_hang_fixed.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			return fixed
		}
		return b
	}
	expect := regexp.MustCompile(`(?m)^\\\* Expect: .*\n`)

	dir := copyCfgs(t, func(name string, b []byte) []byte {
		if name == "MC_hang.cfg" { // the corrected rule under the hang's Expect line
			fixed, err := os.ReadFile(filepath.Join("..", "..", "tla", "MC_hang_fixed.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			return expect.ReplaceAll(fixed, []byte("\\* Expect: deadlock\n"))
		}
		return small(name, b)
	})
	code, out, errOut := jobsim(t, "check", "--no-campaign", "--tla", dir)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailure, out, errOut)
	}
	if !regexp.MustCompile(`MC_hang\.cfg +8052 distinct states, depth 19: NOTHING FOUND`).MatchString(out) ||
		!strings.Contains(errOut, "MC_hang.cfg: expected deadlock (QEMU 7.2's rollback rule: the known hang must be found), but the explorer found no violation") {
		t.Errorf("a deadlock expected and not found:\n%s\n%s", out, errOut)
	}

	dir = copyCfgs(t, func(name string, b []byte) []byte {
		if name == "MC_broken.cfg" {
			return expect.ReplaceAll(b, nil)
		}
		return small(name, b)
	})
	code, out, errOut = jobsim(t, "check", "--no-campaign", "--tla", dir)
	if code != exitFailure || !strings.Contains(out, "NOT RUN: exhaustive exploration: "+filepath.Join(dir, "MC_broken.cfg")+": no `\\* Expect:` line") {
		t.Errorf("a config without an Expect line: exit %d\n%s\n%s", code, out, errOut)
	}
}
