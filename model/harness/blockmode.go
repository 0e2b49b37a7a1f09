package harness

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/sim/blockjob"
)

// Block mode: besides test-driver jobs, the runner creates real block jobs
// (sim/blockjob's backup, mirror, commit, stream) on a simulated block graph,
// issues guest writes to their devices and arms I/O faults on the nodes they
// write. The model judges their lifecycle with a looser spec (a real job may
// fail or succeed while faults can be armed, and may hit I/O errors any
// number of times); the data invariant I12 is checked against a guest
// shadow whenever a real job completes successfully.

// imageSize is each real job's image size: 8 clusters of 64 KiB.
const imageSize = 512 << 10

// realJob is one real block job's nodes and its guest.
type realJob struct {
	kind   string // backup, mirror, stream, commit, active-commit
	device string // the node the guest writes
	target string // backup/mirror target; commit base
	fault  string // the node whose writes an injected fault fails
	writer *blockdev.GuestWriter
	snap   []byte // backup: the device's content when the job started
	// syncBitmap: an incremental backup (sync=bitmap): it copies the
	// clusters dirty in B0 only and leaves the rest of the (blank) target.
	syncBitmap bool
	mj         *model.Job // the model's job
	checked    bool

	// A backup with the dirty bitmap "bm" of its device: its mode, the
	// clusters dirty at start (B0), the clusters the guest wrote while the
	// job ran (W), and whether the result was checked.
	bitmapMode string
	gran       int64
	b0, w      map[int64]bool
	bmChecked  bool

	// An incremental backup into a target earlier backups of the same
	// device filled: chainOK says a full backup of the chain had succeeded
	// when it started, so the target must then equal the device's content
	// at its start (full + incrementals restore the source, I10/I12).
	chain, chainOK bool
	policy         string // the job's error policy (on-target-error / on-error)
	full           bool   // a sync=full backup with bitmap-mode on-success or always
	dev            *devState
}

// devState is what a device's backups have established.
type devState struct {
	last    *realJob // the newest job on the device
	chainOK bool     // a full backup into its target has succeeded
}

var bitmapOps = []string{"remove", "clear", "enable", "disable", "merge", "backup"}

const busyText = "Bitmap 'bm' is currently in use by another operation and cannot be used"

// dirty returns the clusters (bitmap granules) dirty in bm.
func dirty(bm *blockdev.DirtyBitmap) map[int64]bool {
	d := map[int64]bool{}
	g := bm.Granularity()
	for off := int64(0); off < imageSize; off += g {
		if bm.Get(off) {
			d[off/g] = true
		}
	}
	return d
}

// NewBlockRunner returns a runner that also drives real block jobs, at QEMU
// 7.2 (fsm.DefaultVersion).
func NewBlockRunner(seed uint64) *Runner { return NewBlockRunnerAt(fsm.DefaultVersion, seed) }

// NewBlockRunnerAt returns a block-mode runner at QEMU version v.
func NewBlockRunnerAt(v fsm.Version, seed uint64) *Runner {
	r := NewRunnerAt(v, seed)
	r.g = blockdev.NewGraph()
	r.real = map[string]*realJob{}
	r.devs = map[string]*devState{}
	return r
}

func ptrBool(b bool) *bool    { return &b }
func ptrI64(v int64) *int64   { return &v }
func ptrStr(s string) *string { return &s }

func (r *Runner) memNode(name, driver, backing string) error {
	o := blockdev.NodeOptions{Driver: driver, NodeName: name,
		File: &blockdev.NodeRef{Options: &blockdev.NodeOptions{Driver: blockdev.DriverMemory, Size: ptrI64(imageSize)}}}
	if backing != "" {
		o.Backing = &blockdev.NodeRef{Ref: backing}
	}
	_, err := r.g.AddNode(o)
	return err
}

func (r *Runner) fill(name string, k int) error {
	for i := 0; i < 3; i++ {
		off := int64((k*5+i*7)%8) * (64 << 10)
		if _, err := r.g.Write(name, off, bytes.Repeat([]byte{byte(1 + k + i)}, 4096)); err != nil {
			return err
		}
	}
	return nil
}

// realNodes builds the nodes of one real job and its guest writer.
func (r *Runner) realNodes(p model.JobPlan) (*realJob, error) {
	if p.Type == "backup" && p.Chain {
		// The devices whose last backup is gone and still has its bitmap.
		var cands []*devState
		for _, dev := range r.devOrder {
			d := r.devs[dev]
			if d.last.mj != nil && d.last.mj.Gone && d.last.bitmapMode != "" {
				if _, err := r.g.LookupBitmap(dev, "bm"); err == nil {
					cands = append(cands, d)
				}
			}
		}
		if len(cands) > 0 {
			d := cands[mod(p.ChainRef, len(cands))]
			prev := d.last
			bm, _ := r.g.LookupBitmap(prev.device, "bm")
			rj := &realJob{kind: "backup", device: prev.device, target: prev.target, fault: prev.fault, writer: prev.writer,
				bitmapMode: blockjob.BitmapOnSuccess, gran: bm.Granularity(), b0: dirty(bm), w: map[int64]bool{},
				syncBitmap: true, chain: true, chainOK: d.chainOK, dev: d}
			return rj, nil
		}
		p.BitmapMode, p.SyncBitmap = blockjob.BitmapOnSuccess, false // none yet: start a chain
	}
	k := r.nodeSeq
	r.nodeSeq++
	rj := &realJob{kind: p.Type, device: fmt.Sprintf("d%d", k)}
	var err error
	switch p.Type {
	case "backup", "mirror":
		rj.target = fmt.Sprintf("t%d", k)
		rj.fault = rj.target
		if err = r.memNode(rj.device, blockdev.DriverRaw, ""); err == nil {
			err = r.memNode(rj.target, blockdev.DriverRaw, "")
		}
	case "stream":
		base := fmt.Sprintf("b%d", k)
		rj.fault = rj.device
		if err = r.memNode(base, blockdev.DriverQcow2, ""); err == nil {
			if err = r.fill(base, k); err == nil {
				err = r.memNode(rj.device, blockdev.DriverQcow2, base)
			}
		}
	case "commit":
		base, mid := fmt.Sprintf("b%d", k), fmt.Sprintf("m%d", k)
		rj.target, rj.fault = base, base
		err = r.memNode(base, blockdev.DriverQcow2, "")
		if err == nil {
			err = r.fill(base, k)
		}
		below := base
		if err == nil && !p.Active {
			if err = r.memNode(mid, blockdev.DriverQcow2, base); err == nil {
				err = r.fill(mid, k+1)
			}
			below = mid
		}
		if err == nil {
			err = r.memNode(rj.device, blockdev.DriverQcow2, below)
		}
		if p.Active {
			rj.kind = "active-commit"
		}
	default:
		return nil, fmt.Errorf("no real driver for type %q", p.Type)
	}
	if err != nil {
		return nil, err
	}
	if rj.writer, err = blockdev.NewGuestWriter(r.g, rj.device, r.seed+uint64(k), 8<<10); err != nil {
		return nil, err
	}
	for range 3 {
		if _, _, err := rj.writer.Write(); err != nil {
			return nil, err
		}
	}
	if p.Type == "backup" && p.BitmapMode != "" {
		rj.bitmapMode = p.BitmapMode
		if err := r.g.BitmapAdd(blockdev.BitmapAddArgs{Node: rj.device, Name: "bm"}); err != nil {
			return nil, err
		}
		for range 2 {
			if _, _, err := rj.writer.Write(); err != nil {
				return nil, err
			}
		}
		bm, err := r.g.LookupBitmap(rj.device, "bm")
		if err != nil {
			return nil, err
		}
		rj.gran, rj.b0, rj.w = bm.Granularity(), dirty(bm), map[int64]bool{}
		rj.full = !p.SyncBitmap && p.BitmapMode != blockjob.BitmapNever
	}
	rj.dev = &devState{last: rj}
	r.devs[rj.device] = rj.dev
	r.devOrder = append(r.devOrder, rj.device)
	return rj, nil
}

// realSpec is the model's spec of a real job. Its driver's callbacks are
// not observed; it may hit I/O errors (and fail by them) only while a fault
// is armed on the node it writes: armed says one is at creation, armFault
// allows it later (Model.AllowFailure).
func realSpec(p model.JobPlan, id string, txn int, armed bool) model.Spec {
	ready := p.Type == "mirror" || p.Type == "commit" && p.Active
	s := model.Spec{ID: id, Type: p.Type, Block: true, Txn: txn, AutoFinalize: !p.ManualFinalize, AutoDismiss: !p.ManualDismiss,
		Speed: p.Speed, Ready: ready, HasComplete: ready, DrainsOnExit: ready, NoCalls: true,
		HasChange: p.Type == "mirror"} // mirror_job_driver has .change, an active commit's has not
	if armed {
		s.MayFail, s.FailTexts, s.IOError = true, []string{model.Strerror(5)}, faultError(p.OnError)
	}
	return s
}

// faultError is what an injected EIO makes a real job do under policy.
func faultError(policy string) *model.IOError {
	if policy == "" {
		policy = "report"
	}
	return &model.IOError{Action: errorAction(policy, false), Repeat: true}
}

func common(p model.JobPlan, id string) blockjob.Common {
	c := blockjob.Common{JobID: ptrStr(id), AutoFinalize: ptrBool(!p.ManualFinalize), AutoDismiss: ptrBool(!p.ManualDismiss)}
	if p.Speed != 0 {
		c.Speed = ptrI64(p.Speed)
	}
	return c
}

// createReal creates real jobs: one by its own command, or several backups
// as one grouped QMP transaction (prepare each, then commit each, then clean
// each; a failed prepare rolls the prepared ones back).
func (r *Runner) createReal(plans []model.JobPlan, obs *model.Obs, rec *StepRecord, step int) error {
	simTxn, gid := r.newGroup(len(plans))
	if simTxn != nil {
		for i := range plans {
			plans[i].Type = "backup" // QEMU groups only backup actions
		}
	}
	type prepared struct {
		id string
		p  *blockjob.PreparedBackup
		rj *realJob
	}
	var preps []prepared
	var descs []string
	var failed bool
	for _, p := range plans {
		p.Speed = max(p.Speed, 0)
		id := r.planID(p)
		rj, err := r.realNodes(p)
		if err != nil {
			return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("setting up nodes for %s: %v", id, err)}
		}
		armed := false
		if n := r.g.Node(rj.fault); n != nil {
			armed = len(n.Rules()) > 0 // a fault armed for an earlier job of the chain
		}
		rj.policy = p.OnError
		spec := realSpec(p, id, gid, armed)
		obs.Creates = append(obs.Creates, model.CreateTry{ID: id, Spec: spec})
		rec.Jobs = append(rec.Jobs, id)
		merr := r.mod.Create(spec)
		var sj *sim.Job
		var serr error
		switch {
		case p.Type == "backup":
			if merr == nil {
				r.mod.DrainBegin(id)
			}
			args := blockjob.BackupArgs{Common: common(p, id), Device: rj.device, Target: rj.target, Sync: blockjob.SyncFull, OnTargetError: p.OnError}
			if rj.bitmapMode != "" {
				args.Bitmap, args.BitmapMode = ptrStr("bm"), ptrStr(rj.bitmapMode)
				if rj.chain || p.SyncBitmap || rj.bitmapMode == blockjob.BitmapNever {
					args.Sync = blockjob.SyncBitmap
					rj.syncBitmap = true
				}
			}
			rj.snap = bytes.Clone(rj.writer.Shadow())
			if simTxn == nil {
				if merr == nil {
					_ = r.mod.Start(id)
					r.deferred = append(r.deferred, func() { r.mod.DrainEnd(id) })
				}
				sj, serr = blockjob.Backup(r.sim, r.g, args)
			} else {
				var pb *blockjob.PreparedBackup
				pb, serr = blockjob.PrepareBackup(r.sim, r.g, args, simTxn)
				if serr == nil {
					sj = pb.Job
					preps = append(preps, prepared{id, pb, rj})
				}
			}
		case p.Type == "mirror":
			if merr == nil {
				_ = r.mod.Start(id)
			}
			sj, serr = blockjob.Mirror(r.sim, r.g, blockjob.MirrorArgs{Common: common(p, id), Device: rj.device, Target: rj.target, Sync: blockjob.SyncFull, OnTargetError: p.OnError})
		case p.Type == "stream":
			if merr == nil {
				_ = r.mod.Start(id)
			}
			sj, serr = blockjob.Stream(r.sim, r.g, blockjob.StreamArgs{Common: common(p, id), Device: rj.device, OnError: p.OnError})
		default:
			if merr == nil {
				_ = r.mod.Start(id)
			}
			a := blockjob.CommitArgs{Common: common(p, id), Device: rj.device, BaseNode: ptrStr(rj.target), OnError: p.OnError}
			if !p.Active {
				a.TopNode = ptrStr(fmt.Sprintf("m%d", r.nodeSeq-1))
			}
			sj, serr = blockjob.Commit(r.sim, r.g, a)
		}
		descs = append(descs, fmt.Sprintf("%s [real %s] -> %s", id, p, model.ErrText(serr)))
		if err := r.created(obs, step, id, merr, serr); err != nil {
			return err
		}
		if serr != nil {
			failed = simTxn != nil
			if failed {
				break
			}
			continue
		}
		r.track(id, sj)
		rj.mj = r.mod.Job(id)
		r.real[id] = rj
		rj.dev.last = rj
	}
	rec.Desc = "create real: " + fmt.Sprint(descs)
	if simTxn == nil {
		return nil
	}
	rec.Desc = fmt.Sprintf("transaction grouped %d: %v", gid, descs)
	if failed {
		// qmp_transaction: abort in reverse order, then clean in order.
		rec.Desc += "; rolled back"
		for i := len(preps) - 1; i >= 0; i-- {
			if j := r.mod.Job(preps[i].id); j != nil && j.Status == fsm.Created {
				if err := r.mod.Cancel(j, false, true); err != nil {
					return &Violation{ID: "M", Step: step, Detail: fmt.Sprintf("model refuses the rollback cancel of %s: %v", preps[i].id, err)}
				}
			}
			preps[i].p.Abort()
			if err := r.observe(step); err != nil {
				return err
			}
		}
	} else {
		for _, pr := range preps {
			_ = r.mod.Start(pr.id)
			pr.p.Commit()
			if err := r.observe(step); err != nil {
				return err
			}
		}
	}
	for _, pr := range preps {
		id := pr.id
		r.deferred = append(r.deferred, func() { r.mod.DrainEnd(id) })
		pr.p.Clean()
		if err := r.observe(step); err != nil {
			return err
		}
	}
	return nil
}

// guestWrite is one random guest write to a real job's device.
func (r *Runner) guestWrite(id string) string {
	rj := r.real[id]
	if rj != nil && rj.kind == "backup" && rj.dev != nil {
		// A backup's device stays in use: write through its newest job
		// (whose bitmap records the write), even after the job is gone.
		rj = rj.dev.last
	} else if rj == nil || rj.mj == nil || rj.mj.Gone {
		return "guest write " + id + " (no real job: skipped)"
	}
	if rj.mj == nil {
		return "guest write " + id + " (no real job: skipped)"
	}
	off, n, err := rj.writer.Write()
	if err == nil && rj.w != nil && !rj.bmChecked {
		for c := off / rj.gran; c <= (off+int64(n)-1)/rj.gran; c++ {
			rj.w[c] = true
		}
	}
	return fmt.Sprintf("guest write %s [%d,+%d) -> %s", rj.device, off, n, model.ErrText(err))
}

// bitmapOp tries a block-dirty-bitmap command on the bitmap a running
// backup holds: it must be refused as busy and leave the bitmap unchanged
// (I11). It returns the step's description and the I11 finding.
func (r *Runner) bitmapOp(id string, k int) (string, error) {
	rj := r.real[id]
	if rj == nil || rj.bitmapMode == "" || rj.mj == nil || rj.mj.Gone || rj.bmChecked || rj.mj.Status == fsm.Concluded {
		return "bitmap op on " + id + " (no backup holding a bitmap: skipped)", nil
	}
	op := bitmapOps[mod(k, len(bitmapOps))]
	before, err := r.g.BitmapSHA256(rj.device, "bm")
	if err != nil {
		return "", fmt.Errorf("%s: bitmap bm of %s: %v", id, rj.device, err)
	}
	switch op {
	case "remove":
		err = r.g.BitmapRemove(rj.device, "bm")
	case "clear":
		err = r.g.BitmapClear(rj.device, "bm")
	case "enable":
		err = r.g.BitmapEnable(rj.device, "bm")
	case "disable":
		err = r.g.BitmapDisable(rj.device, "bm")
	case "merge":
		err = r.g.BitmapMerge(rj.device, "bm", []blockdev.BitmapRef{{Name: "bm"}})
	case "backup":
		// A second backup with the busy bitmap. blockdev-backup drains the
		// source first, so the holder blips (paused, running) if running.
		tgt := fmt.Sprintf("x%d", r.nodeSeq)
		r.nodeSeq++
		if err := r.memNode(tgt, blockdev.DriverRaw, ""); err != nil {
			return "", fmt.Errorf("setting up %s: %v", tgt, err)
		}
		r.mod.DrainBegin(id)
		r.deferred = append(r.deferred, func() { r.mod.DrainEnd(id) })
		_, err = blockjob.Backup(r.sim, r.g, blockjob.BackupArgs{Common: blockjob.Common{JobID: ptrStr(r.freshID())},
			Device: rj.device, Target: tgt, Sync: blockjob.SyncBitmap, Bitmap: ptrStr("bm"), BitmapMode: ptrStr(blockjob.BitmapOnSuccess)})
	}
	cmd := "block-dirty-bitmap-" + op
	if op == "backup" {
		cmd = "blockdev-backup sync=bitmap bitmap=bm of"
	}
	desc := fmt.Sprintf("%s %s bm (held by %s %s) -> %s", cmd, rj.device, id, rj.mj.Status, model.ErrText(err))
	if err == nil || err.Error() != busyText {
		return desc, fmt.Errorf("%s on the bitmap %s holds (%s): got %v, want %q", cmd, id, rj.mj.Status, err, busyText)
	}
	after, err := r.g.BitmapSHA256(rj.device, "bm")
	if err != nil || after != before {
		return desc, fmt.Errorf("refused %s changed bm (%v)", cmd, err)
	}
	return desc, nil
}

// checkBitmaps is invariant I10 for every real backup with a bitmap that
// concluded in this step (reference §6.2).
func (r *Runner) checkBitmaps(o *model.Obs) error {
	for _, e := range o.Events {
		if e.Kind != model.EvStatus || e.Status != fsm.Concluded {
			continue
		}
		rj := r.real[e.Job]
		if rj == nil || rj.bitmapMode == "" || rj.bmChecked {
			continue
		}
		rj.bmChecked = true
		bm, err := r.g.LookupBitmap(rj.device, "bm")
		if err != nil {
			return fmt.Errorf("%s: bitmap bm of %s after the backup: %v", e.Job, rj.device, err)
		}
		d := dirty(bm)
		failed, mode := rj.mj.Failed, rj.bitmapMode
		union := map[int64]bool{}
		for c := range rj.b0 {
			union[c] = true
		}
		for c := range rj.w {
			union[c] = true
		}
		sub := func(a, b map[int64]bool) bool {
			for c := range a {
				if !b[c] {
					return false
				}
			}
			return true
		}
		eq := func(a, b map[int64]bool) bool { return len(a) == len(b) && sub(a, b) }
		what := fmt.Sprintf("%s (bitmap-mode %s, failed=%v): bitmap %v, B0 %v, W %v", e.Job, mode, failed, keys(d), keys(rj.b0), keys(rj.w))
		switch {
		case !sub(rj.w, d):
			return fmt.Errorf("a cluster written during the job is clean: %s", what)
		case mode == "never" && !eq(d, union), failed && mode == "on-success" && !eq(d, union):
			return fmt.Errorf("bitmap is not B0 ∪ W: %s", what)
		case !failed && mode != "never" && !eq(d, rj.w):
			return fmt.Errorf("bitmap is not W after success: %s", what)
		}
	}
	return nil
}

func keys(m map[int64]bool) []int64 { return slices.Sorted(maps.Keys(m)) }

// armFault arms a one-shot EIO write fault on the node a real job writes,
// or (disarm) clears the faults armed there.
func (r *Runner) armFault(id string, disarm bool) string {
	rj := r.real[id]
	if rj == nil || rj.mj == nil || rj.mj.Gone {
		return "fault " + id + " (no real job: skipped)"
	}
	if disarm {
		return fmt.Sprintf("disarm faults on %s -> %s", rj.fault, model.ErrText(r.g.ClearInjections(rj.fault)))
	}
	_, err := r.g.InjectError(rj.fault, blockdev.InjectRule{Write: true, Errno: errno.EIO, Once: true})
	if err == nil {
		// Whichever job writes that node now may meet the fault.
		if rj.dev != nil && rj.dev.last != nil && rj.dev.last.mj != nil {
			rj = rj.dev.last
		}
		r.mod.AllowFailure(rj.mj.ID, faultError(rj.policy), []string{model.Strerror(5)})
	}
	return fmt.Sprintf("arm one-shot EIO on writes to %s -> %s", rj.fault, model.ErrText(err))
}

// checkData is invariant I12 for every real job that completed
// successfully in this step.
func (r *Runner) checkData(o *model.Obs) error {
	for _, e := range o.Events {
		if e.Kind != model.EvCompleted || e.HasError {
			continue
		}
		rj := r.real[e.Job]
		if rj == nil || rj.checked {
			continue
		}
		rj.checked = true
		var node string
		var want []byte
		switch rj.kind {
		case "backup":
			node, want = rj.target, rj.snap
			if rj.full {
				rj.dev.chainOK = true
			}
			if rj.chain && !rj.chainOK {
				continue // the target holds a broken chain: nothing to compare
			}
			if rj.syncBitmap && !rj.chain {
				// Only B0's clusters are copied; the rest stays blank.
				want = make([]byte, len(rj.snap))
				for c := range rj.b0 {
					lo := c * rj.gran
					copy(want[lo:min(lo+rj.gran, int64(len(want)))], rj.snap[lo:])
				}
			}
		case "mirror", "active-commit":
			if !rj.mj.Completing {
				continue // a soft cancel: no pivot, nothing promised about the device
			}
			node, want = rj.target, rj.writer.Shadow()
		default: // stream, commit: the device reads what it read
			node, want = rj.device, rj.writer.Shadow()
		}
		n := r.g.Node(node)
		if n == nil {
			return fmt.Errorf("%s: node %s is gone", e.Job, node)
		}
		got := make([]byte, len(want))
		if _, err := n.Read(0, got); err != nil {
			return fmt.Errorf("%s: reading %s: %v", e.Job, node, err)
		}
		if !bytes.Equal(got, want) {
			at := 0
			for at < len(got) && got[at] == want[at] {
				at++
			}
			return fmt.Errorf("%s (%s) succeeded but %s differs from the guest's data at byte %d", e.Job, rj.kind, node, at)
		}
	}
	return nil
}
