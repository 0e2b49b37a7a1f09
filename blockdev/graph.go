package blockdev

import (
	"fmt"
	"slices"

	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// Graph is the block graph: every node by node-name, plus the edges from
// parents (nodes, block backends, block jobs) to children.
type Graph struct {
	nodes   map[string]*Node
	order   []*Node // creation order, newest last (query order is newest first)
	autoSeq int
	ruleSeq int
	held    map[*Node]*guestHold // guest writes waiting for a drained section to end (hold.go)
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{nodes: map[string]*Node{}} }

// Node returns the node named name, or nil.
func (g *Graph) Node(name string) *Node { return g.nodes[name] }

// Nodes returns every node in creation order, oldest first.
func (g *Graph) Nodes() []*Node {
	out := make([]*Node, len(g.order))
	copy(out, g.order)
	return out
}

// Lookup is bdrv_lookup_bs(name, name): the node named name, or QEMU's
// "Cannot find device='%s' nor node-name='%s'". jobfsm has no named block
// backends, so device names never match.
func (g *Graph) Lookup(name string) (*Node, error) {
	if n := g.nodes[name]; n != nil {
		return n, nil
	}
	return nil, qerr.Generic("Cannot find device='%s' nor node-name='%s'", name, name)
}

// LookupNode is bdrv_lookup_bs(NULL, name): the same with an empty device.
func (g *Graph) LookupNode(name string) (*Node, error) {
	if n := g.nodes[name]; n != nil {
		return n, nil
	}
	return nil, qerr.Generic("Cannot find device='' nor node-name='%s'", name)
}

func (g *Graph) autoName() string {
	g.autoSeq++
	return fmt.Sprintf("#block%03d", g.autoSeq)
}

// --- edges -----------------------------------------------------------------

// EdgeKind says what kind of parent an edge has.
type EdgeKind uint8

const (
	// ParentNode is a node's child link (file, backing, image, target).
	ParentNode EdgeKind = iota
	// ParentBackend is a BlockBackend (a guest device, an export, a job's
	// own BlockBackend on its target).
	ParentBackend
	// ParentJob is a block job's link (block_job_add_bdrv).
	ParentJob
)

// JobUser is the block job side of a ParentJob edge: drained sections of
// the node pause the job (child_job_drained_begin/end).
type JobUser interface {
	DrainBegin()
	DrainEnd()
	// Desc is child_job_get_parent_desc: "<type> job '<id>'".
	Desc() string
}

// Edge links a parent to a child node.
type Edge struct {
	Kind   EdgeKind
	Role   string // "file", "backing", "image", "target", "main node", ...
	Parent *Node  // ParentNode
	Job    JobUser
	Desc   string // ParentBackend description
	Child  *Node
	// Perm and Shared are the permissions the parent takes and shares;
	// edges made without them take nothing and share everything.
	Perm, Shared Perm
}

func (e *Edge) drainBegin() {
	switch e.Kind {
	case ParentNode:
		e.Parent.drainBegin()
	case ParentJob:
		e.Job.DrainBegin()
	}
}

func (e *Edge) drainEnd() {
	switch e.Kind {
	case ParentNode:
		e.Parent.drainEnd()
	case ParentJob:
		e.Job.DrainEnd()
	}
}

// attach links e to child: newest parent first, as QLIST_INSERT_HEAD, and
// the new parent inherits the drained sections active on the child.
func (g *Graph) attach(e *Edge, child *Node) {
	e.Child = child
	child.parents = append([]*Edge{e}, child.parents...)
	for i := 0; i < child.quiesce; i++ {
		e.drainBegin()
	}
}

func (g *Graph) detach(e *Edge) {
	c := e.Child
	if c == nil {
		return
	}
	for i, p := range c.parents {
		if p == e {
			c.parents = append(c.parents[:i:i], c.parents[i+1:]...)
			break
		}
	}
	for i := 0; i < c.quiesce; i++ {
		e.drainEnd()
	}
	e.Child = nil
}

// moveEdge points e at a new child. Like bdrv_replace_child_noperm it
// applies only the difference of the two children's drained sections, so a
// job above a moved edge does not run in between.
func (g *Graph) moveEdge(e *Edge, to *Node) {
	from := e.Child
	saldo := to.quiesce - from.quiesce
	for ; saldo > 0; saldo-- {
		e.drainBegin()
	}
	for i, p := range from.parents {
		if p == e {
			from.parents = append(from.parents[:i:i], from.parents[i+1:]...)
			break
		}
	}
	e.Child = to
	to.parents = append([]*Edge{e}, to.parents...)
	for ; saldo < 0; saldo++ {
		e.drainEnd()
	}
}

// DrainBegin starts a drained section on n (bdrv_drained_begin): every
// parent is drained in turn, and each block job attached to n or above it
// is paused once per attachment.
func (g *Graph) DrainBegin(n *Node) { n.drainBegin() }

// DrainEnd ends a drained section (bdrv_drained_end); parents are resumed
// newest first, as QEMU walks its parent list.
func (g *Graph) DrainEnd(n *Node) { n.drainEnd() }

// DrainAll is bdrv_drain_all (begin, then end), which every QMP
// transaction runs first: each block job attached to any node is paused
// once per attachment and then resumed, the paused/running blip of
// reference §3.3. Node parents are not drained recursively
// (ignore_bds_parents), only jobs and backends are told.
func (g *Graph) DrainAll() {
	var edges []*Edge
	for _, n := range g.order {
		for _, e := range n.parents {
			if e.Kind == ParentJob {
				edges = append(edges, e)
			}
		}
	}
	for _, e := range edges {
		e.Job.DrainBegin()
	}
	for _, e := range edges {
		e.Job.DrainEnd()
	}
}

func (n *Node) drainBegin() {
	n.quiesce++
	for _, e := range append([]*Edge(nil), n.parents...) {
		e.drainBegin()
	}
}

func (n *Node) drainEnd() {
	if n.quiesce == 0 {
		return
	}
	n.quiesce--
	for _, e := range append([]*Edge(nil), n.parents...) {
		e.drainEnd()
	}
}

// AttachJob is block_job_add_bdrv: job takes n as child role and blocks
// every operation on n with reason (job->blocker).
func (g *Graph) AttachJob(job JobUser, role string, n *Node, reason string) *Edge {
	e := &Edge{Kind: ParentJob, Role: role, Job: job, Shared: PermAll}
	g.attach(e, n)
	n.blockAll(job, reason, 0)
	return e
}

// DetachJob drops every edge and op blocker of job
// (block_job_remove_all_bdrv).
func (g *Graph) DetachJob(job JobUser) {
	for _, n := range g.allNodes() {
		for _, e := range append([]*Edge(nil), n.parents...) {
			if e.Kind == ParentJob && e.Job == job {
				g.detach(e)
			}
		}
		n.unblock(job)
	}
}

// AttachBackend adds a BlockBackend parent (an export, a guest device, a
// job's BlockBackend on its target). desc is how permission errors name it.
func (g *Graph) AttachBackend(desc string, n *Node) *Edge {
	e := &Edge{Kind: ParentBackend, Role: "root", Desc: desc, Shared: PermAll}
	g.attach(e, n)
	return e
}

// DetachBackend removes a backend edge.
func (g *Graph) DetachBackend(e *Edge) { g.detach(e) }

func (g *Graph) allNodes() []*Node {
	return append([]*Node(nil), g.order...)
}

// IsRoot is bdrv_is_root_node: only BlockBackends use the node.
func (n *Node) IsRoot() bool {
	for _, e := range n.parents {
		if e.Kind != ParentBackend {
			return false
		}
	}
	return true
}

// HasBackend reports a BlockBackend parent (blockdev-del's "in use").
func (n *Node) HasBackend() bool {
	for _, e := range n.parents {
		if e.Kind == ParentBackend {
			return true
		}
	}
	return false
}

// Parents returns the node's parent edges, newest first.
func (n *Node) Parents() []*Edge { return append([]*Edge(nil), n.parents...) }

// --- op blockers -------------------------------------------------------------

// Op is BlockOpType.
type Op uint8

const (
	OpBackupSource Op = iota
	OpBackupTarget
	OpChange
	OpCommitSource
	OpCommitTarget
	OpDataplane
	OpDriveDel
	OpEject
	OpExternalSnapshot
	OpInternalSnapshot
	OpInternalSnapshotDelete
	OpMirrorSource
	OpMirrorTarget
	OpResize
	OpStream
	OpReplace
	numOps
)

type blocker struct {
	owner  any
	reason string
	except uint32 // ops this blocker does not block
}

// blockAll is bdrv_op_block_all: the newest blocker is reported first.
func (n *Node) blockAll(owner any, reason string, except uint32) {
	n.blockers = append([]*blocker{{owner: owner, reason: reason, except: except}}, n.blockers...)
}

func (n *Node) unblock(owner any) {
	out := n.blockers[:0]
	for _, b := range n.blockers {
		if b.owner != owner {
			out = append(out, b)
		}
	}
	clear(n.blockers[len(out):])
	n.blockers = out
}

// BlockAll adds an op blocker with reason on every operation, owned by owner
// (e.g. mirror's "block device is in use by block-job-complete").
func (g *Graph) BlockAll(n *Node, owner any, reason string) { n.blockAll(owner, reason, 0) }

// Unblock removes owner's blockers from n.
func (g *Graph) Unblock(n *Node, owner any) { n.unblock(owner) }

// OpBlocked is bdrv_op_is_blocked: "Node '%s' is busy: " and the reason of
// the most recently added blocker of op.
func (n *Node) OpBlocked(op Op) error {
	for _, b := range n.blockers {
		if b.except&(1<<op) == 0 {
			return qerr.Generic("Node '%s' is busy: %s", n.name, b.reason)
		}
	}
	return nil
}

// backingExcept are the ops a backing file still allows
// (bdrv_backing_attach).
const backingExcept = 1<<OpCommitTarget | 1<<OpStream | 1<<OpBackupSource | 1<<OpBackupTarget

// --- graph edits (job prepare/commit/abort/clean only) -----------------------

// ReplaceNode is bdrv_replace_node(from, to): every node and BlockBackend
// parent of from, except to itself and job links (which stay at their node),
// now uses to. Guest I/O addressed to from follows.
func (g *Graph) ReplaceNode(from, to *Node) {
	for _, e := range append([]*Edge(nil), from.parents...) {
		if e.Kind == ParentJob || e.Parent == to {
			continue
		}
		if e.Kind == ParentNode && e.Role == "backing" {
			from.unblock(e.Parent)
		}
		g.moveEdge(e, to)
		if e.Kind == ParentNode && e.Role == "backing" {
			e.Parent.setBackingBlocker()
		}
	}
	// Guest I/O moves only if it still addresses from: a second filter
	// inserted above a node whose guest already went to a first filter
	// goes below that filter (QEMU chains both).
	if from.frontOf == nil {
		from.frontOf = to
	}
	// removing a filter can close a loop back to to: its guest is at to
	for n, i := to.frontOf, 0; n != nil && i < 64; n, i = n.frontOf, i+1 {
		if n == to {
			to.frontOf = nil
			break
		}
	}
}

// InsertFilter creates an implicit filter node of driver above n (named
// name, or auto-named when empty) and moves n's parents to it
// (bdrv_insert_node).
func (g *Graph) InsertFilter(driver, name string, n *Node) (*Node, error) {
	implicit := name == ""
	if implicit {
		name = g.autoName()
	} else if err := g.checkNewName(name); err != nil {
		return nil, err
	}
	f := &Node{g: g, name: name, driver: driver, implicit: implicit}
	role := "file"
	if driver == DriverMirrorTop || driver == DriverCommitTop {
		role = "backing"
	}
	g.add(f)
	e := &Edge{Kind: ParentNode, Role: role, Parent: f, Shared: PermAll}
	g.attach(e, n)
	if role == "file" {
		f.file = e
	} else {
		f.backing = e
	}
	g.ReplaceNode(n, f)
	return f, nil
}

// AddFilterChild gives a filter an extra child (copy-before-write's target).
func (g *Graph) AddFilterChild(f *Node, role string, c *Node) {
	e := &Edge{Kind: ParentNode, Role: role, Parent: f, Shared: PermAll}
	g.attach(e, c)
	f.extra = append(f.extra, e)
}

// RemoveFilter takes filter f out of the graph: its parents go back to its
// filtered child, and f is deleted (bdrv_cbw_drop, mirror/stream filter drop).
func (g *Graph) RemoveFilter(f *Node) {
	if g.nodes[f.name] != f {
		return
	}
	c := f.Filtered()
	if c != nil {
		g.ReplaceNode(f, c)
	}
	g.destroy(f)
}

// SetBacking points overlay n's backing link at b (nil: no backing), as
// bdrv_set_backing_hd, and writes header as the image's backing file name
// (bdrv_change_backing_file; for a qcow2 file, in its header).
func (g *Graph) SetBacking(n, b *Node, header string) error {
	if qs, ok := n.store.(*Qcow2Store); ok {
		if err := qs.SetBackingFile(header); err != nil {
			return err
		}
	}
	g.setBacking(n, b, header)
	return nil
}

func (g *Graph) setBacking(n, b *Node, header string) {
	if n.backing != nil {
		old := n.backing
		old.Child.unblock(n)
		g.detach(old)
		n.backing = nil
		if old.Child != nil {
			g.maybeGC(old.Child)
		}
	}
	if b != nil {
		e := &Edge{Kind: ParentNode, Role: "backing", Parent: n, Shared: PermAll}
		g.attach(e, b)
		n.backing = e
		n.setBackingBlocker()
	}
	n.backingFile = header
}

// setBackingBlocker installs "node is used as backing hd of '%s'" on the
// node's backing child (bdrv_backing_attach); only COW overlays do this.
func (n *Node) setBackingBlocker() {
	if n.backing == nil || n.driver != DriverQcow2 {
		return
	}
	b := n.backing.Child
	b.unblock(n)
	b.blockAll(n, fmt.Sprintf("node is used as backing hd of '%s'", n.name), backingExcept)
}

func (g *Graph) add(n *Node) {
	g.nodes[n.name] = n
	g.order = append(g.order, n)
}

// destroy removes n (which must have no parents) and unrefs its children.
func (g *Graph) destroy(n *Node) {
	g.forget(n)
	for _, e := range n.children() {
		c := e.Child
		if e.Role == "backing" && c != nil {
			c.unblock(n)
		}
		g.detach(e)
		if c != nil {
			g.maybeGC(c)
		}
	}
	closeStore(n.store)
}

// forget takes n out of the graph's names and order and marks it deleted.
func (g *Graph) forget(n *Node) {
	delete(g.nodes, n.name)
	if i := slices.Index(g.order, n); i >= 0 {
		g.order = append(g.order[:i:i], g.order[i+1:]...)
	}
	n.deleted = true
}

func closeStore(s Store) {
	if c, ok := s.(interface{ Close() error }); ok {
		c.Close()
	}
}

// maybeGC deletes an implicit, unreferenced node (bdrv_unref to zero).
func (g *Graph) maybeGC(c *Node) {
	if !c.monitorOwned && len(c.parents) == 0 && !c.deleted {
		g.destroy(c)
	}
}

// --- errors -----------------------------------------------------------------

// IOError is an I/O failure with its errno, as the job drivers receive it.
type IOError struct {
	Errno errno.Errno
	Read  bool
}

func (e *IOError) Error() string { return e.Errno.String() }
