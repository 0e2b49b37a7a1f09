package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runQMPWith runs `jobsim qmp` on stdio with input and the given flags.
func runQMPWith(t *testing.T, input string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	old := qmpStdin
	qmpStdin = strings.NewReader(input)
	defer func() { qmpStdin = old }()
	var out, errb bytes.Buffer
	err = runQMP(args, &out, &errb)
	return out.String(), errb.String(), err
}

func writePlan(t *testing.T, plan string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(p, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestQMPFaultsDropAnEventAndLogIt(t *testing.T) {
	plan := writePlan(t, `{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED", "job": "j"}}]}`)
	input := `{"execute": "qmp_capabilities"}
{"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": "a", "size": 1048576}}
{"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": "b", "size": 1048576}}
{"execute": "blockdev-backup", "arguments": {"job-id": "j", "device": "a", "target": "b", "sync": "full"}}
`
	out, errOut, err := runQMPWith(t, input, "--clock", "virtual", "--faults", plan)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "BLOCK_JOB_COMPLETED") || !strings.Contains(out, `"status": "null"`) {
		t.Errorf("stdout has BLOCK_JOB_COMPLETED or lacks the job's end:\n%s", out)
	}
	if want := "jobsim qmp: fault rules[0] drop monitor 1 BLOCK_JOB_COMPLETED j: dropped\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestQMPFaultsBadPlans(t *testing.T) {
	cases := []struct{ plan, want string }{
		{`{"rules": [{"drop": {"event": "BLOCK_JOB_DONE"}}]}`, `faults: rules[0].drop.event: unknown event "BLOCK_JOB_DONE"`},
		{`{"rules": [{"restart": {"after_messages": 3}}]}`, `faults: rules[0].restart: needs --socket (stdio is one connection that cannot be reopened)`},
	}
	for _, c := range cases {
		_, _, err := runQMPWith(t, "", "--faults", writePlan(t, c.plan))
		if err == nil || err.Error() != c.want {
			t.Errorf("plan %s: error %v, want %s", c.plan, err, c.want)
		}
	}
	_, _, err := runQMPWith(t, "", "--faults", filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "faults: open ") {
		t.Errorf("missing plan file: %v", err)
	}
}
