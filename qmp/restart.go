package qmp

import (
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// restartGrace bounds the virtual time a restart lets the cancelled jobs
// take to wind down (a force-cancelled job only finishes its in-flight
// I/O, which takes far less).
const restartGrace = int64(3600e9)

// Restart is a daemon restart as its clients see it: qemu-storage-daemon
// shut down cleanly and started again with the same command line. Every
// connection is closed (a client reconnects to a fresh monitor) and every
// job is gone: as on SIGTERM (job_cancel_sync_all), each job is
// force-cancelled and runs to its end, which undoes its graph changes,
// and then it is dismissed; nobody sees those events. The nodes are
// there again (the command line's --blockdev options), with their images'
// data, and so are persistent bitmaps (QEMU stores them in the qcow2 image
// at shutdown and loads them at open); non-persistent bitmaps are gone.
// Virtual time continues, so event timestamps never go backwards.
func (srv *Server) Restart() error {
	return srv.Do(func(*Dispatcher) { srv.restart() })
}

// restart is Restart on the loop.
func (srv *Server) restart() {
	srv.mu.Lock()
	for c := range srv.conns {
		c.close()
	}
	srv.mu.Unlock()
	srv.d.reset()
}

// reset ends every job and every non-persistent bitmap. The sessions of the
// closed connections move to a dead dispatcher that knows no command: a
// message a client had in flight when the daemon went away must not run
// on the restarted one.
func (d *Dispatcher) reset() {
	dead := &Dispatcher{
		opts:     d.opts,
		m:        sim.New(sim.Options{}),
		schema:   d.schema,
		handlers: map[string]handler{},
		epoch:    d.epoch,
	}
	for _, s := range d.sessions {
		s.connected = false
		s.d = dead
	}
	d.sessions = nil
	m := d.m
	ended := func() bool {
		for _, j := range m.Jobs() {
			if st := j.Status(); st != fsm.Concluded && st != fsm.Null {
				return false
			}
		}
		return true
	}
	for _, j := range m.Jobs() {
		_ = m.Cancel(j, true)
	}
	m.Settle()
	m.RunUntil(ended, m.Now()+restartGrace)
	for _, j := range m.Jobs() {
		if j.Status() == fsm.Concluded {
			_ = m.Dismiss(j)
		}
	}
	m.Settle()
	g := d.Graph()
	for _, n := range g.Nodes() {
		for _, b := range n.Bitmaps() {
			if !b.Persistent() {
				_ = g.BitmapRemove(n.Name(), b.Name())
			}
		}
	}
	if d.opts.TestCommands {
		d.registerTest() // forget the test transactions
		d.wrapHandlers("x-jobsim-test-job", "x-jobsim-start-job")
	}
}
