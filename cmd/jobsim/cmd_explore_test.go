package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runJobsim(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestExploreJSON(t *testing.T) {
	code, out, errOut := runJobsim("explore", "--config", "../../tla/MC_txn.cfg", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Config          string  `json:"config"`
		Distinct        int     `json:"distinct_states"`
		Depth           int     `json:"depth"`
		StatesPerSecond float64 `json:"states_per_second"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	// TLC's figures for MC_txn (tla/README.md).
	if got.Config != "../../tla/MC_txn.cfg" || got.Distinct != 28588 || got.Depth != 17 || got.StatesPerSecond <= 0 {
		t.Errorf("got %+v", got)
	}
}

func TestExploreViolationAndErrors(t *testing.T) {
	code, out, _ := runJobsim("explore", "--config", "../../tla/MC_hang.cfg")
	if code != exitFailure || !strings.Contains(out, "deadlock Deadlock violated") || !strings.Contains(out, "Cancel(force)") {
		t.Errorf("MC_hang: exit %d, output:\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.cfg")
	if err := os.WriteFile(bad, []byte("CONSTANTS\n    N = 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"explore"}, exitUsage, "--config is required"},
		{[]string{"explore", "--config", "x.cfg", "--format", "xml"}, exitUsage, "unknown format"},
		{[]string{"explore", "--config", "/nonexistent/MC.cfg"}, exitInput, "no such file"},
		{[]string{"explore", "--config", bad}, exitInput, "missing from CONSTANTS"},
		{[]string{"trace", "--steps", "0"}, exitUsage, "--steps must be positive"},
	} {
		code, _, errOut := runJobsim(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

func TestTraceCommand(t *testing.T) {
	code, a, errOut := runJobsim("trace", "--seed", "5")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, b, _ := runJobsim("trace", "--seed", "5")
	if a != b {
		t.Error("same seed, different traces")
	}
	if !strings.HasPrefix(a, `{"op":"config","seed":5,`) {
		t.Errorf("first line: %.80s", a)
	}
	out := filepath.Join(t.TempDir(), "t.ndjson")
	if code, _, errOut := runJobsim("trace", "--seed", "5", "--out", out); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != a {
		t.Errorf("--out wrote %d bytes (%v), stdout had %d", len(got), err, len(a))
	}
}
