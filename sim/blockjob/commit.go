package blockjob

import (
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
	"slices"
)

// CommitArgs are block-commit's arguments.
type CommitArgs struct {
	Common
	Device         string  `json:"device"`
	BaseNode       *string `json:"base-node,omitempty"`
	Base           *string `json:"base,omitempty"`
	TopNode        *string `json:"top-node,omitempty"`
	Top            *string `json:"top,omitempty"`
	BackingFile    *string `json:"backing-file,omitempty"`
	OnError        string  `json:"on-error,omitempty"`
	FilterNodeName string  `json:"filter-node-name,omitempty"`
}

// commitBufferSize is COMMIT_BUFFER_SIZE (and STREAM_CHUNK).
const commitBufferSize = 512 << 10

// inChain reports whether n is top or below it in top's backing chain
// (bdrv_chain_contains).
func inChain(top, n *blockdev.Node) bool {
	return slices.Contains(top.Chain(), n.SkipFilters())
}

// nodeInChain is block-commit's top-node and base-node: the node named
// name, which must be top or below it in top's backing chain.
func nodeInChain(g *blockdev.Graph, top *blockdev.Node, name string) (*blockdev.Node, error) {
	n, err := g.LookupNode(name)
	if err != nil {
		return nil, err
	}
	if !inChain(top, n) {
		return nil, qerr.Generic("'%s' is not in this backing file chain", name)
	}
	return n, nil
}

// findBacking is bdrv_find_backing_image: the node below top whose image
// filename (or node-name) is name.
func findBacking(top *blockdev.Node, name string) *blockdev.Node {
	ch := top.Chain()
	if len(ch) < 2 {
		return nil
	}
	for _, c := range ch[1:] {
		if c.Info().File == name || c.Name() == name {
			return c
		}
	}
	return nil
}

// Commit is block-commit (qmp_block_commit), checks in QEMU's order
// (reference §8.1). An active commit runs the mirror driver with type
// commit; otherwise the commit driver.
func Commit(m *sim.Manager, g *blockdev.Graph, a CommitArgs) (*sim.Job, error) {
	onError, err := parsePolicy("on-error", a.OnError)
	if err != nil {
		return nil, err
	}
	bs := g.Node(a.Device)
	if bs == nil {
		return nil, qerr.New(qerr.DeviceNotFound, "Device '%s' not found", a.Device)
	}
	if !bs.IsRoot() {
		return nil, qerr.Generic("Need a root block node")
	}
	if err := bs.OpBlocked(blockdev.OpCommitSource); err != nil {
		return nil, err
	}
	if a.Top != nil && a.TopNode != nil {
		return nil, qerr.Generic("'top-node' and 'top' are mutually exclusive")
	}
	top := bs
	switch {
	case a.TopNode != nil:
		if top, err = nodeInChain(g, bs, *a.TopNode); err != nil {
			return nil, err
		}
	case a.Top != nil:
		if top = findBacking(bs, *a.Top); top == nil && bs.Info().File != *a.Top {
			return nil, qerr.Generic("Top image file %s not found", *a.Top)
		} else if top == nil {
			top = bs
		}
	}
	if a.Base != nil && a.BaseNode != nil {
		return nil, qerr.Generic("'base-node' and 'base' are mutually exclusive")
	}
	var base *blockdev.Node
	switch {
	case a.BaseNode != nil:
		if base, err = nodeInChain(g, top, *a.BaseNode); err != nil {
			return nil, err
		}
	case a.Base != nil:
		if base = findBacking(top, *a.Base); base == nil {
			return nil, qerr.Generic("Can't find '%s' in the backing chain", *a.Base)
		}
	default:
		ch := top.Chain()
		if len(ch) == 0 {
			return nil, qerr.Generic("There is no backimg image")
		}
		base = ch[len(ch)-1]
	}
	for _, n := range top.Chain() {
		if err := n.OpBlocked(blockdev.OpCommitTarget); err != nil {
			return nil, err
		}
		if n == base.SkipFilters() {
			break
		}
	}
	if top.SkipFilters() == base.SkipFilters() {
		return nil, qerr.Generic("cannot commit an image into itself")
	}
	header := base.Info().File
	if a.BackingFile != nil {
		header = *a.BackingFile
	}
	if top.SkipFilters() == bs.SkipFilters() {
		if a.BackingFile != nil {
			return nil, qerr.Generic("'backing-file' specified, but 'top' is the active layer")
		}
		d := &mirrorJob{typ: sim.TypeCommit, sync: SyncTop, onSource: onError, onTarget: onError,
			base: base, toReplace: bs, isCommit: true}
		return startMirror(m, g, d, bs, base, 0, nil, a.FilterNodeName, a.Common, "")
	}
	overlay := top.Overlay()
	if overlay != nil {
		if err := overlay.OpBlocked(blockdev.OpCommitTarget); err != nil {
			return nil, err
		}
	}
	d := &commitJob{top: top, overlay: overlay, chainJob: chainJob{u: user{m: m, t: sim.TypeCommit},
		g: g, device: bs, base: base, onError: onError, header: header}}
	m.DrainAllFor(sim.DrainCommitBeforeJob)
	j, err := m.Create(a.spec("", d, nil))
	if err != nil {
		return nil, err
	}
	d.u.j = j
	j.Data = d
	reason := blockerText(sim.TypeCommit)
	g.AttachJob(&d.u, "main node", bs, reason)
	filter, err := g.InsertFilter(blockdev.DriverCommitTop, a.FilterNodeName, top)
	if err != nil {
		g.DetachJob(&d.u)
		m.EarlyFail(j)
		return nil, err
	}
	d.filter = filter
	for n := top; n != nil && n != base; n = n.Backing() {
		g.AttachJob(&d.u, "intermediate node", n, reason)
	}
	g.AttachJob(&d.u, "base", base, reason)
	d.baseBB, err = g.AttachBackendPerm("an unnamed block device", base,
		blockdev.PermConsistentRead|blockdev.PermWrite|blockdev.PermResize,
		blockdev.PermConsistentRead|blockdev.PermWriteUnchanged)
	if err != nil {
		g.DetachJob(&d.u)
		g.RemoveFilter(filter)
		m.EarlyFail(j)
		return nil, err
	}
	m.DrainAllFor(sim.DrainCommitJobNodes)
	m.Start(j)
	return j, nil
}

// commitJob is block/commit.c's job (not the active layer).
type commitJob struct {
	chainJob
	top      *blockdev.Node
	overlay  *blockdev.Node
	baseBB   *blockdev.Edge
	prepared bool
}

func (d *commitJob) Type() sim.JobType { return sim.TypeCommit }

// Run is commit_run: copy what is allocated above base, 512 KiB at a time.
func (d *commitJob) Run(j *sim.Job) sim.Step {
	if !d.started {
		d.start(j, d.top.Size())
		if d.base.Size() < d.length {
			if err := d.base.Truncate(d.length); err != nil {
				return sim.Finish(&sim.JobError{Errno: errno.EIO})
			}
		}
	}
	if sleep, ok := d.owed(); ok {
		return sleep
	}
	if d.done(j) {
		return sim.Finish(nil)
	}
	alloc, n := blockdev.AllocatedAbove(d.top, d.base, false, d.offset, d.chunk(), blockdev.DefaultClusterSize)
	var lat int64
	if alloc {
		var err error
		var isRead bool
		lat, isRead, err = copyRange(d.top, d.base, d.offset, n)
		if err != nil {
			e := ioErrno(err)
			switch j.ErrorAction(d.onError, isRead, e) {
			case sim.ActionReport:
				return sim.Finish(&sim.JobError{Errno: e})
			case sim.ActionIgnore:
				return sim.Sleep(retryNs) // n = 0: the same offset again
			}
			return sim.Continue()
		}
	}
	return d.advance(j, n, alloc, lat)
}

// Prepare is commit_prepare: the overlay of top now uses base
// (bdrv_drop_intermediate); intermediate nodes leave the chain.
func (d *commitJob) Prepare(j *sim.Job) error {
	d.prepared = true
	for _, e := range d.filter.Parents() {
		if e.Kind == blockdev.ParentNode && e.Role == "backing" {
			if err := d.rebase(e.Parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// Clean is commit_abort/commit_clean: the commit filter goes (restoring the
// chain if prepare did not run) and the job lets go of its nodes.
func (d *commitJob) Clean(j *sim.Job) {
	d.removeFilter()
	d.g.DetachBackend(d.baseBB)
	d.g.DetachJob(&d.u)
	if d.prepared {
		j.Manager().DrainAllFor(sim.DrainCommitDone)
	} else {
		j.Manager().DrainAllFor(sim.DrainCommitAbort)
	}
}
