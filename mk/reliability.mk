# reliability (issue 16): `jobsim qmp --socket` as a process under silent
# flooding clients, descriptor exhaustion (a child with a low
# RLIMIT_NOFILE), a stale socket after kill -9, SIGTERM/SIGINT at seeded
# points during each job type and with N jobs, and an unthrottled 1 TiB
# backup; the single-client cases also against qemu-storage-daemon. About
# 40 s on 2 cores. reliability-figures also prints what it measured
# (latency percentiles, RSS, bytes taken from a silent client, time from
# SIGTERM to exit, QEMU's figures alongside); CI's output stays
# deterministic.
#   RELIABILITY_SEED=N     other signal points (default seed 16)
#   RELIABILITY_FLOOD=60s  longer silent-client phase (the RSS figure)
.PHONY: reliability reliability-figures
reliability-figures: export RELIABILITY_FIGURES=1
reliability-figures: reliability
reliability:
	CI=$${CI:-true} JOBFSM_RELIABILITY=1 $(GO) test -count=1 -v -timeout 10m ./conformance/reliability \
	  | grep -E '^(---|ok|FAIL|PASS)|reliability_test.go|harness_test.go' ; exit $${PIPESTATUS[0]}

CI_TARGETS += reliability
