package tracker_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/qmptest"
	"github.com/jobfsm/jobfsm/tracker"
)

// TestTrackerPassesEveryStandardPlan runs the tracker as a management tool
// would, against qmptest's fake QEMU under each of its standard fault
// plans (lost, delayed and dropped-connection events, a daemon restart, an
// I/O error), with qmptest's client-contract checker watching its traffic.
// The verdict each plan must produce is the job's real outcome: a restart
// loses the job (unknown is the only honest answer, rule T2), a read error
// fails it with QEMU's text, every other plan leaves a successful backup.
func TestTrackerPassesEveryStandardPlan(t *testing.T) {
	want := map[string]tracker.JobStatus{
		"restart-before-completion": {Verdict: tracker.Unknown, Error: "QEMU has no job 'b0' and no verdict was recorded: QEMU restarted, another client dismissed it, or the command never reached QEMU"},
		"read-error":                {Verdict: tracker.Failed, Error: "Input/output error"},
	}
	setup := func(t *testing.T, srv *qmptest.Server) {
		for _, node := range []string{"src", "dst"} {
			srv.MustExec(t, "blockdev-add", map[string]any{"driver": "null-co", "node-name": node, "size": 4 << 20})
		}
	}
	qmptest.RunPlans(t, qmptest.StandardPlans("b0", "src"), qmptest.Options{}, setup,
		func(t *testing.T, srv *qmptest.Server, p qmptest.NamedPlan) {
			j, err := tracker.OpenJournal(filepath.Join(t.TempDir(), "journal"))
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			dial := func() (*tracker.Client, error) { return tracker.Dial(srv.Path, 5*time.Second) }
			c, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			tr := tracker.New(j, c, tracker.Options{})
			// A connection lost while starting leaves the outcome to the
			// next reconcile (the command may or may not have reached
			// QEMU); any other error is a refusal the plan did not cause.
			var pe *tracker.ProtocolError
			if err := tr.Backup(tracker.BackupSpec{JobID: "b0", Device: "src", Target: "dst", Sync: "full"}); err != nil && !errors.As(err, &pe) {
				t.Fatalf("backup: %v", err)
			}
			var log strings.Builder
			st, err := tr.Watch(tracker.WatchOptions{Dial: dial, Out: &log, Poll: 20 * time.Millisecond, Sleep: func(time.Duration) {}})
			if err != nil {
				t.Fatalf("watch: %v\n%s", err, log.String())
			}
			w, ok := want[p.Name]
			if !ok {
				w = tracker.JobStatus{Verdict: tracker.Succeeded}
			}
			got := st.Jobs["b0"]
			if got.Verdict != w.Verdict || got.Error != w.Error {
				t.Fatalf("plan %s: verdict %q (error %q), want %q (error %q)\n%s", p.Name, got.Verdict, got.Error, w.Verdict, w.Error, log.String())
			}
			if len(srv.Faults()) == 0 && p.Name != "no-faults" {
				t.Fatalf("plan %s: no fault fired, the run proved nothing", p.Name)
			}
		})
}
