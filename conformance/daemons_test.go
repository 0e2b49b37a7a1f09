package conformance

import (
	"strings"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// QEMU 10.0 is looked up where scripts/setup-qemu10.sh installs it, and a
// missing install names the make target that fixes it.
func TestQEMUDaemonOfEachVersion(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("QEMU10_DIR", dir)
	_, err := QEMUDaemon(fsm.QEMU10_0)
	if err == nil || !strings.Contains(err.Error(), dir+"/bin/qemu-storage-daemon-10.0") || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("QEMU 10.0 missing from %s: got %v, want an error naming the wrapper and `make setup`", dir, err)
	}
	t.Setenv("QEMU10_DIR", "")
	t.Setenv("JOBFSM_QEMU10_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	if got := QEMU10Dir(); got != "/cache/jobfsm/qemu-10.0" {
		t.Errorf("QEMU10Dir with XDG_CACHE_HOME=/cache: %s, want /cache/jobfsm/qemu-10.0 (scripts/setup-qemu10.sh's default)", got)
	}
	if _, err := QEMUDaemon(fsm.Version(200)); err == nil {
		t.Error("a version jobfsm does not speak has a daemon")
	}
}

func TestParseDiffVersions(t *testing.T) {
	got, err := parseVersions("7.2, 10.0")
	if err != nil || len(got) != 2 || got[0] != fsm.QEMU7_2 || got[1] != fsm.QEMU10_0 {
		t.Errorf("parseVersions(\"7.2, 10.0\") = %v, %v", got, err)
	}
	if _, err := parseVersions("9.1"); err == nil || !strings.Contains(err.Error(), `-diff-qemu: unknown QEMU version "9.1"`) {
		t.Errorf("parseVersions(\"9.1\"): %v", err)
	}
}
