package fsm

import (
	"errors"
	"flag"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for name, want := range map[string]Version{"7.2": QEMU7_2, "10.0": QEMU10_0} {
		got, err := ParseVersion(name)
		if err != nil || got != want || got.String() != name {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, bad := range []string{"", "7", "8.2", "10", "10.0.13", " 7.2"} {
		_, err := ParseVersion(bad)
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Name != bad {
			t.Errorf("ParseVersion(%q) error = %v; want *VersionError naming it", bad, err)
		}
	}
	if DefaultVersion != QEMU7_2 || Version(0) != DefaultVersion {
		t.Errorf("the zero Version must be the default, QEMU 7.2")
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var v Version
	fs.Var(&v, "qemu", "")
	if err := fs.Parse([]string{"--qemu", "10.0"}); err != nil || v != QEMU10_0 {
		t.Errorf("--qemu 10.0 parsed to %v, %v", v, err)
	}
}

func TestVersionText(t *testing.T) {
	b, err := QEMU10_0.MarshalText()
	if err != nil || string(b) != "10.0" {
		t.Errorf("MarshalText(10.0) = %q, %v", b, err)
	}
	if _, err := Version(9).MarshalText(); err == nil {
		t.Error("MarshalText of an invalid version succeeded")
	}
	var v Version
	var ve *VersionError
	if err := v.UnmarshalText([]byte("7.2")); err != nil || v != QEMU7_2 {
		t.Errorf("UnmarshalText(7.2) = %v, %v", v, err)
	}
	if err := v.UnmarshalText([]byte("9.0")); !errors.As(err, &ve) {
		t.Errorf("UnmarshalText(9.0) = %v, want a *VersionError", err)
	}
}
