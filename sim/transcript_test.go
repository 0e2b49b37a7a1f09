package sim_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/scenario"
)

// transcriptDir is where the QEMU 7.2 transcripts live: the reference in
// ../shared beside the repository, which CI always provides.
const transcriptDir = "../../shared/reference/qemu-transcripts/scenarios"

// qemuEvents reads a recorded QEMU transcript and returns each job's events
// in sim.Event's String form.
func qemuEvents(t *testing.T, name string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(transcriptDir, name+".transcript.json"))
	if err != nil {
		t.Fatalf("QEMU transcript %s: %v (the reference must sit in ../shared beside the repository)", name, err)
	}
	var tr struct {
		Events []struct {
			Event string         `json:"event"`
			Data  map[string]any `json:"data"`
		} `json:"events"`
	}
	if err := json.Unmarshal(data, &tr); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range tr.Events {
		d := e.Data
		job, _ := d["id"].(string)
		if dev, ok := d["device"].(string); ok {
			job = dev
		}
		var s string
		switch e.Event {
		case "JOB_STATUS_CHANGE":
			s = fmt.Sprintf("%s %s", job, d["status"])
		case "BLOCK_JOB_ERROR":
			s = fmt.Sprintf("%s %s %s %s", e.Event, job, d["operation"], d["action"])
		case "BLOCK_JOB_COMPLETED":
			s = e.Event + " " + job
			if msg, ok := d["error"]; ok {
				s += fmt.Sprintf(" error=%s", msg)
			}
		default:
			s = e.Event + " " + job
		}
		out[job] = append(out[job], s)
	}
	return out
}

// TestTranscriptEventSequences replays, with test-driver jobs, the QEMU 7.2
// sessions whose lifecycle does not depend on block data, and checks that
// every job's event sequence is the one QEMU produced. As in record.py, the
// comparison is job by job: the interleaving of two jobs' events is racy in
// QEMU itself.
//
// Checks: R4, R14, R24, R29, R31, R36.
func TestTranscriptEventSequences(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.json")
	if err != nil || len(files) < 12 {
		t.Fatalf("want at least 12 transcript scenarios, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			s, err := scenario.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			want := qemuEvents(t, s.Transcript)
			res := s.Run()
			for _, m := range res.Mismatches {
				t.Error(m)
			}
			got := map[string][]string{}
			for _, e := range res.Events {
				got[e.Job] = append(got[e.Job], e.String())
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("per-job events differ from QEMU's (-qemu +sim):\n%s", diff)
			}
		})
	}
}
