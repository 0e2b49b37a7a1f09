# tracker/: the management side (`jobsim tracker`). Its property test,
# mutation proof and regressions run inside `go test -race ./...` at a fixed
# seed (rapid seed 1, 60 runs); the real-QEMU test is in ./cmd/jobsim.
.PHONY: tracker-soak bench-tracker

# tracker-soak: the tracker's property test with a random seed and more
# runs; the seed is printed first, replay with RAPID_SEED=... or
# -rapid.seed.
TRACKER_CHECKS ?= 1000
tracker-soak:
	seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
	  $(GO) test -count=1 -run '^TestTrackerProperty$$' ./tracker/ -v -rapid.seed=$$seed \
	    -rapid.checks=$(TRACKER_CHECKS) | grep -v '\[rapid\] draw'; exit $${PIPESTATUS[0]}

# bench-tracker: BenchmarkReconcile (ns/job for 100, 1000 and 10000 jobs)
# and BenchmarkJournalVerdict (ns per durable verdict).
bench-tracker:
	$(GO) test -run '^$$' -bench 'Reconcile|JournalVerdict' -benchtime 3x ./tracker/
