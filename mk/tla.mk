# TLA+ checks (tla/README.md): TLC on every tla/MC_*.cfg against its `\* Expect:`
# line (QEMU 7.2's configs and 10.0's MC_*_10_0.cfg, each naming its version in
# QemuVersion), compared with `jobsim explore` (except the Tracker configs), and
# trace validation of simulator runs and of both versions' QEMU transcripts.
# Both fail with one line saying where to put tla2tools.jar when it is missing.
.PHONY: tlc trace-check

tlc:
	@TLA2TOOLS_JAR="$(TLA2TOOLS_JAR)" ./tla/check.sh tlc

trace-check:
	@TLA2TOOLS_JAR="$(TLA2TOOLS_JAR)" ./tla/check.sh trace-check

CI_TARGETS += tlc trace-check
