package qerr

import (
	"errors"
	"fmt"
	"testing"
)

type classed struct{}

func (classed) Error() string    { return "classed" }
func (classed) QMPClass() string { return DeviceNotActive }

// ClassOf finds the class through wrapping; an error without one is a
// GenericError, as every error_setg in QEMU is.
func TestClassOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{New(DeviceNotFound, "x"), DeviceNotFound},
		{fmt.Errorf("ctx: %w", New(CommandNotFound, "x")), CommandNotFound},
		{fmt.Errorf("ctx: %w", classed{}), DeviceNotActive},
		{errors.New("plain"), GenericError},
		{nil, GenericError},
	} {
		if got := ClassOf(c.err); got != c.want {
			t.Errorf("ClassOf(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
