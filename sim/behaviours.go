package sim

import "github.com/jobfsm/jobfsm/fsm"

// Behaviour is one way the QMP surface or the block jobs of a QEMU version
// differ from the previous version jobfsm speaks, beyond the verb table
// (fsm.For) and the QMP schema (qmp/schema): the per-version data that
// qmp and sim/blockjob look up with Manager.Has instead of comparing
// versions. spec/versions.md is generated from this list.
type Behaviour struct {
	// Name is the behaviour's short name, as spec/versions.md lists it.
	Name string
	// Since is the first version jobfsm speaks that behaves so; every later
	// version does too.
	Since fsm.Version
	// Description says in one line what a client sees.
	Description string
	// Source is where QEMU does it.
	Source string
}

// The behaviours, in the order spec/versions.md lists them.
var (
	// MirrorQuery: query-block-jobs gives a mirror job its
	// actively-synced member.
	MirrorQuery = &Behaviour{
		Name:  "mirror-query",
		Since: fsm.QEMU10_0,
		Description: "query-block-jobs gives a job of type mirror the member actively-synced " +
			"(true once a write-blocking mirror has found nothing dirty)",
		Source: "block/mirror.c mirror_query; BlockJobInfo a union on type (qapi/block-core.json, 8.2)",
	}
	// MirrorChange: block-job-change switches a mirror's copy mode. Nothing
	// looks it up: the command exists where the version's QMP schema has it
	// and its verb where fsm's table has it; it is listed so that
	// spec/versions.md names what mirror_change does.
	MirrorChange = &Behaviour{
		Name:  "mirror-change",
		Since: fsm.QEMU10_0,
		Description: "block-job-change switches a mirror from copy-mode background to write-blocking " +
			"(verb change; the other way is refused)",
		Source: "blockdev.c qmp_block_job_change, blockjob.c block_job_change_locked, block/mirror.c mirror_change (8.2)",
	}
	// CopyBitmapOnFilter: a backup's block-copy bitmap lives on its
	// copy-before-write filter node, not on the source.
	CopyBitmapOnFilter = &Behaviour{
		Name:  "copy-bitmap-on-filter",
		Since: fsm.QEMU10_0,
		Description: "a backup's block-copy copy bitmap is listed on its copy-before-write filter node, " +
			"no longer on the source node (query-named-block-nodes dirty-bitmaps)",
		Source: "block/copy-before-write.c cbw_open: block_copy_state_new(bs->file, s->target, bs, ...)",
	}
	// NodeActive: query-named-block-nodes reports each node's activation
	// state.
	NodeActive = &Behaviour{
		Name:  "node-active",
		Since: fsm.QEMU10_0,
		Description: "query-named-block-nodes gives every node the member active (true: jobfsm has no " +
			"blockdev-set-active, the 10.0 command that clears it)",
		Source: "block/qapi.c bdrv_block_device_info: info->active = !bdrv_is_inactive(bs) (10.0)",
	}
	// TxnCompletionModeFirst: transaction refuses an action that does not
	// support completion-mode grouped before preparing any action.
	TxnCompletionModeFirst = &Behaviour{
		Name:  "txn-completion-mode-first",
		Since: fsm.QEMU10_0,
		Description: "transaction checks every action's support of completion-mode grouped before " +
			"preparing any (abort included), with the text \"... does not support transaction property ...\"",
		Source: "blockdev.c qmp_transaction (7.2: action_check_completion_mode in each action's prepare)",
	}
)

// Behaviours returns every behaviour, in spec/versions.md's order.
func Behaviours() []*Behaviour {
	return []*Behaviour{MirrorQuery, MirrorChange, CopyBitmapOnFilter, NodeActive, TxnCompletionModeFirst}
}

// Has reports whether the manager's QEMU version behaves as b says.
func (m *Manager) Has(b *Behaviour) bool { return m.Version() >= b.Since }
