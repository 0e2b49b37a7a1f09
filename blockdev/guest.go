package blockdev

import "math/rand/v2"

// GuestWriter issues random guest writes to one node through its front (so
// copy-before-write and mirror see them as guest I/O) and keeps a shadow
// copy of what the guest should read back. Tests interleave its writes with
// virtual time; the shadow is the data oracle for mirror, commit and stream.
type GuestWriter struct {
	g      *Graph
	node   string
	r      *rand.Rand
	maxLen int
	shadow []byte
	Writes int
}

// NewGuestWriter returns a writer for node seeded by seed; writes are 1 to
// maxLen bytes long. The shadow starts as the node's current content, so
// keep the node small enough to hold in memory.
func NewGuestWriter(g *Graph, node string, seed uint64, maxLen int) (*GuestWriter, error) {
	n, err := g.Lookup(node)
	if err != nil {
		return nil, err
	}
	w := &GuestWriter{g: g, node: node, r: rand.New(rand.NewPCG(seed, 0x6a09e667)), maxLen: max(maxLen, 1)}
	w.shadow = make([]byte, n.Size())
	if _, err := n.Front().Read(0, w.shadow); err != nil {
		return nil, err
	}
	return w, nil
}

// Write issues one random write and records it in the shadow if it
// succeeded. A write held by a drained section (hold.go) returns no error
// and reaches the shadow when it is issued and succeeds, so the shadow
// stays in submission order.
func (w *GuestWriter) Write() (off int64, n int, err error) {
	size := int64(len(w.shadow))
	n = 1 + w.r.IntN(min(w.maxLen, int(size)))
	off = w.r.Int64N(size - int64(n) + 1)
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(w.r.Uint32())
	}
	var werr error
	if w.g.SubmitWrite(w.node, off, p, func(_ int64, e error) {
		werr = e
		if e == nil {
			copy(w.shadow[off:], p)
			w.Writes++
		}
	}) {
		err = werr
	}
	return off, n, err
}

// Shadow is what the guest must read from the node now.
func (w *GuestWriter) Shadow() []byte { return w.shadow }
