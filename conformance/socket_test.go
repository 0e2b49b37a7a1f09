package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goqmp "github.com/digitalocean/go-qemu/qmp"
)

// startSocketServer runs `jobsim qmp --socket` and waits for its socket.
func startSocketServer(t *testing.T, extra ...string) (string, *exec.Cmd) {
	t.Helper()
	bin := jobsim(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "qmp.sock")
	cmd := exec.Command(bin, append([]string{"qmp", "--socket", sock}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// The server says when it listens; wait for that line, then pass the
	// rest of its stderr through.
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if lines.Text() == "jobsim qmp: listening on "+sock {
			go func() { _, _ = io.Copy(os.Stderr, stderr) }()
			return sock, cmd
		}
		fmt.Fprintln(os.Stderr, lines.Text())
	}
	t.Fatalf("jobsim qmp --socket exited before listening: %v", lines.Err())
	return "", nil
}

// waitExit waits for the server to exit by itself (after quit).
func waitExit(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("jobsim qmp exited with %v after quit", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("jobsim qmp did not exit after quit")
	}
}

// TestExternalClientGoQemu drives `jobsim qmp --socket` with DigitalOcean's
// go-qemu QMP client (not ours), two connections at once: one creates and
// runs a backup, the other, a separate monitor, receives its events.
func TestExternalClientGoQemu(t *testing.T) {
	sock, cmd := startSocketServer(t, "--clock", "virtual")
	watcher, err := goqmp.NewSocketMonitor("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Connect(); err != nil {
		t.Fatal(err)
	}
	if v := watcher.Version; v == nil || v.QEMU.Major != 7 || v.QEMU.Minor != 2 {
		t.Fatalf("greeting version %+v, want 7.2", v)
	}
	events, err := watcher.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	actor, err := goqmp.NewSocketMonitor("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := actor.Connect(); err != nil {
		t.Fatal(err)
	}
	run := func(cmd string) map[string]any {
		t.Helper()
		raw, err := actor.Run([]byte(cmd))
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %q: %v", cmd, raw, err)
		}
		return m
	}
	for _, c := range []string{
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"n0","size":4194304}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"n1","size":4194304}}`,
		`{"execute":"blockdev-backup","arguments":{"job-id":"j0","device":"n0","target":"n1","sync":"full","speed":2097152}}`,
	} {
		if m := run(c); m["return"] == nil {
			t.Fatalf("%s: %v", c, m)
		}
	}
	// the client library turns QMP errors into Go errors with QEMU's desc
	if _, err := actor.Run([]byte(`{"execute":"job-finalize","arguments":{"id":"nope"}}`)); err == nil || !strings.Contains(err.Error(), "Job not found") {
		t.Errorf("job-finalize of an unknown job: %v", err)
	}
	var seen []string
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Timestamp.Seconds == 0 {
				t.Errorf("event %s without timestamp", ev.Event)
			}
			if ev.Event == "JOB_STATUS_CHANGE" {
				seen = append(seen, ev.Data["status"].(string))
			} else {
				seen = append(seen, ev.Event)
			}
		case <-deadline:
			t.Fatalf("the watching monitor saw only %v", seen)
		}
		if len(seen) > 0 && seen[len(seen)-1] == "null" {
			break
		}
	}
	want := "created running paused running waiting pending BLOCK_JOB_COMPLETED concluded null"
	if got := strings.Join(seen, " "); got != want {
		t.Errorf("events on the second monitor:\n got %s\nwant %s", got, want)
	}
	if m := run(`{"execute":"query-jobs"}`); len(m["return"].([]any)) != 0 {
		t.Errorf("query-jobs after completion: %v", m)
	}
	_ = watcher.Disconnect()
	run(`{"execute":"quit"}`)
	waitExit(t, cmd)
}

// TestExternalClientSocat scripts socat against `jobsim qmp --socket`.
func TestExternalClientSocat(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("socat missing under CI (scripts/setup.sh installs it)")
		}
		t.Skip("socat not installed (apt-get install socat)")
	}
	sock, cmd := startSocketServer(t)
	script := strings.Join([]string{
		`{"execute":"qmp_capabilities"}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"n0","size":1048576},"id":"a"}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"n1","size":1048576},"id":"b"}`,
		`{"execute":"blockdev-mirror","arguments":{"job-id":"m0","device":"n0","target":"n1","sync":"full"},"id":"c"}`,
		`{"execute":"no-such-command","id":"d"}`,
	}, "\n") + "\n"
	sc := exec.Command("socat", "-t", "1", "-", "UNIX-CONNECT:"+sock)
	sc.Stdin = strings.NewReader(script)
	out, err := sc.Output()
	if err != nil {
		t.Fatalf("socat: %v", err)
	}
	text := string(out)
	for _, want := range []string{
		`"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}`,
		`{"return": {}, "id": "a"}`,
		`{"return": {}, "id": "c"}`,
		`{"id": "d", "error": {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"}}`,
		`"event": "BLOCK_JOB_READY", "data": {`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("socat output lacks %s:\n%s", want, text)
		}
	}
	// a second socat session is a new monitor: it must negotiate again
	sc = exec.Command("socat", "-t", "1", "-", "UNIX-CONNECT:"+sock)
	sc.Stdin = strings.NewReader(`{"execute":"query-jobs"}` + "\n" + `{"execute":"qmp_capabilities"}` + "\n" +
		`{"execute":"query-jobs"}` + "\n" + `{"execute":"quit"}` + "\n")
	out, err = sc.Output()
	if err != nil {
		t.Fatalf("socat: %v", err)
	}
	text = string(out)
	for _, want := range []string{
		`"desc": "Expecting capabilities negotiation with 'qmp_capabilities'"`,
		`"status": "ready"`,
		`"id": "m0"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("second socat session lacks %s:\n%s", want, text)
		}
	}
	waitExit(t, cmd)
}
