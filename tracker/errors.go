package tracker

import "fmt"

// QMPError is an error answer from QEMU: its class and its text, which the
// tracker passes on unchanged (a refused backup prints QEMU's own words).
type QMPError struct {
	Class string
	Desc  string
}

func (e *QMPError) Error() string { return e.Desc }

// ProtocolError says the peer does not speak QMP or broke off mid-message:
// no greeting, a message that is not JSON, or the connection closing before
// the answer to a command.
type ProtocolError struct {
	Op  string // what the tracker was doing ("greeting", "query-jobs", ...)
	Err error
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("QMP %s: %v", e.Op, e.Err) }
func (e *ProtocolError) Unwrap() error { return e.Err }

// JournalError says the journal file cannot be used: not a journal, a newer
// format, or locked by another tracker. The file is left as it was.
type JournalError struct {
	Path   string
	Reason string
}

func (e *JournalError) Error() string { return fmt.Sprintf("journal %s: %s", e.Path, e.Reason) }

// UsageError is a request the tracker refuses before touching QEMU or the
// journal: an untracked job id, a job id already tracked, a bad argument.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// RefusedError says QEMU refused the command that would have started a
// job; the refusal is in the journal and Text is QEMU's error text.
type RefusedError struct {
	Jobs []string
	Text string
}

func (e *RefusedError) Error() string { return e.Text }
