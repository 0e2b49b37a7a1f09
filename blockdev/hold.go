package blockdev

// Guest requests in a drained section.
//
// bdrv_drained_begin(bs) quiesces every parent of bs, up to the guest's
// BlockBackend (blk_root_drained_begin): from then on a new guest request
// waits in blk_wait_while_drained until bdrv_drained_end, and only then goes
// down the graph, through whatever the BlockBackend's root is by that time.
// A mirror keeps its source drained from the end of mirror_run until
// mirror_exit_common has pivoted (block/mirror.c need_drain), which is what
// makes a write issued while the job waits in pending land on the target.
//
// The simulation addresses the guest by node name and has no BlockBackend,
// so a hold is the guest-visible half of such a drained section: a guest
// write (Graph.Write, Graph.SubmitWrite) whose path from the named node's
// front down through the filters reaches a held node is queued, and is
// issued again, in order, when the last hold on that node ends, through the
// front the named node has by then: after ReplaceNode (a pivot, a removed
// filter) that is the node that took over, exactly like the BlockBackend's
// new root. Jobs' own I/O (Node.Read, Node.Write) is never held, and
// neither are guest reads. Holds do not pause jobs: that is DrainBegin's
// part.

// guestHold is one node's hold count and its queued writes.
type guestHold struct {
	count  int
	writes []heldWrite
}

type heldWrite struct {
	node *Node // the node the guest named
	off  int64
	p    []byte
	done func(lat int64, err error)
}

// HoldGuestWrites starts holding guest writes that reach n (nested holds
// add up).
func (g *Graph) HoldGuestWrites(n *Node) {
	if g.held == nil {
		g.held = map[*Node]*guestHold{}
	}
	h := g.held[n]
	if h == nil {
		h = &guestHold{}
		g.held[n] = h
	}
	h.count++
}

// ReleaseGuestWrites ends one hold on n; when none is left, the queued
// writes are issued in the order they were submitted, each through its
// node's front as the graph is now (a write may meet another hold there and
// wait again), and their done callbacks run. A release without a hold does
// nothing.
func (g *Graph) ReleaseGuestWrites(n *Node) {
	h := g.held[n]
	if h == nil {
		return
	}
	if h.count--; h.count > 0 {
		return
	}
	delete(g.held, n)
	for _, w := range h.writes {
		g.submit(w.node, w.off, w.p, w.done, false)
	}
}

// HeldWrites is how many guest writes wait for n's hold to end.
func (g *Graph) HeldWrites(n *Node) int {
	if h := g.held[n]; h != nil {
		return len(h.writes)
	}
	return 0
}

// holder returns the held node a guest write to n would pass, or nil.
func (g *Graph) holder(n *Node) *Node {
	if len(g.held) == 0 {
		return nil
	}
	for x, i := n.Front(), 0; x != nil && i < 64; x, i = x.Filtered(), i+1 {
		if g.held[x] != nil {
			return x
		}
	}
	return nil
}

// SubmitWrite is a guest write through node name's front that may have to
// wait: done (if not nil) runs with the write's latency and error when it
// has completed, at once or when the hold it waits for ends. It reports
// whether the write completed at once. The bytes are copied when the write
// is queued, so the caller may reuse p.
func (g *Graph) SubmitWrite(name string, off int64, p []byte, done func(lat int64, err error)) bool {
	n, err := g.Lookup(name)
	if err != nil {
		if done != nil {
			done(0, err)
		}
		return true
	}
	return g.submit(n, off, p, done, true)
}

func (g *Graph) submit(n *Node, off int64, p []byte, done func(int64, error), copyP bool) bool {
	if h := g.holder(n); h != nil {
		if copyP {
			p = append([]byte(nil), p...)
		}
		hw := &g.held[h].writes
		*hw = append(*hw, heldWrite{node: n, off: off, p: p, done: done})
		return false
	}
	lat, err := n.Front().Write(off, p)
	if done != nil {
		done(lat, err)
	}
	return true
}
