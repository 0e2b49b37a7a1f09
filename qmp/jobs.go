package qmp

import (
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// registerJobs adds the job-control commands: job-* (job-qmp.c, lookup by
// id, "Job not found") and block-job-* (blockdev.c, lookup by device,
// DeviceNotActive "Block job '%s' not found"). sim.Manager.Apply does the
// lookup and QEMU's checks in QEMU's order; this layer only reads the
// arguments.
func (d *Dispatcher) registerJobs() {
	m := d.m
	// The version's verb table decides which commands exist: 10.0 has
	// block-job-change (QEMU 8.2+), 7.2 answers CommandNotFound for it as
	// for any unknown command.
	for _, c := range sim.VerbCommandsAt(d.opts.Version) {
		// block-job-finalize, block-job-dismiss and block-job-change name
		// their job argument id, the other block-job-* commands device.
		key := "id"
		if c.Block && c.Verb != fsm.VerbFinalize && c.Verb != fsm.VerbDismiss && c.Verb != fsm.VerbChange {
			key = "device"
		}
		d.handlers[c.Name()] = func(s *Session, a *Object) (any, error) {
			c := c
			c.ID = argStr(a, key)
			c.Force = argBool(a, "force", false)
			if c.Verb == fsm.VerbSetSpeed {
				speed, _, err := argInt64(a, "speed")
				if err != nil {
					return nil, err
				}
				c.Speed = speed
			}
			if c.Verb == fsm.VerbChange {
				c.Change = sim.ChangeOptions{Type: sim.JobType(argStr(a, "type")), CopyMode: argStr(a, "copy-mode")}
			}
			return nil, m.Apply(c)
		}
	}
	d.handlers["query-jobs"] = func(s *Session, a *Object) (any, error) {
		return nonNil(m.QueryJobs()), nil
	}
	d.handlers["query-block-jobs"] = func(s *Session, a *Object) (any, error) {
		return nonNil(m.QueryBlockJobs()), nil
	}
}
