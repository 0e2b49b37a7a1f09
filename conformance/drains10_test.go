package conformance

import (
	"path/filepath"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/qmp"
)

// drainBlipScenarios are the corpus scenarios whose 10.0 transcripts differ
// from 7.2's only by pause blips from drains (spec/qemu-10.0.md §1).
var drainBlipScenarios = []string{
	"blockdev_del_in_use",
	"cancel_paused",
	"concluded_releases_nodes",
	"job_ids",
	"txn_empty_drain_blip",
	"txn_grouped_cancel",
	"txn_individual_cancel",
}

// TestDrainBlips10InProcess replays the drain-blip scenarios in-process at
// QEMU 10.0 and compares each job's events with what qemu-storage-daemon
// 10.0.13 emitted (spec/conformance/qemu-10.0/NAME.transcript.json). Only
// the events are compared: the rest of the 10.0 surface is tested with the
// whole corpus elsewhere. The same scenarios at 7.2 are TestCorpusInProcess's.
func TestDrainBlips10InProcess(t *testing.T) {
	for _, name := range drainBlipScenarios {
		t.Run(name, func(t *testing.T) {
			s, err := LoadScenario(filepath.Join(corpusDir, name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := LoadTranscript(filepath.Join(corpusDir, "qemu-10.0", name+".transcript.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Run(s, &InProcess{Options: qmp.Options{Version: fsm.QEMU10_0}}, *timeout)
			if err != nil {
				t.Fatal(err)
			}
			// Diff compares events first; responses are left out here.
			if d := Diff(&Transcript{Events: want.Events}, &Transcript{Events: got.Events}); d != "" {
				t.Errorf("10.0 %s: %s", name, d)
			}
		})
	}
}
