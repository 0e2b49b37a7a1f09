package sim

import (
	"container/heap"
	"math/rand/v2"
)

// The engine is a discrete-event loop on a virtual clock. Work that QEMU
// would run later on its main loop (bottom halves, timers) is queued with a
// due time; entries due at the same time run in an order drawn from the
// seeded generator, so a seed selects one interleaving and replays it exactly.

type entry struct {
	at    int64
	order uint64 // seeded tie-break among entries due at the same time
	seq   uint64 // insertion order: a total order even if order collides
	fn    func()
	dead  bool
	index int
}

type queue []*entry

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.order != b.order {
		return a.order < b.order
	}
	return a.seq < b.seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i]; q[i].index = i; q[j].index = j }
func (q *queue) Push(x any)   { e := x.(*entry); e.index = len(*q); *q = append(*q, e) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.index = -1
	return e
}

type engine struct {
	now int64
	// running is set while an entry runs: code called from a bottom half
	// (job completion) must not run the loop again.
	running bool
	rng     *rand.Rand
	q       queue
	seq     uint64
	live    int // entries not cancelled
}

func newEngine(seed uint64) engine {
	return engine{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// schedule queues fn to run at virtual time at (never earlier than now).
func (e *engine) schedule(at int64, fn func()) *entry {
	e.seq++
	en := &entry{at: max(at, e.now), order: e.rng.Uint64(), seq: e.seq, fn: fn}
	heap.Push(&e.q, en)
	e.live++
	return en
}

// cancel drops a queued entry; cancelling twice or after it ran is a no-op.
func (e *engine) cancel(en *entry) {
	if en == nil || en.dead {
		return
	}
	en.dead = true
	e.live--
	if en.index >= 0 {
		heap.Remove(&e.q, en.index)
	}
}

// next returns the due time of the earliest live entry.
func (e *engine) next() (int64, bool) {
	if len(e.q) == 0 {
		return 0, false
	}
	return e.q[0].at, true
}

// runOne runs the earliest entry if it is due at or before limit, advancing
// the clock to its time.
func (e *engine) runOne(limit int64) bool {
	if len(e.q) == 0 || e.q[0].at > limit {
		return false
	}
	en := heap.Pop(&e.q).(*entry)
	en.dead = true
	e.live--
	if en.at > e.now {
		e.now = en.at
	}
	was := e.running
	e.running = true
	en.fn()
	e.running = was
	return true
}
