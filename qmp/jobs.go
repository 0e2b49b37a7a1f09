package qmp

import (
	"github.com/jobfsm/jobfsm/sim"
)

// registerJobs adds the job-control commands: job-* (job-qmp.c, lookup by
// id, "Job not found") and block-job-* (blockdev.c, lookup by device,
// DeviceNotActive "Block job '%s' not found"). The simulator applies
// QEMU's checks in QEMU's order; this layer only picks the lookup.
func (d *Dispatcher) registerJobs() {
	m := d.m
	byID := func(verb func(*sim.Job) error) handler {
		return func(s *Session, a *Object) (any, error) {
			j, err := m.FindJob(argStr(a, "id"))
			if err != nil {
				return nil, err
			}
			return nil, verb(j)
		}
	}
	byDevice := func(key string, verb func(*sim.Job) error) handler {
		return func(s *Session, a *Object) (any, error) {
			j, err := m.FindBlockJob(argStr(a, key))
			if err != nil {
				return nil, err
			}
			return nil, verb(j)
		}
	}
	d.handlers["job-pause"] = byID(m.Pause)
	d.handlers["job-resume"] = byID(m.Resume)
	d.handlers["job-cancel"] = byID(func(j *sim.Job) error { return m.Cancel(j, true) })
	d.handlers["job-complete"] = byID(m.Complete)
	d.handlers["job-finalize"] = byID(m.Finalize)
	d.handlers["job-dismiss"] = byID(m.Dismiss)

	d.handlers["block-job-pause"] = byDevice("device", m.Pause)
	d.handlers["block-job-resume"] = byDevice("device", m.Resume)
	d.handlers["block-job-complete"] = byDevice("device", m.Complete)
	// block-job-finalize and block-job-dismiss name their argument id.
	d.handlers["block-job-finalize"] = byDevice("id", m.Finalize)
	d.handlers["block-job-dismiss"] = byDevice("id", m.Dismiss)
	d.handlers["block-job-cancel"] = func(s *Session, a *Object) (any, error) {
		return nil, m.BlockJobCancel(argStr(a, "device"), argBool(a, "force", false))
	}
	d.handlers["block-job-set-speed"] = func(s *Session, a *Object) (any, error) {
		speed, _, err := argInt64(a, "speed")
		if err != nil {
			return nil, err
		}
		j, err := m.FindBlockJob(argStr(a, "device"))
		if err != nil {
			return nil, err
		}
		return nil, m.SetSpeed(j, speed)
	}
	d.handlers["query-jobs"] = func(s *Session, a *Object) (any, error) {
		return nonNil(m.QueryJobs()), nil
	}
	d.handlers["query-block-jobs"] = func(s *Session, a *Object) (any, error) {
		return nonNil(m.QueryBlockJobs()), nil
	}
}
