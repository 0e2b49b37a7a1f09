package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQMPRateMustBeFinitePositive: NaN passes a "<= 0" test and froze the
// virtual clock; Inf and negative rates make no sense either.
func TestQMPRateMustBeFinitePositive(t *testing.T) {
	for _, r := range []string{"NaN", "nan", "Inf", "+Inf", "-Inf", "-1", "0"} {
		code, _, errOut := jobsim(t, "qmp", "--clock", "virtual", "--rate", r)
		if code != exitUsage || !strings.Contains(errOut, "--rate must be a positive finite number") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("--rate %s: exit %d, stderr %q; want exit %d and one line naming --rate", r, code, errOut, exitUsage)
		}
	}
}

// TestListenUnixReplacesStaleSocket: the socket file of a server that died
// without removing it (kill -9) is replaced; a live server's is refused
// with a clear error, and a path that is not a socket is left alone.
func TestListenUnixReplacesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	// A killed process never unlinks its socket.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("setup: the stale socket file is gone: %v", err)
	}
	nl, err := listenUnix(stale)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	// Now a live server answers there.
	if _, err := listenUnix(stale); err == nil || !strings.Contains(err.Error(), "a server is already listening on "+stale) {
		t.Errorf("second server on a live socket: %v", err)
	}
	nl.Close()

	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := listenUnix(regular); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me" {
		t.Errorf("the regular file was touched: %q, %v", b, err)
	}
}

// TestQMPSpeaksTheVersionAsked: --qemu 10.0 greets and answers query-version
// as QEMU 10.0.13 does and has block-job-change; the default stays 7.2,
// where block-job-change is unknown; a version jobfsm does not speak is a
// usage error naming the versions it does.
func TestQMPSpeaksTheVersionAsked(t *testing.T) {
	input := `{"execute":"qmp_capabilities"}` + "\n" + `{"execute":"query-version"}` + "\n" +
		`{"execute":"block-job-change","arguments":{"id":"x"}}` + "\n"
	for _, tc := range []struct {
		args               []string
		greeting, changeTo string
	}{
		{[]string{"--qemu", "10.0"},
			`{"QMP": {"version": {"qemu": {"micro": 13, "minor": 0, "major": 10}, "package": "Debian 1:10.0.13+ds-0+deb13u1"}, "capabilities": ["oob"]}}`,
			`{"error": {"class": "GenericError", "desc": "Parameter 'type' is missing"}}`},
		{nil,
			`{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}`,
			`{"error": {"class": "CommandNotFound", "desc": "The command block-job-change has not been found"}}`},
	} {
		old := qmpStdin
		qmpStdin = strings.NewReader(input)
		code, out, errOut := jobsim(t, append([]string{"qmp"}, tc.args...)...)
		qmpStdin = old
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 {
			t.Fatalf("qmp %v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
		wantVersion := strings.TrimSuffix(strings.TrimPrefix(tc.greeting, `{"QMP": {"version": `), `, "capabilities": ["oob"]}}`)
		if lines[0] != tc.greeting || lines[2] != `{"return": `+wantVersion+`}` || lines[3] != tc.changeTo {
			t.Errorf("qmp %v:\n got %q\nwant greeting %s, version %s, block-job-change %s", tc.args, lines, tc.greeting, wantVersion, tc.changeTo)
		}
	}
	code, _, errOut := jobsim(t, "qmp", "--qemu", "9.0")
	if code != exitUsage || !strings.Contains(errOut, `unknown QEMU version "9.0" (jobfsm speaks 7.2, 10.0)`) {
		t.Errorf("--qemu 9.0: exit %d, stderr %q; want exit %d naming the versions", code, errOut, exitUsage)
	}
}
