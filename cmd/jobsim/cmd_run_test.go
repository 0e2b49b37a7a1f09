package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/scenario"
	"github.com/jobfsm/jobfsm/sim"
)

func jobsim(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

const cancelRunning = `{
  "name": "cancel-running",
  "jobs": {"j0": {"steps": 5}},
  "steps": [
    {"op": "create", "id": "j0"},
    {"op": "start", "id": "j0"},
    {"op": "advance", "ns": 1500000},
    {"op": "job-cancel", "id": "j0"},
    {"op": "run"}
  ],
  "events": ["j0 created", "j0 running", "j0 aborting", "BLOCK_JOB_CANCELLED j0", "j0 concluded", "j0 null"]
}`

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunText(t *testing.T) {
	code, out, errOut := jobsim(t, "run", writeFile(t, "s.json", cancelRunning))
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, s := range []string{"cancel-running\n", "> job-cancel", "* CANCELLED", "1.5ms",
		"j0: created -> running -> aborting -> concluded -> null [CANCELLED]\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestRunJSON(t *testing.T) {
	code, out, _ := jobsim(t, "run", "--format", "json", writeFile(t, "s.json", cancelRunning))
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		OK     bool
		Events []struct {
			Event string
			Data  map[string]any
		}
		Commands []struct{ Op, Job string }
		Jobs     map[string][]string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if !got.OK || len(got.Events) != 6 || got.Events[3].Event != "BLOCK_JOB_CANCELLED" || got.Events[3].Data["device"] != "j0" {
		t.Fatalf("json: %+v", got)
	}
	if diff := cmp.Diff(map[string][]string{"j0": {"created", "running", "aborting", "concluded", "null"}}, got.Jobs); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if len(got.Commands) != 5 || got.Commands[3].Op != "job-cancel" {
		t.Errorf("commands %+v", got.Commands)
	}
}

func TestRunMismatchFails(t *testing.T) {
	bad := strings.Replace(cancelRunning, `"j0 aborting", `, "", 1)
	code, out, errOut := jobsim(t, "run", writeFile(t, "s.json", bad))
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	if !strings.HasPrefix(errOut, "jobsim run: scenario \"cancel-running\": 1 expectation(s) not met") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr %q: want one line", errOut)
	}
	if !strings.Contains(out, "FAILURE: 1 expectation(s) not met") || !strings.Contains(out, "MISMATCH: event log differs") {
		t.Errorf("timeline does not show the failure:\n%s", out)
	}
}

// A scenario runs at the version its "qemu" names; --qemu overrides it.
// block-job-change is a command at 10.0 and CommandNotFound at 7.2.
func TestRunScenarioVersion(t *testing.T) {
	const body = `{"name": "change", %s"jobs": {"j0": {"steps": 5}}, "steps": [
		{"op": "create", "id": "j0"},
		{"op": "block-job-change", "id": "j0", "copy_mode": "write-blocking", "error": "Job type does not support change"},
		{"op": "job-cancel", "id": "j0"}]}`
	at10 := writeFile(t, "s10.json", fmt.Sprintf(body, `"qemu": "10.0", `))
	plain := writeFile(t, "s.json", fmt.Sprintf(body, ""))
	notFound := `step 1 (block-job-change j0): error "The command block-job-change has not been found", want "Job type does not support change"`
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"run", at10}, exitOK},
		{[]string{"run", "--qemu", "7.2", at10}, exitFailure},
		{[]string{"run", plain}, exitFailure},
		{[]string{"run", "--qemu", "10.0", plain}, exitOK},
	} {
		code, out, errOut := jobsim(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args[:len(c.args)-1], code, c.code, errOut)
		}
		if c.code == exitFailure && !strings.Contains(out, "MISMATCH: "+notFound) {
			t.Errorf("%v: the timeline does not show CommandNotFound:\n%s", c.args[:len(c.args)-1], out)
		}
	}
}

func TestRunErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run"}, exitUsage, "jobsim run: want exactly one scenario file, got 0 arguments\n"},
		{[]string{"run", "--format", "pdf", "x"}, exitUsage, "jobsim run: unknown format \"pdf\" (want one of text, json, svg, html)\n"},
		{[]string{"run", "/nonexistent/s.json"}, exitInput, ""},
		{[]string{"run", writeFile(t, "bad.json", `{"name": "x", "jobs": {}, "steps": [], "bogus": 1}`)}, exitInput, ""},
		{[]string{"replay", writeFile(t, "bad.ndjson", "{\"op\": \"trigger\", \"from\": \"nowhere\"}\n")}, exitInput, ""},
		{[]string{"replay", writeFile(t, "empty", "")}, exitInput, ""},
		{[]string{"graph", "--format", "png"}, exitUsage, "jobsim graph: unknown format \"png\" (want dot, mermaid or svg)\n"},
		{[]string{"graph", "extra"}, exitUsage, "jobsim graph: unexpected argument \"extra\"\n"},
	} {
		code, _, errOut := jobsim(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, errOut)
		}
		if c.msg != "" && errOut != c.msg {
			t.Errorf("%v: stderr %q, want %q", c.args, errOut, c.msg)
		}
		if strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: stderr %q is not one line", c.args, errOut)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, name := range []string{"run", "replay", "graph", "check"} {
		code, _, errOut := jobsim(t, name, "--help")
		if code != exitOK || !strings.HasPrefix(errOut, "usage: jobsim "+name) {
			t.Errorf("%s --help: exit %d, %q", name, code, errOut)
		}
	}
}

// A trace written by the Tracer option replays as the same statuses the
// run's events show.
func TestReplayTrace(t *testing.T) {
	s, err := scenario.Parse([]byte(cancelRunning))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	s.RunWith(sim.Options{Tracer: func(r sim.TraceRecord) { _ = enc.Encode(r) }})
	code, out, errOut := jobsim(t, "replay", writeFile(t, "t.ndjson", buf.String()))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"j0: created -> running -> aborting -> concluded -> null\n", "> cancel"} {
		if !strings.Contains(out, s) {
			t.Errorf("replay lacks %q:\n%s", s, out)
		}
	}
}

// run --format json output replays to the same timeline.
func TestReplayRunJSON(t *testing.T) {
	f := writeFile(t, "s.json", cancelRunning)
	_, text, _ := jobsim(t, "run", f)
	_, js, _ := jobsim(t, "run", "--format", "json", f)
	code, out, errOut := jobsim(t, "replay", writeFile(t, "r.json", js))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != text {
		t.Errorf("replayed timeline differs from the run's:\n%s\nvs\n%s", out, text)
	}
}

func TestReplayQEMUTranscript(t *testing.T) {
	f := "../../../shared/reference/qemu-transcripts/scenarios/backup_lifecycle.transcript.json"
	if _, err := os.Stat(f); err != nil {
		t.Fatalf("the reference must sit in ../shared beside the repository: %v", err)
	}
	code, out, _ := jobsim(t, "replay", f)
	want := "j0: created -> running -> paused -> running -> waiting -> pending -> concluded -> null [PENDING, COMPLETED]\n"
	if code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestGraph(t *testing.T) {
	code, out, _ := jobsim(t, "graph", "--format", "mermaid")
	if code != exitOK || !strings.HasPrefix(out, "stateDiagram-v2\n") || !strings.Contains(out, "aborting --> aborting") {
		t.Fatalf("mermaid: %d\n%s", code, out)
	}
	code, out, _ = jobsim(t, "graph")
	if code != exitOK || !strings.HasPrefix(out, "digraph {") || !strings.Contains(out, "verb complete") {
		t.Fatalf("dot: %d\n%s", code, out)
	}
}
