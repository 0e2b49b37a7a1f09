# spec/, timeline/ and the jobsim subcommands check, run, replay, graph.
# Their tests run in `go test ./...` and their generated files (spec tables,
# diagrams, traceability table, README's Mermaid block) in check-generated,
# so nothing is added to CI_TARGETS.
.PHONY: spec traceability timeline-demo

# spec regenerates the specification's artifacts and runs its checks
# (traceability: every rule checked, no check naming a missing rule).
spec:
	$(GO) generate ./spec
	$(GO) test -count=1 ./spec ./timeline

traceability: spec
	@sed -n '1,8p' spec/traceability.md

# timeline-demo renders a known scenario as an HTML page.
timeline-demo:
	$(GO) run ./cmd/jobsim run --format html sim/testdata/lifecycle/txn3_one_fails.json > /tmp/jobsim-timeline.html
	@echo "open /tmp/jobsim-timeline.html"
