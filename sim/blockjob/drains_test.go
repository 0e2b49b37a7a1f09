package blockjob

import (
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// The tests below pin QEMU 10.0's drains of every node (sim/drains.go)
// at the level of the drivers, without qmp_transaction's own drain. The
// expected events are copied from qemu-storage-daemon 10.0.13's answers to
// the probes in conformance/testdata/drains (NAME.qemu-10.0.transcript.json,
// events_before_return), minus the one pair of the transaction's drain where
// the command is blockdev-backup.

// newEnvAt is newEnv for QEMU version v.
func newEnvAt(t *testing.T, v fsm.Version) *env {
	e := &env{t: t, m: sim.New(sim.Options{Version: v}), g: blockdev.NewGraph()}
	e.m.Subscribe(func(ev sim.Event) { e.log = append(e.log, evString(ev)) })
	return e
}

// runningMirror starts m0 (n0 → n1, 1 GiB null-co, speed 1): it copies its
// first chunk and sleeps under its rate limit, as in every probe.
func runningMirror(t *testing.T, e *env, autoDismiss bool) *sim.Job {
	t.Helper()
	for _, n := range []string{"n0", "n1", "n2", "n3"} {
		e.null(n, 1<<30)
	}
	a := MirrorArgs{Common: Common{JobID: str("m0"), Speed: i64(1)}, Device: "n0", Target: "n1", Sync: "full"}
	if !autoDismiss {
		a.AutoDismiss = no()
	}
	m0, err := Mirror(e.m, e.g, a)
	if err != nil {
		t.Fatal(err)
	}
	e.m.Settle()
	e.expectLog("m0 created", "m0 running")
	return m0
}

func backupArgs(id string) BackupArgs {
	return BackupArgs{Common: Common{JobID: str(id), Speed: i64(1)}, Device: "n2", Target: "n3", Sync: "full"}
}

func blips(job string, n int) []string {
	var out []string
	for ; n > 0; n-- {
		out = append(out, job+" paused", job+" running")
	}
	return out
}

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestDrains10BackupCreation(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	runningMirror(t, e, true)
	if _, err := Backup(e.m, e.g, backupArgs("j0")); err != nil {
		t.Fatal(err)
	}
	e.expectLog(cat(blips("m0", 4), []string{"j0 created"}, blips("m0", 1),
		[]string{"j0 running", "j0 paused", "j0 running"})...)
}

func TestDrains72BackupCreationLeavesOthersAlone(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU7_2)
	runningMirror(t, e, true)
	if _, err := Backup(e.m, e.g, backupArgs("j0")); err != nil {
		t.Fatal(err)
	}
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running")
}

func TestDrains10BackupRefusedAtJobCreation(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	runningMirror(t, e, true)
	_, err := Backup(e.m, e.g, backupArgs("1m"))
	wantErr(t, err, "GenericError", "Invalid job ID '1m'")
	// backup_badid: seven pairs, one of them the transaction's.
	e.expectLog(blips("m0", 6)...)
}

func TestDrains10UserPausedJobShowsNothing(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	m0 := runningMirror(t, e, true)
	if err := e.m.Pause(m0); err != nil {
		t.Fatal(err)
	}
	e.m.Settle()
	e.expectLog("m0 paused")
	if _, err := Backup(e.m, e.g, backupArgs("j0")); err != nil {
		t.Fatal(err)
	}
	e.expectLog("j0 created", "j0 running", "j0 paused", "j0 running")
}

func TestDrains10BackupCancel(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	runningMirror(t, e, true)
	j0, err := Backup(e.m, e.g, backupArgs("j0"))
	if err != nil {
		t.Fatal(err)
	}
	e.log = nil
	if err := e.m.Cancel(j0, false); err != nil {
		t.Fatal(err)
	}
	e.m.Settle()
	// cancel_backup: backup_clean's three pairs before concluded, and
	// block_job_free's one after null.
	e.expectLog(cat([]string{"j0 aborting"}, blips("m0", 3),
		[]string{"CANCELLED j0", "j0 concluded", "j0 null"}, blips("m0", 1))...)
}

func TestDrains10MirrorCancelThenDismiss(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	runningMirror(t, e, true)
	a := MirrorArgs{Common: Common{JobID: str("m1"), Speed: i64(1), AutoDismiss: no()}, Device: "n2", Target: "n3", Sync: "full"}
	m1, err := Mirror(e.m, e.g, a)
	if err != nil {
		t.Fatal(err)
	}
	e.m.Settle()
	e.expectLog(cat(blips("m0", 2), []string{"m1 created"}, blips("m0", 2), []string{"m1 running"})...)
	if err := e.m.Cancel(m1, false); err != nil {
		t.Fatal(err)
	}
	e.m.Settle()
	e.expectLog(cat([]string{"m1 aborting"}, blips("m0", 4), []string{"CANCELLED m1", "m1 concluded"})...)
	if err := e.m.Dismiss(m1); err != nil {
		t.Fatal(err)
	}
	e.expectLog(cat([]string{"m1 null"}, blips("m0", 1))...)
}

func TestDrains10ReadyMirrorBlipsStandby(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	for _, n := range []string{"n2", "n3", "s4", "s5"} {
		e.null(n, 1<<30)
	}
	m1, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m1")}, Device: "s4", Target: "s5", Sync: "full"})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	if !m1.Status().IsReady() {
		t.Fatalf("m1 is %s, want ready", m1.Status())
	}
	e.log = nil
	if _, err := Backup(e.m, e.g, backupArgs("j0")); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 4; i++ {
		want = append(want, "m1 standby", "m1 ready")
	}
	want = append(want, "j0 created", "m1 standby", "m1 ready", "j0 running", "j0 paused", "j0 running")
	e.expectLog(want...)
}

// A job busy with I/O passes the drains' pause points too: on 10.0 a mirror
// without speed limit, copying, shows the same pairs as a sleeping one
// (conformance/testdata/drains/busy_mirror.qemu-10.0.transcript.json:
// three for a blockdev-add with one child, one for a transaction, one for
// a blockdev-del).
func TestDrains10BusyJobBlips(t *testing.T) {
	e := newEnvAt(t, fsm.QEMU10_0)
	for _, n := range []string{"s0", "t0", "n2", "n3"} {
		e.null(n, 1<<30)
	}
	m0, err := Mirror(e.m, e.g, MirrorArgs{Common: Common{JobID: str("m0")}, Device: "s0", Target: "t0", Sync: "full"})
	if err != nil {
		t.Fatal(err)
	}
	e.m.SettleAtMost(3)
	if !m0.Busy() || m0.Status() != fsm.Running {
		t.Fatalf("m0 is %s, busy %v: want running with a request in flight", m0.Status(), m0.Busy())
	}
	e.log = nil
	if _, err := Backup(e.m, e.g, backupArgs("j0")); err != nil {
		t.Fatal(err)
	}
	e.expectLog(cat(blips("m0", 4), []string{"j0 created"}, blips("m0", 1),
		[]string{"j0 running", "j0 paused", "j0 running"})...)
}
