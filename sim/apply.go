package sim

import (
	"fmt"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// VerbCommand is one QMP job-control command as data: a verb, the family
// that names it (job-* or block-job-*) and its arguments. Manager.Apply is
// the one place that turns it into the verb methods (verbs.go), so QMP, the
// scenario runner, the model harness and the trace generator cannot differ
// in lookup, error text or argument handling.
type VerbCommand struct {
	Verb fsm.Verb
	// Block selects block-job-* (blockdev.c: lookup among block jobs,
	// DeviceNotActive "Block job '%s' not found") over job-* (job-qmp.c:
	// any job, "Job not found"). set-speed exists only as
	// block-job-set-speed, so it is always a block-job command.
	Block bool
	// ID is the job id: job-*'s id, block-job-*'s device (or id, for
	// block-job-finalize and block-job-dismiss).
	ID string
	// Force is block-job-cancel's force; job-cancel always forces.
	Force bool
	// Speed is block-job-set-speed's speed.
	Speed int64
	// Change is block-job-change's options (QEMU 10.0).
	Change ChangeOptions
}

// IsBlock reports whether the command is a block-job-* command (set-speed
// and change exist only as block-job-set-speed and block-job-change).
func (c VerbCommand) IsBlock() bool {
	return c.Block || c.Verb == fsm.VerbSetSpeed || c.Verb == fsm.VerbChange
}

// Name is the QMP command name, e.g. "job-pause", "block-job-set-speed".
func (c VerbCommand) Name() string {
	if c.IsBlock() {
		return "block-job-" + c.Verb.String()
	}
	return "job-" + c.Verb.String()
}

// VerbCommands lists DefaultVersion's (QEMU 7.2's) job-control commands;
// VerbCommandsAt lists another version's.
func VerbCommands() []VerbCommand { return VerbCommandsAt(fsm.DefaultVersion) }

// VerbCommandsAt lists version v's job-control commands: job-* then
// block-job-*, each family's verbs in QAPI order as v's verb table has them.
// set-speed and change exist only as block-job-* commands (there is no
// job-set-speed, no job-change), and change only from QEMU 8.2 on.
func VerbCommandsAt(v fsm.Version) []VerbCommand {
	var cs []VerbCommand
	for _, block := range []bool{false, true} {
		for _, verb := range fsm.For(v).Verbs() {
			c := VerbCommand{Verb: verb, Block: block}
			if block || !c.IsBlock() {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// ParseVerbCommand returns DefaultVersion's command named name ("job-pause",
// "block-job-cancel", …) with no arguments set; false for any other name.
func ParseVerbCommand(name string) (VerbCommand, bool) {
	return ParseVerbCommandAt(fsm.DefaultVersion, name)
}

// ParseVerbCommandAt is ParseVerbCommand for version v: "block-job-change"
// is a command at 10.0, not at 7.2 (which answers CommandNotFound,
// qerr.NoSuchCommand).
func ParseVerbCommandAt(v fsm.Version, name string) (VerbCommand, bool) {
	for _, c := range VerbCommandsAt(v) {
		if c.Name() == name {
			return c, true
		}
	}
	return VerbCommand{}, false
}

// Apply runs the command as QEMU's QMP handler does: the family's lookup
// and its error, then the verb with its checks in QEMU's order. It returns
// a *qerr.Error or *fsm.VerbError and changes nothing when it refuses.
func (m *Manager) Apply(c VerbCommand) error {
	j, err := m.Lookup(c)
	if err != nil {
		return err
	}
	// qmp_block_job_cancel refuses a soft cancel of a user-paused job
	// before the verb check; job-cancel always forces.
	force := c.Force || !c.IsBlock()
	if c.Verb == fsm.VerbCancel && j.userPaused && !force {
		err := qerr.Generic("The block job for device '%s' is currently paused", c.ID)
		m.traceVerb(j, fsm.VerbCancel, err)
		return err
	}
	switch c.Verb {
	case fsm.VerbPause:
		return m.Pause(j)
	case fsm.VerbResume:
		return m.Resume(j)
	case fsm.VerbCancel:
		return m.Cancel(j, force)
	case fsm.VerbComplete:
		return m.Complete(j)
	case fsm.VerbFinalize:
		return m.Finalize(j)
	case fsm.VerbDismiss:
		return m.Dismiss(j)
	case fsm.VerbSetSpeed:
		return m.SetSpeed(j, c.Speed)
	case fsm.VerbChange:
		return m.Change(j, c.Change)
	}
	// A verb outside fsm's enum is a caller's bug, not a client's input
	// (ParseVerbCommand never yields one).
	return fmt.Errorf("sim: %s is not a job verb", c.Verb)
}
