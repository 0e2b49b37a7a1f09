package qmp

import "github.com/jobfsm/jobfsm/sim"

// Restart is a daemon restart as its clients see it: every connection is
// closed (a client reconnects to a fresh monitor), every job is gone
// without an event, and so is every node with its bitmaps, since a
// restarted qemu-storage-daemon has only what its command line creates.
// Image files are kept (they are on disk); memory images die with the
// process, as they would in QEMU. Virtual time continues where it was, so
// event timestamps never go backwards. It runs on the server's loop.
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

// reset gives the dispatcher a fresh simulator and block graph. The
// sessions of the closed connections are moved to a dead dispatcher that
// knows no command: a message a client had in flight when the daemon went
// away must not run on the restarted one.
func (d *Dispatcher) reset() {
	dead := &Dispatcher{
		opts:     d.opts,
		M:        sim.New(sim.Options{}),
		schema:   d.schema,
		handlers: map[string]handler{},
		epoch:    d.epoch,
	}
	for _, s := range d.sessions {
		s.connected = false
		s.d = dead
	}
	d.sessions = nil
	now := d.M.Now()
	// The Server's loop holds d.M, so the manager is replaced in place.
	*d.M = *sim.New(sim.Options{Seed: d.opts.Seed, Tracer: d.opts.Tracer})
	d.M.Advance(now)
	d.M.Subscribe(d.deliver)
	d.handlers = map[string]handler{}
	d.registerCore()
	d.registerJobs()
	d.blk = newBlockLayer(d)
	d.blk.register()
	if d.opts.TestCommands {
		d.registerTest()
	}
	d.wrapHandlers()
}
