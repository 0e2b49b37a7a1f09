package conformance

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/qmp"
)

var recordDrains = flag.Bool("record-drains", false,
	"re-record testdata/drains transcripts on qemu-storage-daemon 7.2 (PATH) and 10.0 (make setup-qemu10)")

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

func inProcessAt(v fsm.Version) *InProcess { return &InProcess{Options: qmp.Options{Version: v}} }

// TestDrainBlips10InProcess replays the drain-blip scenarios in-process at
// QEMU 10.0 and compares each job's events with what qemu-storage-daemon
// 10.0.13 emitted (spec/conformance/qemu-10.0/NAME.transcript.json): each
// job's events, then the responses (these scenarios touch no other 10.0
// difference). The same scenarios at 7.2 are TestCorpusInProcess's.
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
			got, err := Run(s, inProcessAt(fsm.QEMU10_0), *timeout)
			if err != nil {
				t.Fatal(err)
			}
			if d := Diff(want, got); d != "" {
				t.Errorf("10.0 %s: %s", name, d)
			}
		})
	}
}

const drainProbesDir = "testdata/drains"

// drainProbes are the targeted probes of the drain rule: a job runs on
// some nodes while one command works on others (each scenario's note).
func drainProbes(t *testing.T) []*Scenario {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(drainProbesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*Scenario
	for _, p := range paths {
		if strings.HasSuffix(p, ".transcript.json") {
			continue
		}
		s, err := LoadScenario(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		t.Fatalf("no probes in %s", drainProbesDir)
	}
	return out
}

func drainProbeTranscript(s *Scenario, v fsm.Version) string {
	return filepath.Join(drainProbesDir, s.Name+".qemu-"+v.String()+".transcript.json")
}

// TestDrainProbes replays every probe in-process at each version and
// compares it, responses and the events that arrived before each return
// included, with what that version's qemu-storage-daemon answered
// (recorded with -record-drains; spec/qemu-10.0.md §1 reads the rule off
// these transcripts).
func TestDrainProbes(t *testing.T) {
	probes := drainProbes(t)
	if *recordDrains {
		recordDrainProbes(t, probes)
	}
	for _, v := range fsm.Versions() {
		for _, s := range probes {
			t.Run(v.String()+"/"+s.Name, func(t *testing.T) {
				if s.QEMUOnly {
					t.Skipf("%s runs on QEMU only (%s): %s", s.Name, s.Deviation, s.Note)
				}
				if why := needsImg(s); why != "" {
					t.Skipf("%s %s (qemu-img not on PATH makes its images)", s.Name, why)
				}
				want, err := LoadTranscript(drainProbeTranscript(s, v))
				if err != nil {
					t.Fatalf("%v (record with -record-drains)", err)
				}
				got, err := Run(s, inProcessAt(v), *timeout)
				if err != nil {
					t.Fatal(err)
				}
				if d := Diff(want, got); d != "" {
					t.Errorf("%s on %s: %s", s.Name, v, d)
				}
			})
		}
	}
}

func recordDrainProbes(t *testing.T, probes []*Scenario) {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	daemons := map[fsm.Version]string{
		fsm.QEMU7_2:  "qemu-storage-daemon",
		fsm.QEMU10_0: filepath.Join(cache, "jobfsm", "qemu-10.0", "bin", "qemu-storage-daemon-10.0"),
	}
	for v, qsd := range daemons {
		srv := &Process{Label: "qemu-storage-daemon " + v.String(), Command: []string{qsd, "--chardev", "stdio,id=m", "--monitor", "m"}}
		for _, s := range probes {
			got, err := Run(s, srv, *timeout)
			if err != nil {
				t.Fatalf("recording %s on %s (%s; 10.0 needs make setup-qemu10): %v", s.Name, v, qsd, err)
			}
			if err := os.WriteFile(drainProbeTranscript(s, v), got.Marshal(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
