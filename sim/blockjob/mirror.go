package blockjob

import (
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// MirrorArgs are blockdev-mirror's arguments.
type MirrorArgs struct {
	Common
	Device         string  `json:"device"`
	Target         string  `json:"target"`
	Sync           string  `json:"sync"`
	Replaces       *string `json:"replaces,omitempty"`
	Granularity    *int64  `json:"granularity,omitempty"`
	BufSize        *int64  `json:"buf-size,omitempty"`
	OnSourceError  string  `json:"on-source-error,omitempty"`
	OnTargetError  string  `json:"on-target-error,omitempty"`
	FilterNodeName string  `json:"filter-node-name,omitempty"`
	CopyMode       string  `json:"copy-mode,omitempty"`
}

// Copy modes (MirrorCopyMode).
const (
	CopyBackground    = "background"
	CopyWriteBlocking = "write-blocking"
)

// maxIOBytes is mirror's MAX_IO_BYTES: the largest single copy operation.
const maxIOBytes = 1 << 20

// defaultMirrorBufSize is DEFAULT_MIRROR_BUF_SIZE (MAX_IN_FLIGHT 16 ×
// MAX_IO_BYTES): the most one mirror iteration moves.
const defaultMirrorBufSize = 16 * maxIOBytes

// mirrorJob is block/mirror.c's job, for blockdev-mirror and active commit.
type mirrorJob struct {
	u         user
	g         *blockdev.Graph
	typ       sim.JobType
	source    *blockdev.Node
	target    *blockdev.Node
	toReplace *blockdev.Node
	replaces  string         // blockdev-mirror's replaces, looked up again at complete
	base      *blockdev.Node // active commit and sync=top: bottom not copied
	filter    *blockdev.Node
	targetBB  *blockdev.Edge
	dirty     *blockdev.DirtyBitmap
	sync      string
	gran      int64
	onSource  sim.OnError
	onTarget  sim.OnError
	copyMode  string
	isCommit  bool
	// bufSize bounds one iteration (s->buf_size: buf-size rounded up to
	// the granularity, default MAX_IN_FLIGHT × MAX_IO_BYTES).
	bufSize int64

	started        bool
	ready          bool
	shouldComplete bool
	activelySynced bool
	exited         bool
	// copyToTarget, headDirty and tailDirty carry one guest write from
	// BeforeWrite to AfterWrite.
	copyToTarget, headDirty, tailDirty bool
	ret                                errno.Errno
	cursor                             int64
	rl                                 rateLimit
	// drained: the source's guest writes are held from the end of Run
	// until exit (mirror_run's need_drain / s->in_drain).
	drained bool
	// exiting: Run has drained the source and returns exitErr when the
	// loop enters it again.
	exiting bool
	exitErr error
}

func (d *mirrorJob) Type() sim.JobType { return d.typ }

// Mirror is blockdev-mirror with blockdev_mirror_common's and
// mirror_start_job's checks in order (reference §7.2).
func Mirror(m *sim.Manager, g *blockdev.Graph, a MirrorArgs) (*sim.Job, error) {
	// QAPI: missing and enum arguments first.
	if err := checkSync(a.Sync); err != nil {
		return nil, err
	}
	onSource, err := parsePolicy("on-source-error", a.OnSourceError)
	if err != nil {
		return nil, err
	}
	onTarget, err := parsePolicy("on-target-error", a.OnTargetError)
	if err != nil {
		return nil, err
	}
	switch a.CopyMode {
	case "", CopyBackground, CopyWriteBlocking:
	default:
		return nil, qerr.Generic("Parameter 'copy-mode' does not accept value '%s'", a.CopyMode)
	}
	bs, err := g.Lookup(a.Device)
	if err != nil {
		return nil, err
	}
	if !bs.IsRoot() {
		return nil, qerr.Generic("Need a root block node")
	}
	target, err := g.Lookup(a.Target)
	if err != nil {
		return nil, err
	}
	var gran int64
	if a.Granularity != nil {
		gran = *a.Granularity
	}
	if gran != 0 && (gran < 512 || gran > 64<<20) {
		return nil, qerr.Generic("Parameter 'granularity' expects a value in range [512B, 64MB]")
	}
	if gran&(gran-1) != 0 {
		return nil, qerr.Generic("Parameter 'granularity' expects a power of 2")
	}
	if err := bs.OpBlocked(blockdev.OpMirrorSource); err != nil {
		return nil, err
	}
	if err := target.OpBlocked(blockdev.OpMirrorTarget); err != nil {
		return nil, err
	}
	sync := a.Sync
	if sync == SyncTop && bs.Backing() == nil {
		sync = SyncFull
	}
	toReplace := bs
	if a.Replaces != nil {
		r := g.Node(*a.Replaces)
		if r == nil {
			return nil, qerr.Generic("Failed to find node with node-name='%s'", *a.Replaces)
		}
		if err := r.OpBlocked(blockdev.OpReplace); err != nil {
			return nil, err
		}
		if r.SkipFilters() != bs.SkipFilters() {
			return nil, qerr.Generic("Cannot replace '%s' by a node mirrored from '%s', because it cannot be guaranteed that doing so would not lead to an abrupt change of visible data", *a.Replaces, bs.Name())
		}
		if r.Size() != target.Size() {
			return nil, qerr.Generic("cannot replace image with a mirror image of different size")
		}
		toReplace = r
	}
	if sync == SyncBitmap || sync == SyncIncremental {
		return nil, qerr.Generic("Sync mode '%s' not supported", sync)
	}
	var base *blockdev.Node
	if sync == SyncTop {
		base = bs.Backing()
	}
	d := &mirrorJob{typ: sim.TypeMirror, sync: sync, onSource: onSource, onTarget: onTarget,
		copyMode: a.CopyMode, base: base, toReplace: toReplace}
	if a.Replaces != nil {
		d.replaces = *a.Replaces
	}
	return startMirror(m, g, d, bs, target, gran, a.BufSize, a.FilterNodeName, a.Common, "")
}

// startMirror is mirror_start_job.
func startMirror(m *sim.Manager, g *blockdev.Graph, d *mirrorJob, bs, target *blockdev.Node, gran int64,
	bufSize *int64, filterName string, c Common, defaultID string) (*sim.Job, error) {
	if gran == 0 {
		gran = target.DefaultBitmapGranularity()
	}
	if bufSize != nil && *bufSize < 0 {
		return nil, qerr.Generic("Invalid parameter 'buf-size'")
	}
	if bs.SkipFilters() == target.SkipFilters() {
		return nil, qerr.Generic("Can't mirror node into itself")
	}
	d.g, d.source, d.target, d.gran = g, bs, target, gran
	d.bufSize = defaultMirrorBufSize
	if bufSize != nil && *bufSize > 0 {
		d.bufSize = *bufSize
	}
	d.bufSize = (d.bufSize + gran - 1) / gran * gran
	d.u = user{m: m, t: d.typ}
	filter, err := g.InsertFilter(blockdev.DriverMirrorTop, filterName, bs)
	if err != nil {
		return nil, err
	}
	d.filter = filter
	m.DrainAllFor(sim.DrainMirrorTopAppend)
	j, err := m.Create(c.spec(defaultID, d, nil))
	if err != nil {
		g.RemoveFilter(filter)
		m.DrainAllFor(sim.DrainMirrorTopDrop)
		return nil, err
	}
	d.u.j = j
	j.Data = d
	reason := blockerText(d.typ)
	g.AttachJob(&d.u, "main node", filter, reason)
	// The job's BlockBackend on its target (mirror_start_job): it writes
	// and shares only unchanged writes; an active commit also shares
	// consistent reads and writes and may resize its base.
	perm, shared := blockdev.PermWrite, blockdev.PermWriteUnchanged
	if d.isCommit {
		perm |= blockdev.PermResize
		shared |= blockdev.PermConsistentRead | blockdev.PermWrite
	}
	d.targetBB, err = g.AttachBackendPerm("an unnamed block device", target, perm, shared)
	if err != nil {
		g.DetachJob(&d.u)
		g.RemoveFilter(filter)
		m.EarlyFail(j)
		return nil, err
	}
	d.dirty, _ = bs.CreateBitmap(gran, "")
	g.AttachJob(&d.u, "source", bs, reason)
	g.AttachJob(&d.u, "target", target, reason)
	if d.isCommit {
		for n := bs.Backing(); n != nil && n != d.base; n = n.Backing() {
			g.AttachJob(&d.u, "intermediate node", n, reason)
		}
	}
	filter.SetHook(d)
	m.DrainAllFor(sim.DrainMirrorAttach)
	m.Start(j)
	return j, nil
}

// BeforeWrite is the start of bdrv_mirror_top_do_write: whether this
// write also goes to the target (should_copy_to_target: write-blocking
// mode, no error, not cancelled; since 8.2 the mode can change while the
// job runs, block-job-change), and the dirtiness of the granules the write
// covers only in part, which do_sync_target_write leaves as they were. The
// job's bitmap is enabled on the source here, so the write itself marks
// every granule it touches; AfterWrite puts back what QEMU's disabled
// bitmap, set by hand, would hold.
func (d *mirrorJob) BeforeWrite(off, n int64) error {
	d.copyToTarget = d.copyMode == CopyWriteBlocking && d.ret == 0 && !d.exited &&
		d.u.j != nil && !d.u.j.IsCancelled() && d.dirty != nil
	if d.copyToTarget {
		d.headDirty = off%d.gran != 0 && d.dirty.Get(off)
		d.tailDirty = (off+n)%d.gran != 0 && d.dirty.Get(off+n-1)
	}
	return nil
}

// AfterWrite is the rest of bdrv_mirror_top_do_write once the source has
// the data. Background: the written range is dirty (the source's bitmap
// marked it) and the job is no longer actively synced. Write-blocking:
// do_sync_target_write — partial granules that were dirty are left out,
// the whole granules in between are clean once the target has the bytes,
// the job's progress grows by the bytes on both sides, and a target
// failure dirties the range again and takes the target error policy.
func (d *mirrorJob) AfterWrite(off int64, p []byte) error {
	if d.dirty == nil || d.exited {
		return nil
	}
	if !d.copyToTarget {
		d.activelySynced = false
		return nil
	}
	w := off + int64(len(p))
	start, end := off, w
	if d.headDirty {
		start = (off/d.gran + 1) * d.gran
	}
	if d.tailDirty {
		end -= end % d.gran
	}
	// the granules the write covered only in part get their state back
	// (clean ones stay clean: their other bytes were in sync already)
	if off%d.gran != 0 && !d.headDirty {
		d.dirty.ResetRange(off-off%d.gran, d.gran)
	}
	if w%d.gran != 0 && !d.tailDirty {
		d.dirty.ResetRange(w-w%d.gran, d.gran)
	}
	if start >= end {
		return nil
	}
	if first, last := (start+d.gran-1)/d.gran*d.gran, end/d.gran*d.gran; first < last {
		d.dirty.ResetRange(first, last-first)
	}
	j := d.u.j
	n := end - start
	j.AddProgressTotal(n)
	if _, err := d.target.Write(start, p[start-off:end-off]); err != nil {
		first := start / d.gran * d.gran
		d.dirty.SetRange(first, (end+d.gran-1)/d.gran*d.gran-first)
		d.activelySynced = false
		act := j.ErrorAction(d.onTarget, false, ioErrno(err))
		if act == sim.ActionReport && d.ret == 0 {
			d.ret = ioErrno(err)
		}
		return nil
	}
	j.AddProgress(n)
	return nil
}

// Run is mirror_run: the initial dirty scan, then copy dirty chunks until
// in sync, READY, and keep mirroring until completed or cancelled.
func (d *mirrorJob) Run(j *sim.Job) sim.Step {
	if d.exiting {
		return sim.Finish(d.exitErr)
	}
	if j.IsCancelled() {
		return d.finish(nil)
	}
	if !d.started {
		d.started = true
		length := d.source.Size()
		if d.isCommit {
			if d.target.Size() < length {
				if err := d.target.Truncate(length); err != nil {
					return d.finish(&sim.JobError{Errno: errno.EIO})
				}
			}
		} else if d.target.Size() != length {
			return d.finish(&sim.JobError{Errno: errno.EINVAL, Msg: "Source and target image have different sizes"})
		}
		switch d.sync {
		case SyncFull:
			d.dirty.SetRange(0, length)
		case SyncTop:
			for off := int64(0); off < length; {
				alloc, n := blockdev.AllocatedAbove(d.source, d.base, false, off, length-off, d.gran)
				if alloc {
					d.dirty.SetRange(off, n)
				}
				off += n
			}
		}
	}
	if d.ret != 0 {
		return d.finish(&sim.JobError{Errno: d.ret})
	}
	cur, _ := j.Progress()
	cnt := d.dirty.Count()
	j.SetProgressTotal(cur + cnt)
	if cnt > 0 && j.IOStatus() == sim.IOStatusOK {
		if dl := d.rl.delay(j.Now(), j.Speed(), 0); dl > 0 {
			return sim.Sleep(dl)
		}
		return d.iteration(j)
	}
	if cnt == 0 {
		if !d.ready {
			d.ready = true
			j.TransitionToReady()
		}
		// Nothing dirty, nothing in flight: from now on a write-blocking
		// mirror's target follows every guest write (mirror_run; since 8.2
		// on every such iteration, so a mirror switched to write-blocking
		// by block-job-change after READY becomes actively synced too).
		if d.copyMode == CopyWriteBlocking {
			d.activelySynced = true
		}
		if d.shouldComplete || j.CancelRequested() {
			return d.finish(nil)
		}
	}
	return sim.Sleep(sliceNs)
}

// iteration is mirror_iteration: it takes the run of contiguous dirty
// granules that starts at the first dirty one from the cursor, up to the
// buffer size (16 MiB by default), clears it, and moves it in operations of
// at most 1 MiB. Each operation asks the source's block status first
// (mirror_iteration's bdrv_block_status_above): data is read and written,
// zeroes are written as zeroes, and a range whose contents are undefined
// (null-co without read-zeroes) is discarded on the target, which a node
// opened without discard=unmap ignores (bdrv_co_pdiscard returns before
// writing, so the target's dirty bitmaps stay clean). The speed limit
// accounts every operation but is waited for only before the next
// iteration, so a rate-limited mirror moves a whole buffer first.
func (d *mirrorJob) iteration(j *sim.Job) sim.Step {
	// whole granules only, so clearing a bit never drops uncopied bytes
	op := max(d.gran, maxIOBytes-maxIOBytes%d.gran)
	start, n, ok := d.dirty.NextDirtyArea(d.cursor, d.bufSize)
	if !ok {
		start, n, _ = d.dirty.NextDirtyArea(0, d.bufSize)
	}
	d.dirty.ResetRange(start, n)
	var lat int64
	for done := int64(0); done < n; {
		off := start + done
		// mirror_iteration: an operation covers one block-status extent,
		// data at most 1 MiB, whole granules; a piece shorter than a
		// granule is copied as data.
		st, k := d.source.BlockStatus(off, n-done)
		if st == blockdev.StatusData {
			k = min(k, op)
		}
		k -= k % d.gran
		if k < d.gran {
			k, st = min(d.gran, n-done), blockdev.StatusData
		}
		l, isRead, err := d.move(st, off, k)
		if err != nil {
			d.dirty.SetRange(off, n-done)
			d.activelySynced = false
			errno := ioErrno(err)
			policy := d.onTarget
			if isRead {
				policy = d.onSource
			}
			switch j.ErrorAction(policy, isRead, errno) {
			case sim.ActionReport:
				return d.finish(&sim.JobError{Errno: errno})
			case sim.ActionIgnore:
				return sim.Sleep(retryNs) // re-dirtied, retried later
			}
			return sim.Continue()
		}
		lat = max(lat, l)
		done += k
		d.cursor = off + k
		j.AddProgress(k)
		d.rl.delay(j.Now(), j.Speed(), k)
	}
	if lat > 0 {
		return sim.Sleep(lat)
	}
	return sim.Continue()
}

// move is one operation of mirror_perform, by the source's block status:
// MIRROR_METHOD_COPY, _ZERO or _DISCARD.
func (d *mirrorJob) move(st blockdev.Status, off, n int64) (lat int64, isRead bool, err error) {
	switch st {
	case blockdev.StatusUndefined:
		return 0, false, nil // MIRROR_METHOD_DISCARD, ignored by the target
	case blockdev.StatusZero:
		lat, err = writeZeroes(d.target, off, n) // MIRROR_METHOD_ZERO
		return lat, false, err
	}
	return copyRange(d.source, d.target, off, n)
}

// finish ends Run the way mirror_run returns: with the source drained
// (bdrv_drained_begin(bs) before the final dirty check on success, or at
// immediate_exit when need_drain is still set), so guest writes issued
// while the job waits for finalize are held until exit has pivoted (or
// not) and then land on whatever node is active. The drained section also
// pauses the job itself (child_job_drained_begin raises its pause count,
// which is why query-block-jobs reports a mirror waiting in pending as
// paused), and, called from the job's coroutine, bdrv_drained_begin yields
// to a bottom half before the run can return: a mirror never ends inside
// the command that completed or cancelled it.
func (d *mirrorJob) finish(err error) sim.Step {
	if d.drained || d.exited {
		return sim.Finish(err)
	}
	d.drained = true
	d.g.HoldGuestWrites(d.source)
	if d.u.j != nil {
		d.u.j.Manager().DrainBegin(d.u.j)
	}
	d.exiting, d.exitErr = true, err
	return sim.AwaitLoop()
}

// undrain is mirror_exit_common's bdrv_drained_end(src): held guest writes
// go to the node the source's name now leads to, and the job's pause from
// the drained section ends.
func (d *mirrorJob) undrain() {
	if d.drained {
		d.drained = false
		d.g.ReleaseGuestWrites(d.source)
		if d.u.j != nil {
			d.u.j.Manager().DrainEnd(d.u.j)
		}
	}
}

// Query is mirror_query (MirrorQuery, 10.0): query-block-jobs' mirror
// branch. Active commit runs this code under its own driver, which has no
// query.
func (d *mirrorJob) Query(j *sim.Job, in *sim.BlockJobInfo) {
	if d.isCommit || !j.Manager().Has(sim.MirrorQuery) {
		return
	}
	synced := d.activelySynced
	in.ActivelySynced = &synced
}

// Changeable reports whether the job has block-job-change (MirrorChange):
// mirror_job_driver has change, the active commit driver has not.
func (d *mirrorJob) Changeable() bool { return !d.isCommit }

// Change is mirror_change: the branch's copy mode (background when the
// client named another job type: QEMU reads the mirror branch of the union
// whatever the type) against the current one; only background to
// write-blocking is implemented. The new mode takes effect for the next
// guest write; actively-synced follows once the loop finds nothing dirty.
func (d *mirrorJob) Change(j *sim.Job, o sim.ChangeOptions) error {
	want := CopyBackground
	if o.Type == sim.TypeMirror && o.CopyMode != "" {
		want = o.CopyMode
	}
	cur := d.copyMode
	if cur == "" {
		cur = CopyBackground
	}
	if want == cur {
		return nil
	}
	if want != CopyWriteBlocking {
		return qerr.Generic("Change to copy mode '%s' is not implemented", want)
	}
	d.copyMode = CopyWriteBlocking
	return nil
}

// Complete is mirror_complete: pivot at the end of the job; a paused job
// completes after it is resumed.
func (d *mirrorJob) Complete(j *sim.Job) error {
	if d.replaces != "" && !d.shouldComplete {
		r := d.g.Node(d.replaces)
		if r == nil {
			return qerr.Generic("Node name '%s' not found", d.replaces)
		}
		d.toReplace = r
		d.g.BlockAll(r, d, "block device is in use by block-job-complete")
	}
	d.shouldComplete = true
	j.Manager().Kick(j)
	return nil
}

// Cancel is mirror_cancel: soft only once READY.
func (d *mirrorJob) Cancel(j *sim.Job, force bool) bool {
	return force || !j.Status().IsReady()
}

// Prepare is mirror_exit_common on success: the pivot, when completed.
func (d *mirrorJob) Prepare(j *sim.Job) error {
	d.exit(j, false)
	return nil
}

// Abort is mirror_exit_common on failure (no-op after Prepare).
func (d *mirrorJob) Abort(j *sim.Job) { d.exit(j, true) }

func (d *mirrorJob) exit(j *sim.Job, abort bool) {
	if d.exited {
		return
	}
	d.exited = true
	step := sim.DrainMirrorExit
	if d.shouldComplete && !abort {
		d.g.ReplaceNode(d.toReplace, d.target)
		step = sim.DrainMirrorPivot
	}
	if d.toReplace != nil {
		d.g.Unblock(d.toReplace, d)
	}
	d.filter.SetHook(nil)
	d.g.RemoveFilter(d.filter)
	if d.dirty != nil {
		d.dirty.Release()
	}
	d.g.DetachBackend(d.targetBB)
	d.g.DetachJob(&d.u)
	d.undrain()
	j.Manager().DrainAllFor(step)
}

// Free drops anything left (a job freed without finalizing).
func (d *mirrorJob) Free(j *sim.Job) {
	d.g.DetachJob(&d.u)
	d.undrain()
}
