# TLA+ checks (tla/README.md): TLC on every tla/MC_*.cfg against its `\* Expect:`
# line, compared with `jobsim explore` (except the Tracker configs), and trace
# validation of simulator runs. Both fail with one line saying where to put
# tla2tools.jar when it is missing.
.PHONY: tlc trace-check

tlc:
	@TLA2TOOLS_JAR="$(TLA2TOOLS_JAR)" ./tla/check.sh tlc

trace-check:
	@TLA2TOOLS_JAR="$(TLA2TOOLS_JAR)" ./tla/check.sh trace-check

CI_TARGETS += tlc trace-check
