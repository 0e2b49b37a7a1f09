package timeline_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/scenario"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/timeline"
)

// txn3 is the grouped transaction QEMU 7.2 was observed with (reference
// §4.3): a, b, c in action order, a's target fails with EIO under policy
// report. Afterwards a job-cancel of a (already gone) is refused.
const txn3 = `{
  "name": "txn3-one-fails",
  "note": "Grouped transaction a, b, c; a hits a write error.",
  "jobs": {"a": {"steps": 10, "io_error_at": 2}, "b": {"steps": 10}, "c": {"steps": 10}},
  "steps": [
    {"op": "create", "id": "a", "txn": "t"},
    {"op": "create", "id": "b", "txn": "t"},
    {"op": "create", "id": "c", "txn": "t"},
    {"op": "start", "id": "a"},
    {"op": "start", "id": "b"},
    {"op": "start", "id": "c"},
    {"op": "run"},
    {"op": "job-cancel", "id": "a", "error": "Job not found"}
  ]
}`

func run(t *testing.T, js string) timeline.Run {
	t.Helper()
	s, err := scenario.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	res := s.Run()
	if !res.OK() {
		t.Fatalf("scenario did not run as written: %v", res.Mismatches)
	}
	return timeline.FromScenario(res)
}

// The statuses and outcome events of each job, in order, as QEMU 7.2 shows
// them for this transaction (reference §4.3, verified sequence).
func TestSummaryOfKnownScenario(t *testing.T) {
	l := timeline.Build(run(t, txn3))
	want := []string{
		"a: created -> running -> aborting -> concluded -> null [ERROR write report, COMPLETED error=Input/output error]",
		"b: created -> running -> aborting -> concluded -> null [CANCELLED]",
		"c: created -> running -> aborting -> concluded -> null [CANCELLED]",
	}
	if diff := cmp.Diff(want, l.Summary()); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
	var jobs []string
	for _, ln := range l.Lanes {
		jobs = append(jobs, ln.Job)
		if got := ln.Statuses(); !cmp.Equal(got, []fsm.Status{fsm.Created, fsm.Running, fsm.Aborting, fsm.Concluded, fsm.Null}) {
			t.Errorf("%s statuses %v", ln.Job, got)
		}
	}
	if !cmp.Equal(jobs, []string{"a", "b", "c"}) {
		t.Fatalf("lanes %v, want a, b, c in order of first appearance", jobs)
	}
}

// columns cuts the text timeline into per-job cell sequences, using the
// header to find where each job's column starts, and drops the "|"
// continuation marks. The notes after " -- " are returned apart.
func columns(t *testing.T, text string, jobs []string) (map[string][]string, []string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	hi := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "time ") {
			hi = i
			break
		}
	}
	if hi < 0 {
		t.Fatalf("no header in:\n%s", text)
	}
	var starts []int
	for _, j := range jobs {
		starts = append(starts, strings.Index(lines[hi]+" ", "  "+j+" ")+2)
	}
	cols := map[string][]string{}
	var notes []string
	for _, l := range lines[hi+2:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		if i := strings.Index(l, " -- "); i >= 0 {
			notes = append(notes, l[i+4:])
			l = l[:i]
		}
		r := []rune(l)
		for k, j := range jobs {
			if starts[k] >= len(r) {
				continue
			}
			end := len(r)
			if k+1 < len(starts) {
				end = min(starts[k+1], len(r))
			}
			if cell := strings.TrimSpace(string(r[starts[k]:end])); cell != "" && cell != "|" {
				cols[j] = append(cols[j], cell)
			}
		}
	}
	return cols, notes
}

func TestTextOfKnownScenario(t *testing.T) {
	var b bytes.Buffer
	if err := timeline.Text(&b, run(t, txn3)); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	cols, notes := columns(t, text, []string{"a", "b", "c"})
	want := map[string][]string{
		"a": {"> create txn t", "created", "> start", "running", "* ERROR write report", "aborting",
			"* COMPLETED error=Input/output error", "concluded", "null", "> job-cancel  FAILED"},
		"b": {"> create txn t", "created", "> start", "running", "aborting", "* CANCELLED", "concluded", "null"},
		"c": {"> create txn t", "created", "> start", "running", "aborting", "* CANCELLED", "concluded", "null"},
	}
	if diff := cmp.Diff(want, cols); diff != "" {
		t.Fatalf("job columns (-want +got):\n%s\n%s", diff, text)
	}
	if diff := cmp.Diff([]string{"> run", "error: Job not found"}, notes); diff != "" {
		t.Fatalf("notes (-want +got):\n%s\n%s", diff, text)
	}
	// The global order across jobs: c is finalized before b, a last.
	order := []string{"ERROR write report", "\n", "aborting", "CANCELLED", "null", "aborting", "CANCELLED", "null", "COMPLETED error=Input/output error"}
	pos := strings.Index(text, "time ")
	for _, s := range order {
		i := strings.Index(text[pos:], s)
		if i < 0 {
			t.Fatalf("%q not found after offset %d in:\n%s", s, pos, text)
		}
		pos += i + len(s)
	}
	if !strings.HasPrefix(text, "txn3-one-fails\n  Grouped transaction a, b, c; a hits a write error.\n") {
		t.Errorf("title and note missing:\n%s", text)
	}
	if !strings.Contains(text, "\n 1ms  * ERROR write report") {
		t.Errorf("virtual time of the failure not shown where it advances:\n%s", text)
	}
}

// svgDoc parses the SVG and collects the text of every <title>, in
// document order: the hover texts of segments and marks.
func svgDoc(t *testing.T, data []byte) []string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var titles []string
	inTitle := false
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			inTitle = e.Name.Local == "title"
		case xml.EndElement:
			inTitle = false
		case xml.CharData:
			if inTitle {
				titles = append(titles, string(e))
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	return titles
}

func TestSVGOfKnownScenario(t *testing.T) {
	var b bytes.Buffer
	if err := timeline.SVG(&b, run(t, txn3)); err != nil {
		t.Fatal(err)
	}
	titles := svgDoc(t, b.Bytes())
	// Segments are drawn lane by lane, each in time order.
	var segs []string
	for _, s := range titles {
		if strings.Count(s, ": ") == 1 && !strings.HasPrefix(s, "t=") {
			segs = append(segs, s)
		}
	}
	want := []string{
		"a: created", "a: running", "a: aborting", "a: concluded", "a: null (dismissed)",
		"b: created", "b: running", "b: aborting", "b: concluded", "b: null (dismissed)",
		"c: created", "c: running", "c: aborting", "c: concluded", "c: null (dismissed)",
	}
	if diff := cmp.Diff(want, segs); diff != "" {
		t.Fatalf("segments (-want +got):\n%s", diff)
	}
	joined := strings.Join(titles, "\n")
	for _, s := range []string{
		`BLOCK_JOB_COMPLETED {"device": "a", "error": "Input/output error", "len": `,
		`BLOCK_JOB_ERROR {"action": "report", "device": "a", "operation": "write"}`,
		`job-cancel a -> error: Job not found`,
		`start c -> ok`,
	} {
		if !strings.Contains(joined, s) {
			t.Errorf("no hover text containing %q", s)
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	r := run(t, txn3)
	r.Failure = "I7 violated: b committed while a aborted"
	if err := timeline.HTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "http://", "https://", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: not self-contained", bad)
		}
	}
	for _, s := range []string{"<title>txn3-one-fails</title>", "<svg ", "I7 violated: b committed while a aborted",
		"c: created -&gt; running -&gt; aborting -&gt; concluded -&gt; null [CANCELLED]"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	// The log lists c's finalization before b's and a's.
	ic, ib := strings.Index(page, "<td>c</td><td>BLOCK_JOB_CANCELLED"), strings.Index(page, "<td>b</td><td>BLOCK_JOB_CANCELLED")
	ia := strings.Index(page, "<td>a</td><td>BLOCK_JOB_COMPLETED")
	if ic < 0 || ib < 0 || ia < 0 || !(ic < ib && ib < ia) {
		t.Errorf("log order c, b, a not found (%d, %d, %d)", ic, ib, ia)
	}
}

// A dismissed id reused by a new job continues on the same lane; a pause
// shows as its own segment; a manual-finalize job shows PENDING.
func TestReusedIDAndPending(t *testing.T) {
	ev := func(job string, s fsm.Status) sim.Event {
		return sim.Event{Name: sim.EventJobStatusChange, Job: job, Status: s}
	}
	r := timeline.Run{Events: []sim.Event{
		ev("j", fsm.Created), ev("j", fsm.Running), ev("j", fsm.Paused), ev("j", fsm.Running),
		ev("j", fsm.Waiting), ev("j", fsm.Pending), {Name: sim.EventBlockJobPending, Job: "j", Type: sim.TypeBackup},
		ev("j", fsm.Concluded), ev("j", fsm.Null), ev("j", fsm.Created), ev("j", fsm.Null),
	}, Commands: []timeline.Command{{Op: "job-finalize", Job: "j", EventSeq: 7}}}
	l := timeline.Build(r)
	want := []string{"j: created -> running -> paused -> running -> waiting -> pending -> concluded -> created -> null [PENDING]"}
	if diff := cmp.Diff(want, l.Summary()); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
	if l.Entries[7].Kind != timeline.KindCommand || l.Entries[8].Label != "concluded" {
		t.Fatalf("finalize not placed before event 7: %+v", l.Entries[7])
	}
}

func TestFormatTime(t *testing.T) {
	for ns, want := range map[int64]string{0: "0", 500: "500ns", 1500: "1.5µs", 1_000_000: "1ms", 1_500_000: "1.5ms", 2_000_000_000: "2s", 2_500_000_000: "2500ms"} {
		if got := timeline.FormatTime(ns); got != want {
			t.Errorf("FormatTime(%d) = %q, want %q", ns, got, want)
		}
	}
}

func TestEmptyRun(t *testing.T) {
	var b bytes.Buffer
	if err := timeline.SVG(&b, timeline.Run{}); err != nil {
		t.Fatal(err)
	}
	svgDoc(t, b.Bytes())
	b.Reset()
	if err := timeline.Text(&b, timeline.Run{}); err != nil || !strings.HasPrefix(b.String(), "time") {
		t.Fatalf("empty text timeline %q, %v", b.String(), err)
	}
}

// A command naming a job that never existed gets a lane, marked as such.
func TestCommandOnUnknownJob(t *testing.T) {
	l := timeline.Build(timeline.Run{Commands: []timeline.Command{{Op: "job-pause", Job: "ghost", Error: "Job not found"}}})
	if diff := cmp.Diff([]string{"ghost: (no such job)"}, l.Summary()); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := l.Text(&b); err != nil || !strings.Contains(b.String(), "> job-pause  FAILED  -- error: Job not found") {
		t.Fatalf("text %q, %v", b.String(), err)
	}
}
