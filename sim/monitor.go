package sim

// Monitor is one client connection's view of the event stream: while
// connected it receives every event; while disconnected events are lost to
// it, as with a real QMP socket.
type Monitor struct {
	m         *Manager
	connected bool
	events    []Event
	lost      int
	unsub     func()
}

// NewMonitor returns a connected monitor.
func (m *Manager) NewMonitor() *Monitor {
	mon := &Monitor{m: m, connected: true}
	mon.unsub = m.Subscribe(func(e Event) {
		if mon.connected {
			mon.events = append(mon.events, e)
		} else {
			mon.lost++
		}
	})
	return mon
}

// Disconnect drops the connection; events until Connect are lost.
func (mon *Monitor) Disconnect() { mon.connected = false }

// Connect (re)connects the monitor.
func (mon *Monitor) Connect() { mon.connected = true }

// Connected reports whether the monitor is connected.
func (mon *Monitor) Connected() bool { return mon.connected }

// Lost is the number of events emitted while disconnected.
func (mon *Monitor) Lost() int { return mon.lost }

// Take returns the events received since the last Take.
func (mon *Monitor) Take() []Event {
	ev := mon.events
	mon.events = nil
	return ev
}

// Close unsubscribes the monitor.
func (mon *Monitor) Close() { mon.unsub() }

// Recorder keeps every event the manager emits, for logs and tests.
type Recorder struct {
	events []Event
	unsub  func()
}

// Record starts recording every event.
func (m *Manager) Record() *Recorder {
	r := &Recorder{}
	r.unsub = m.Subscribe(func(e Event) {
		e.Seq = uint64(len(r.events))
		r.events = append(r.events, e)
	})
	return r
}

// Events returns every event recorded so far.
func (r *Recorder) Events() []Event { return r.events }

// Stop ends recording.
func (r *Recorder) Stop() { r.unsub() }
