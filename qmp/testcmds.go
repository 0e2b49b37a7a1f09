package qmp

import (
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// registerTest adds x-jobsim-test-job, which creates and starts a job
// driven by sim's scriptable test driver: a management tool's test suite
// can get a job that runs for a given virtual time, becomes ready, fails at
// a given slice, or hits an I/O error under a policy, without any block
// device. QEMU has no such command; it exists only with
// Options.TestCommands (jobsim qmp --test-commands).
//
//	{"execute": "x-jobsim-test-job", "arguments": {"id": "j0", "steps": 10,
//	 "step-ns": 1000000, "ready": true, "auto-finalize": false, "txn": "t1"}}
func (d *Dispatcher) registerTest() {
	txns := map[string]*sim.Txn{}
	d.handlers["x-jobsim-test-job"] = func(s *Session, a *Object) (any, error) {
		known := map[string]string{
			"id": "string", "type": "string", "steps": "integer", "step-ns": "integer",
			"step-bytes": "integer", "ready": "boolean", "fail-at": "integer",
			"io-error-at": "integer", "on-error": "string", "io-read": "boolean",
			"prepare-fail": "boolean", "auto-finalize": "boolean", "auto-dismiss": "boolean",
			"speed": "integer", "txn": "string", "start": "boolean",
		}
		for _, k := range a.Keys {
			want, ok := known[k]
			if !ok {
				return nil, qerr.Generic("Parameter '%s' is unexpected", k)
			}
			if jsonKind(a.M[k]) != want && !(want == "integer" && jsonKind(a.M[k]) == "int") {
				return nil, typeErr(k, want)
			}
		}
		if !argHas(a, "id") {
			return nil, qerr.Generic("Parameter 'id' is missing")
		}
		spec := sim.TestSpec{
			Type:      sim.JobType(argStrDef(a, "type", "backup")),
			Steps:     int(argInt(a, "steps", 10)),
			StepTime:  argInt(a, "step-ns", 0),
			StepBytes: argInt(a, "step-bytes", 0),
			Ready:     argBool(a, "ready", false),
			FailAt:    int(argInt(a, "fail-at", 0)),
			IOErrorAt: int(argInt(a, "io-error-at", 0)),
			IORead:    argBool(a, "io-read", false),
		}
		if spec.Steps < 0 || spec.StepTime < 0 || spec.StepBytes < 0 || spec.FailAt < 0 || spec.IOErrorAt < 0 {
			return nil, qerr.Generic("Parameters of x-jobsim-test-job must not be negative")
		}
		if p, ok := argOptStr(a, "on-error"); ok {
			pol, ok := sim.ParseOnError(p)
			if !ok {
				return nil, qerr.Generic("Parameter 'on-error' does not accept value '%s'", p)
			}
			spec.OnError = pol
		}
		if argBool(a, "prepare-fail", false) {
			spec.PrepareErr = &sim.JobError{Errno: errno.EIO}
		}
		var txn *sim.Txn
		if name, ok := argOptStr(a, "txn"); ok {
			if txns[name] == nil {
				txns[name] = d.m.NewTxn()
			}
			txn = txns[name]
		}
		j, err := d.m.Create(sim.JobSpec{
			ID: argStr(a, "id"), Driver: sim.NewTestDriver(spec), Txn: txn,
			ManualFinalize: !argBool(a, "auto-finalize", true),
			ManualDismiss:  !argBool(a, "auto-dismiss", true),
			Speed:          argInt(a, "speed", 0),
		})
		if err != nil {
			return nil, err
		}
		if argBool(a, "start", true) {
			if err := d.m.Start(j); err != nil {
				return nil, qerr.Generic("%s", err.Error())
			}
		}
		return nil, nil
	}
	d.handlers["x-jobsim-start-job"] = func(s *Session, a *Object) (any, error) {
		// Found as the job-* commands find a job (find_job_locked).
		j, err := d.m.Lookup(sim.VerbCommand{ID: argStr(a, "id")})
		if err != nil {
			return nil, err
		}
		if err := d.m.Start(j); err != nil {
			return nil, qerr.Generic("%s", err.Error())
		}
		return nil, nil
	}
}

func argStrDef(a *Object, k, def string) string {
	if s, ok := argOptStr(a, k); ok {
		return s
	}
	return def
}
