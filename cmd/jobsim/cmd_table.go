package main

import (
	"io"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

func init() {
	register(&command{
		name:    "table",
		summary: "print the canonical transition and verb tables of a QEMU version",
		run: func(args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("table", "table [--format "+strings.Join(fsm.Formats, "|")+"] [--qemu "+strings.ReplaceAll(versionList(), ", ", "|")+"]", stderr)
			format := fs.String("format", "markdown", "output format: "+strings.Join(fsm.Formats, ", "))
			qemu := addQemuFlag(fs)
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() != 0 {
				return usageErr("unexpected argument %q", fs.Arg(0))
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
		},
	})
}
