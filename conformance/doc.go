// Package conformance runs language-neutral QMP scenarios (spec/conformance/
// NAME.json) against any QMP server — real qemu-storage-daemon, `jobsim qmp`
// as a process, or the qmp.Dispatcher in-process — and compares normalized
// transcripts (responses, events without timestamps, per-job status
// sequences, image digests) with the ones recorded on QEMU 7.2
// (NAME.transcript.json).
//
// The scenario and transcript formats are those of
// ../shared/reference/qemu-transcripts/record.py, so its files and this
// package's are interchangeable. Events are compared per job: the
// interleaving of two jobs' events, and in general of events with
// responses, is racy in QEMU itself. Where it is not (reference §3.2: a
// command that ends a job without I/O delivers its ending before the
// return), a send step with "order" records the events that arrived before
// its return, and that list is compared. A scenario whose jobsim behaviour differs on purpose names
// its spec/deviations.md entry in "deviation" and carries the transcript
// jobsim must produce in NAME.jobsim.transcript.json.
//
// After its last step the runner sends one more command (query-jobs) and
// keeps, unrecorded, only the events that arrive before its answer: every
// event a server emitted in reaction to the script is in the transcript,
// whatever the server's event/response ordering.
//
// TestDifferential draws command sequences with rapid, runs each on QEMU
// (twice, to set aside sequences that are racy on QEMU itself) and on
// `jobsim qmp --clock virtual`, once per QEMU version (TestDifferential/7.2
// against the system's daemon, /10.0 against the one scripts/setup-qemu10.sh
// installs, with `--qemu 10.0`), and on a disagreement writes the sequence
// to testdata/differential/disagreement-VERSION.json. CI runs a fixed list
// of seeds (-diff-seeds 1-100); `make differential` draws new ones
// (SEEDS=random, QEMU=10.0 for one version) and minimizes what it finds.
//
// A send step with "hang" expects no answer within a window (QEMU's
// grouped-rollback hang, reference §12): that outcome is recorded, and the
// run ends there.
//
// Tests: `go test ./conformance` runs the corpus in-process and against the
// jobsim binary, and against qemu-storage-daemon when it is installed (under
// CI=true a missing QEMU fails the suite). `-update` re-records the QEMU
// transcripts; JOBFSM_BENCH=1 prints the side-by-side benchmarks.
package conformance

//go:generate go run ./internal/gencorpus ../spec/conformance
