package tracker

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jobfsm/jobfsm/qmp"
)

// BenchmarkReconcile measures one Reconcile that finds N tracked jobs
// waiting in pending: it finalizes each, journals N verdicts (one durable
// transaction) and dismisses each, against an in-process jobsim over QMP.
// It reports ns/job, which should stay flat from 100 to 10000 jobs.
func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tr, d := pendingJobs(b, n)
				b.StartTimer()
				st, err := tr.Reconcile()
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if len(st.Jobs) != n || !st.Settled() || len(d.Jobs()) != 0 {
					b.Fatalf("reconcile left %d jobs in QEMU, settled=%v", len(d.Jobs()), st.Settled())
				}
				_ = tr.Journal().Close()
				b.StartTimer()
			}
			total = float64(b.Elapsed().Nanoseconds())
			b.ReportMetric(total/float64(b.N*n), "ns/job")
		})
	}
}

// pendingJobs returns a tracker whose journal holds n started jobs and a
// jobsim where each waits in pending (x-jobsim test jobs stand in for
// backups: reconcile treats every tracked job alike).
func pendingJobs(b *testing.B, n int) (*Tracker, *qmp.Dispatcher) {
	d := qmp.NewDispatcher(qmp.Options{TestCommands: true})
	admin := d.Connect()
	admin.HandleLine([]byte(`{"execute":"qmp_capabilities"}`))
	j, err := OpenJournal(filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]JobRecord, n)
	for i := range recs {
		id := fmt.Sprintf("j%d", i)
		admin.HandleLine([]byte(fmt.Sprintf(`{"execute":"x-jobsim-test-job","arguments":{"id":%q,"steps":1,"auto-finalize":false,"auto-dismiss":false}}`, id)))
		recs[i] = JobRecord{ID: id, Device: "src", Target: "tgt", Sync: "full", Phase: PhaseStarted}
	}
	admin.Take()
	d.Advance(1e9)
	if err := j.write(recs, nil); err != nil {
		b.Fatal(err)
	}
	admin.Close()
	tr := New(j, nil, Options{})
	c, err := NewClient(newSimConn(d), 0)
	if err != nil {
		b.Fatal(err)
	}
	tr.SetClient(c)
	return tr, d
}

// BenchmarkJournalVerdict is the journal's cost of one durable verdict:
// one bbolt transaction (with its fsync) per verdict, and per verdict when
// a reconcile writes 100 at once.
func BenchmarkJournalVerdict(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			j, err := OpenJournal(filepath.Join(b.TempDir(), "journal.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			recs := make([]JobRecord, batch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := range recs {
					recs[k] = JobRecord{ID: fmt.Sprintf("j%d-%d", i, k), Device: "src", Target: "tgt", Sync: "full",
						Phase: PhaseDecided, Verdict: Succeeded}
				}
				if err := j.write(recs, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/verdict")
		})
	}
}
