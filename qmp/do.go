package qmp

import "errors"

// ErrStopped is Server.Do's error once the server's loop has ended.
var ErrStopped = errors.New("qmp: server stopped")

// Do runs fn on the server's loop, between two commands, and waits until it
// has run: it is how a test sets up nodes or reads the simulator's state
// while Run is active without racing the loop. fn must not call Do (the loop
// would wait for itself). Do returns ErrStopped when the loop has ended
// before fn ran.
func (srv *Server) Do(fn func(d *Dispatcher)) error {
	ran := make(chan struct{})
	rq := request{kind: reqCall, fn: func() {
		defer close(ran)
		fn(srv.d)
	}}
	select {
	case srv.reqs <- rq:
	case <-srv.done:
		return ErrStopped
	}
	select {
	case <-ran:
		return nil
	case <-srv.done:
		// The loop may have run fn just before it ended.
		select {
		case <-ran:
			return nil
		default:
			return ErrStopped
		}
	}
}
