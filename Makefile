# jobfsm — see README.md. Each area adds its own targets in mk/*.mk and
# appends to CI_TARGETS the checks `make test` must run besides go test.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin:$(shell $(GO) env GOPATH 2>/dev/null)/bin
TLA2TOOLS_JAR ?= $(abspath ../shared/tools/tla2tools.jar)
export TLA2TOOLS_JAR
CI_TARGETS :=

.PHONY: all setup run test test-go generate check-generated lint bench
all: lint test

-include mk/*.mk

# setup installs what the project needs on a fresh Debian machine: Go modules
# and the Debian packages (qemu-storage-daemon and qemu-img for the
# conformance runs against real QEMU, graphviz for the diagrams, Java for TLC).
setup:
	@./scripts/setup.sh

# run: the main job on built-in defaults: the exhaustive and random checks,
# then the timeline of one grouped transaction in which a member fails.
run: setup
	$(GO) build -o /tmp/jobsim-$$$$ ./cmd/jobsim && trap 'rm -f /tmp/jobsim-$$$$' EXIT && \
	  /tmp/jobsim-$$$$ check && echo && /tmp/jobsim-$$$$ run sim/testdata/lifecycle/txn3_one_fails.json

# test: everything CI checks.
test: setup lint check-generated test-go $(CI_TARGETS)

test-go:
	$(GO) test -race -count=1 ./...

generate:
	$(GO) generate ./...

# check-generated fails when a generated artifact is stale.
check-generated:
	@./scripts/check-generated.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
