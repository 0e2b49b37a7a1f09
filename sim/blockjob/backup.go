package blockjob

import (
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// BackupPerf is BackupPerf (x-perf).
type BackupPerf struct {
	UseCopyRange *bool  `json:"use-copy-range,omitempty"`
	MaxWorkers   *int64 `json:"max-workers,omitempty"`
	MaxChunk     *int64 `json:"max-chunk,omitempty"`
}

// BackupArgs are blockdev-backup's arguments.
type BackupArgs struct {
	Common
	Device         string      `json:"device"`
	Target         string      `json:"target"`
	Sync           string      `json:"sync"`
	Bitmap         *string     `json:"bitmap,omitempty"`
	BitmapMode     *string     `json:"bitmap-mode,omitempty"`
	Compress       *bool       `json:"compress,omitempty"`
	OnSourceError  string      `json:"on-source-error,omitempty"`
	OnTargetError  string      `json:"on-target-error,omitempty"`
	FilterNodeName string      `json:"filter-node-name,omitempty"`
	XPerf          *BackupPerf `json:"x-perf,omitempty"`
}

// copySize is block-copy's task size (BLOCK_COPY_MAX_BUFFER).
const copySize = 1 << 20

// backupJob is the backup driver (block/backup.c with block-copy and the
// copy-before-write filter).
type backupJob struct {
	u          user
	g          *blockdev.Graph
	source     *blockdev.Node
	target     *blockdev.Node
	cbw        *blockdev.Node
	sync       string
	syncBitmap *blockdev.DirtyBitmap
	bitmapMode string
	onSource   sim.OnError
	onTarget   sim.OnError
	cluster    int64
	length     int64
	bcs        *blockdev.DirtyBitmap // block-copy's bitmap: clusters still to copy
	maxChunk   int64

	started bool
	cursor  int64
	rl      rateLimit
}

func (b *backupJob) Type() sim.JobType { return sim.TypeBackup }

// PreparedBackup is a backup created by a transaction action's prepare:
// the job exists in status created under a drained section of its source.
type PreparedBackup struct {
	m      *sim.Manager
	g      *blockdev.Graph
	Job    *sim.Job
	bs     *blockdev.Node
	done   bool
	ending bool
}

// Backup is blockdev-backup: a one-action transaction (prepare, commit,
// clean), hence QEMU's created, running, paused, running at start.
func Backup(m *sim.Manager, g *blockdev.Graph, args BackupArgs) (*sim.Job, error) {
	p, err := PrepareBackup(m, g, args, nil)
	if err != nil {
		return nil, err
	}
	p.Commit()
	p.Clean()
	return p.Job, nil
}

// PrepareBackup is blockdev_backup_prepare: look up the nodes, drain the
// source, and create the job (do_backup_common, backup_job_create) in txn
// (nil: its own). On error nothing is left behind and the drain is ended.
func PrepareBackup(m *sim.Manager, g *blockdev.Graph, args BackupArgs, txn *sim.Txn) (*PreparedBackup, error) {
	if err := args.checkQAPI(); err != nil {
		return nil, err
	}
	bs, err := g.Lookup(args.Device)
	if err != nil {
		return nil, err
	}
	target, err := g.Lookup(args.Target)
	if err != nil {
		return nil, err
	}
	g.DrainBegin(bs)
	j, err := createBackup(m, g, bs, target, args, txn)
	if err != nil {
		g.DrainEnd(bs)
		return nil, err
	}
	return &PreparedBackup{m: m, g: g, Job: j, bs: bs}, nil
}

// Commit is the action's commit: job_start.
func (p *PreparedBackup) Commit() {
	if p.done {
		return
	}
	p.done = true
	p.m.Start(p.Job)
}

// Abort is the action's abort: job_cancel_sync of the created job.
func (p *PreparedBackup) Abort() {
	if p.done {
		return
	}
	p.done = true
	p.m.Cancel(p.Job, true)
}

// Clean is the action's clean: the drained section ends.
func (p *PreparedBackup) Clean() {
	if p.ending {
		return
	}
	p.ending = true
	p.g.DrainEnd(p.bs)
}

// checkQAPI is the argument validation QMP does before the command runs:
// missing and enum values.
func (a BackupArgs) checkQAPI() error {
	if err := checkSync(a.Sync); err != nil {
		return err
	}
	if _, err := parsePolicy("on-source-error", a.OnSourceError); err != nil {
		return err
	}
	if _, err := parsePolicy("on-target-error", a.OnTargetError); err != nil {
		return err
	}
	if a.BitmapMode != nil {
		switch *a.BitmapMode {
		case BitmapOnSuccess, BitmapNever, BitmapAlways:
		default:
			return qerr.Generic("Parameter 'bitmap-mode' does not accept value '%s'", *a.BitmapMode)
		}
	}
	return nil
}

func createBackup(m *sim.Manager, g *blockdev.Graph, bs, target *blockdev.Node, a BackupArgs, txn *sim.Txn) (*sim.Job, error) {
	// do_backup_common (the QAPI checks passed in PrepareBackup)
	onSource, _ := parsePolicy("on-source-error", a.OnSourceError)
	onTarget, _ := parsePolicy("on-target-error", a.OnTargetError)
	mode := ""
	if a.BitmapMode != nil {
		mode = *a.BitmapMode
	}
	sync := a.Sync
	if (sync == SyncBitmap || sync == SyncIncremental) && a.Bitmap == nil {
		return nil, qerr.Generic("must provide a valid bitmap name for '%s' sync mode", sync)
	}
	if sync == SyncIncremental {
		if a.BitmapMode != nil && mode != BitmapOnSuccess {
			return nil, qerr.Generic("Bitmap sync mode must be '%s' when using sync mode '%s'", BitmapOnSuccess, SyncIncremental)
		}
		sync, mode = SyncBitmap, BitmapOnSuccess
	}
	var bm *blockdev.DirtyBitmap
	if a.Bitmap != nil {
		if bm = bs.FindBitmap(*a.Bitmap); bm == nil {
			return nil, qerr.Generic("Bitmap '%s' could not be found", *a.Bitmap)
		}
		if mode == "" {
			return nil, qerr.Generic("Bitmap sync mode must be given when providing a bitmap")
		}
		if err := bm.Check(blockdev.CheckAllowRO); err != nil {
			return nil, err
		}
		if sync == SyncNone {
			return nil, qerr.Generic("sync mode '%s' does not produce meaningful bitmap outputs", sync)
		}
		if mode == BitmapNever && sync != SyncBitmap {
			return nil, qerr.Generic("Bitmap sync mode '%s' has no meaningful effect when combined with sync mode '%s'", mode, sync)
		}
	}
	if a.Bitmap == nil && mode != "" {
		return nil, qerr.Generic("Cannot specify bitmap sync mode without a bitmap")
	}
	maxWorkers, maxChunk := int64(64), int64(0)
	if a.XPerf != nil {
		if a.XPerf.MaxWorkers != nil {
			maxWorkers = *a.XPerf.MaxWorkers
		}
		if a.XPerf.MaxChunk != nil {
			maxChunk = *a.XPerf.MaxChunk
		}
	}

	// backup_job_create
	if bs == target {
		return nil, qerr.Generic("Source and target cannot be the same")
	}
	if a.Compress != nil && *a.Compress {
		// %s is bdrv_get_device_name(target): jobfsm has no named
		// BlockBackends, so it is empty, as in qemu-storage-daemon.
		return nil, qerr.Generic("Compression is not supported for this drive %s", "")
	}
	if err := bs.OpBlocked(blockdev.OpBackupSource); err != nil {
		return nil, err
	}
	if err := target.OpBlocked(blockdev.OpBackupTarget); err != nil {
		return nil, err
	}
	if maxWorkers < 1 || maxWorkers > 2147483647 {
		return nil, qerr.Generic("max-workers must be between 1 and %d", 2147483647)
	}
	if maxChunk < 0 {
		return nil, qerr.Generic("max-chunk must be zero (which means no limit) or positive")
	}
	if bm != nil {
		if mode != BitmapNever {
			if err := bm.Check(blockdev.CheckDefault); err != nil {
				return nil, err
			}
		}
		if _, err := bm.CreateSuccessor(); err != nil {
			return nil, err
		}
	}
	fail := func(err error, cbw *blockdev.Node, bcs *blockdev.DirtyBitmap) (*sim.Job, error) {
		if bm != nil {
			bm.Reclaim()
		}
		if bcs != nil {
			bcs.Release()
		}
		if cbw != nil {
			g.RemoveFilter(cbw)
			m.DrainAllFor(sim.DrainBackupFilterUndo)
		}
		return nil, err
	}
	length := bs.Size()
	if target.Size() != length {
		return fail(qerr.Generic("Source and target image have different sizes"), nil, nil)
	}
	// bdrv_cbw_append: the filter opens its target child for writing
	// (bdrv_insert_node prefixes the failure), then block-copy's bitmap on
	// the source (7.2) or on the filter itself (CopyBitmapOnFilter, 10.0)
	// and the filter's own two bitmaps.
	if err := target.CheckWritable(); err != nil {
		return fail(qerr.Generic("Could not create node: %s", err.Error()), nil, nil)
	}
	cluster := max(int64(blockdev.DefaultClusterSize), target.SkipFilters().ClusterSize())
	onFilter := m.Has(sim.CopyBitmapOnFilter)
	var bcs *blockdev.DirtyBitmap
	var err error
	if !onFilter {
		if bcs, err = bs.CreateBitmap(cluster, ""); err != nil {
			return fail(err, nil, nil)
		}
		bcs.SetDisabled(true)
	}
	cbw, err := g.InsertFilter(blockdev.DriverCBW, a.FilterNodeName, bs)
	if err != nil {
		return fail(err, nil, bcs)
	}
	if onFilter {
		if bcs, err = cbw.CreateBitmap(cluster, ""); err != nil {
			return fail(err, cbw, nil)
		}
		bcs.SetDisabled(true)
	}
	g.AddFilterChild(cbw, "target", target)
	m.DrainAllFor(sim.DrainBackupFilter)
	done, _ := cbw.CreateBitmap(cluster, "")
	done.SetDisabled(true)
	access, _ := cbw.CreateBitmap(cluster, "")
	access.SetDisabled(true)
	access.SetRange(0, length)
	if maxChunk != 0 && maxChunk < cluster {
		return fail(qerr.Generic("Required max-chunk (%d) is less than backup cluster size (%d)", maxChunk, cluster), cbw, bcs)
	}
	d := &backupJob{u: user{m: m, t: sim.TypeBackup}, g: g, source: bs, target: target, cbw: cbw, sync: sync,
		syncBitmap: bm, bitmapMode: mode, onSource: onSource, onTarget: onTarget, cluster: cluster,
		length: length, bcs: bcs, maxChunk: maxChunk}
	// block_job_create: job id (default: the device name, which is empty
	// in jobfsm: no named BlockBackends), speed.
	j, err := m.Create(a.spec("", d, txn))
	if err != nil {
		return fail(err, cbw, bcs)
	}
	d.u.j = j
	j.Data = d
	g.AttachJob(&d.u, "main node", cbw, blockerText(sim.TypeBackup))
	g.AttachJob(&d.u, "target", target, blockerText(sim.TypeBackup))
	m.DrainAllFor(sim.DrainBackupJobNodes)
	cbw.SetHook(d)
	// backup_init_bcs_bitmap
	if sync == SyncBitmap {
		bcs.MergeFrom(bm)
	} else {
		bcs.SetRange(0, length)
	}
	j.SetProgressTotal(bcs.Count())
	return j, nil
}

// BeforeWrite is the copy-before-write notifier: clusters about to be
// overwritten that were not copied yet are copied first (progress counts
// them); a failure fails the guest write (on-cbw-error=break-guest-write).
func (b *backupJob) BeforeWrite(off, n int64) error {
	if b.bcs == nil {
		return nil
	}
	start := off - off%b.cluster
	end := min(b.length, (off+n+b.cluster-1)/b.cluster*b.cluster)
	for o := start; o < end; o += b.cluster {
		if !b.bcs.Get(o) {
			continue
		}
		k := min(b.cluster, b.length-o)
		if _, _, err := copyRange(b.source, b.target, o, k); err != nil {
			return err
		}
		b.bcs.ResetRange(o, k)
		if b.u.j != nil {
			b.u.j.AddProgress(b.clusters(k))
		}
	}
	return nil
}

// AfterWrite is unused by backup.
func (b *backupJob) AfterWrite(int64, []byte) error { return nil }

// clusters is the progress a copy of n bytes makes: block-copy counts
// whole clusters, so the last, partial cluster of an image counts in full
// and offset reaches len (QEMU 7.2: a 100000-byte file backs up with
// offset = len = 131072 at 64 KiB clusters).
func (b *backupJob) clusters(n int64) int64 {
	return (n + b.cluster - 1) / b.cluster * b.cluster
}

// Run is backup_run / backup_loop: copy every dirty cluster of block-copy's
// bitmap, skipping those the filter already copied.
func (b *backupJob) Run(j *sim.Job) sim.Step {
	if j.IsCancelled() {
		return sim.Finish(nil)
	}
	if !b.started {
		b.started = true
		if b.sync == SyncTop {
			// block_copy_reset_unallocated over the whole image: the
			// source's own layer, run by run (not cluster by cluster,
			// which never ends on a huge node).
			top := b.source.SkipFilters()
			for o := int64(0); o < b.length; {
				alloc, n := blockdev.AllocatedAbove(top, top.Backing(), false, o, b.length-o, b.cluster)
				if !alloc {
					b.bcs.ResetRange(o, n)
				}
				o += n
			}
			// progress_set_remaining: done so far plus what is left.
			cur, _ := j.Progress()
			j.SetProgressTotal(cur + b.bcs.Count())
		}
	}
	if b.sync == SyncNone {
		return sim.Yield()
	}
	if d := b.rl.delay(j.Now(), j.Speed(), 0); d > 0 {
		return sim.Sleep(d)
	}
	chunk := int64(copySize)
	if b.maxChunk > 0 {
		chunk = min(chunk, b.maxChunk)
	}
	// Tasks are whole clusters: a bit is cleared only when all of its
	// cluster was copied.
	chunk = max(b.cluster, chunk-chunk%b.cluster)
	start, n, ok := b.bcs.NextDirtyArea(b.cursor, chunk)
	if !ok {
		if start, n, ok = b.bcs.NextDirtyArea(0, chunk); !ok {
			return sim.Finish(nil)
		}
	}
	// block_copy_block_status: the task shrinks to the source's extent of
	// one status in whole clusters (to the end at the image's end); an
	// extent shorter than a cluster is copied as one cluster of data.
	// Zeroes are written as zeroes (COPY_WRITE_ZEROES). With a speed
	// limit the first task goes at once and the next waits, so the first
	// move of a backup from an image with data at its start is that data.
	st, ext := b.source.BlockStatus(start, n)
	switch {
	case ext < b.cluster:
		ext, st = b.cluster, blockdev.StatusData
	case start+ext < b.length:
		ext -= ext % b.cluster
	}
	n = min(n, ext)
	var lat int64
	var isRead bool
	var err error
	if st == blockdev.StatusZero {
		lat, err = writeZeroes(b.target, start, n)
	} else {
		lat, isRead, err = copyRange(b.source, b.target, start, n)
	}
	if err != nil {
		errno := ioErrno(err)
		policy := b.onTarget
		if isRead {
			policy = b.onSource
		}
		switch j.ErrorAction(policy, isRead, errno) {
		case sim.ActionReport:
			return sim.Finish(&sim.JobError{Errno: errno})
		case sim.ActionIgnore:
			// a new block-copy call (paced, see retryNs)
			return sim.Sleep(retryNs)
		default:
			// stop: the pause point first, then the same retry
			return sim.Continue()
		}
	}
	b.bcs.ResetRange(start, n)
	b.cursor = start + n
	j.AddProgress(b.clusters(n))
	b.rl.delay(j.Now(), j.Speed(), n)
	if lat > 0 {
		return sim.Sleep(lat)
	}
	return sim.Continue()
}

// Cancel: backup is always force-cancelled (backup_cancel).
func (b *backupJob) Cancel(j *sim.Job, force bool) bool { return true }

// Commit and Abort are backup_commit / backup_abort:
// backup_cleanup_sync_bitmap with ret 0 or -1.
func (b *backupJob) Commit(j *sim.Job) { b.cleanupSyncBitmap(true) }
func (b *backupJob) Abort(j *sim.Job)  { b.cleanupSyncBitmap(false) }

func (b *backupJob) cleanupSyncBitmap(ok bool) {
	bm := b.syncBitmap
	if bm == nil {
		return
	}
	b.syncBitmap = nil
	var res *blockdev.DirtyBitmap
	if (ok || b.bitmapMode == BitmapAlways) && b.bitmapMode != BitmapNever {
		res, _ = bm.Abdicate()
	} else {
		res, _ = bm.Reclaim()
	}
	if !ok && b.bitmapMode == BitmapAlways && res != nil {
		res.MergeFrom(b.bcs)
	}
}

// Clean is backup_clean: the job lets go of its nodes (op blockers
// included: a concluded backup waiting for job-dismiss holds nothing, as
// recorded on QEMU 7.2 in spec/conformance/concluded_releases_nodes), and
// the copy-before-write filter goes with block-copy's bitmaps.
func (b *backupJob) Clean(j *sim.Job) {
	b.g.DetachJob(&b.u)
	if b.cbw != nil {
		b.cbw.SetHook(nil)
		for _, bm := range b.cbw.Bitmaps() {
			bm.Release()
		}
		b.g.RemoveFilter(b.cbw)
		b.cbw = nil
		j.Manager().DrainAllFor(sim.DrainBackupClean)
	}
	if b.bcs != nil {
		b.bcs.Release()
	}
}

// Free is block_job_free: anything the job still holds goes.
func (b *backupJob) Free(j *sim.Job) { b.g.DetachJob(&b.u) }
