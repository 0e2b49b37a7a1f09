package errno

import "testing"

// The texts are glibc's strerror, which QEMU prints in job errors.
func TestString(t *testing.T) {
	for e, want := range map[Errno]string{
		EPERM: "Operation not permitted", EIO: "Input/output error", EINVAL: "Invalid argument",
		ENOSPC: "No space left on device", ECANCELED: "Operation canceled", 99: "Unknown error 99",
	} {
		if got := e.String(); got != want {
			t.Errorf("Errno(%d).String() = %q, want %q", int(e), got, want)
		}
	}
}
