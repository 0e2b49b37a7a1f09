package blockjob

import (
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// StreamArgs are block-stream's arguments.
type StreamArgs struct {
	Common
	Device         string  `json:"device"`
	Base           *string `json:"base,omitempty"`
	BaseNode       *string `json:"base-node,omitempty"`
	Bottom         *string `json:"bottom,omitempty"`
	BackingFile    *string `json:"backing-file,omitempty"`
	OnError        string  `json:"on-error,omitempty"`
	FilterNodeName string  `json:"filter-node-name,omitempty"`
}

// Stream is block-stream (qmp_block_stream), checks in QEMU's order
// (reference §8.2).
func Stream(m *sim.Manager, g *blockdev.Graph, a StreamArgs) (*sim.Job, error) {
	onError, err := parsePolicy("on-error", a.OnError)
	if err != nil {
		return nil, err
	}
	if a.Base != nil && a.BaseNode != nil {
		return nil, qerr.Generic("'base' and 'base-node' cannot be specified at the same time")
	}
	if a.Base != nil && a.Bottom != nil {
		return nil, qerr.Generic("'base' and 'bottom' cannot be specified at the same time")
	}
	if a.Bottom != nil && a.BaseNode != nil {
		return nil, qerr.Generic("'bottom' and 'base-node' cannot be specified at the same time")
	}
	bs, err := g.Lookup(a.Device)
	if err != nil {
		return nil, err
	}
	var base *blockdev.Node // nil: stream the whole chain
	switch {
	case a.Base != nil:
		if base = findBacking(bs, *a.Base); base == nil {
			return nil, qerr.Generic("Can't find '%s' in the backing chain", *a.Base)
		}
	case a.BaseNode != nil:
		if base, err = g.LookupNode(*a.BaseNode); err != nil {
			return nil, err
		}
		if bs == base || !inChain(bs, base) {
			return nil, qerr.Generic("Node '%s' is not a backing image of '%s'", *a.BaseNode, a.Device)
		}
	case a.Bottom != nil:
		bottom, err := g.Lookup(*a.Bottom)
		if err != nil {
			return nil, err
		}
		if bottom.IsFilter() {
			return nil, qerr.Generic("Node '%s' is a filter, use a non-filter node as 'bottom'", *a.Bottom)
		}
		if !inChain(bs, bottom) {
			return nil, qerr.Generic("Node '%s' is not in a chain starting from '%s'", *a.Bottom, a.Device)
		}
		base = bottom.Backing()
	}
	for _, n := range bs.Chain() {
		if n == base {
			break
		}
		if err := n.OpBlocked(blockdev.OpStream); err != nil {
			return nil, err
		}
	}
	if a.BackingFile != nil && base == nil {
		return nil, qerr.Generic("backing file specified, but streaming the entire chain")
	}
	header := ""
	if base != nil {
		header = base.Info().File
	}
	if a.BackingFile != nil {
		header = *a.BackingFile
	}
	d := &streamJob{chainJob: chainJob{u: user{m: m, t: sim.TypeStream},
		g: g, device: bs, base: base, onError: onError, header: header}}
	cor, err := g.InsertFilter(blockdev.DriverCOR, a.FilterNodeName, bs)
	if err != nil {
		return nil, err
	}
	d.filter = cor
	m.DrainAllFor(sim.DrainStreamFilter)
	j, err := m.Create(a.spec("", d, nil))
	if err != nil {
		g.RemoveFilter(cor)
		m.DrainAllFor(sim.DrainStreamFilterUndo)
		return nil, err
	}
	d.u.j = j
	j.Data = d
	reason := blockerText(sim.TypeStream)
	g.AttachJob(&d.u, "main node", cor, reason)
	g.AttachJob(&d.u, "active node", bs, reason)
	for n := bs.Backing(); n != nil && n != base; n = n.Backing() {
		g.AttachJob(&d.u, "intermediate node", n, reason)
	}
	m.DrainAllFor(sim.DrainStreamJobNodes)
	m.Start(j)
	return j, nil
}

// streamJob is block/stream.c's job.
type streamJob struct {
	chainJob
	firstErr errno.Errno
	prepared bool // Prepare succeeded: Clean drains as on success
}

func (d *streamJob) Type() sim.JobType { return sim.TypeStream }

// Run is stream_run: copy-on-read of everything allocated below the device
// and above base, 512 KiB at a time; every error is reported as a read.
func (d *streamJob) Run(j *sim.Job) sim.Step {
	if !d.started {
		d.start(j, d.device.Size())
	}
	if sleep, ok := d.owed(); ok {
		return sleep
	}
	if d.done(j) {
		if d.firstErr != 0 {
			return sim.Finish(&sim.JobError{Errno: d.firstErr})
		}
		return sim.Finish(nil)
	}
	copy := false
	var n int64
	if inTop, k := blockdev.AllocatedAbove(d.device, d.device, true, d.offset, d.chunk(), blockdev.DefaultClusterSize); inTop {
		n = k
	} else if b := d.device.Backing(); b != nil {
		copy, n = blockdev.AllocatedAbove(b, d.base, false, d.offset, k, blockdev.DefaultClusterSize)
	} else {
		n = k
	}
	var lat int64
	if copy {
		var err error
		lat, _, err = copyRange(d.device, d.device, d.offset, n)
		if err != nil {
			e := ioErrno(err)
			action := j.ErrorAction(d.onError, true, e)
			if action == sim.ActionStop {
				return sim.Continue()
			}
			if d.firstErr == 0 {
				d.firstErr = e
			}
			if action == sim.ActionReport {
				return sim.Finish(&sim.JobError{Errno: d.firstErr})
			}
		}
	}
	return d.advance(j, n, copy, lat)
}

// Prepare is stream_prepare: the device's backing becomes base (none when
// the whole chain was streamed).
func (d *streamJob) Prepare(j *sim.Job) error {
	if err := d.rebase(d.device); err != nil {
		return err
	}
	d.prepared = true
	return nil
}

// Clean is stream_clean: the copy-on-read filter goes.
func (d *streamJob) Clean(j *sim.Job) {
	d.removeFilter()
	d.g.DetachJob(&d.u)
	if d.prepared {
		j.Manager().DrainAllFor(sim.DrainStreamDone)
	} else {
		j.Manager().DrainAllFor(sim.DrainStreamAbort)
	}
}

// Free lets go of the job's nodes (chainJob.Free), then drains as
// stream's free does.
func (d *streamJob) Free(j *sim.Job) {
	d.chainJob.Free(j)
	j.Manager().DrainAllFor(sim.DrainStreamFree)
}
