package main

import (
	"os"
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/qmp/internal/schemafile"
)

// TestRenderNamesTheKnownDifferences: the page states the differences
// spec/qemu-10.0.md measured (§5, §7, §9), read from the data.
func TestRenderNamesTheKnownDifferences(t *testing.T) {
	schemas, err := schemafile.LoadAll("../../schema")
	if err != nil {
		t.Fatal(err)
	}
	page := render(schemas)
	for _, want := range []string{
		"| change | — | created, running, paused, ready, standby |",
		"- 10.0 against 7.2: identical",
		"(76 against 74): added `block-job-change`, `blockdev-set-active`; query-commands lists them in another order",
		`"package":"Debian 1:10.0.13+ds-0+deb13u1"`,
		"| txn-completion-mode-first | 10.0 |",
		// spec/qemu-10.0.md §1: a backup's creation gives a running job 4+1
		// pairs on 10.0 and none on 7.2; blockdev-del one per node.
		"| backup created: copy-before-write filter in (bdrv_cbw_append) | 0 | 4 |",
		"| backup created: the job takes its nodes (block_job_create) | 0 | 1 |",
		"| blockdev-del: each node closed (bdrv_close) | 0 | 1 |",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("spec/versions.md lacks %q:\n%s", want, page)
		}
	}
	committed, err := os.ReadFile("../../../spec/versions.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != page {
		t.Errorf("spec/versions.md is stale: run go generate ./qmp")
	}
}
