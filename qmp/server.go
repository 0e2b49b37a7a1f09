package qmp

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/jobfsm/jobfsm/sim"
)

// ClockMode says how the server moves the simulator's virtual clock.
type ClockMode int

const (
	// ClockWall keeps virtual time equal to the wall time since start:
	// timers fire at real time, as in QEMU.
	ClockWall ClockMode = iota
	// ClockVirtual jumps to the next timer whenever nothing is runnable and
	// no client has spoken for Grace: the run is as fast as the CPU allows
	// and, for a client that reacts within Grace, gives the same transcript.
	ClockVirtual
)

// DefaultGrace is how long ClockVirtual waits for a client's reaction to
// the last message before jumping ahead. A scripted client answers in
// microseconds; the margin covers a loaded CI machine.
const DefaultGrace = time.Millisecond

// DefaultRate is ClockVirtual's speed bound: 10⁵ virtual seconds per wall
// second. A time-bound scenario (seconds of virtual time) needs
// milliseconds, while a job QEMU keeps running for decades (speed 1 on a
// 1 GiB node) still needs hours of wall time, so clients see it running.
const DefaultRate = 1e5

// ServerOptions configure a Server.
type ServerOptions struct {
	Options
	Clock ClockMode
	// Grace is ClockVirtual's quiet period (default DefaultGrace).
	Grace time.Duration
	// Rate bounds how much faster than the wall clock ClockVirtual may run
	// (default DefaultRate).
	Rate float64
}

// Server runs a Dispatcher in one goroutine (Run) and serves any number of
// connections, each its own monitor. Connections only parse and write;
// every command goes through one channel to the loop, so the simulator is
// never touched concurrently.
type Server struct {
	opts  ServerOptions
	d     *Dispatcher
	reqs  chan request
	mu    sync.Mutex
	conns map[*conn]bool
	// closed holds connections the loop closed whose writers may still be
	// delivering their last lines; Run's end waits for them too.
	closed []*conn
	done   chan struct{}
	// onThrottle, when set (tests), is called each time a connection's
	// reader stops taking requests because its output is not being read.
	onThrottle func()
}

type reqKind int

const (
	reqConnect reqKind = iota
	reqMessage
	reqError
	reqClose
	reqCall // run fn on the loop (Server.Do)
)

type request struct {
	c    *conn
	kind reqKind
	msg  any
	err  error
	fn   func()
}

// Per-connection bounds. A client that stops reading its replies must not
// cost the server memory or time: its reader stops taking requests once
// MaxUnreadOutput bytes wait to be written (the kernel buffers then fill
// and the client's own writes block, which is what QEMU's monitor does to
// such a client), and a connection whose unread output still grows past
// MaxQueuedOutput (events caused by other monitors) is closed (deviation
// D16). Input is bounded by the decoder's limits and by taking one request
// at a time per connection.
const (
	MaxUnreadOutput = 64 << 10
	MaxQueuedOutput = 16 << 20
)

// closeGrace is how long a closing connection's writer may keep trying to
// deliver what is queued to a peer that does not read.
const closeGrace = 2 * time.Second

// conn is one connection: a reader goroutine feeding the loop one request
// at a time and a writer goroutine draining the output queue, so neither a
// slow reader nor a slow writer ever blocks the simulator's loop.
type conn struct {
	w      io.Writer
	closer io.Closer
	sess   *Session
	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	// queued is the bytes pushed and not yet written.
	queued int
	// inflight: a request was handed to the loop and not yet answered.
	inflight bool
	closing  bool
	// overflowed: closed because its unread output passed MaxQueuedOutput.
	overflowed bool
	flushed    chan struct{}
}

// NewServer returns a server over a fresh simulator.
func NewServer(opts ServerOptions) *Server {
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Now()
	}
	d := NewDispatcher(opts.Options)
	// A command's own bottom halves get one entry before its answer goes
	// out; the loop runs the rest (events still follow the answer).
	d.settleBudget = 1
	return &Server{
		opts:  opts,
		d:     d,
		reqs:  make(chan request, 64),
		conns: map[*conn]bool{},
		done:  make(chan struct{}),
	}
}

// Dispatcher returns the server's dispatcher; only the loop may use it
// while Run is active.
func (srv *Server) Dispatcher() *Dispatcher { return srv.d }

// Attach serves one connection (r for requests, w for responses). closer,
// when not nil, is closed when the connection ends; closing it must unblock
// a pending Write (a net.Conn does).
func (srv *Server) Attach(r io.Reader, w io.Writer, closer io.Closer) {
	c := &conn{w: w, closer: closer, flushed: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	srv.mu.Lock()
	srv.conns[c] = true
	srv.mu.Unlock()
	go c.writer()
	c.inflight = true // the greeting is the first answer
	select {
	case srv.reqs <- request{c: c, kind: reqConnect}:
	case <-srv.done:
		c.close()
		return
	}
	go srv.reader(c, r)
}

// reader takes one request at a time: the next one only after the loop
// answered the last and while the client reads what it is sent.
func (srv *Server) reader(c *conn, r io.Reader) {
	dec := NewDecoder(r)
	for {
		c.mu.Lock()
		throttled := false
		for (c.inflight || c.queued > MaxUnreadOutput) && !c.closing {
			if !c.inflight && !throttled && srv.onThrottle != nil {
				throttled = true
				srv.onThrottle()
			}
			c.cond.Wait()
		}
		closing := c.closing
		c.inflight = true
		c.mu.Unlock()
		var rq request
		if closing {
			rq = request{c: c, kind: reqClose}
		} else {
			v, err := dec.Next()
			switch {
			case err == nil:
				rq = request{c: c, kind: reqMessage, msg: v}
			case isParse(err):
				rq = request{c: c, kind: reqError, err: err}
			default: // EOF, a closed or failed connection
				rq = request{c: c, kind: reqClose}
			}
		}
		select {
		case srv.reqs <- rq:
		case <-srv.done:
			return
		}
		if rq.kind == reqClose {
			return
		}
	}
}

func isParse(err error) bool {
	var pe *ParseError
	var le *limitError
	return errors.As(err, &pe) || errors.As(err, &le)
}

// push queues lines for the writer; it never blocks. A connection whose
// unread output passes MaxQueuedOutput is closed instead.
func (c *conn) push(lines [][]byte) {
	if len(lines) == 0 {
		return
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	for _, l := range lines {
		c.queued += len(l) + 1
	}
	c.queue = append(c.queue, lines...)
	if c.queued > MaxQueuedOutput {
		c.overflowed = true
		c.closing = true
		c.queue = nil
		c.mu.Unlock()
		c.cond.Broadcast()
		if c.closer != nil {
			_ = c.closer.Close()
		}
		return
	}
	c.mu.Unlock()
	c.cond.Broadcast()
}

// update changes the connection's state under its lock and wakes the
// reader and writer waiting on it.
func (c *conn) update(change func()) {
	c.mu.Lock()
	change()
	c.mu.Unlock()
	c.cond.Broadcast()
}

// answered lets the reader take the connection's next request.
func (c *conn) answered() { c.update(func() { c.inflight = false }) }

// close asks the writer to deliver what is queued and then close; a peer
// that does not read gets closeGrace before the write gives up.
func (c *conn) close() {
	c.update(func() { c.closing = true })
	if d, ok := c.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(time.Now().Add(closeGrace))
	}
}

func (c *conn) writer() {
	defer close(c.flushed)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closing {
			c.cond.Wait()
		}
		q := c.queue
		c.queue = nil
		closing := c.closing
		c.mu.Unlock()
		var buf []byte
		for _, l := range q {
			buf = append(buf, l...)
			buf = append(buf, '\n')
		}
		if len(buf) > 0 {
			_, err := c.w.Write(buf)
			c.mu.Lock()
			c.queued -= len(buf)
			if err != nil {
				closing = true
				c.closing = true
				c.queue = nil
			}
			c.mu.Unlock()
			c.cond.Broadcast()
		}
		if closing {
			if c.closer != nil {
				_ = c.closer.Close()
			}
			return
		}
	}
}

// acceptBackoff is how long ServeUnix waits after an accept failed for a
// lack of descriptors (EMFILE, ENFILE) or memory before trying again: the
// failure is the process's state, not the listener's, and clears when a
// connection closes.
const acceptBackoff = 50 * time.Millisecond

// ServeUnix listens on a Unix socket; every accepted connection is a new
// monitor. An accept that fails for want of descriptors is retried after a
// short pause; the first such failure is reported to logf (nil: not
// reported), the later ones not, since under exhaustion every freed
// descriptor is taken by the next client and accept fails again at once.
// It returns when the listener fails otherwise or the server
// stops.
func (srv *Server) ServeUnix(l net.Listener, logf func(format string, args ...any)) error {
	go func() {
		<-srv.done
		_ = l.Close()
	}()
	reported := false
	for {
		nc, err := l.Accept()
		if err != nil {
			select {
			case <-srv.done:
				return nil
			default:
			}
			if isResourceShortage(err) {
				if !reported && logf != nil {
					logf("accept: %v (retrying until a descriptor is free)", err)
				}
				reported = true
				select {
				case <-time.After(acceptBackoff):
				case <-srv.done:
					return nil
				}
				continue
			}
			return err
		}
		srv.Attach(nc, nc, nc)
	}
}

// isResourceShortage reports an accept failure that a later accept may not
// have: the process or system ran out of descriptors or buffers.
func isResourceShortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// loopBudget is how many queued simulator entries the loop runs between two
// looks at the clients and the context: an unthrottled job is due again at
// once after every slice, so without a bound it would hold every command
// and signal until it ends. The costliest entry is a block job's 1 MiB
// copy slice, about 1.5 ms of CPU on a 1 TiB null-co backup (2 shared
// cores), so a look comes every few milliseconds even then; cheap entries
// just take more, equally cheap, looks.
const loopBudget = 4

// Run is the simulator's goroutine. It returns after quit, when ctx ends,
// or (with stopOnLastClose) when the last connection closed; queued output
// is flushed first. When ctx ends (SIGTERM or SIGINT in jobsim qmp) it first
// cancels every job as qemu-storage-daemon does on those signals
// (sim.Manager.CancelAll), so every monitor sees each job's "aborting",
// BLOCK_JOB_CANCELLED, "concluded" and "null".
func (srv *Server) Run(ctx context.Context, stopOnLastClose bool) error {
	d := srv.d
	m := d.m
	wall := srv.opts.Clock == ClockWall
	epoch := srv.opts.Epoch
	lastIO := time.Now()
	started := lastIO
	defer close(srv.done)
	flush := func() {
		srv.mu.Lock()
		for c := range srv.conns {
			if c.sess != nil && c.sess.Pending() {
				c.push(c.sess.Take())
				lastIO = time.Now()
			}
		}
		srv.mu.Unlock()
	}
	// catchUp moves ClockWall's virtual time to the wall clock, running at
	// most loopBudget entries; it reports whether work due by then remains.
	catchUpAtMost := func(n int) bool {
		if !wall {
			return false
		}
		target := int64(time.Since(epoch))
		if target > m.Now() {
			return m.AdvanceAtMost(target-m.Now(), n)
		}
		return false
	}
	catchUp := func() bool { return catchUpAtMost(loopBudget) }
	// interrupted ends Run when ctx ended; under ClockWall the clock first
	// catches up with the wall (boundedly), so the cancel events carry the
	// time of the signal, as QEMU's do.
	interrupted := func() error {
		catchUp()
		return srv.interrupted(ctx)
	}
	live := 0
	// handle serves one request; it reports whether Run should return.
	handle := func(rq request) bool {
		lastIO = time.Now()
		// A command answers after at most one more entry: the loop's next
		// iterations run the rest, after the answer went out.
		catchUpAtMost(1)
		switch rq.kind {
		case reqCall:
			// not a client's request: the loop's flush delivers what it
			// emitted
			rq.fn()
			return false
		case reqConnect:
			rq.c.sess = d.Connect()
			live++
		case reqMessage:
			rq.c.sess.Handle(rq.msg)
		case reqError:
			rq.c.sess.HandleError(rq.err)
		case reqClose:
			flushOne(rq.c)
			rq.c.sess.Close()
			srv.mu.Lock()
			delete(srv.conns, rq.c)
			srv.closed = appendUnflushed(srv.closed, rq.c)
			srv.mu.Unlock()
			// The writer delivers the rest on its own; the loop never
			// waits for a client.
			rq.c.close()
			live--
			return stopOnLastClose && live == 0
		}
		flushOne(rq.c)
		rq.c.answered()
		return false
	}
	// poll looks at the context and the clients without waiting and runs
	// idle when neither has anything; stop: Run returns err.
	poll := func(idle func()) (stop bool, err error) {
		select {
		case <-ctx.Done():
			return true, interrupted()
		case rq := <-srv.reqs:
			if handle(rq) {
				srv.shutdown()
				return true, nil
			}
		default:
			idle()
		}
		return false, nil
	}
	for {
		more := catchUp()
		if !more {
			more = m.SettleAtMost(loopBudget)
		}
		flush()
		if d.Quit() {
			break
		}
		if more {
			// Work is due now: look at the clients and the context
			// without waiting, then go on with it.
			if stop, err := poll(func() {}); stop {
				return err
			}
			continue
		}
		var timer <-chan time.Time
		var t *time.Timer
		if due, ok := m.NextDue(); ok {
			var wait time.Duration
			if wall {
				wait = time.Until(epoch.Add(time.Duration(due)))
			} else {
				// Virtual time may jump to the next timer once the clients
				// have been quiet for Grace, but never runs more than Rate
				// times faster than the wall clock: a job that QEMU keeps
				// busy "forever" (speed 1) stays so, while time-bound jobs
				// finish at CPU speed.
				quiet := time.Since(lastIO)
				allow := allowance(time.Since(started), srv.opts.Rate)
				if quiet >= srv.opts.Grace && due <= allow {
					if stop, err := poll(func() { m.Step() }); stop {
						return err
					}
					continue
				}
				wait = srv.opts.Grace - quiet
				wait = max(wait, time.Duration(float64(due-allow)/srv.opts.Rate))
			}
			t = time.NewTimer(max(wait, 0))
			timer = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return interrupted()
		case <-timer:
		case rq := <-srv.reqs:
			if t != nil {
				t.Stop()
			}
			if handle(rq) {
				srv.shutdown()
				return nil
			}
		}
	}
	srv.shutdown()
	return nil
}

// interrupted is the end of Run when ctx ended: every job is cancelled and
// its events delivered to every monitor before the connections close.
func (srv *Server) interrupted(ctx context.Context) error {
	srv.d.m.CancelAll(sim.ShutdownBudget)
	srv.mu.Lock()
	for c := range srv.conns {
		flushOne(c)
	}
	srv.mu.Unlock()
	srv.shutdown()
	return ctx.Err()
}

// allowance is how far ClockVirtual may have moved after elapsed wall time
// at rate, saturating instead of overflowing int64.
func allowance(elapsed time.Duration, rate float64) int64 {
	f := float64(elapsed) * rate
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

func flushOne(c *conn) {
	if c.sess != nil && c.sess.Pending() {
		c.push(c.sess.Take())
	}
}

// shutdownFlush bounds how long the end of Run waits, in total, for every
// connection's writer to deliver what is queued.
const shutdownFlush = closeGrace

// shutdown flushes and closes every connection and waits (at most
// shutdownFlush in all) for the writers; a client that does not read is
// cut off then.
func (srv *Server) shutdown() {
	srv.mu.Lock()
	var cs []*conn
	for c := range srv.conns {
		flushOne(c)
		c.close()
		cs = append(cs, c)
	}
	srv.conns = map[*conn]bool{}
	cs = append(cs, srv.closed...)
	srv.closed = nil
	srv.mu.Unlock()
	deadline := time.NewTimer(shutdownFlush)
	defer deadline.Stop()
	for _, c := range cs {
		select {
		case <-c.flushed:
		case <-deadline.C:
			for _, c := range cs {
				if c.closer != nil {
					_ = c.closer.Close()
				}
			}
			return
		}
	}
}

// appendUnflushed adds c to l, dropping the connections whose writers have
// finished.
func appendUnflushed(l []*conn, c *conn) []*conn {
	out := l[:0]
	for _, o := range l {
		select {
		case <-o.flushed:
		default:
			out = append(out, o)
		}
	}
	return append(out, c)
}
