package qmp

import (
	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
	"github.com/jobfsm/jobfsm/sim/blockjob"
)

// registerJobs binds the job-creating block commands and transaction to
// sim/blockjob. The drivers run QEMU's validations in QEMU's order; this
// layer adds what qmp_transaction does around them.
func (b *blockLayer) registerJobs() {
	h := b.d.handlers
	m := b.d.m
	h["blockdev-backup"] = func(s *Session, a *Object) (any, error) {
		var args blockjob.BackupArgs
		if err := decode(a, &args); err != nil {
			return nil, err
		}
		// blockdev-backup is a one-action transaction (blockdev_do_action):
		// qmp_transaction drains everything first.
		m.DrainAllFor(sim.DrainTransaction)
		_, err := blockjob.Backup(m, b.g, args)
		return nil, err
	}
	h["blockdev-mirror"] = func(s *Session, a *Object) (any, error) {
		var args blockjob.MirrorArgs
		if err := decode(a, &args); err != nil {
			return nil, err
		}
		_, err := blockjob.Mirror(m, b.g, args)
		return nil, err
	}
	h["block-commit"] = func(s *Session, a *Object) (any, error) {
		var args blockjob.CommitArgs
		if err := decode(a, &args); err != nil {
			return nil, err
		}
		_, err := blockjob.Commit(m, b.g, args)
		return nil, err
	}
	h["block-stream"] = func(s *Session, a *Object) (any, error) {
		var args blockjob.StreamArgs
		if err := decode(a, &args); err != nil {
			return nil, err
		}
		_, err := blockjob.Stream(m, b.g, args)
		return nil, err
	}
	h["transaction"] = b.transaction
}

// txnAction is one prepared action (TransactionActionDrv).
type txnAction struct {
	commit func()
	abort  func()
	clean  func()
}

// transaction is qmp_transaction: drain all, prepare each action in order
// (stop at the first error), then commit each in order, or abort the
// prepared ones in reverse; finally clean each in order.
func (b *blockLayer) transaction(s *Session, a *Object) (any, error) {
	m := b.d.m
	if m.Has(sim.TxnCompletionModeFirst) {
		if err := checkGroupedActions(a); err != nil {
			return nil, err
		}
	}
	grouped := false
	if p, ok := a.Get("properties"); ok {
		grouped = argStrDef(p.(*Object), "completion-mode", "individual") == "grouped"
	}
	m.DrainAllFor(sim.DrainTransaction)
	var txn *sim.Txn
	if grouped {
		txn = m.NewTxn()
	}
	v, _ := a.Get("actions")
	actions, _ := v.([]any)
	var done []txnAction
	var err error
	for _, x := range actions {
		act := x.(*Object)
		kind := argStr(act, "type")
		dv, _ := act.Get("data")
		data, _ := dv.(*Object)
		var ta txnAction
		ta, err = b.prepare(kind, data, grouped, txn)
		if err != nil {
			break
		}
		done = append(done, ta)
	}
	if err != nil {
		for i := len(done) - 1; i >= 0; i-- {
			if done[i].abort != nil {
				done[i].abort()
			}
		}
	} else {
		for _, ta := range done {
			if ta.commit != nil {
				ta.commit()
			}
		}
	}
	for _, ta := range done {
		if ta.clean != nil {
			ta.clean()
		}
	}
	return nil, err
}

// groupedActions are the actions that support completion-mode grouped:
// the backups, whose jobs join the transaction's JobTxn.
var groupedActions = map[string]bool{"blockdev-backup": true, "drive-backup": true}

// checkGroupedActions is QEMU 10.0's qmp_transaction refusing a grouped
// transaction with an action that does not support it, before the drain
// and before preparing anything (TxnCompletionModeFirst).
func checkGroupedActions(a *Object) error {
	p, ok := a.Get("properties")
	if !ok || argStrDef(p.(*Object), "completion-mode", "individual") != "grouped" {
		return nil
	}
	v, _ := a.Get("actions")
	actions, _ := v.([]any)
	for _, x := range actions {
		kind := argStr(x.(*Object), "type")
		if !groupedActions[kind] {
			return qerr.Generic("Action '%s' does not support transaction property completion-mode = grouped", kind)
		}
	}
	return nil
}

func (b *blockLayer) prepare(kind string, data *Object, grouped bool, txn *sim.Txn) (txnAction, error) {
	g := b.g
	checkMode := func() error {
		// action_check_completion_mode
		if grouped {
			return qerr.Generic("Action '%s' does not support Transaction property completion-mode = grouped", kind)
		}
		return nil
	}
	node, name := argStr(data, "node"), argStr(data, "name")
	switch kind {
	case "abort":
		return txnAction{}, qerr.Generic("Transaction aborted using Abort action")
	case "blockdev-backup":
		var args blockjob.BackupArgs
		if err := decode(data, &args); err != nil {
			return txnAction{}, err
		}
		p, err := blockjob.PrepareBackup(b.d.m, g, args, txn)
		if err != nil {
			return txnAction{}, err
		}
		return txnAction{commit: p.Commit, abort: p.Abort, clean: p.Clean}, nil
	case "block-dirty-bitmap-add":
		if err := checkMode(); err != nil {
			return txnAction{}, err
		}
		var args blockdev.BitmapAddArgs
		if err := decode(data, &args); err != nil {
			return txnAction{}, err
		}
		if err := g.BitmapAdd(args); err != nil {
			return txnAction{}, err
		}
		return txnAction{abort: func() {
			if bm, err := g.LookupBitmap(node, name); err == nil {
				bm.Release()
			}
		}}, nil
	case "block-dirty-bitmap-remove":
		if err := checkMode(); err != nil {
			return txnAction{}, err
		}
		bm, err := g.LookupBitmap(node, name)
		if err != nil {
			return txnAction{}, err
		}
		if err := bm.Check(blockdev.CheckBusy | blockdev.CheckRO); err != nil {
			return txnAction{}, err
		}
		// the bitmap is busy until the transaction ends
		bm.SetBusy(true)
		return txnAction{
			commit: func() { bm.SetBusy(false); bm.Release() },
			abort:  func() { bm.SetBusy(false) },
		}, nil
	case "block-dirty-bitmap-clear", "block-dirty-bitmap-merge":
		if err := checkMode(); err != nil {
			return txnAction{}, err
		}
		target := name
		if kind == "block-dirty-bitmap-merge" {
			target = argStr(data, "target")
		}
		bm, lerr := g.LookupBitmap(node, target)
		var backup *blockdev.DirtyBitmap
		if lerr == nil {
			// the backup QEMU keeps for abort (bdrv_clear_dirty_bitmap's out)
			var err error
			if backup, err = bm.Node().CreateBitmap(bm.Granularity(), ""); err != nil {
				return txnAction{}, err
			}
			backup.MergeFrom(bm)
		}
		var err error
		if kind == "block-dirty-bitmap-clear" {
			err = g.BitmapClear(node, name)
		} else {
			err = g.BitmapMerge(node, target, bitmapRefs(data))
		}
		if err != nil {
			if backup != nil {
				backup.Release()
			}
			return txnAction{}, err
		}
		return txnAction{
			commit: func() { backup.Release() },
			abort: func() {
				bm.Clear()
				bm.MergeFrom(backup)
				backup.Release()
			},
		}, nil
	case "block-dirty-bitmap-enable", "block-dirty-bitmap-disable":
		if err := checkMode(); err != nil {
			return txnAction{}, err
		}
		bm, _ := g.LookupBitmap(node, name)
		var err error
		if kind == "block-dirty-bitmap-enable" {
			err = g.BitmapEnable(node, name)
		} else {
			err = g.BitmapDisable(node, name)
		}
		if err != nil || bm == nil {
			return txnAction{}, err
		}
		// the state to restore on abort is the one before this action
		prev := kind == "block-dirty-bitmap-enable"
		return txnAction{abort: func() { bm.SetDisabled(prev) }}, nil
	}
	// drive-backup, blockdev-snapshot*, ... : jobfsm has no such actions
	return txnAction{}, qerr.Generic("jobsim does not implement transaction action '%s'", kind)
}
