package qemutrace

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/conformance"
)

func decode[T any](t *testing.T, s string) *T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON: %v", err)
	}
	return &v
}

// A small hand-made session: a mirror cancelled in a ready state, a backup
// whose negative speed fails after job_create, an id reused after dismiss,
// a verb on an unknown id, an argument error, and queries.
const scenario = `{"steps": [
 {"send": {"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": "n0"}}},
 {"send": {"execute": "blockdev-mirror", "arguments": {"job-id": "m0", "device": "n0", "target": "n1", "sync": "full", "auto-dismiss": false}}},
 {"wait_event": "BLOCK_JOB_READY", "match": {"device": "m0"}},
 {"send": {"execute": "query-jobs"}},
 {"send": {"execute": "block-job-cancel", "arguments": {"device": "m0"}}},
 {"wait_event": "JOB_STATUS_CHANGE", "match": {"id": "m0", "status": "concluded"}},
 {"send": {"execute": "job-dismiss", "arguments": {"id": "m0"}}},
 {"send": {"execute": "blockdev-backup", "arguments": {"job-id": "m0", "device": "n0", "target": "n1", "sync": "full", "speed": -1}}},
 {"send": {"execute": "blockdev-backup", "arguments": {"job-id": "m0", "device": "n0", "target": "n1", "sync": "full", "auto-finalize": false}}},
 {"send": {"execute": "job-pause", "arguments": {"id": "nope"}}},
 {"send": {"execute": "job-pause", "arguments": {"foo": 1}}},
 {"send": {"execute": "block-job-finalize", "arguments": {"id": "m0"}}},
 {"sha256": "n1"}
]}`

const transcript = `{
 "responses": [
  {"greeting": {"capabilities": ["oob"]}},
  {"cmd": "qmp_capabilities", "return": {}},
  {"cmd": "blockdev-add", "return": {}},
  {"cmd": "blockdev-mirror", "return": {}},
  {"cmd": "query-jobs", "return": [{"id": "m0", "status": "ready", "type": "mirror"}]},
  {"cmd": "block-job-cancel", "return": {}},
  {"cmd": "job-dismiss", "return": {}},
  {"cmd": "blockdev-backup", "error": {"class": "GenericError", "desc": "Parameter 'speed' expects a non-negative value"}},
  {"cmd": "blockdev-backup", "return": {}},
  {"cmd": "job-pause", "error": {"class": "GenericError", "desc": "Job not found"}},
  {"cmd": "job-pause", "error": {"class": "GenericError", "desc": "Parameter 'foo' is unexpected"}},
  {"cmd": "block-job-finalize", "error": {"class": "GenericError", "desc": "Job 'm0' in state 'running' cannot accept command verb 'finalize'"}},
  {"sha256": "n1", "digest": "00"}
 ],
 "events": [
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "created"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "running"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "ready"}},
  {"event": "BLOCK_JOB_READY", "data": {"device": "m0"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "waiting"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "pending"}},
  {"event": "BLOCK_JOB_COMPLETED", "data": {"device": "m0"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "concluded"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "null"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "created"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "null"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "created"}},
  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "running"}},
  {"event": "BLOCK_JOB_ERROR", "data": {"device": "m0", "action": "stop", "operation": "write"}}
 ]
}`

// The expected trace, written by hand from the session above.
const want = `{"op":"trace","t":1,"source":"hand","names":["m0","m0","m0"]}
{"op":"create","t":1,"jobs":["j1"],"after":0,"cmd":"blockdev-mirror"}
{"op":"trigger","t":1,"job":"j1","from":"undefined","to":"created"}
{"op":"trigger","t":1,"job":"j1","from":"created","to":"running"}
{"op":"trigger","t":1,"job":"j1","from":"running","to":"ready"}
{"op":"query","t":1,"after":3,"cmd":"query-jobs","jobs":{"j1":"ready"}}
{"op":"verb","t":1,"job":"j1","id":"m0","verb":"cancel","force":false,"api":"block","after":3,"cmd":"block-job-cancel"}
{"op":"trigger","t":1,"job":"j1","from":"ready","to":"waiting"}
{"op":"trigger","t":1,"job":"j1","from":"waiting","to":"pending"}
{"op":"trigger","t":1,"job":"j1","from":"pending","to":"concluded","result":"completed"}
{"op":"verb","t":1,"job":"j1","id":"m0","verb":"dismiss","api":"job","after":6,"cmd":"job-dismiss"}
{"op":"create","t":1,"jobs":["j2"],"after":6,"cmd":"blockdev-backup"}
{"op":"early-fail","t":1,"job":"j2","after":6,"cmd":"blockdev-backup"}
{"op":"create","t":1,"jobs":["j3"],"after":6,"cmd":"blockdev-backup"}
{"op":"verb","t":1,"id":"nope","verb":"pause","api":"job","err":"Job not found","after":6,"cmd":"job-pause"}
{"op":"verb","t":1,"job":"j3","id":"m0","verb":"finalize","api":"block","err":"Job 'm0' in state 'running' cannot accept command verb 'finalize'","after":6,"cmd":"block-job-finalize"}
{"op":"trigger","t":1,"job":"j1","from":"concluded","to":"null"}
{"op":"trigger","t":1,"job":"j2","from":"undefined","to":"created"}
{"op":"trigger","t":1,"job":"j2","from":"created","to":"null"}
{"op":"trigger","t":1,"job":"j3","from":"undefined","to":"created"}
{"op":"trigger","t":1,"job":"j3","from":"created","to":"running"}
`

func TestConvertHandWritten(t *testing.T) {
	tr, err := Convert("hand", decode[conformance.Scenario](t, scenario), decode[conformance.Transcript](t, transcript))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{1}, tr.Ready); d != "" {
		t.Errorf("Ready (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{3}, tr.ManualFinalize); d != "" {
		t.Errorf("ManualFinalize (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{1}, tr.ManualDismiss); d != "" {
		t.Errorf("ManualDismiss (-want +got):\n%s", d)
	}
	if tr.Grouped != nil {
		t.Errorf("Grouped = %v, want none", tr.Grouped)
	}
	// blockdev-add, the argument error, the observation step are skipped.
	if tr.Skipped != 2 {
		t.Errorf("Skipped = %d, want 2 (blockdev-add, job-pause with a bad argument)", tr.Skipped)
	}
	groups := GroupTraces([]*Trace{tr}, 1)
	if len(groups) != 1 {
		t.Fatalf("%d groups, want 1", len(groups))
	}
	got := string(groups[0].Marshal())
	hdr, rest, _ := strings.Cut(got, "\n")
	wantHdr := `{"op":"config","seed":0,"n":8,"grouped":[],"manual_finalize":[3],"manual_dismiss":[1],"ready":[1],` +
		`"may_fail":[],"stop_on_error":[3],"prepare_may_fail":[],"max_drains":1,"monitors":0,"qemu":"7.2","traces":1}`
	if hdr != wantHdr {
		t.Errorf("header:\n got %s\nwant %s", hdr, wantHdr)
	}
	if d := cmp.Diff(strings.Split(want, "\n"), strings.Split(rest, "\n")); d != "" {
		t.Errorf("trace lines (-want +got):\n%s", d)
	}
}

func TestGroupTracesSharesConstants(t *testing.T) {
	a := &Trace{Source: "b", Ready: []int{1}}
	b := &Trace{Source: "a", Ready: []int{1}}
	c := &Trace{Source: "c", Grouped: []int{1, 2}}
	gs := GroupTraces([]*Trace{a, b, c}, 2)
	if len(gs) != 2 {
		t.Fatalf("%d groups, want 2", len(gs))
	}
	// Keys sort as JSON: "grouped":[1,2] before "grouped":[].
	if gs[0].Traces[0] != c || gs[1].Traces[0] != b || gs[1].Traces[1] != a {
		t.Errorf("groups are not in the fixed order: %+v", gs)
	}
	if gs[1].Header.Traces != 2 || gs[1].Header.MaxDrains != 2 {
		t.Errorf("header %+v: want 2 traces, max_drains 2", gs[1].Header)
	}
}

func TestConvertRefusesWhatTheFormatCannotSay(t *testing.T) {
	nine := `{"responses": [{"greeting": {}}, {"cmd": "qmp_capabilities", "return": {}}], "events": [`
	for i, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		if i > 0 {
			nine += ","
		}
		nine += `{"event": "JOB_STATUS_CHANGE", "data": {"id": "` + id + `", "status": "created"}}`
	}
	nine += `]}`
	cases := map[string]struct{ scn, tr, want string }{
		"nine jobs": {`{"steps": []}`, nine, "more than 8 jobs"},
		"orphan event": {`{"steps": []}`,
			`{"responses": [{"greeting": {}}, {"cmd": "qmp_capabilities", "return": {}}],
			  "events": [{"event": "JOB_STATUS_CHANGE", "data": {"id": "x", "status": "running"}}]}`,
			"has no created event"},
		"missing response": {`{"steps": [{"send": {"execute": "query-jobs"}}]}`,
			`{"responses": [{"greeting": {}}, {"cmd": "qmp_capabilities", "return": {}}], "events": []}`,
			"step 0 has no response"},
		"wait never met": {`{"steps": [{"wait_event": "BLOCK_JOB_READY"}]}`,
			`{"responses": [{"greeting": {}}, {"cmd": "qmp_capabilities", "return": {}}], "events": []}`,
			"not in the events"},
	}
	for name, c := range cases {
		_, err := Convert(name, decode[conformance.Scenario](t, c.scn), decode[conformance.Transcript](t, c.tr))
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Reason, c.want) {
			t.Errorf("%s: error %v, want a *qemutrace.Error containing %q", name, err, c.want)
		}
	}
}

func TestVerdicts(t *testing.T) {
	dump := `State 1:
/\ tr = 1
/\ l = 1
/\ c = 1
/\ done = FALSE

State 2:
/\ tr = 1
/\ l = 4
/\ c = 2
/\ done = TRUE

State 3:
/\ tr = 2
/\ l = 3
/\ c = 1
/\ done = FALSE

State 4:
/\ tr = 2
/\ l = 2
/\ c = 3
/\ done = FALSE
`
	got, err := Verdicts([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]Progress{1: {Done: true, Events: 3, Cmds: 1}, 2: {Events: 2, Cmds: 0}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
	if _, err := Verdicts([]byte("nothing")); err == nil {
		t.Error("a dump without TraceQemu states gave no error")
	}
}

func TestGatherGroupedCreation(t *testing.T) {
	ev := func(job, from, to string) Line { return Line{Op: "trigger", Job: job, From: from, To: to} }
	tr := &Trace{
		Events: []Line{
			ev("j1", "undefined", "created"), ev("j1", "created", "running"),
			ev("j2", "undefined", "created"), // grouped a
			ev("j1", "running", "paused"), ev("j1", "paused", "running"),
			ev("j3", "undefined", "created"), // grouped b
			ev("j2", "created", "running"),
		},
		Commands: []Line{{Op: "query", After: ptr(4)}, {Op: "query", After: ptr(6)}},
	}
	if err := gatherGroupedCreation(tr, map[int]bool{2: true, 3: true}); err != nil {
		t.Fatal(err)
	}
	want := []Line{
		ev("j1", "undefined", "created"), ev("j1", "created", "running"),
		ev("j2", "undefined", "created"), ev("j3", "undefined", "created"),
		ev("j1", "running", "paused"), ev("j1", "paused", "running"),
		ev("j2", "created", "running"),
	}
	if d := cmp.Diff(want, tr.Events); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if *tr.Commands[0].After != 3 || *tr.Commands[1].After != 6 {
		t.Errorf("anchors %d, %d: want 3 (inside the moved range) and 6", *tr.Commands[0].After, *tr.Commands[1].After)
	}
	bad := &Trace{Events: []Line{
		ev("j2", "undefined", "created"), ev("j1", "running", "aborting"), ev("j3", "undefined", "created"),
	}}
	if err := gatherGroupedCreation(bad, map[int]bool{2: true, 3: true}); err == nil {
		t.Error("an abort between the members' created events was jumped over")
	}
}
