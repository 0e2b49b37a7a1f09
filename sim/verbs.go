package sim

import (
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// The user verbs, with QEMU's checks in QEMU's order. Each returns a
// *qerr.Error or *fsm.VerbError and changes nothing when it refuses.

func (m *Manager) traceVerb(j *Job, v fsm.Verb, err error) {
	if m.opts.Tracer == nil {
		return
	}
	r := TraceRecord{Time: m.eng.now, Op: "verb", Job: j.id, Verb: v.String(), From: j.status, To: j.status}
	if err != nil {
		r.Err = err.Error()
	}
	m.opts.Tracer(r)
}

func (m *Manager) verb(j *Job, v fsm.Verb, pre func() error, check func() error, apply func() error) error {
	var err error
	if pre != nil {
		err = pre()
	}
	if err == nil {
		err = j.machine.CheckVerb(j.id, v)
	}
	if err == nil && check != nil {
		err = check()
	}
	m.traceVerb(j, v, err)
	if err != nil {
		return err
	}
	return m.inCommand(apply)
}

// Pause is job_user_pause_locked: verb check, then "Job is already paused".
func (m *Manager) Pause(j *Job) error {
	return m.verb(j, fsm.VerbPause, nil, func() error {
		if j.userPaused {
			return qerr.Generic("Job is already paused")
		}
		return nil
	}, func() error {
		j.userPaused = true
		m.pause(j)
		return nil
	})
}

// Resume is job_user_resume_locked: the paused check comes before the verb
// check.
func (m *Manager) Resume(j *Job) error {
	return m.verb(j, fsm.VerbResume, func() error {
		if !j.userPaused || j.pauseCount <= 0 {
			return qerr.Generic("Can't resume a job that was not paused")
		}
		return nil
	}, nil, func() error {
		if j.blockJob {
			j.iostatus = IOStatusOK // block_job_user_resume
		}
		j.userPaused = false
		m.resume(j)
		return nil
	})
}

// Cancel is job_user_cancel_locked. job-cancel always forces; a soft cancel
// (force false) is block-job-cancel's default.
func (m *Manager) Cancel(j *Job, force bool) error {
	return m.verb(j, fsm.VerbCancel, nil, nil, func() error {
		m.cancel(j, force)
		return nil
	})
}

// Complete is job_complete_locked.
func (m *Manager) Complete(j *Job) error {
	var c Completer
	return m.verb(j, fsm.VerbComplete, nil, func() error {
		var ok bool
		c, ok = j.driver.(Completer)
		if (j.cancelled && !plantedBug(bugCompleteAfterCancel)) || !ok {
			return qerr.Generic("The active block job '%s' cannot be completed", j.id)
		}
		return nil
	}, func() error { return c.Complete(j) })
}

// Finalize is job_finalize_locked: finalizes the job's whole transaction.
func (m *Manager) Finalize(j *Job) error {
	if plantedBug(bugFinalizeInWaiting) && j.status == fsm.Waiting {
		return nil
	}
	return m.verb(j, fsm.VerbFinalize, nil, nil, func() error {
		m.doFinalize(j)
		return nil
	})
}

// Dismiss is job_dismiss_locked.
func (m *Manager) Dismiss(j *Job) error {
	return m.verb(j, fsm.VerbDismiss, nil, nil, func() error {
		m.doDismiss(j, fsm.TriggerDismiss)
		return nil
	})
}

// SetSpeed is block_job_set_speed_locked. A faster (or unlimited) speed
// wakes a job sleeping on its rate limit.
func (m *Manager) SetSpeed(j *Job, speed int64) error {
	return m.verb(j, fsm.VerbSetSpeed, nil, func() error {
		if speed < 0 {
			return errNegativeSpeed
		}
		return nil
	}, func() error {
		old := j.speed
		j.speed = speed
		if (speed == 0 || speed > old) && j.sleep != nil {
			m.enter(j)
		}
		return nil
	})
}

// ChangeOptions are block-job-change's arguments after id
// (BlockJobChangeOptions, QEMU 8.2+): the job type the client names, which
// selects the union branch, and that branch's members. QEMU does not check
// Type against the job's type: a driver sees an empty branch (zero values)
// when the client named another type.
type ChangeOptions struct {
	Type JobType
	// CopyMode is the mirror branch's copy-mode ("background" or
	// "write-blocking").
	CopyMode string
}

// Changer is BlockJobDriver.change (QEMU 8.2+). Changeable reports whether
// the driver has one: block/mirror.c's mirror_job_driver has, the active
// commit driver built on the same code has not.
type Changer interface {
	Changeable() bool
	Change(j *Job, o ChangeOptions) error
}

// errChangeUnsupported is block_job_change_locked's answer for a driver
// without change.
var errChangeUnsupported = qerr.Generic("Job type does not support change")

// Change is block_job_change_locked: the verb check (JobVerbTable's change
// row, 10.0), then the driver's change, or "Job type does not support
// change".
func (m *Manager) Change(j *Job, o ChangeOptions) error {
	var c Changer
	return m.verb(j, fsm.VerbChange, nil, func() error {
		var ok bool
		if c, ok = j.driver.(Changer); !ok || !c.Changeable() {
			return errChangeUnsupported
		}
		return nil
	}, func() error { return c.Change(j, o) })
}

// --- QMP lookups -----------------------------------------------------------

// Lookup finds the job c names as c's family does: block-job-* is
// blockdev.c find_block_job_locked (a block job with that id, or "Block job
// '%s' not found", DeviceNotActive), job-* is job-qmp.c find_job_locked (any
// job with that id, or "Job not found"). Only c's family and ID are read.
func (m *Manager) Lookup(c VerbCommand) (*Job, error) {
	j := m.byID[c.ID]
	if c.IsBlock() {
		if j == nil || !j.blockJob {
			return nil, qerr.New(qerr.DeviceNotActive, "Block job '%s' not found", c.ID)
		}
	} else if j == nil {
		return nil, qerr.Generic("Job not found")
	}
	return j, nil
}
