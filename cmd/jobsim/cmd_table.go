package main

import (
	"io"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

func init() {
	register("table", "print the canonical transition and verb tables of a QEMU version", runTable)
}

func runTable(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("table", "table [--format "+strings.Join(fsm.Formats, "|")+"] [--qemu "+strings.ReplaceAll(versionList(), ", ", "|")+"]", stderr)
	format := fs.String("format", "markdown", "output format: "+strings.Join(fsm.Formats, ", "))
	qemu := addQemuFlag(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	v, err := qemu.version()
	if err != nil {
		return err
	}
	out, err := fsm.For(v).Render(*format)
	if err != nil {
		return usageErr("%v", err)
	}
	_, err = stdout.Write(out)
	return err
}
