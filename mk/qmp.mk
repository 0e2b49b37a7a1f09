# QMP server (qmp/), conformance harness (conformance/) and the scenario
# corpus (spec/conformance/) — issue 8.
#
# conformance: the whole corpus against qemu-storage-daemon, `jobsim qmp`
# (as a process, wall and virtual clock), the in-process dispatcher, the
# external-client tests (go-qemu's QMP client, socat if installed) and the
# differential run of a fixed list of seeds (DIFF_SEEDS: the same 100
# sequences every run, so CI cannot flake on a new draw). CI=true makes a
# missing QEMU a failure instead of a skip.
.PHONY: conformance conformance-record differential conformance-bench fuzz-qmp qmp-schema

DIFF_SEEDS ?= 1-100
conformance:
	CI=true $(GO) test -count=1 -run 'TestCorpus|TestTranscripts|TestExternal|TestDifferential' ./conformance -v -diff-seeds=$(DIFF_SEEDS) \
	  | grep -E '^(---|ok|FAIL|PASS)|passed|sequences run|SKIP|pending' ; exit $${PIPESTATUS[0]}

# conformance-record re-records every QEMU transcript (needs
# qemu-storage-daemon, qemu-img, qemu-io) and jobsim's transcripts of the
# scenarios that show a deviation.
conformance-record:
	$(GO) generate ./conformance
	$(GO) test -count=1 -run TestCorpusQEMU ./conformance -update
	$(GO) test -count=1 -run TestCorpusInProcess ./conformance -update-jobsim

# differential: SEEDS=random (the default) is a rapid campaign with a new
# seed (DIFF_N sequences, DIFF_BUDGET time box) that minimizes a
# disagreement; SEEDS=5,17,40-42 replays those sequences. A disagreement is
# written to conformance/testdata/differential/ and becomes a recorded
# scenario in spec/conformance/.
SEEDS ?= random
DIFF_N ?= 2000
DIFF_BUDGET ?= 15m
differential:
	$(GO) test -count=1 -run TestDifferential ./conformance -v -diff-seeds=$(SEEDS) -rapid.checks=$(DIFF_N) -diff-budget=$(DIFF_BUDGET) -timeout 30m \
	  | grep -v '\[rapid\] draw'; exit $${PIPESTATUS[0]}

# conformance-bench: the side-by-side figures (corpus per process on QEMU
# and jobsim, the time-bound subset with --clock virtual, the in-process
# runner).
conformance-bench:
	JOBFSM_BENCH=1 $(GO) test -count=1 -run TestBenchmarkReport ./conformance -v | grep -v '^=== '
	$(GO) test -run '^$$' -bench . -benchtime 20x ./conformance ./qmp

FUZZTIME ?= 60s
fuzz-qmp:
	$(GO) test -run '^$$' -fuzz FuzzDispatch -fuzztime $(FUZZTIME) ./qmp

# qmp-schema re-records qmp/schema/qemu-7.2.json from the installed
# qemu-storage-daemon (query-qmp-schema, query-commands, the greeting);
# `go generate ./qmp` then rewrites qmp/schema_gen.go.
qmp-schema:
	( echo '{"execute":"qmp_capabilities"}'; echo '{"execute":"query-qmp-schema","id":"s"}'; \
	  echo '{"execute":"query-commands","id":"c"}'; echo '{"execute":"quit"}' ) \
	  | qemu-storage-daemon --chardev stdio,id=m --monitor m > qmp/schema/raw.out
	python3 -c 'import json,subprocess; L=[json.loads(l) for l in open("qmp/schema/raw.out")]; \
	  v=subprocess.run(["qemu-storage-daemon","--version"],capture_output=True,text=True).stdout.splitlines()[0]; \
	  json.dump({"source":v+": query-qmp-schema and query-commands","greeting":L[0], \
	  "commands":[c["name"] for c in [l for l in L if l.get("id")=="c"][0]["return"]], \
	  "schema":[l for l in L if l.get("id")=="s"][0]["return"]}, open("qmp/schema/qemu-7.2.json","w"), separators=(",",":"))'
	rm -f qmp/schema/raw.out
	$(GO) generate ./qmp

CI_TARGETS += conformance
