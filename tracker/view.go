package tracker

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// View records what a tracker saw and did, as NDJSON that timeline.Load
// reads (so `jobsim replay FILE` draws it as one lane per job):
//
//   - every job event its monitor delivered, in QMP's {"event","data"}
//     form plus "time_ns" (only the events the timeline knows:
//     JOB_STATUS_CHANGE and BLOCK_JOB_*; others are left out);
//   - every command it sent, as {"op": COMMAND, "job": ID, "err": TEXT},
//     err being QEMU's error text when refused (or the connection's
//     failure); a transaction is one record per member action;
//   - its connects and lost connections ({"op":"connect"},
//     {"op":"disconnect","err":…}), which name no job;
//   - each verdict it journaled, {"op":"verdict","job":ID,"action":
//     "succeeded"} (a failure's text after a colon; a refused start's
//     verdict too), and each bitmap
//     verdict a job's end decided, {"op":"bitmap","job":ID,"action":
//     "NODE/NAME ok"}.
//
// A command's record is written when its answer arrives, followed by the
// events read while waiting for it: those are drawn after the command,
// which is where QEMU emits the events a command causes (before its
// return). An event that QEMU sent before the command but the tracker had
// not read yet is therefore drawn after it too: the view is the tracker's
// order of learning, not QEMU's order of happening.
//
// Times ("t", "time_ns") are wall-clock nanoseconds since the view file's
// first record: the tracker has no access to QEMU's clock, and one view file
// collects several `jobsim tracker` runs, whose gaps then show. The first
// line is a header, {"op":"config","view":"tracker","start_unix_ns":…},
// which timeline.Load skips and OpenView reads back to continue the same
// time axis.
//
// A View is safe for concurrent use. Writing is best effort: the tracker's
// protocol never waits for or fails on its view; the first write error is
// kept and returned by Err and Close.
type View struct {
	mu    sync.Mutex
	w     io.Writer
	c     io.Closer
	now   func() time.Time
	start time.Time
	err   error
}

// viewHeader is a view file's first line.
type viewHeader struct {
	Op    string `json:"op"`
	View  string `json:"view"`
	Start int64  `json:"start_unix_ns"`
}

// NewView starts a view on w. Its header is written with the first
// record, whose time is the view's time 0. now is the clock (time.Now when
// nil; tests pass a fake one).
func NewView(w io.Writer, now func() time.Time) *View {
	if now == nil {
		now = time.Now
	}
	return &View{w: w, now: now}
}

// ViewFileError is a view file that cannot be appended to.
type ViewFileError struct {
	Path string
	Err  error
}

func (e *ViewFileError) Error() string { return fmt.Sprintf("view %s: %v", e.Path, e.Err) }
func (e *ViewFileError) Unwrap() error { return e.Err }

// OpenView appends to the view file at path, creating it (with its header)
// when missing or empty. An existing file must start with a view header,
// whose start time the new records continue from; any other file is left
// as it was and refused.
func OpenView(path string, now func() time.Time) (*View, error) {
	if now == nil {
		now = time.Now
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &ViewFileError{path, err}
	}
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, &ViewFileError{path, err}
	}
	if len(line) == 0 {
		v := NewView(f, now)
		v.c = f
		return v, nil
	}
	var h viewHeader
	if json.Unmarshal(line, &h) != nil || h.Op != "config" || h.View != "tracker" || h.Start == 0 {
		f.Close()
		return nil, &ViewFileError{path, errors.New(`not a tracker view: its first line is not {"op":"config","view":"tracker",…}`)}
	}
	return &View{w: f, c: f, now: now, start: time.Unix(0, h.Start)}, nil
}

// Err returns the first write error.
func (v *View) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Close closes the file OpenView opened and returns the first error.
func (v *View) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.c != nil {
		if err := v.c.Close(); err != nil && v.err == nil {
			v.err = err
		}
		v.c = nil
	}
	return v.err
}

// record is a timeline.Load trace record of a step that is not an event.
type record struct {
	Time   int64  `json:"t"`
	Op     string `json:"op"`
	Job    string `json:"job,omitempty"`
	Action string `json:"action,omitempty"`
	Err    string `json:"err,omitempty"`
}

// eventRecord is an event in QMP's form, with the view's time.
type eventRecord struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Time  int64           `json:"time_ns"`
}

// jobEvents are the events the timeline draws, each naming its job.
var jobEvents = map[string]bool{
	"JOB_STATUS_CHANGE": true, "BLOCK_JOB_PENDING": true, "BLOCK_JOB_ERROR": true,
	"BLOCK_JOB_READY": true, "BLOCK_JOB_COMPLETED": true, "BLOCK_JOB_CANCELLED": true,
}

// elapsed is the time of a new record; the first one writes the header.
func (v *View) elapsed() int64 {
	t := v.now()
	if v.start.IsZero() {
		v.start = t
		v.write(viewHeader{Op: "config", View: "tracker", Start: t.UnixNano()})
	}
	return t.Sub(v.start).Nanoseconds()
}

// write appends one line; v.mu is held or v is not shared yet.
func (v *View) write(x any) {
	if v.err != nil {
		return
	}
	b, err := json.Marshal(x)
	if err != nil {
		v.err = err
		return
	}
	// one Write per line: with O_APPEND a crash cuts at most the last line
	if _, err := v.w.Write(append(b, '\n')); err != nil {
		v.err = err
	}
}

func (v *View) step(op, job, action string, err error) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	r := record{Time: v.elapsed(), Op: op, Job: job, Action: action}
	if err != nil {
		r.Err = errorText(err)
	}
	v.write(r)
}

func (v *View) events(es []Event) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range es {
		if jobEvents[e.Name] {
			v.write(eventRecord{Event: e.Name, Data: e.Data, Time: v.elapsed()})
		}
	}
}

// errorText is QEMU's text of a refusal, or the error itself.
func errorText(err error) string {
	var qe *QMPError
	if errors.As(err, &qe) {
		return qe.Desc
	}
	return err.Error()
}

// commandJobs returns the jobs a command names: its job-id, id or device
// argument, or a transaction's members (with their action types). A
// command that names none (query-jobs) yields one entry with job "".
func commandJobs(cmd string, args any) (ops, jobs []string) {
	b, err := json.Marshal(args)
	if err != nil {
		return []string{cmd}, []string{""}
	}
	var a struct {
		JobID   string `json:"job-id"`
		ID      string `json:"id"`
		Actions []struct {
			Type string `json:"type"`
			Data struct {
				JobID string `json:"job-id"`
			} `json:"data"`
		} `json:"actions"`
	}
	_ = json.Unmarshal(b, &a)
	if cmd == "transaction" && len(a.Actions) > 0 {
		for _, act := range a.Actions {
			ops = append(ops, cmd+" "+act.Type)
			jobs = append(jobs, act.Data.JobID)
		}
		return ops, jobs
	}
	job := a.JobID
	if job == "" {
		job = a.ID
	}
	return []string{cmd}, []string{job}
}

// command records one answered (or failed) command and then the events
// read while waiting for its answer.
func (v *View) command(cmd string, args any, err error, seen []Event) {
	if v == nil {
		return
	}
	ops, jobs := commandJobs(cmd, args)
	for i := range ops {
		v.step(ops[i], jobs[i], "", err)
	}
	v.events(seen)
}
