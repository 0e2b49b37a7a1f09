package model

import (
	"slices"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// QJob is one query-jobs entry as the harness reads it.
type QJob struct {
	ID              string
	Type            string
	Status          fsm.Status
	Current, Total  int64
	Error           *string
	PauseCount      int
	UserPaused      bool
	TxnMemberStatus []fsm.Status // statuses of the job's transaction members (incl. itself)
}

// QBlock is one query-block-jobs entry.
type QBlock = sim.BlockJobInfo

// SameText reports whether two optional texts are both absent or equal.
func SameText(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// SameQJob reports whether two query-jobs entries are equal.
func SameQJob(a, b QJob) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Status == b.Status && a.Current == b.Current &&
		a.Total == b.Total && SameText(a.Error, b.Error) && a.PauseCount == b.PauseCount &&
		a.UserPaused == b.UserPaused && slices.Equal(a.TxnMemberStatus, b.TxnMemberStatus)
}

// SameQBlock reports whether two query-block-jobs entries are equal. The
// optional members are compared by value (10.0's mirrors carry
// actively-synced, a pointer as every optional member).
func SameQBlock(a, b QBlock) bool {
	ea, eb := a.Error, b.Error
	sa, sb := a.ActivelySynced, b.ActivelySynced
	a.Error, b.Error = nil, nil
	a.ActivelySynced, b.ActivelySynced = nil, nil
	return a == b && SameText(ea, eb) && sameValue(sa, sb)
}

// sameValue reports whether two optional values are both absent or equal.
func sameValue[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// ErrText is how a command's result reads in a step's description and in
// the invariants' details: "ok" or "error: TEXT".
func ErrText(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}
