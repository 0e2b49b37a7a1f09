//go:build ignore

// gen_jobtable writes the TLA+ table modules from fsm's per-version tables
// (one module per QEMU version, fsm.Table.TLAModule names it, and JobTables,
// which picks one by the constant QemuVersion); run it with `go generate
// ./tla`.
package main

import (
	"fmt"
	"os"

	"github.com/jobfsm/jobfsm/fsm"
)

func main() {
	files := map[string]string{"JobTables.tla": fsm.TLAJobTables()}
	for _, v := range fsm.Versions() {
		t := fsm.For(v)
		files[t.TLAModule()+".tla"] = t.TLA()
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen_jobtable:", err)
			os.Exit(1)
		}
	}
}
