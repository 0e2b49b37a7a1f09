package sim

// Bounded variants of Settle and Advance for a caller that must stay
// responsive (the QMP server's loop). An unthrottled job yields to the loop
// after every slice but is due again at once, on the same virtual instant,
// so Settle and Advance run it to its end before returning: a 512 GiB
// backup of null-co nodes would hold every command and signal for the
// whole copy. These variants stop after n queued entries, which bounds the
// work between two looks at the clients by what the simulator did, not by
// the wall clock; the run itself (entries and their order) is the same as
// with Settle and Advance, only cut into pieces.

// SettleAtMost runs at most n entries due now and reports whether more
// are due now.
func (m *Manager) SettleAtMost(n int) (more bool) {
	for ; n > 0; n-- {
		if !m.eng.runOne(m.eng.now) {
			return false
		}
	}
	return m.dueBy(m.eng.now)
}

// AdvanceAtMost runs at most n entries due by now+d. When all of them ran
// it sets the clock to now+d, as Advance does, and reports false; when the
// budget ran out first the clock stays at the last entry run, so calling it
// again (with what is left of d) continues exactly where Advance would.
func (m *Manager) AdvanceAtMost(d int64, n int) (more bool) {
	end := m.eng.now + max(d, 0)
	for ; n > 0; n-- {
		if !m.eng.runOne(end) {
			break
		}
	}
	if m.dueBy(end) {
		return true
	}
	m.eng.now = max(m.eng.now, end)
	return false
}

func (m *Manager) dueBy(t int64) bool {
	at, ok := m.eng.next()
	return ok && at <= t
}
