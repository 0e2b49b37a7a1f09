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
