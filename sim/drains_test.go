package sim

import (
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// A version or step outside the table drains nothing instead of panicking:
// DrainsFor is reached with whatever Version a caller configured.
func TestDrainsForOutsideTheTable(t *testing.T) {
	if n := DrainsFor(fsm.Version(200), DrainTransaction); n != 0 {
		t.Errorf("unknown version: %d drains, want 0", n)
	}
	if n := DrainsFor(fsm.QEMU10_0, numDrainSteps+3); n != 0 {
		t.Errorf("unknown step: %d drains, want 0", n)
	}
}

// Every version has a row: a version added to fsm without its drains
// would silently drain nothing, not even for a transaction.
func TestDrainsForEveryVersion(t *testing.T) {
	for _, v := range fsm.Versions() {
		if n := DrainsFor(v, DrainTransaction); n != 1 {
			t.Errorf("%s: transaction drains %d times, want 1 (measured on 7.2 and 10.0)", v, n)
		}
	}
}
