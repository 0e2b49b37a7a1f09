package main

import (
	"flag"

	"github.com/jobfsm/jobfsm/fsm"
)

// qemuFlag is --qemu VERSION: the QEMU version a command follows (default
// fsm.DefaultVersion). It parses with fsm.Version's own Set, but keeps a bad
// value's error until version() is asked, so the command reports it as one
// line with exit 2 (the flag package would print the usage after it).
type qemuFlag struct {
	v   fsm.Version
	set bool // given on the command line
	err error
}

// addQemuFlag registers --qemu on fs.
func addQemuFlag(fs *flag.FlagSet) *qemuFlag {
	q := &qemuFlag{}
	fs.Var(q, "qemu", "QEMU `version` to follow: "+versionList()+" (default "+fsm.DefaultVersion.String()+")")
	return q
}

func (q *qemuFlag) String() string { return q.v.String() }

func (q *qemuFlag) Set(name string) error {
	q.set = true
	q.err = q.v.Set(name)
	return nil
}

// version returns the version asked for, or a usage error naming the
// versions jobfsm speaks.
func (q *qemuFlag) version() (fsm.Version, error) {
	if q.err != nil {
		return 0, usageErr("--qemu: %v", q.err)
	}
	return q.v, nil
}

// versionList is "7.2, 10.0": the versions jobfsm speaks, oldest first.
func versionList() string {
	s := ""
	for i, v := range fsm.Versions() {
		if i > 0 {
			s += ", "
		}
		s += v.String()
	}
	return s
}
