//go:build ignore

// gen_jobtable writes JobTable.tla from fsm's canonical table; run it with
// `go generate ./tla`.
package main

import (
	"fmt"
	"os"

	"github.com/jobfsm/jobfsm/fsm"
)

func main() {
	if err := os.WriteFile("JobTable.tla", []byte(fsm.TLA()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen_jobtable:", err)
		os.Exit(1)
	}
}
