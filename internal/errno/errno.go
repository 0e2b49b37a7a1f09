// Package errno holds the POSIX errno values jobfsm's block layer and job
// manager pass between them, with glibc's strerror texts. It sits below both
// blockdev (which fails I/O with an errno) and sim (whose jobs end with one),
// so neither has to import the other for it.
package errno

import "fmt"

// Errno is a positive POSIX errno value.
type Errno int

const (
	EPERM     Errno = 1
	EIO       Errno = 5
	EINVAL    Errno = 22
	ENOSPC    Errno = 28
	ECANCELED Errno = 125
)

// String is glibc's strerror text, which QEMU puts in job errors.
func (e Errno) String() string {
	switch e {
	case EPERM:
		return "Operation not permitted"
	case EIO:
		return "Input/output error"
	case EINVAL:
		return "Invalid argument"
	case ENOSPC:
		return "No space left on device"
	case ECANCELED:
		return "Operation canceled"
	}
	return fmt.Sprintf("Unknown error %d", int(e))
}
