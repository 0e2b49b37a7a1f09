package main

import (
	"bytes"
	"io"
	"os/exec"

	"github.com/jobfsm/jobfsm/fsm"
)

func init() { register("graph", "print the lifecycle diagram (dot, mermaid or svg)", runGraph) }

func runGraph(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("graph", "graph [--format dot|mermaid|svg]\n\n"+
		"dot is the lifecycle as stateless renders it (verbs as internal transitions);\n"+
		"mermaid is the status graph with the triggers on its edges; svg renders the\n"+
		"dot form with Graphviz (needs the dot command, Debian package graphviz).", stderr)
	format := fs.String("format", "dot", "output format: dot, mermaid, svg")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	switch *format {
	case "dot":
		_, err := io.WriteString(stdout, fsm.DOT())
		return err
	case "mermaid":
		_, err := io.WriteString(stdout, fsm.Mermaid())
		return err
	case "svg":
		path, err := exec.LookPath("dot")
		if err != nil {
			return failure("graph --format svg needs Graphviz's dot command (apt-get install graphviz): %v", err)
		}
		cmd := exec.Command(path, "-Tsvg")
		cmd.Stdin = bytes.NewReader([]byte(fsm.DOT()))
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = stdout, &errb
		if err := cmd.Run(); err != nil {
			return failure("dot -Tsvg: %v: %s", err, bytes.TrimSpace(errb.Bytes()))
		}
		return nil
	}
	return usageErr("unknown format %q (want dot, mermaid or svg)", *format)
}
