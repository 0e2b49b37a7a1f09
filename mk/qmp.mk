# QMP server (qmp/), conformance harness (conformance/) and the scenario
# corpus (spec/conformance/) — issue 8; both QEMU versions — issue 15.
#
# conformance: the whole corpus against qemu-storage-daemon, `jobsim qmp`
# (as a process, wall and virtual clock), the in-process dispatcher, each
# at 7.2 and at 10.0 (TestCorpus*10 and any Test*10*: 10.0's transcripts in
# spec/conformance/qemu-10.0/), the external-client tests (go-qemu's QMP
# client, socat if installed) and the differential run of a fixed list of
# seeds against each version's daemon (DIFF_SEEDS: the same 100 sequences
# every run, so CI cannot flake on a new draw; TestDifferential/7.2 and
# /10.0). TestCorpusQEMU10 replays the corpus on the 10.0 daemon against
# its recordings (`make conformance-10.0` also prints how many equal
# 7.2's). CI=true makes a
# missing QEMU (7.2 or 10.0) a failure instead of a skip. The filters keep
# verdicts, summaries and failure lines.
.PHONY: conformance conformance-record differential conformance-bench fuzz-qmp qmp-schema

DIFF_SEEDS ?= 1-100
conformance:
	CI=true $(GO) test -count=1 -timeout 30m -run 'TestCorpus|TestTranscripts|TestExternal|TestDifferential|Test\w*10' ./conformance -v -diff-seeds=$(DIFF_SEEDS) \
	  | grep -E '^\s*--- |^(ok|FAIL|PASS)|passed|sequences run|SKIP|pending|disagree|: FAIL |does not start|not installed'; exit $${PIPESTATUS[0]}

# conformance-record re-records every QEMU transcript (needs
# qemu-storage-daemon, qemu-img, qemu-io) and jobsim's transcripts of the
# scenarios that show a deviation.
conformance-record:
	$(GO) generate ./conformance
	$(GO) test -count=1 -run TestCorpusQEMU ./conformance -update
	$(GO) test -count=1 -run TestCorpusInProcess ./conformance -update-jobsim

# differential: SEEDS=random (the default) is a rapid campaign with a new
# seed (DIFF_N sequences, DIFF_BUDGET time box per version) that minimizes
# a disagreement; SEEDS=5,17,40-42 replays those sequences. QEMU=10.0 (or
# 7.2) runs one version; the default runs both, one after the other. A
# disagreement is written to
# conformance/testdata/differential/disagreement-VERSION.json and becomes a
# recorded scenario in spec/conformance/.
SEEDS ?= random
QEMU ?= 7.2,10.0
DIFF_N ?= 2000
DIFF_BUDGET ?= 15m
differential:
	$(GO) test -count=1 -run TestDifferential ./conformance -v -diff-qemu=$(QEMU) -diff-seeds=$(SEEDS) -rapid.checks=$(DIFF_N) -diff-budget=$(DIFF_BUDGET) -timeout 70m \
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
