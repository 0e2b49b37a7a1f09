package sim

import "github.com/jobfsm/jobfsm/internal/errno"

// TestSpec scripts a TestDriver, in the spirit of QEMU's
// tests/unit/test-blockjob.c and test-blockjob-txn.c drivers: how long the
// run lasts, whether it becomes ready, where it fails, whether prepare fails.
type TestSpec struct {
	// Type is the reported job type; default backup (a block job).
	Type JobType
	// Steps is the number of work slices; each sleeps StepTime ns of virtual
	// time (default 1 ms) and adds StepBytes of progress (default 64 KiB).
	Steps     int
	StepTime  int64
	StepBytes int64
	// Ready makes the job become ready after its slices, then wait for
	// complete (or a cancel) like a mirror: it supports complete, and a soft
	// cancel while ready is a successful completion.
	Ready bool
	// FailAt > 0 makes the run fail before slice FailAt (1-based) with
	// FailErrno (default EIO) and FailMsg.
	FailAt    int
	FailErrno errno.Errno
	FailMsg   string
	// IOErrorAt > 0 hits an I/O error before slice IOErrorAt, handled by
	// policy OnError (default report): report fails the job, ignore goes on,
	// stop pauses it and retries after resume. IOErrno defaults to EIO.
	IOErrorAt int
	IOErrno   errno.Errno
	OnError   OnError
	IORead    bool
	// PrepareErr, when set, makes Prepare fail.
	PrepareErr *JobError
	// Changeable gives the driver a change callback (block-job-change,
	// QEMU 8.2+) that accepts every change and records "change"; without
	// it the driver has none, as QEMU's test drivers and every block job
	// but mirror, and the verb answers "Job type does not support change".
	Changeable bool
}

// TestDriver is a scriptable job driver. Calls records the callbacks the
// manager made, in order ("prepare", "commit", "abort", "clean", "free",
// "complete", "change").
type TestDriver struct {
	Spec      TestSpec
	Calls     []string
	done      int
	readied   bool
	complete  bool
	ioErrSeen bool
	drainWait bool
}

// NewTestDriver returns a driver following spec, with defaults filled in.
func NewTestDriver(spec TestSpec) *TestDriver {
	if spec.Type == "" {
		spec.Type = TypeBackup
	}
	if spec.StepTime == 0 {
		spec.StepTime = 1_000_000
	}
	if spec.StepBytes == 0 {
		spec.StepBytes = 64 << 10
	}
	if spec.FailErrno == 0 {
		spec.FailErrno = errno.EIO
	}
	if spec.IOErrno == 0 {
		spec.IOErrno = errno.EIO
	}
	if spec.OnError == "" {
		spec.OnError = OnErrorReport
	}
	return &TestDriver{Spec: spec}
}

func (d *TestDriver) Type() JobType { return d.Spec.Type }

func (d *TestDriver) Run(j *Job) Step {
	s := &d.Spec
	if j.total == 0 {
		j.SetProgressTotal(int64(s.Steps) * s.StepBytes)
	}
	if j.IsCancelled() {
		return Finish(nil)
	}
	if d.done < s.Steps {
		next := d.done + 1
		if next == s.FailAt {
			return Finish(&JobError{Errno: s.FailErrno, Msg: s.FailMsg})
		}
		if next == s.IOErrorAt && !d.ioErrSeen {
			switch j.ErrorAction(s.OnError, s.IORead, s.IOErrno) {
			case ActionReport:
				return Finish(&JobError{Errno: s.IOErrno})
			case ActionStop:
				// Paused at the next pause point; the request is retried
				// after resume, and this time it succeeds.
				d.ioErrSeen = true
				return Continue()
			case ActionIgnore:
				d.ioErrSeen = true
			}
		}
		d.done = next
		j.AddProgress(s.StepBytes)
		return Sleep(s.StepTime)
	}
	if !s.Ready {
		return Finish(nil)
	}
	if !d.readied {
		d.readied = true
		j.TransitionToReady()
	}
	if d.complete || j.CancelRequested() {
		// Like mirror, it drains its source before returning, which
		// yields once to the loop: it ends after the command's return.
		if !d.drainWait {
			d.drainWait = true
			return AwaitLoop()
		}
		return Finish(nil)
	}
	return Yield()
}

// Prepare fails with Spec.PrepareErr when set.
func (d *TestDriver) Prepare(j *Job) error {
	d.Calls = append(d.Calls, "prepare")
	if d.Spec.PrepareErr != nil {
		return d.Spec.PrepareErr
	}
	return nil
}

func (d *TestDriver) Commit(j *Job) { d.Calls = append(d.Calls, "commit") }
func (d *TestDriver) Abort(j *Job)  { d.Calls = append(d.Calls, "abort") }
func (d *TestDriver) Clean(j *Job)  { d.Calls = append(d.Calls, "clean") }
func (d *TestDriver) Free(j *Job)   { d.Calls = append(d.Calls, "free") }

// Cancel: a ready-style job cancelled softly while ready completes without
// forcing (mirror_cancel); everything else is forced.
func (d *TestDriver) Cancel(j *Job, force bool) bool {
	if !d.Spec.Ready {
		return true
	}
	return force || !j.Status().IsReady()
}

// Complete is accepted only for ready-style jobs.
func (d *TestDriver) Complete(j *Job) error {
	d.Calls = append(d.Calls, "complete")
	d.complete = true
	j.m.Kick(j)
	return nil
}

// Changeable reports whether the spec gives the driver a change callback
// (Changer).
func (d *TestDriver) Changeable() bool { return d.Spec.Changeable }

// Change accepts the change: the test driver has no copy mode to switch.
func (d *TestDriver) Change(j *Job, o ChangeOptions) error {
	d.Calls = append(d.Calls, "change")
	return nil
}
