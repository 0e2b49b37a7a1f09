package timeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/timeline"
)

func summary(t *testing.T, data string) []string {
	t.Helper()
	r, err := timeline.Load([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return timeline.Build(r).Summary()
}

func TestLoadTraceRecords(t *testing.T) {
	trace := `{"op":"config","seed":1,"n":1}
{"t":0,"op":"trigger","job":"j","trigger":"create","from":"undefined","to":"created"}
{"t":0,"op":"verb","job":"j","verb":"finalize","from":"created","to":"created","err":"Job 'j' in state 'created' cannot accept command verb 'finalize'"}
{"t":0,"op":"trigger","job":"j","trigger":"start","from":"created","to":"running"}
{"t":5,"op":"verb","job":"j","verb":"cancel","from":"running","to":"running","force":true}
{"t":5,"op":"drain","job":"j","from":"undefined","to":"undefined","action":"begin"}
{"t":5,"op":"monitor","job":"","from":"undefined","to":"undefined","mon":2,"action":"disconnect"}
{"t":5,"op":"trigger","job":"j","trigger":"run-failed","from":"running","to":"aborting"}
{"t":5,"op":"trigger","job":"j","trigger":"abort","from":"aborting","to":"aborting"}
{"t":5,"op":"trigger","job":"j","trigger":"conclude","from":"aborting","to":"concluded"}
{"t":5,"op":"trigger","job":"j","trigger":"auto-dismiss","from":"concluded","to":"null"}
`
	r, err := timeline.Load([]byte(trace))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"j: created -> running -> aborting -> concluded -> null"}, timeline.Build(r).Summary()); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
	// The self-transition emits no event; the refused verb is a failed
	// command placed after created.
	if len(r.Events) != 5 || len(r.Commands) != 4 || r.Commands[0].EventSeq != 1 || r.Commands[0].Error == "" {
		t.Fatalf("run %+v", r)
	}
	var ops []string
	for _, c := range r.Commands[1:] {
		ops = append(ops, c.Op+"/"+c.Detail+"/"+c.Job)
	}
	if diff := cmp.Diff([]string{"cancel/force/j", "drain-begin//j", "monitor 2 disconnect//"}, ops); diff != "" {
		t.Fatalf("commands (-want +got):\n%s", diff)
	}
}

func TestLoadQMPEvents(t *testing.T) {
	// A QEMU transcript's shape: {"events": [{"event", "data"}...]}.
	doc := `{"events": [
	  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "created"}},
	  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "running"}},
	  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "ready"}},
	  {"event": "BLOCK_JOB_READY", "data": {"type": "mirror", "device": "m0", "len": 10, "offset": 10, "speed": 0}},
	  {"event": "BLOCK_JOB_ERROR", "data": {"device": "m0", "operation": "write", "action": "ignore"}},
	  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "aborting"}},
	  {"event": "BLOCK_JOB_COMPLETED", "data": {"type": "mirror", "device": "m0", "len": 10, "offset": 3, "speed": 0, "error": "Input/output error"}},
	  {"event": "JOB_STATUS_CHANGE", "data": {"id": "m0", "status": "concluded"}}
	], "responses": []}`
	want := []string{"m0: created -> running -> ready -> aborting -> concluded [READY, ERROR write ignore, COMPLETED error=Input/output error]"}
	if diff := cmp.Diff(want, summary(t, doc)); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
	// The same as NDJSON, one event per line.
	nd := `{"event": "JOB_STATUS_CHANGE", "data": {"id": "a", "status": "created"}}
{"event": "BLOCK_JOB_PENDING", "data": {"type": "backup", "id": "a"}}
{"seq": 2, "time_ns": 7, "event": "JOB_STATUS_CHANGE", "job": "a", "status": "null"}`
	if diff := cmp.Diff([]string{"a: created -> null [PENDING]"}, summary(t, nd)); diff != "" {
		t.Fatalf("summary (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty log"},
		{"hello", "line 1: not JSON"},
		{`{"op":"trigger","job":"j","from":"created","to":"running"}` + "\n" + `{"op":""}`, `line 2: trace record without an op`},
		{`{"op":"trigger","job":"j","from":"nowhere","to":"running"}`, "line 1: bad trace record"},
		{`{"event":"JOB_STATUS_CHANGE","data":{"id":"a","status":"sleeping"}}`, `line 1: unknown job status "sleeping"`},
		{`{"event":"SHUTDOWN","data":{}}`, `line 1: unknown event "SHUTDOWN"`},
		{`{"event":"JOB_STATUS_CHANGE","data":{"status":"created"}}`, "line 1: JOB_STATUS_CHANGE without a job id"},
		{`{"x": 1}` + "\n" + `{"y": 2}`, `line 1: neither a trace record`},
		{`{"events": [{"event": "BLOCK_JOB_READY", "data": {"type": "mirror"}}]}`, "events[0]: BLOCK_JOB_READY without a job id"},
		{`{"events": []}`, "no events"},
	} {
		_, err := timeline.Load([]byte(c.in))
		var le *timeline.LoadError
		if err == nil || !errors.As(err, &le) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Load(%.40q) = %v, want a LoadError starting %q", c.in, err, c.want)
		}
	}
}
