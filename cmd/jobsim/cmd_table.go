package main

import (
	"io"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

func init() { register("table", "print the canonical transition and verb tables", runTable) }

func runTable(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("table", "table [--format "+strings.Join(fsm.Formats, "|")+"]", stderr)
	format := fs.String("format", "markdown", "output format: "+strings.Join(fsm.Formats, ", "))
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	out, err := fsm.Render(*format)
	if err != nil {
		return usageErr("%v", err)
	}
	_, err = stdout.Write(out)
	return err
}
