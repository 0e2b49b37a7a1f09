package qmptest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	goqmp "github.com/digitalocean/go-qemu/qmp"

	"github.com/jobfsm/jobfsm/qmptest"
)

// The test a tool author writes: a fake QEMU, a fault, a verdict.
func TestExampleBackupToolSurvivesLostEvents(t *testing.T) {
	srv := qmptest.NewServer(t, qmptest.Options{Faults: qmptest.MustPlan(t,
		`{"rules": [{"drop": {"event": "JOB_STATUS_CHANGE"}}, {"drop": {"event": "BLOCK_JOB_COMPLETED"}}]}`)})
	for _, node := range []string{"src", "dst"} {
		srv.MustExec(t, "blockdev-add", map[string]any{"driver": "null-co", "node-name": node, "size": 1 << 20})
	}
	outcome, err := backupTool(srv.Path, "src", "dst")
	if err != nil || outcome != "ok" {
		t.Fatalf("backupTool = %q, %v; want ok\n%s", outcome, err, srv.Verdict())
	}
	if len(srv.Faults()) == 0 {
		t.Fatal("no fault fired: the test proved nothing")
	}
	// At cleanup, qmptest fails the test if the tool broke the client
	// contract (spec/client-contract.md).
}

// backupTool stands for the tool under test: it backs up src to dst over
// QMP (with go-qemu's monitor) and returns the outcome, learned from
// query-jobs whenever the events go quiet (contract rule C7).
func backupTool(socket, src, dst string) (string, error) {
	mon, err := goqmp.NewSocketMonitor("unix", socket, time.Second)
	if err != nil {
		return "", err
	}
	if err := mon.Connect(); err != nil {
		return "", err
	}
	defer mon.Disconnect()
	events, err := mon.Events(context.Background())
	if err != nil {
		return "", err
	}
	start := fmt.Sprintf(`{"execute": "blockdev-backup", "arguments": {"job-id": "bk", "device": %q, "target": %q, "sync": "full", "auto-dismiss": false}}`, src, dst)
	if _, err := mon.Run([]byte(start)); err != nil {
		return "", err
	}
	for {
		select {
		case <-events:
		case <-time.After(100 * time.Millisecond):
		}
		raw, err := mon.Run([]byte(`{"execute": "query-jobs"}`))
		if err != nil {
			return "", err
		}
		var r struct {
			Return []struct{ ID, Status, Error string }
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return "", err
		}
		for _, j := range r.Return {
			if j.ID == "bk" && j.Status == "concluded" {
				if _, err := mon.Run([]byte(`{"execute": "job-dismiss", "arguments": {"id": "bk"}}`)); err != nil {
					return "", err
				}
				if j.Error != "" {
					return j.Error, nil
				}
				return "ok", nil
			}
		}
	}
}
