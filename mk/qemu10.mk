# QEMU 10.0 as a second target (issue 15): Debian 13's qemu-storage-daemon
# 10.0.13, unpacked into a cache directory with its own loader (reference
# §13), never installed into the system.
#
# setup-qemu10: installs it (idempotent; a second run only checks the
# greeting). QEMU10_DIR overrides where.
# qmp-schema-10.0: records 10.0's query-qmp-schema, query-commands and
# greeting into qmp/schema/qemu-10.0.json, as qmp-schema does for 7.2.
# conformance-record-10.0: replays the corpus on 10.0 and records what it
# answers in spec/conformance/qemu-10.0/ (scripts/replay-qemu10).
# spec/qemu-10.0.md lists how those transcripts differ from 7.2's.
QEMU10_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/jobfsm/qemu-10.0
# exported: scripts/setup.sh and the conformance tests find 10.0 there
export QEMU10_DIR
QEMU10_QSD := $(QEMU10_DIR)/bin/qemu-storage-daemon-10.0
.PHONY: setup-qemu10 qmp-schema-10.0 conformance-record-10.0 conformance-10.0 rollback-hang-10.0

setup-qemu10:
	@./scripts/setup-qemu10.sh "$(QEMU10_DIR)"

qmp-schema-10.0: setup-qemu10
	( echo '{"execute":"qmp_capabilities"}'; echo '{"execute":"query-qmp-schema","id":"s"}'; \
	  echo '{"execute":"query-commands","id":"c"}'; echo '{"execute":"quit"}' ) \
	  | "$(QEMU10_QSD)" --chardev stdio,id=m --monitor m > qmp/schema/raw-10.0.out
	python3 -c 'import json,subprocess,sys; L=[json.loads(l) for l in open("qmp/schema/raw-10.0.out")]; \
	  v=subprocess.run([sys.argv[1],"--version"],capture_output=True,text=True).stdout.splitlines()[0]; \
	  json.dump({"source":v+": query-qmp-schema and query-commands","greeting":L[0], \
	  "commands":[c["name"] for c in [l for l in L if l.get("id")=="c"][0]["return"]], \
	  "schema":[l for l in L if l.get("id")=="s"][0]["return"]}, open("qmp/schema/qemu-10.0.json","w"), separators=(",",":"))' \
	  "$(QEMU10_QSD)"
	rm -f qmp/schema/raw-10.0.out

conformance-record-10.0: setup-qemu10
	$(GO) run ./scripts/replay-qemu10 -dir "$(QEMU10_DIR)" -record

# conformance-10.0 replays the corpus on 10.0 again and fails when a replay
# differs from its recording; it prints how many equal 7.2's.
conformance-10.0: setup-qemu10
	$(GO) run ./scripts/replay-qemu10 -dir "$(QEMU10_DIR)"

# rollback-hang-10.0 shows that 10.0 still has the grouped-transaction
# rollback hang (reference §12): it succeeds when the daemon never answers.
rollback-hang-10.0: setup-qemu10
	./scripts/rollback-hang.py "$(QEMU10_QSD)"
