package qemutrace

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/conformance"
)

// convertDir converts every QEMU transcript of dir (scenarios beside them,
// else in scenarios) and returns them by file name.
func convertDir(t *testing.T, dir, scenarios string) map[string]*Trace {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.transcript.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Trace{}
	for _, p := range paths {
		if strings.HasSuffix(p, ".jobsim.transcript.json") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(p), ".transcript.json")
		sp := filepath.Join(dir, name+".json")
		if _, err := os.Stat(sp); err != nil {
			sp = filepath.Join(scenarios, name+".json")
		}
		scn, err := conformance.LoadScenario(sp)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		tr, err := conformance.LoadTranscript(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		c, err := Convert(p, scn, tr)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out[name] = c
	}
	return out
}

// Every recorded transcript converts (make trace-check then has TLC check
// them); the counts are those of the recorded corpora.
func TestConvertEveryRecordedTranscript(t *testing.T) {
	corpus := "../../spec/conformance"
	ref := "../../../shared/reference/qemu-transcripts/scenarios"
	if _, err := os.Stat(ref); err != nil {
		t.Fatalf("the reference transcripts are missing: this test needs ../shared/reference beside the repository (%v)", err)
	}
	for _, c := range []struct {
		dir  string
		want int
	}{{corpus, 76}, {filepath.Join(corpus, "qemu-10.0"), 76}, {ref, 19}} {
		got := convertDir(t, c.dir, corpus)
		if len(got) != c.want {
			t.Errorf("%s: %d transcripts converted, want %d", c.dir, len(got), c.want)
		}
	}
}

// The findings the trace check rests on are in the converted traces: the
// early failure of a negative speed, and QEMU 10.0's drains between a
// grouped transaction's members gathered away.
func TestConvertedFindings(t *testing.T) {
	corpus := "../../spec/conformance"
	for _, dir := range []string{corpus, filepath.Join(corpus, "qemu-10.0")} {
		trs := convertDir(t, dir, corpus)
		ns := trs["negative_speed"]
		if ns == nil {
			t.Fatalf("%s: negative_speed not converted", dir)
		}
		early := 0
		for _, c := range ns.Commands {
			if c.Op == "early-fail" {
				early++
			}
		}
		if early != 2 { // blockdev-backup and blockdev-mirror with speed -1
			t.Errorf("%s/negative_speed: %d early-fail lines, want 2", dir, early)
		}
		g := trs["txn_grouped_cancel"]
		if g == nil {
			t.Fatalf("%s: txn_grouped_cancel not converted", dir)
		}
		if d := strings.Join([]string{g.Events[idx(g, "j2", "created")+1].Job, g.Events[idx(g, "j2", "created")+1].To}, " "); d != "j3 created" {
			t.Errorf("%s/txn_grouped_cancel: after j2 created comes %q, want the other member's creation", dir, d)
		}
		// reference §12: the rollback reached b (aborting), then hung on a
		// (never started): one rollback line, b's; TLC's qemu72 rule then
		// blocks, as QEMU did, with every line explained
		h := trs["txn_grouped_rollback_hang"]
		if h == nil {
			t.Fatalf("%s: txn_grouped_rollback_hang not converted", dir)
		}
		var lines []string
		for _, c := range h.Commands {
			lines = append(lines, fmt.Sprintf("%s %s%s rollback=%v", c.Op, c.Job, strings.Join(c.Jobs, ","), c.Rollback))
		}
		if got, want := strings.Join(lines, "; "), "create j1,j2 rollback=false; verb j2 rollback=true"; got != want {
			t.Errorf("%s/txn_grouped_rollback_hang: commands %q, want %q", dir, got, want)
		}
	}
}

func idx(t *Trace, job, to string) int {
	for i, e := range t.Events {
		if e.Job == job && e.To == to {
			return i
		}
	}
	return -1
}
