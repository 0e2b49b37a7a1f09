package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// MaxSize is the largest scenario file accepted.
const MaxSize = 4 << 20

// Scenario is one scripted run.
type Scenario struct {
	Name string `json:"name"`
	Note string `json:"note,omitempty"`
	// Transcript names the QEMU 7.2 transcript (in the reference's
	// qemu-transcripts/scenarios) whose per-job event sequences this
	// scenario reproduces with test-driver jobs.
	Transcript string `json:"transcript,omitempty"`
	Seed       uint64 `json:"seed,omitempty"`
	// QEMU is the version the scenario follows ("7.2", the default, or
	// "10.0"): its verb table and commands (block-job-change is a command
	// at 10.0 only). Run uses it; `jobsim run --qemu` overrides it.
	QEMU fsm.Version `json:"qemu,omitempty"`
	// Jobs are the test-driver scripts, by job id.
	Jobs map[string]Driver `json:"jobs"`
	// Steps run in order.
	Steps []Step `json:"steps"`
	// Events, when present, is the complete expected event log, each event
	// in sim.Event's String form ("j0 running", "BLOCK_JOB_PENDING j0", …).
	Events []string `json:"events,omitempty"`
	// Calls, when present, are the expected driver callbacks per job
	// ("prepare", "commit", "abort", "clean", "free", "complete").
	Calls map[string][]string `json:"calls,omitempty"`
}

// Driver is the JSON form of sim.TestSpec.
type Driver struct {
	Type      string `json:"type,omitempty"`
	Steps     int    `json:"steps"`
	StepNS    int64  `json:"step_ns,omitempty"`
	StepBytes int64  `json:"step_bytes,omitempty"`
	Ready     bool   `json:"ready,omitempty"`
	FailAt    int    `json:"fail_at,omitempty"`
	FailErrno int    `json:"fail_errno,omitempty"`
	FailMsg   string `json:"fail_msg,omitempty"`
	IOErrorAt int    `json:"io_error_at,omitempty"`
	IOErrno   int    `json:"io_errno,omitempty"`
	OnError   string `json:"on_error,omitempty"`
	IORead    bool   `json:"io_read,omitempty"`
	// PrepareErrno > 0 makes prepare fail with that errno.
	PrepareErrno int `json:"prepare_errno,omitempty"`
	// Changeable gives the job a change callback that accepts every
	// block-job-change (sim.TestSpec.Changeable); without it the job
	// answers "Job type does not support change", as a backup does.
	Changeable bool `json:"changeable,omitempty"`
}

// Step is one command or simulator step.
type Step struct {
	Op string `json:"op"`
	ID string `json:"id,omitempty"`
	// create
	Txn            string `json:"txn,omitempty"`
	ManualFinalize bool   `json:"manual_finalize,omitempty"`
	ManualDismiss  bool   `json:"manual_dismiss,omitempty"`
	Speed          *int64 `json:"speed,omitempty"`
	// block-job-cancel
	Force bool `json:"force,omitempty"`
	// block-job-change: the union branch QMP's "type" names (default
	// mirror; QEMU does not check it against the job's type) and, for
	// mirror, its copy_mode ("background" or "write-blocking").
	Type     string `json:"type,omitempty"`
	CopyMode string `json:"copy_mode,omitempty"`
	// advance
	NS int64 `json:"ns,omitempty"`
	// until
	Status string `json:"status,omitempty"`
	// query: the job's expected query-jobs status ("null": absent) and
	// error text.
	JobError *string `json:"job_error,omitempty"`
	// Error is the error text the step must fail with ("" = must succeed).
	Error string `json:"error,omitempty"`
	// Class is the expected QMP error class (default GenericError when
	// Error is set).
	Class string `json:"class,omitempty"`
}

// Ops lists every step op: the simulator's own, then the QMP job-control
// commands of every version as sim's verb dispatcher names them (whether
// one is a command in a run depends on the scenario's version).
var Ops = func() []string {
	ops := []string{"create", "start", "drain-begin", "drain-end", "advance", "run", "until", "settle", "query"}
	for _, v := range fsm.Versions() {
		for _, c := range sim.VerbCommandsAt(v) {
			if !slices.Contains(ops, c.Name()) {
				ops = append(ops, c.Name())
			}
		}
	}
	return ops
}()

// changeTypes are QAPI JobType's values, block-job-change's "type".
var changeTypes = []sim.JobType{sim.TypeCommit, sim.TypeStream, sim.TypeMirror, sim.TypeBackup, sim.TypeCreate,
	sim.TypeAmend, sim.TypeSnapshotLoad, sim.TypeSnapshotSave, sim.TypeSnapshotDelete}

// Parse decodes and validates a scenario. Unknown fields are errors.
func Parse(data []byte) (*Scenario, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("scenario is %d bytes, more than the %d allowed", len(data), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if dec.More() {
		return nil, errors.New("scenario: trailing data after the JSON object")
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Load reads and parses a scenario file.
func Load(path string) (*Scenario, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", path, fi.Size(), MaxSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Scenario) validate() error {
	for i, st := range s.Steps {
		if !slices.Contains(Ops, st.Op) {
			return fmt.Errorf("scenario: step %d: unknown op %q (known: %s)", i, st.Op, strings.Join(Ops, ", "))
		}
		if st.Op == "create" {
			if _, ok := s.Jobs[st.ID]; !ok {
				return fmt.Errorf("scenario: step %d: create %q: no driver under \"jobs\"", i, st.ID)
			}
		}
		if st.Op == "until" || st.Op == "query" {
			if _, ok := fsm.ParseStatus(st.Status); !ok {
				return fmt.Errorf("scenario: step %d: unknown status %q", i, st.Status)
			}
		}
		if st.Op == "advance" && st.NS < 0 {
			return fmt.Errorf("scenario: step %d: advance by a negative time", i)
		}
		if st.Op == "block-job-change" {
			if err := validateChange(st); err != nil {
				return fmt.Errorf("scenario: step %d: %w", i, err)
			}
		} else if st.Type != "" || st.CopyMode != "" {
			return fmt.Errorf("scenario: step %d: %s takes no type or copy_mode (only block-job-change does)", i, st.Op)
		}
	}
	for id, d := range s.Jobs {
		if d.Steps < 0 || d.StepNS < 0 || d.StepBytes < 0 {
			return fmt.Errorf("scenario: job %q: negative steps, step_ns or step_bytes", id)
		}
		if d.OnError != "" {
			if _, ok := sim.ParseOnError(d.OnError); !ok {
				return fmt.Errorf("scenario: job %q: unknown on_error %q", id, d.OnError)
			}
		}
	}
	return nil
}

// validateChange checks a block-job-change step's arguments as QMP's
// input checks would, so a scenario cannot ask for what QEMU refuses
// before the command runs.
func validateChange(st Step) error {
	typ := st.changeType()
	if !slices.Contains(changeTypes, typ) {
		return fmt.Errorf("block-job-change: unknown type %q (QEMU: Parameter 'type' does not accept value '%s')", st.Type, st.Type)
	}
	if typ != sim.TypeMirror {
		if st.CopyMode != "" {
			return fmt.Errorf("block-job-change: copy_mode belongs to type mirror, not %s", typ)
		}
		return nil
	}
	switch st.CopyMode {
	case "background", "write-blocking":
		return nil
	case "":
		return errors.New("block-job-change of type mirror needs copy_mode (QEMU: Parameter 'copy-mode' is missing)")
	}
	return fmt.Errorf("block-job-change: unknown copy_mode %q (want background or write-blocking)", st.CopyMode)
}

// changeType is the step's block-job-change type, mirror when unset.
func (st Step) changeType() sim.JobType {
	if st.Type == "" {
		return sim.TypeMirror
	}
	return sim.JobType(st.Type)
}

// spec converts the JSON driver to a sim.TestSpec.
func (d Driver) spec() sim.TestSpec {
	ts := sim.TestSpec{
		Type: sim.JobType(d.Type), Steps: d.Steps, StepTime: d.StepNS, StepBytes: d.StepBytes,
		Ready: d.Ready, FailAt: d.FailAt, FailErrno: errno.Errno(d.FailErrno), FailMsg: d.FailMsg,
		IOErrorAt: d.IOErrorAt, IOErrno: errno.Errno(d.IOErrno), OnError: sim.OnError(d.OnError), IORead: d.IORead,
		Changeable: d.Changeable,
	}
	if d.PrepareErrno > 0 {
		ts.PrepareErr = &sim.JobError{Errno: errno.Errno(d.PrepareErrno)}
	}
	return ts
}

// StepResult is what one step did.
type StepResult struct {
	Index int    `json:"index"`
	Op    string `json:"op"`
	ID    string `json:"id,omitempty"`
	Time  int64  `json:"time_ns"`
	// EventSeq is the number of events emitted before the step ran, so a
	// timeline can place the step among the events.
	EventSeq int    `json:"event_seq"`
	Error    string `json:"error,omitempty"`
	Class    string `json:"class,omitempty"`
}

// Result is a finished run.
type Result struct {
	Scenario *Scenario                  `json:"-"`
	Events   []sim.Event                `json:"events"`
	Steps    []StepResult               `json:"steps"`
	Drivers  map[string]*sim.TestDriver `json:"-"`
	// Mismatches lists every expectation the run did not meet.
	Mismatches []string `json:"mismatches,omitempty"`
}

// OK reports whether every expectation was met.
func (r *Result) OK() bool { return len(r.Mismatches) == 0 }

// EventStrings returns the event log in the scenario "events" form.
func (r *Result) EventStrings() []string {
	out := make([]string, len(r.Events))
	for i, e := range r.Events {
		out[i] = e.String()
	}
	return out
}

// RunLimit bounds "run" steps: virtual time and queued entries.
const (
	runHorizon = int64(1e15) // ~11.5 days of virtual time
	runEntries = 10_000_000
)

// RunLimitError is a "run" step that stopped at a bound with work still
// queued: after Entries queued entries, at virtual time Now, with the next
// entry due at NextDue.
type RunLimitError struct {
	Entries      int
	Now, NextDue int64
}

func (e *RunLimitError) Error() string {
	if e.NextDue > runHorizon {
		return fmt.Sprintf("run stopped at the horizon of %d ns of virtual time with work still queued (next due at %d ns): a job never finishes", runHorizon, e.NextDue)
	}
	return fmt.Sprintf("run stopped after %d queued entries at %d ns with work still due: a job never finishes", e.Entries, e.Now)
}

// Run executes the scenario on a fresh manager seeded with s.Seed, at
// version s.QEMU.
func (s *Scenario) Run() *Result {
	return s.RunWith(sim.Options{Seed: s.Seed, Version: s.QEMU})
}

// RunWith executes the scenario with the given manager options.
func (s *Scenario) RunWith(opts sim.Options) *Result {
	m := sim.New(opts)
	rec := m.Record()
	res := &Result{Scenario: s, Drivers: map[string]*sim.TestDriver{}}
	txns := map[string]*sim.Txn{}
	for i, st := range s.Steps {
		sr := StepResult{Index: i, Op: st.Op, ID: st.ID, Time: m.Now(), EventSeq: len(rec.Events())}
		err := s.step(m, st, txns, res)
		if err != nil {
			sr.Error = err.Error()
			sr.Class = qerr.ClassOf(err)
		}
		res.Steps = append(res.Steps, sr)
		if sr.Error != st.Error {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("step %d (%s %s): error %q, want %q", i, st.Op, st.ID, sr.Error, st.Error))
		} else if st.Error != "" {
			want := st.Class
			if want == "" {
				want = qerr.GenericError
			}
			if sr.Class != want {
				res.Mismatches = append(res.Mismatches, fmt.Sprintf("step %d (%s %s): error class %s, want %s", i, st.Op, st.ID, sr.Class, want))
			}
		}
	}
	res.Events = append([]sim.Event(nil), rec.Events()...)
	for id, want := range s.Calls {
		var got []string
		if d := res.Drivers[id]; d != nil {
			got = d.Calls
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("job %s driver calls %v, want %v", id, got, want))
		}
	}
	if s.Events != nil {
		got := res.EventStrings()
		if strings.Join(got, "\n") != strings.Join(s.Events, "\n") {
			res.Mismatches = append(res.Mismatches, "event log differs:\n  got:  "+strings.Join(got, ", ")+"\n  want: "+strings.Join(s.Events, ", "))
		}
	}
	return res
}

var errNoJob = errors.New("no such job")

func (s *Scenario) step(m *sim.Manager, st Step, txns map[string]*sim.Txn, res *Result) error {
	job := func() (*sim.Job, error) {
		if j := m.Job(st.ID); j != nil {
			return j, nil
		}
		return nil, fmt.Errorf("%w %q", errNoJob, st.ID)
	}
	switch st.Op {
	case "create":
		var txn *sim.Txn
		if st.Txn != "" {
			if txns[st.Txn] == nil {
				txns[st.Txn] = m.NewTxn()
			}
			txn = txns[st.Txn]
		}
		d := sim.NewTestDriver(s.Jobs[st.ID].spec())
		res.Drivers[st.ID] = d
		spec := sim.JobSpec{ID: st.ID, Driver: d, Txn: txn, ManualFinalize: st.ManualFinalize, ManualDismiss: st.ManualDismiss}
		if st.Speed != nil {
			spec.Speed = *st.Speed
		}
		_, err := m.Create(spec)
		return err
	case "start":
		j, err := job()
		if err != nil {
			return err
		}
		return m.Start(j)
	case "drain-begin", "drain-end":
		j, err := job()
		if err != nil {
			return err
		}
		if st.Op == "drain-begin" {
			m.DrainBegin(j)
		} else {
			if j.PauseCount() == 0 {
				return errors.New("drain-end without drain-begin")
			}
			m.DrainEnd(j)
		}
		return nil
	case "advance":
		m.Advance(st.NS)
		return nil
	case "settle":
		m.Settle()
		return nil
	case "run":
		// "run" means: until nothing is left to do. Work still queued at
		// either bound is a job that never settles (a driver that never
		// waits, or one that runs for longer than the horizon); stopping
		// there silently would report a half-run scenario as passed.
		for n := 0; ; n++ {
			at, ok := m.NextDue()
			if !ok {
				return nil
			}
			if at > runHorizon {
				return &RunLimitError{Entries: n, Now: m.Now(), NextDue: at}
			}
			if n == runEntries {
				return &RunLimitError{Entries: n, Now: m.Now(), NextDue: at}
			}
			m.Step()
		}
	case "query":
		return s.query(m, st, res)
	case "until":
		want, _ := fsm.ParseStatus(st.Status)
		reached := m.RunUntil(func() bool {
			j := m.Job(st.ID)
			return j != nil && j.Status() == want
		}, runHorizon)
		if !reached {
			return fmt.Errorf("job %q never reached status %s", st.ID, want)
		}
		return nil
	}
	// The QMP verbs of the manager's version; a verb command of another
	// version (block-job-change at 7.2) is not a command here, and QEMU
	// answers CommandNotFound.
	c, ok := sim.ParseVerbCommandAt(m.Version(), st.Op)
	if !ok {
		return qerr.NoSuchCommand(st.Op)
	}
	c.ID, c.Force = st.ID, st.Force
	if st.Speed != nil {
		c.Speed = *st.Speed
	}
	if c.Verb == fsm.VerbChange {
		c.Change = sim.ChangeOptions{Type: st.changeType(), CopyMode: st.CopyMode}
	}
	return m.Apply(c)
}

// query checks query-jobs for one job.
func (s *Scenario) query(m *sim.Manager, st Step, res *Result) error {
	want, _ := fsm.ParseStatus(st.Status)
	var info *sim.JobInfo
	for _, in := range m.QueryJobs() {
		if in.ID == st.ID {
			in := in
			info = &in
		}
	}
	got := fsm.Null
	if info != nil {
		got = info.Status
	}
	if got != want {
		res.Mismatches = append(res.Mismatches, fmt.Sprintf("query-jobs: job %s status %s, want %s", st.ID, got, want))
	}
	if st.JobError != nil {
		var e string
		if info != nil && info.Error != nil {
			e = *info.Error
		}
		if e != *st.JobError {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("query-jobs: job %s error %q, want %q", st.ID, e, *st.JobError))
		}
	}
	return nil
}
