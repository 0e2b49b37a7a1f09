package qmp

import (
	"errors"
	"io"
	"sort"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// Options configure a Dispatcher.
type Options struct {
	// Seed is the simulator's tie-break seed.
	Seed uint64
	// Version is the QEMU version spoken (zero: fsm.DefaultVersion, 7.2).
	Version fsm.Version
	// Epoch is the wall-clock time that virtual time 0 stands for in event
	// timestamps; zero means the time the dispatcher was created.
	Epoch time.Time
	// TestCommands enables jobsim's own x-jobsim-* commands (scriptable
	// test jobs), which QEMU does not have.
	TestCommands bool
	// Tracer receives the simulator's trace records.
	Tracer func(sim.TraceRecord)
}

// handler runs one command with checked arguments. A nil result is sent as
// {} (QEMU's answer for commands without a return value).
type handler func(s *Session, args *Object) (any, error)

// Dispatcher is the QMP command layer over one simulator: it owns the
// sim.Manager (and the block graph), executes decoded messages (or raw
// lines via Session.HandleLine) and is not safe for concurrent use — exactly one goroutine (the Server's loop, or an
// in-process test) drives it, which is what keeps runs deterministic.
type Dispatcher struct {
	opts     Options
	m        *sim.Manager
	schema   *qapiSchema
	handlers map[string]handler
	sessions []*Session
	epoch    time.Time
	quit     bool
	blk      *blockLayer
	hooks    []CommandHook // OnCommand
	// settleBudget, when positive, bounds what Handle runs after a command
	// (sim.Manager.SettleAtMost): the Server's loop runs the rest between
	// looks at its clients. Zero settles completely, for in-process drivers.
	settleBudget int
}

// NewDispatcher returns a dispatcher over a fresh simulator at virtual time 0.
func NewDispatcher(opts Options) *Dispatcher {
	d := &Dispatcher{
		opts:   opts,
		m:      sim.New(sim.Options{Seed: opts.Seed, Version: opts.Version, Tracer: opts.Tracer}),
		schema: mustSchema(opts.Version),
		epoch:  opts.Epoch,
	}
	if d.epoch.IsZero() {
		d.epoch = time.Now()
	}
	d.handlers = map[string]handler{}
	d.registerCore()
	d.registerJobs()
	d.blk = newBlockLayer(d)
	d.blk.register()
	if opts.TestCommands {
		d.registerTest()
	}
	d.m.Subscribe(d.deliver)
	return d
}

// mustSchema is loadSchema for a version fsm knows: every fsm.Version has a
// recorded schema (TestEveryVersionHasASchema), so a failure here is a
// build without go generate, not bad input.
func mustSchema(v fsm.Version) *qapiSchema {
	s, err := loadSchema(v)
	if err != nil {
		panic(err)
	}
	return s
}

// Step runs the simulator's next queued entry, advancing the virtual clock
// to it, then everything that entry made due now; false when nothing is
// queued (the simulator is idle and nothing more will happen by itself).
func (d *Dispatcher) Step() bool {
	if !d.m.Step() {
		return false
	}
	d.m.Settle()
	return true
}

// Advance runs everything due within ns nanoseconds of virtual time, then
// sets the clock to now+ns.
func (d *Dispatcher) Advance(ns int64) { d.m.Advance(ns) }

// Settle runs everything due now without advancing the clock.
func (d *Dispatcher) Settle() { d.m.Settle() }

// Job returns the job with the given id, nil when there is none.
func (d *Dispatcher) Job(id string) *sim.Job { return d.m.Job(id) }

// Jobs returns every job, newest first (QEMU's list order).
func (d *Dispatcher) Jobs() []*sim.Job { return d.m.Jobs() }

// QueryJobs is query-jobs' answer, read directly.
func (d *Dispatcher) QueryJobs() []sim.JobInfo { return d.m.QueryJobs() }

// Subscribe calls fn with every event the simulator emits, as monitors
// see them (qmptest's contract checker follows the jobs with it).
func (d *Dispatcher) Subscribe(fn func(sim.Event)) { d.m.Subscribe(fn) }

// Quit reports whether a client sent quit.
func (d *Dispatcher) Quit() bool { return d.quit }

// Session is one QMP monitor: a connection's negotiation state and the
// messages queued for it. While disconnected it receives nothing, so events
// emitted meanwhile are lost to it, as on a real socket.
type Session struct {
	d          *Dispatcher
	negotiated bool
	oob        bool
	connected  bool
	out        [][]byte
	lost       int
}

// Connect opens a new monitor and queues its greeting.
func (d *Dispatcher) Connect() *Session {
	s := &Session{d: d, connected: true}
	d.sessions = append(d.sessions, s)
	g := NewObject()
	q := NewObject()
	q.Set("version", d.schema.version)
	q.Set("capabilities", []any{"oob"})
	g.Set("QMP", q)
	s.out = append(s.out, Encode(g))
	return s
}

// Close ends the session; it receives nothing more.
func (s *Session) Close() {
	s.connected = false
	for i, x := range s.d.sessions {
		if x == s {
			s.d.sessions = append(s.d.sessions[:i:i], s.d.sessions[i+1:]...)
			break
		}
	}
}

// Take returns the messages queued for the session (greeting, responses,
// events), each one JSON line without its newline.
func (s *Session) Take() [][]byte {
	out := s.out
	s.out = nil
	return out
}

// Pending reports whether messages are queued.
func (s *Session) Pending() bool { return len(s.out) > 0 }

// Lost is the number of events the session missed while not negotiated.
func (s *Session) Lost() int { return s.lost }

// timestamp is QEMU's event timestamp for virtual time ns.
func (d *Dispatcher) timestamp(ns int64) *Object {
	t := d.epoch.Add(time.Duration(ns))
	us := t.UnixMicro()
	return NewObject().Set("seconds", us/1e6).Set("microseconds", us%1e6)
}

// deliver queues an event for every negotiated session (monitor.c
// monitor_qapi_event_emit skips monitors still in capabilities
// negotiation).
func (d *Dispatcher) deliver(e sim.Event) {
	if e.Name == sim.EventJobStatusChange {
		// QEMU writes this event's members in its QDict's order,
		// "status" before "id" (measured on 7.2; the other job events'
		// orders are the sorted one Encode gives a map).
		d.emit(string(e.Name), NewObject().Set("status", e.Status.String()).Set("id", e.Job), e.Time)
		return
	}
	d.emit(string(e.Name), e.Data(), e.Time)
}

func (d *Dispatcher) emit(name string, data any, ns int64) {
	var line []byte
	for _, s := range d.sessions {
		if !s.connected || !s.negotiated {
			s.lost++
			continue
		}
		if line == nil {
			o := NewObject()
			o.Set("timestamp", d.timestamp(ns))
			o.Set("event", name)
			o.Set("data", data)
			line = Encode(o)
		}
		s.out = append(s.out, line)
	}
}

// HandleLine decodes and handles every message in one chunk of input, as if
// it had been read from the connection.
func (s *Session) HandleLine(b []byte) {
	dec := NewDecoder(bytesReader(b))
	for {
		v, err := dec.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			s.HandleError(err)
			continue
		}
		s.Handle(v)
	}
}

// HandleError answers a message the decoder rejected.
func (s *Session) HandleError(err error) {
	s.reply(nil, false, nil, qerr.Generic("%s", err.Error()))
}

// Handle executes one decoded message and queues the response, then lets
// the simulator run what the command made due (bottom halves), whose
// events follow the response.
func (s *Session) Handle(msg any) {
	id, hasID, res, err := s.dispatch(msg)
	s.reply(id, hasID, res, err)
	if s.d.settleBudget > 0 {
		s.d.m.SettleAtMost(s.d.settleBudget)
		return
	}
	s.d.m.Settle()
}

func (s *Session) reply(id any, hasID bool, res any, err error) {
	o := NewObject()
	if err != nil {
		if hasID {
			o.Set("id", id)
		}
		class := qerr.ClassOf(err)
		o.Set("error", NewObject().Set("class", class).Set("desc", err.Error()))
	} else {
		if res == nil {
			res = NewObject()
		}
		o.Set("return", res)
		if hasID {
			o.Set("id", id)
		}
	}
	s.out = append(s.out, Encode(o))
}

// dispatch is qmp_dispatch: the request's shape, then the command lookup
// (capabilities negotiation mode first), then the arguments, then the
// handler.
func (s *Session) dispatch(msg any) (id any, hasID bool, res any, err error) {
	req, ok := msg.(*Object)
	if !ok {
		return nil, false, nil, qerr.Generic("QMP input must be a JSON object")
	}
	id, hasID = req.Get("id")
	var name string
	var haveExec, oob bool
	for _, k := range req.Keys {
		v := req.M[k]
		switch k {
		case "execute", "exec-oob":
			if k == "exec-oob" && !s.oob {
				return id, hasID, nil, qerr.Generic("QMP input member '%s' is unexpected", k)
			}
			str, ok := v.(string)
			if !ok {
				return id, hasID, nil, qerr.Generic("QMP input member '%s' must be a string", k)
			}
			if haveExec {
				return id, hasID, nil, qerr.Generic("QMP input member 'execute' and 'exec-oob' are mutually exclusive")
			}
			name, haveExec, oob = str, true, k == "exec-oob"
		case "arguments":
			if _, ok := v.(*Object); !ok {
				return id, hasID, nil, qerr.Generic("QMP input member 'arguments' must be an object")
			}
		case "id":
		default:
			return id, hasID, nil, qerr.Generic("QMP input member '%s' is unexpected", k)
		}
	}
	if !haveExec {
		return id, hasID, nil, qerr.Generic("QMP input lacks member 'execute'")
	}
	h, known := s.d.handlers[name]
	if !s.negotiated && name != "qmp_capabilities" {
		// qmp_dispatch looks the command up in the negotiation command
		// list, which holds only qmp_capabilities: known or not, every
		// other name gets the same answer (measured on QEMU 7.2).
		return id, hasID, nil, qerr.New(qerr.CommandNotFound, "Expecting capabilities negotiation with 'qmp_capabilities'")
	}
	if !known {
		return id, hasID, nil, qerr.NoSuchCommand(name)
	}
	if oob {
		return id, hasID, nil, qerr.Generic("The command %s does not support OOB", name)
	}
	args := NewObject()
	if a, ok := req.Get("arguments"); ok {
		args = a.(*Object)
	}
	if cmd := s.d.schema.command(name); cmd != nil {
		if err := s.d.schema.checkArgs(cmd, args); err != nil {
			return id, hasID, nil, err
		}
	}
	if err := checkSimulated(name, args); err != nil {
		return id, hasID, nil, err
	}
	res, err = h(s, args)
	return id, hasID, res, err
}

// Commands returns the names of the commands this dispatcher implements, in
// QEMU's query-commands order (jobsim's own commands last).
func (d *Dispatcher) Commands() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range d.schema.commands {
		if _, ok := d.handlers[n]; ok {
			out = append(out, n)
			seen[n] = true
		}
	}
	var extra []string
	for n := range d.handlers {
		if !seen[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

func (d *Dispatcher) registerCore() {
	d.handlers["qmp_capabilities"] = func(s *Session, args *Object) (any, error) {
		if s.negotiated {
			return nil, qerr.New(qerr.CommandNotFound, "Capabilities negotiation is already complete, command ignored")
		}
		if en, ok := args.Get("enable"); ok {
			for _, c := range en.([]any) {
				if c == "oob" {
					s.oob = true
				}
			}
		}
		s.negotiated = true
		return nil, nil
	}
	d.handlers["query-version"] = func(s *Session, args *Object) (any, error) {
		return d.schema.version, nil
	}
	d.handlers["query-commands"] = func(s *Session, args *Object) (any, error) {
		var l []any
		for _, n := range d.Commands() {
			l = append(l, NewObject().Set("name", n))
		}
		return l, nil
	}
	d.handlers["quit"] = func(s *Session, args *Object) (any, error) {
		// qemu-storage-daemon ends its main loop and cancels every job
		// (the same cleanup as on SIGTERM) before its monitor writes
		// quit's return: the events come first (measured on 7.2).
		d.m.CancelAll(sim.ShutdownBudget)
		d.quit = true
		return nil, nil
	}
}

// Argument accessors. The schema check has run, so types are right.

func argStr(a *Object, k string) string {
	v, _ := a.Get(k)
	s, _ := v.(string)
	return s
}

func argOptStr(a *Object, k string) (string, bool) {
	v, ok := a.Get(k)
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

func argBool(a *Object, k string, def bool) bool {
	v, ok := a.Get(k)
	if !ok {
		return def
	}
	b, _ := v.(bool)
	return b
}

func argHas(a *Object, k string) bool {
	_, ok := a.Get(k)
	return ok
}

// argInt returns an int-typed member; values above INT64_MAX (accepted by
// the schema for size-typed members) saturate.
func argInt(a *Object, k string, def int64) int64 {
	v, ok := a.Get(k)
	if !ok {
		return def
	}
	n, _ := v.(Number)
	switch n.Kind {
	case NumInt:
		return n.I
	case NumUint:
		return 1<<63 - 1
	}
	return def
}

// argInt64 checks an int64-typed member (QAPI 'int'): a value above
// INT64_MAX is a type error there, as qobject_input_type_int64 reports it.
func argInt64(a *Object, k string) (int64, bool, error) {
	v, ok := a.Get(k)
	if !ok {
		return 0, false, nil
	}
	n, _ := v.(Number)
	if n.Kind != NumInt {
		return 0, true, typeErr(k, "integer")
	}
	return n.I, true, nil
}

func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

type bytesReaderT struct {
	b []byte
	i int
}

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &bytesReaderT{b: b} }
