// Command gen writes spec's generated artifacts; go generate runs it from
// spec/ (see spec/doc.go):
//
//   - spec/lifecycle.dot: fsm.DOT(), the lifecycle as stateless renders it;
//   - spec/lifecycle.svg: that DOT rendered by Graphviz dot;
//   - spec/README.md: the transition/verb tables and the Mermaid diagram
//     between their markers;
//   - README.md (repository root): the Mermaid diagram between
//     <!-- BEGIN GENERATED MERMAID --> and <!-- END GENERATED MERMAID -->;
//   - spec/traceability.md: rule → checks, from the rules, the annotations
//     and the model's and TLA+ specification's invariants.
//
// Everything is a pure function of fsm, the rules and the annotations, so
// running it twice writes the same bytes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/spec"
)

func main() {
	root := flag.String("root", "..", "repository root")
	dotBin := flag.String("dot", "dot", "Graphviz dot binary")
	flag.Parse()
	if err := run(*root, *dotBin); err != nil {
		fmt.Fprintln(os.Stderr, "spec/gen:", err)
		os.Exit(1)
	}
}

func run(root, dotBin string) error {
	specDir := filepath.Join(root, "spec")
	dot := fsm.DOT()
	if err := write(filepath.Join(specDir, "lifecycle.dot"), []byte(dot)); err != nil {
		return err
	}
	svg, err := renderSVG(dotBin, dot)
	if err != nil {
		return err
	}
	if err := write(filepath.Join(specDir, "lifecycle.svg"), svg); err != nil {
		return err
	}

	mermaid := "```mermaid\n" + fsm.Mermaid() + "```\n"
	specReadme := filepath.Join(specDir, "README.md")
	if err := edit(specReadme, map[string]string{
		"TABLES":  fsm.Markdown(),
		"MERMAID": mermaid,
	}); err != nil {
		return err
	}
	if err := edit(filepath.Join(root, "README.md"), map[string]string{"MERMAID": mermaid}); err != nil {
		return err
	}

	md, err := os.ReadFile(specReadme)
	if err != nil {
		return err
	}
	rules, err := spec.ParseRules("spec/README.md", md)
	if err != nil {
		return err
	}
	checks, err := spec.ScanChecks(root)
	if err != nil {
		return err
	}
	imap, err := spec.InvariantMap("spec/README.md", md)
	if err != nil {
		return err
	}
	checks = append(checks, spec.DerivedChecks(root, imap)...)
	return write(filepath.Join(specDir, "traceability.md"), []byte(spec.TraceabilityMarkdown(rules, checks)))
}

// renderSVG runs Graphviz. The SVG carries Graphviz's version in a comment;
// CI and developers use Debian's graphviz package, so it is stable.
func renderSVG(dotBin, dot string) ([]byte, error) {
	cmd := exec.Command(dotBin, "-Tsvg")
	cmd.Stdin = bytes.NewReader([]byte(dot))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -Tsvg: %v: %s (install Debian's graphviz package)", dotBin, err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// edit replaces each named marker block of the file at path.
func edit(path string, blocks map[string]string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// Apply in a fixed order so errors are reported deterministically.
	for _, name := range []string{"TABLES", "MERMAID"} {
		body, ok := blocks[name]
		if !ok {
			continue
		}
		doc, err = spec.ReplaceBlock(doc, name, body)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	}
	return write(path, doc)
}

// write writes only when the content changed, so an up-to-date tree is not
// touched at all.
func write(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
