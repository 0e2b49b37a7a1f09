// Package qerr holds the error value every layer of jobfsm returns to a QMP
// client: a QMP error class and QEMU's exact description text.
package qerr

import (
	"errors"
	"fmt"
)

// QMP error classes used by QEMU 7.2 (qapi/error.json).
const (
	GenericError    = "GenericError"
	CommandNotFound = "CommandNotFound"
	DeviceNotActive = "DeviceNotActive"
	DeviceNotFound  = "DeviceNotFound"
)

// Error is an error with a QMP class and QEMU's description text. Callers
// inspect it with errors.As; Error() is the description alone, exactly as QEMU
// prints it.
type Error struct {
	Class string
	Desc  string
}

func (e *Error) Error() string { return e.Desc }

// Generic returns a GenericError with a formatted description (error_setg).
func Generic(format string, args ...any) *Error {
	return &Error{Class: GenericError, Desc: fmt.Sprintf(format, args...)}
}

// New returns an error of the given class.
func New(class, format string, args ...any) *Error {
	return &Error{Class: class, Desc: fmt.Sprintf(format, args...)}
}

// NoSuchCommand is QMP's answer to a command the server does not have
// (qmp-dispatch.c): CommandNotFound "The command NAME has not been found".
func NoSuchCommand(name string) *Error {
	return New(CommandNotFound, "The command %s has not been found", name)
}

// Classed is implemented by errors that carry their own QMP class.
type Classed interface {
	error
	QMPClass() string
}

// ClassOf returns the QMP class of err: its own class when it has one,
// GenericError otherwise (every error_setg in QEMU is GenericError).
func ClassOf(err error) string {
	var qe *Error
	if errors.As(err, &qe) {
		return qe.Class
	}
	var c Classed
	if errors.As(err, &c) {
		return c.QMPClass()
	}
	return GenericError
}
