package fsm

import (
	"fmt"
	"strings"
)

// Version is a QEMU version whose job lifecycle jobfsm speaks. Everything
// that differs between versions (the verb table, the QMP schema, the
// greeting, the events a drain causes) is data keyed on a Version, not
// conditionals spread through the code.
type Version uint8

// The versions jobfsm speaks, oldest first.
const (
	// QEMU7_2 is QEMU 7.2 (Debian 12's 7.2.22): the default.
	QEMU7_2 Version = iota
	// QEMU10_0 is QEMU 10.0 (Debian 13's 10.0.13).
	QEMU10_0
	numVersions
)

// DefaultVersion is the version spoken when none is asked for.
const DefaultVersion = QEMU7_2

var versionNames = [numVersions]string{"7.2", "10.0"}

// String returns the version as the --qemu flag spells it, e.g. "10.0".
func (v Version) String() string {
	if v < numVersions {
		return versionNames[v]
	}
	return fmt.Sprintf("Version(%d)", uint8(v))
}

// Versions returns every version jobfsm speaks, oldest first.
func Versions() []Version {
	out := make([]Version, numVersions)
	for i := range out {
		out[i] = Version(i)
	}
	return out
}

// VersionError is returned by ParseVersion for a version jobfsm does not speak.
type VersionError struct{ Name string }

func (e *VersionError) Error() string {
	return fmt.Sprintf("unknown QEMU version %q (jobfsm speaks %s)", e.Name, strings.Join(versionNames[:], ", "))
}

// ParseVersion returns the version named name ("7.2" or "10.0"); anything
// else is a *VersionError.
func ParseVersion(name string) (Version, error) {
	for i, n := range versionNames {
		if n == name {
			return Version(i), nil
		}
	}
	return 0, &VersionError{Name: name}
}

// Set implements flag.Value, so a command line can take --qemu VERSION.
func (v *Version) Set(name string) error {
	p, err := ParseVersion(name)
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// MarshalText encodes a version as the --qemu flag spells it ("10.0").
func (v Version) MarshalText() ([]byte, error) {
	if v >= numVersions {
		return nil, fmt.Errorf("fsm: invalid version %d", uint8(v))
	}
	return []byte(versionNames[v]), nil
}

// UnmarshalText decodes a version name; anything else is a *VersionError.
func (v *Version) UnmarshalText(b []byte) error { return v.Set(string(b)) }
