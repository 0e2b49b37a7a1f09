package conformance

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// timeCorpus runs the scenarios on srv once each and returns the wall time;
// any failure fails the test (a benchmark of wrong answers is worthless).
func timeCorpus(t *testing.T, c *Corpus, scns []*Scenario, srv Server, qemu bool) time.Duration {
	t.Helper()
	start := time.Now()
	for _, s := range scns {
		if r := c.Check(s, srv, qemu, *timeout); !r.OK() {
			t.Fatalf("%s: %s", srv.Name(), r)
		}
	}
	return time.Since(start)
}

// TestBenchmarkReport prints the side-by-side figures of issue 8 (set
// JOBFSM_BENCH=1; make conformance-bench):
//
//   - the corpus with one server process per scenario: qemu-storage-daemon,
//     jobsim qmp (wall clock) and jobsim qmp --clock virtual;
//   - the time-bound subset: QEMU against jobsim qmp --clock virtual
//     (goal ≥ 100×);
//   - the in-process runner: scenarios per second against QEMU's (goal ≥
//     100×).
//
// Scenarios jobsim does not run (qemu_only) are left out on every side.
func TestBenchmarkReport(t *testing.T) {
	if os.Getenv("JOBFSM_BENCH") == "" {
		t.Skip("set JOBFSM_BENCH=1 to run the side-by-side benchmarks")
	}
	if !haveQEMU(t) {
		t.Skip("qemu-storage-daemon not installed")
	}
	c := openCorpus(t)
	var all, bound []*Scenario
	for _, s := range c.Scenarios {
		if s.QEMUOnly {
			continue
		}
		all = append(all, s)
		if s.HasTag("time-bound") {
			bound = append(bound, s)
		}
	}
	if len(bound) < 5 {
		t.Fatalf("only %d time-bound scenarios", len(bound))
	}
	bin := jobsim(t)
	qemu := &Process{Label: "qemu-storage-daemon", Command: QEMUCommand}
	wall := &Process{Label: "jobsim qmp", Command: []string{bin, "qmp"}}
	virt := &Process{Label: "jobsim qmp --clock virtual", Command: []string{bin, "qmp", "--clock", "virtual"}}
	var b strings.Builder
	row := func(name string, n int, d time.Duration) {
		fmt.Fprintf(&b, "  %-34s %3d scenarios %9.3f s  %8.1f scenarios/s\n", name, n, d.Seconds(), float64(n)/d.Seconds())
	}
	// warm the page cache and the binaries
	timeCorpus(t, c, all[:1], qemu, true)
	timeCorpus(t, c, all[:1], virt, false)

	fmt.Fprintf(&b, "whole corpus, one process per scenario:\n")
	tq := timeCorpus(t, c, all, qemu, true)
	tw := timeCorpus(t, c, all, wall, false)
	tv := timeCorpus(t, c, all, virt, false)
	row(qemu.Label, len(all), tq)
	row(wall.Label, len(all), tw)
	row(virt.Label, len(all), tv)
	fmt.Fprintf(&b, "  ratio QEMU/jobsim: wall clock %.2f×, virtual clock %.2f×\n", tq.Seconds()/tw.Seconds(), tq.Seconds()/tv.Seconds())

	fmt.Fprintf(&b, "time-bound subset (%d scenarios, speed-limited jobs run to completion):\n", len(bound))
	bq := timeCorpus(t, c, bound, qemu, true)
	bv := timeCorpus(t, c, bound, virt, false)
	row(qemu.Label, len(bound), bq)
	row(virt.Label, len(bound), bv)
	fmt.Fprintf(&b, "  ratio: %.0f× (goal ≥ 100×)\n", bq.Seconds()/bv.Seconds())

	var short []*Scenario
	for _, s := range all {
		if !s.HasTag("time-bound") {
			short = append(short, s)
		}
	}
	fmt.Fprintf(&b, "short scenarios only (%d, no time-bound job), one process per scenario:\n", len(short))
	sq := timeCorpus(t, c, short, qemu, true)
	sv := timeCorpus(t, c, short, virt, false)
	row(qemu.Label, len(short), sq)
	row(virt.Label, len(short), sv)
	fmt.Fprintf(&b, "  ratio: %.2f×\n", sq.Seconds()/sv.Seconds())

	fmt.Fprintf(&b, "in-process runner (qmp.Dispatcher, no process, no pipe):\n")
	in := &InProcess{}
	rounds := 5
	start := time.Now()
	for i := 0; i < rounds; i++ {
		timeCorpus(t, c, all, in, false)
	}
	ti := time.Since(start) / time.Duration(rounds)
	row("in-process", len(all), ti)
	fmt.Fprintf(&b, "  ratio to QEMU's scenarios/s: %.0f× on the whole corpus (goal ≥ 100×)\n", tq.Seconds()/ti.Seconds())
	start = time.Now()
	for i := 0; i < rounds; i++ {
		timeCorpus(t, c, short, in, false)
	}
	ts := time.Since(start) / time.Duration(rounds)
	row("in-process, short scenarios", len(short), ts)
	fmt.Fprintf(&b, "  ratio to QEMU's scenarios/s on the short scenarios: %.0f×\n", sq.Seconds()/ts.Seconds())
	fmt.Fprintf(&b, "(load average at the end: %s)\n", loadAvg())
	t.Log("\n" + b.String())
	fmt.Print(b.String())
}

// BenchmarkInProcessCorpus is the in-process runner over the whole corpus
// (one op = one pass over every scenario jobsim runs).
func BenchmarkInProcessCorpus(b *testing.B) {
	c := openCorpus(b)
	var all []*Scenario
	for _, s := range c.Scenarios {
		if !s.QEMUOnly && !s.NeedsQemuImg() {
			all = append(all, s)
		}
	}
	in := &InProcess{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range all {
			if r := c.Check(s, in, false, *timeout); !r.OK() {
				b.Fatal(r)
			}
		}
	}
	b.ReportMetric(float64(len(all)*b.N)/b.Elapsed().Seconds(), "scenarios/s")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
