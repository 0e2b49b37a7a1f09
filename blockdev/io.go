package blockdev

import (
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"math"
)

// --- fault injection (blkdebug inject-error) -----------------------------------

// InjectErrorOptions is blkdebug's BlkdebugInjectErrorOptions.
type InjectErrorOptions struct {
	Event       string `json:"event"`
	State       *int64 `json:"state,omitempty"`
	Iotype      string `json:"iotype,omitempty"`
	Errno       *int64 `json:"errno,omitempty"`
	Sector      *int64 `json:"sector,omitempty"`
	Once        bool   `json:"once,omitempty"`
	Immediately bool   `json:"immediately,omitempty"`
}

// InjectRule is one armed fault: I/O of the given kind that touches
// [Start, End) (any offset when End <= 0) fails with Errno; Once rules
// disarm after firing.
type InjectRule struct {
	ID         int
	Read       bool
	Write      bool
	Start, End int64
	Errno      errno.Errno
	Once       bool
	Fired      int
}

// blkdebug events that name a read or a write request; other events of the
// enum are accepted but never fire in the simulation.
var blkdebugEvents = map[string]string{
	"read_aio": "read", "read_backing_aio": "read", "read_compressed": "read", "preadv": "read",
	"write_aio": "write", "write_compressed": "write", "pwritev": "write", "pwritev_rmw_head": "write",
	"pwritev_rmw_tail": "write", "pwritev_zero": "write", "pwritev_rmw_after_head": "write",
	"pwritev_rmw_after_tail": "write", "write_zeroes": "write",
	"flush_to_os": "", "flush_to_disk": "", "cor_write": "write", "cluster_alloc": "write",
	"l1_update": "", "l2_load": "", "l2_update": "", "refblock_load": "", "refblock_update": "",
	"cluster_alloc_bytes": "", "cluster_free": "",
}

func (o InjectErrorOptions) rule() (*InjectRule, error) {
	kind, ok := blkdebugEvents[o.Event]
	if !ok {
		if o.Event == "" {
			return nil, qerr.Generic("Parameter 'event' is missing")
		}
		return nil, qerr.Generic("Parameter 'event' does not accept value '%s'", o.Event)
	}
	r := &InjectRule{Errno: errno.EIO, Once: o.Once, Start: -1}
	switch o.Iotype {
	case "":
		r.Read, r.Write = kind == "read", kind == "write"
	case "read":
		r.Read = kind == "read"
	case "write", "write-zeroes":
		r.Write = kind == "write"
	case "discard", "flush", "block-status":
	default:
		return nil, qerr.Generic("Parameter 'iotype' does not accept value '%s'", o.Iotype)
	}
	if o.Errno != nil {
		r.Errno = errno.Errno(*o.Errno)
	}
	if o.Sector != nil && *o.Sector >= 0 {
		r.Start, r.End = *o.Sector*512, *o.Sector*512+512
	}
	return r, nil
}

// InjectError arms a fault on node name at run time and returns its id.
// Any node can carry rules, not only blkdebug ones.
func (g *Graph) InjectError(name string, r InjectRule) (int, error) {
	n, err := g.Lookup(name)
	if err != nil {
		return 0, err
	}
	if !r.Read && !r.Write {
		return 0, qerr.Generic("Injected error must apply to reads or writes")
	}
	if r.Errno <= 0 {
		r.Errno = errno.EIO
	}
	g.ruleSeq++
	r.ID = g.ruleSeq
	n.rules = append(n.rules, &r)
	return r.ID, nil
}

// ClearInjections disarms every rule of node name.
func (g *Graph) ClearInjections(name string) error {
	n, err := g.Lookup(name)
	if err != nil {
		return err
	}
	n.rules = nil
	return nil
}

// RemoveInjection disarms the rule with id on node name; false if it is
// not armed (a once-rule that fired is gone).
func (g *Graph) RemoveInjection(name string, id int) (bool, error) {
	n, err := g.Lookup(name)
	if err != nil {
		return false, err
	}
	for i, r := range n.rules {
		if r.ID == id {
			n.rules = append(n.rules[:i:i], n.rules[i+1:]...)
			return true, nil
		}
	}
	return false, nil
}

// Rules returns the node's armed rules.
func (n *Node) Rules() []InjectRule {
	out := make([]InjectRule, len(n.rules))
	for i, r := range n.rules {
		out[i] = *r
	}
	return out
}

func (n *Node) checkRules(off, length int64, write bool) error {
	for i, r := range n.rules {
		if write && !r.Write || !write && !r.Read {
			continue
		}
		if r.End > 0 && (off >= r.End || off+length <= r.Start) {
			continue
		}
		r.Fired++
		if r.Once {
			n.rules = append(n.rules[:i:i], n.rules[i+1:]...)
		}
		return &IOError{Errno: r.Errno, Read: !write}
	}
	return nil
}

// --- reads and writes -----------------------------------------------------------

// Read is a guest read of len(p) bytes at off from the node's front (the
// filter a job inserted above it, if any). It returns the virtual latency the
// request cost.
func (g *Graph) Read(name string, off int64, p []byte) (int64, error) {
	n, err := g.Lookup(name)
	if err != nil {
		return 0, err
	}
	return n.Front().Read(off, p)
}

// Write is a guest write through the node's front, so copy-before-write and
// mirror see it like guest I/O. A write that a drained section holds
// (hold.go) is queued and reported as accepted (0, nil); use SubmitWrite to
// learn how it ends.
func (g *Graph) Write(name string, off int64, p []byte) (lat int64, err error) {
	g.SubmitWrite(name, off, p, func(l int64, e error) { lat, err = l, e })
	return lat, err
}

// checkAccess is what a direct read or write checks first: the node is
// still in the graph and the range lies within it (EIO otherwise).
func (n *Node) checkAccess(off int64, length int, read bool) error {
	if n.deleted || off < 0 || length < 0 || off > n.Size() || n.Size()-off < int64(length) {
		return &IOError{Errno: errno.EIO, Read: read}
	}
	return nil
}

// Read reads directly from this node (no front resolution).
func (n *Node) Read(off int64, p []byte) (int64, error) {
	if err := n.checkAccess(off, len(p), true); err != nil {
		return 0, err
	}
	return n.pread(off, p)
}

// Write writes directly to this node.
func (n *Node) Write(off int64, p []byte) (int64, error) {
	if err := n.checkAccess(off, len(p), false); err != nil {
		return 0, err
	}
	return n.pwrite(off, p)
}

func (n *Node) pread(off int64, p []byte) (int64, error) {
	if err := n.checkRules(off, int64(len(p)), false); err != nil {
		return 0, err
	}
	switch n.driver {
	case DriverFile, DriverMemory:
		if err := n.store.ReadAt(p, off); err != nil {
			return 0, &IOError{Errno: errno.EIO, Read: true}
		}
		return 0, nil
	case DriverNullCo:
		clear(p)
		return n.latency, nil
	case DriverQcow2:
		return n.qcowRead(off, p)
	}
	c := n.Filtered()
	if c == nil {
		return 0, &IOError{Errno: errno.EIO, Read: true}
	}
	return c.pread(off, p)
}

func (n *Node) pwrite(off int64, p []byte) (lat int64, err error) {
	if n.readOnly {
		return 0, &IOError{Errno: errno.EPERM}
	}
	if err := n.checkRules(off, int64(len(p)), true); err != nil {
		return 0, err
	}
	switch n.driver {
	case DriverFile, DriverMemory:
		if err := n.store.WriteAt(p, off); err != nil {
			return 0, &IOError{Errno: errno.EIO}
		}
	case DriverNullCo:
		lat = n.latency
	case DriverQcow2:
		lat, err = n.qcowWrite(off, p)
	default:
		c := n.Filtered()
		if c == nil {
			return 0, &IOError{Errno: errno.EIO}
		}
		if n.hook != nil {
			if err := n.hook.BeforeWrite(off, int64(len(p))); err != nil {
				return 0, err
			}
		}
		lat, err = c.pwrite(off, p)
		if err == nil && n.hook != nil {
			err = n.hook.AfterWrite(off, p)
		}
	}
	if err != nil {
		return lat, err
	}
	n.markDirty(off, int64(len(p)))
	return lat, nil
}

// imgRead and imgWrite reach a qcow2 node's clusters: its own image file
// (Qcow2Store) or, for the in-memory overlay, its file child.
func (n *Node) imgRead(off int64, p []byte) (int64, error) {
	if n.store != nil {
		if err := n.store.ReadAt(p, off); err != nil {
			return 0, &IOError{Errno: errno.EIO, Read: true}
		}
		return 0, nil
	}
	return n.file.Child.pread(off, p)
}

func (n *Node) imgWrite(off int64, p []byte) (int64, error) {
	if n.store != nil {
		if err := n.store.WriteAt(p, off); err != nil {
			return 0, &IOError{Errno: errno.EIO}
		}
		return 0, nil
	}
	return n.file.Child.pwrite(off, p)
}

func (n *Node) qcowRead(off int64, p []byte) (int64, error) {
	cs := n.ClusterSize()
	var lat int64
	for len(p) > 0 {
		k := min(int64(len(p)), cs-off%cs)
		var l int64
		var err error
		switch b := n.Backing(); {
		case n.dataStore().Allocated(off):
			l, err = n.imgRead(off, p[:k])
		case b != nil && off < b.Size():
			kb := min(k, b.Size()-off)
			l, err = b.pread(off, p[:kb])
			clear(p[kb:k])
		default:
			clear(p[:k])
		}
		if err != nil {
			return lat, err
		}
		lat += l
		p, off = p[k:], off+k
	}
	return lat, nil
}

func (n *Node) qcowWrite(off int64, p []byte) (int64, error) {
	cs := n.ClusterSize()
	var lat int64
	for len(p) > 0 {
		k := min(int64(len(p)), cs-off%cs)
		piece := p[:k]
		woff := off
		if k < cs && !n.dataStore().Allocated(off) {
			// Copy-on-write: the rest of a newly allocated cluster comes
			// from the backing chain.
			start := off - off%cs
			full := make([]byte, min(cs, n.Size()-start))
			l, err := n.qcowRead(start, full)
			lat += l
			if err != nil {
				return lat, err
			}
			copy(full[off-start:], piece)
			piece, woff = full, start
		}
		l, err := n.imgWrite(woff, piece)
		lat += l
		if err != nil {
			return lat, err
		}
		p, off = p[k:], off+k
	}
	return lat, nil
}

// Status is what bdrv_block_status reports for the bytes at an offset, as
// far as a copying job cares.
type Status uint8

const (
	// StatusData (BDRV_BLOCK_DATA): the bytes must be read and copied.
	StatusData Status = iota
	// StatusZero (BDRV_BLOCK_ZERO without DATA): they read as zeroes.
	StatusZero
	// StatusUndefined (neither): null-co without read-zeroes reports
	// only BDRV_BLOCK_OFFSET_VALID; its contents are undefined.
	StatusUndefined
)

// BlockStatus is bdrv_block_status_above(n, NULL) for the bytes from off:
// their status and how many bytes from off (at most max) share it.
// null-co reports zeroes with read-zeroes and nothing otherwise
// (block/null.c null_co_block_status); a raw file reports its data and its
// holes (file-posix's SEEK_DATA/SEEK_HOLE; a hole reads as zeroes); qcow2
// reports its allocated clusters as data and the rest as its backing file
// does, or as zeroes without one; filters report their child's status.
func (n *Node) BlockStatus(off, max int64) (Status, int64) {
	switch n.driver {
	case DriverNullCo:
		if n.readZeroes {
			return StatusZero, max
		}
		return StatusUndefined, max
	case DriverFile:
		if e, ok := n.store.(interface {
			Extent(off, max int64) (bool, int64)
		}); ok {
			if data, k := e.Extent(off, max); !data {
				return StatusZero, k
			} else {
				return StatusData, k
			}
		}
		return StatusData, max
	case DriverMemory:
		return StatusData, max
	case DriverQcow2:
		cs := n.ClusterSize()
		at := func(o int64) (Status, int64) {
			k := cs - o%cs
			switch b := n.Backing(); {
			case n.dataStore().Allocated(o):
				return StatusData, k
			case b != nil && o < b.Size():
				return b.BlockStatus(o, min(k, b.Size()-o))
			}
			return StatusZero, k
		}
		first, k := at(off)
		for k < max {
			st, more := at(off + k)
			if st != first {
				break
			}
			k += more
		}
		return first, min(k, max)
	}
	if c := n.Filtered(); c != nil {
		return c.BlockStatus(off, max)
	}
	return StatusData, max
}

// IsAllocated reports whether the cluster at off is allocated in n itself
// (bdrv_is_allocated): only COW overlays have unallocated clusters; filters
// report their filtered child's status.
func (n *Node) IsAllocated(off int64) bool {
	switch n.driver {
	case DriverQcow2:
		return n.dataStore().Allocated(off)
	case DriverCBW, DriverMirrorTop, DriverCommitTop, DriverCOR:
		if c := n.Filtered(); c != nil {
			return c.IsAllocated(off)
		}
	}
	return true
}

// AllocatedAbove is bdrv_is_allocated_above(top, base, include_base): the
// cluster at off is allocated in some layer from top down to base (base
// itself only if includeBase; base nil is the whole chain). It also returns
// how many bytes from off share that answer, up to max, in steps of step,
// as QEMU counts them (bdrv_co_common_block_status_above): the layers above
// the first one that holds off narrow the range to what they leave
// unallocated, and that layer's own extent ends it; when none holds it, the
// range is what every layer leaves unallocated.
func AllocatedAbove(top, base *Node, includeBase bool, off, max, step int64) (bool, int64) {
	bytes := max
	for n := top.SkipFilters(); n != nil; n = n.Backing().SkipFilters() {
		if n == base && !includeBase {
			return false, bytes
		}
		alloc, k := n.allocationExtent(off, bytes, step)
		if alloc {
			return true, k
		}
		bytes = k
		if n == base {
			break
		}
	}
	return false, bytes
}

// allocationExtent is bdrv_is_allocated for n alone: whether the cluster
// at off is allocated in n and how many bytes from off (at most max, in
// steps of step) share that; beyond n's end nothing is allocated.
func (n *Node) allocationExtent(off, max, step int64) (bool, int64) {
	switch n.driver {
	case DriverQcow2, DriverCBW, DriverMirrorTop, DriverCommitTop, DriverCOR:
	default:
		// Only qcow2 has unallocated clusters: a layer of any other kind
		// is allocated wherever it reaches, so the answer needs no walk
		// (a 2^62-byte null-co would take 2^46 steps).
		if off >= n.Size() {
			return false, max
		}
		reach := n.Size() + (step-n.Size()%step)%step
		return true, min(reach, off+max) - off
	}
	at := func(o int64) bool { return o < n.Size() && n.IsAllocated(o) }
	first := at(off)
	end := off + max
	o := off - off%step + step
	for o < end {
		if !first {
			// Empty L2 spans are skipped whole, so an
			// empty 2 PiB qcow2 is not walked 64 KiB at a time.
			if u := n.unallocatedUntil(o); u-u%step > o {
				o = u - u%step
				continue
			}
		}
		if at(o) != first {
			break
		}
		o += step
	}
	return first, min(o, end) - off
}

// unallocatedUntil returns how far from o n is known to be unallocated
// without reading L2 tables (o when it may have data at o; beyond its end
// nothing is allocated).
func (n *Node) unallocatedUntil(o int64) int64 {
	if o >= n.Size() {
		return math.MaxInt64
	}
	qs, ok := n.dataStore().(*Qcow2Store)
	if n.driver != DriverQcow2 || !ok {
		return o
	}
	return qs.unmappedUntil(o)
}

// Chain returns the backing chain from n (filters skipped) down to the
// bottom, n first.
func (n *Node) Chain() []*Node {
	var out []*Node
	for c := n.SkipFilters(); c != nil; c = c.Backing().SkipFilters() {
		out = append(out, c)
	}
	return out
}

// Overlay returns the overlay whose backing is n, or nil (bdrv_find_overlay
// for n in a chain).
func (n *Node) Overlay() *Node {
	for _, e := range n.parents {
		if e.Kind == ParentNode && e.Role == "backing" && e.Parent.driver == DriverQcow2 {
			return e.Parent
		}
	}
	return nil
}
