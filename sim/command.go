package sim

// A command's synchronous part, and what runs before its return.
//
// QEMU 7.2 runs a QMP command in a bottom half of the monitor's iohandler
// context and sends the return only once the dispatcher coroutine is
// scheduled again from that context; bottom halves the command queued on the
// main loop run first. A command that enters a job (job_enter_cond_locked)
// runs the job's coroutine synchronously; if the coroutine then reaches the
// end of its run without waiting for I/O (a force-cancelled job that was
// sleeping under its speed limit or sitting in a pause point), the job_exit
// bottom half it queued runs before the return, and with it the job's whole
// ending: aborting, BLOCK_JOB_CANCELLED, concluded and null reach the client
// before the command's return (reference §3.2, "Event vs. return order").
// A coroutine that yields on the way (mirror's bdrv_drained_begin before it
// returns, sim.AwaitLoop) ends after the return.

// commandScope tracks the jobs whose run finished while a command executed.
type commandScope struct {
	depth int
	exits []*Job
}

// noteExit records a job whose job_exit was queued during a command.
func (c *commandScope) noteExit(j *Job) {
	if c.depth > 0 {
		c.exits = append(c.exits, j)
	}
}

// inCommand runs a command's synchronous part, then the job_exit bottom
// halves that part queued, in the order they were queued.
func (m *Manager) inCommand(apply func() error) error {
	m.cmd.depth++
	err := apply()
	m.cmd.depth--
	if m.cmd.depth > 0 {
		return err
	}
	for len(m.cmd.exits) > 0 {
		j := m.cmd.exits[0]
		m.cmd.exits = m.cmd.exits[1:]
		if j.exit != nil {
			m.eng.cancel(j.exit)
			m.exitJob(j)
		}
	}
	return err
}
