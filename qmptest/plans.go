package qmptest

import (
	"fmt"
	"testing"
)

// NamedPlan is a fault plan (JSON, package faults) with a name for
// RunPlans' subtests.
type NamedPlan struct {
	Name string
	JSON string
}

// StandardPlans is the fault matrix every client that runs job (reading
// node) should survive: no fault; its final events lost; its status
// changes lost; its completion delayed; its connection cut before the
// completion and right after the job started; the daemon restarted before
// the completion; a read error on node; and half of all events lost at
// random. Under each, a correct client learns the job's true outcome:
// success, an I/O error, or (after the restart) that the job is gone.
func StandardPlans(job, node string) []NamedPlan {
	return []NamedPlan{
		{"no-faults", `{"rules": []}`},
		{"drop-final-events", fmt.Sprintf(`{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED", "job": %q}}, {"drop": {"event": "BLOCK_JOB_CANCELLED", "job": %[1]q}}]}`, job)},
		{"drop-status-changes", fmt.Sprintf(`{"rules": [{"drop": {"event": "JOB_STATUS_CHANGE", "job": %q}}]}`, job)},
		{"delay-completion", fmt.Sprintf(`{"rules": [{"delay": {"event": "BLOCK_JOB_COMPLETED", "job": %q, "messages": 3}}]}`, job)},
		{"close-before-completion", fmt.Sprintf(`{"rules": [{"close": {"before_event": "BLOCK_JOB_COMPLETED", "job": %q}}]}`, job)},
		{"close-after-start", `{"rules": [{"close": {"monitor": 1, "after_messages": 4}}]}`},
		{"restart-before-completion", fmt.Sprintf(`{"rules": [{"restart": {"before_event": "BLOCK_JOB_COMPLETED", "job": %q}}]}`, job)},
		{"read-error", fmt.Sprintf(`{"rules": [{"io": {"node": %q, "offset": 0, "op": "read"}}]}`, node)},
		{"lose-half-the-events", `{"seed": 1, "rules": [{"drop": {"event": "JOB_STATUS_CHANGE", "probability": 0.5}}, {"drop": {"event": "BLOCK_JOB_COMPLETED", "probability": 0.5}}]}`},
	}
}

// RunPlans runs client once per plan, each in a subtest on a fresh server
// (opts with the plan as Faults) prepared by setup. The client is any code
// that talks to srv.Path — a library under test, or a command run as a
// subprocess — and asserts its own outcome with t. The subtest also fails
// when the client broke the contract, with the faults and the timeline.
func RunPlans(t *testing.T, plans []NamedPlan, opts Options, setup func(t *testing.T, srv *Server), client func(t *testing.T, srv *Server, plan NamedPlan)) {
	t.Helper()
	for _, p := range plans {
		t.Run(p.Name, func(t *testing.T) {
			o := opts
			o.Faults = MustPlan(t, p.JSON)
			srv := NewServer(t, o)
			if setup != nil {
				setup(t, srv)
			}
			client(t, srv, p)
			if t.Failed() {
				t.Logf("plan %s: %s\n%s", p.Name, p.JSON, srv.Report())
			}
		})
	}
}
