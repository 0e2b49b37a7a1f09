package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeServer is a QMP server in sh: it greets, answers qmp_capabilities,
// reads the next command and then runs then (shell code). It writes its
// pid to pidFile, so a test can check that the runner killed it.
func fakeServer(t *testing.T, then string) (srv *Process, pidFile string) {
	t.Helper()
	pidFile = filepath.Join(t.TempDir(), "pid")
	script := `echo $$ > '` + pidFile + `'
echo '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 0}}, "capabilities": []}}'
read l; echo '{"return": {}, "id": "c1"}'
read l; echo '{"event": "JOB_STATUS_CHANGE", "data": {"id": "a", "status": "created"}, "timestamp": {"seconds": 1, "microseconds": 0}}'
` + then
	return &Process{Label: "fake", Command: []string{"sh", "-c", script}}, pidFile
}

func hangScenario(t *testing.T, window string) *Scenario {
	t.Helper()
	s := &Scenario{Name: "hang", Steps: []Step{{Send: map[string]any{"execute": "transaction"}, Hang: window}}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// A server that never answers within the window: the outcome is recorded,
// with the events that came meanwhile, the run ends without the final
// sync, and the hung process (which ignores its closed input) is killed.
func TestHangStepRecordsNoAnswer(t *testing.T) {
	srv, pidFile := fakeServer(t, "exec sleep 600")
	got, err := Run(hangScenario(t, "300ms"), srv, 10*time.Second)
	if err != nil {
		t.Fatalf("a server that does not answer within the hang window is the expected outcome, not an error: %v", err)
	}
	want := `{"responses":[{"greeting":{"capabilities":[]}},{"cmd":"qmp_capabilities","return":{}},` +
		`{"cmd":"transaction","no_answer_within":"300ms"}],` +
		`"events":[{"data":{"id":"a","status":"created"},"event":"JOB_STATUS_CHANGE"}],"statuses":{"a":["created"]}}`
	if b := compact(t, got.Marshal()); b != want {
		t.Errorf("transcript:\n got %s\nwant %s", b, want)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Run has waited for the killed process: its pid no longer exists
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the hung server %d is still there after Run (kill -0: %v)", pid, err)
	}
}

// A server that answers within the window is recorded as usual (and then
// differs from QEMU's transcript, which is the comparison's business).
func TestHangStepRecordsAnAnswer(t *testing.T) {
	srv, _ := fakeServer(t, `echo '{"error": {"class": "GenericError", "desc": "no"}, "id": "c2"}'
read l; echo '{"return": [], "id": "sync3"}'
exec sleep 600`)
	got, err := Run(hangScenario(t, "5s"), srv, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"responses":[{"greeting":{"capabilities":[]}},{"cmd":"qmp_capabilities","return":{}},` +
		`{"cmd":"transaction","error":{"class":"GenericError","desc":"no"}}],` +
		`"events":[{"data":{"id":"a","status":"created"},"event":"JOB_STATUS_CHANGE"}],"statuses":{"a":["created"]}}`
	if b := compact(t, got.Marshal()); b != want {
		t.Errorf("transcript:\n got %s\nwant %s", b, want)
	}
}

// A server that exits during the window did not hang: that is an error.
func TestHangStepServerExitIsAnError(t *testing.T) {
	srv, _ := fakeServer(t, "exit 0")
	_, err := Run(hangScenario(t, "5s"), srv, 10*time.Second)
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Timeout || !strings.Contains(pe.Msg, "server closed its output") {
		t.Fatalf("got %v, want the ProtocolError of a closed output", err)
	}
}

func TestHangStepValidation(t *testing.T) {
	send := map[string]any{"execute": "transaction"}
	for _, c := range []struct {
		steps []Step
		want  string
	}{
		{[]Step{{WaitEvent: "X", Hang: "1s"}}, "hang needs send"},
		{[]Step{{Send: send, Hang: "1s", Order: true}}, "hang and order exclude each other"},
		{[]Step{{Send: send, Hang: "soon"}}, `hang "soon" is not a duration between 0 and 10s`},
		{[]Step{{Send: send, Hang: "11s"}}, `hang "11s" is not a duration`},
		{[]Step{{Send: send, Hang: "-1s"}}, `hang "-1s" is not a duration`},
		{[]Step{{Send: send, Hang: "1s"}, {Send: send}}, "step 0: a hang step must be the last step"},
	} {
		s := &Scenario{Steps: c.steps}
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.steps, err, c.want)
		}
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
