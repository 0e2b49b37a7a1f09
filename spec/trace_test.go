package spec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/spec"
)

// TestRepositoryTraceability is the CI gate: every rule of spec/README.md has
// at least one check somewhere in the tree, and no check names a rule that
// does not exist.
func TestRepositoryTraceability(t *testing.T) {
	rules, checks := repo(t)
	if len(rules) < 40 {
		t.Fatalf("parsed only %d rules from spec/README.md", len(rules))
	}
	for _, p := range spec.Verify(rules, checks) {
		t.Error(p)
	}
}

// TestTraceabilityTableIsCurrent compares the committed table with what the
// generator would write now (the same thing check-generated catches, but
// with a readable message when running go test alone).
func TestTraceabilityTableIsCurrent(t *testing.T) {
	rules, checks := repo(t)
	got, err := os.ReadFile("traceability.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := spec.TraceabilityMarkdown(rules, checks); string(got) != want {
		t.Errorf("spec/traceability.md is stale: run go generate ./spec\n%s", cmp.Diff(want, string(got)))
	}
}

func repo(t *testing.T) ([]spec.Rule, []spec.Check) {
	t.Helper()
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := spec.ParseRules("spec/README.md", md)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := spec.ScanChecks("..")
	if err != nil {
		t.Fatal(err)
	}
	imap, err := spec.InvariantMap("spec/README.md", md)
	if err != nil {
		t.Fatal(err)
	}
	return rules, append(checks, spec.DerivedChecks("..", imap)...)
}

// The invariant → rules table names every invariant of the reference (I1–
// I15), each exists in the model's catalogue, and the explorer's TLA+
// properties all refer to invariants the table maps.
func TestInvariantMap(t *testing.T) {
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	imap, err := spec.InvariantMap("spec/README.md", md)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 15; i++ {
		if len(imap[fmt.Sprintf("I%d", i)]) == 0 {
			t.Errorf("I%d is not mapped to any rule", i)
		}
	}
	inCatalogue := map[string]bool{}
	for _, inv := range model.Catalogue {
		inCatalogue[inv.ID] = true
	}
	for id := range imap {
		if !inCatalogue[id] {
			t.Errorf("%s is mapped but the model's catalogue has no such invariant", id)
		}
	}
	derived := spec.DerivedChecks("..", imap)
	tla := 0
	for _, c := range derived {
		if c.File == "tla/JobLifecycle.tla" {
			tla++
		}
	}
	if tla == 0 {
		t.Error("no TLA+ property was linked to a rule")
	}
	if _, err := spec.InvariantMap("x", []byte("| I1 a | R1, x |\n")); err == nil {
		t.Error("bad rule id in the map accepted")
	}
}

// writeTree creates files under a temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const miniSpec = "# spec\n\n**R1 First.** text\n\n**R2 Second.** text\nmore\n\n**R3 Third.** text\n"

func verifyTree(t *testing.T, files map[string]string) []string {
	t.Helper()
	rules, err := spec.ParseRules("spec.md", []byte(miniSpec))
	if err != nil {
		t.Fatal(err)
	}
	checks, err := spec.ScanChecks(writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range spec.Verify(rules, checks) {
		out = append(out, p.String())
	}
	return out
}

// The traceability gate itself, on a miniature tree: removing the last
// check of R3 makes Verify fail, naming R3.
func TestRemovingLastCheckFails(t *testing.T) {
	full := map[string]string{
		"a/a_test.go": "package a\n\n// Checks: R1, R3\nfunc TestA(t *testing.T) {}\n",
		"b/b.tla":     "---- MODULE b ----\n\\* Checks: R2 (second), R3.\nInv == TRUE\n====\n",
	}
	if got := verifyTree(t, full); len(got) != 0 {
		t.Fatalf("complete tree reported problems: %v", got)
	}
	// R3 is still checked by b.tla after a loses it.
	full["a/a_test.go"] = "package a\n\n// Checks: R1\nfunc TestA(t *testing.T) {}\n"
	if got := verifyTree(t, full); len(got) != 0 {
		t.Fatalf("R3 still has b.tla, yet: %v", got)
	}
	// Now b.tla loses its R3: the last check is gone.
	full["b/b.tla"] = "---- MODULE b ----\n\\* Checks: R2\nInv == TRUE\n====\n"
	want := []string{`R3 (Third) has no check: annotate a test, invariant or TLA+ property with "Checks: R3"`}
	if diff := cmp.Diff(want, verifyTree(t, full)); diff != "" {
		t.Fatalf("problems (-want +got):\n%s", diff)
	}
}

// The same on the real tree: for every rule, deleting it from every check
// that names it must make Verify report exactly that rule.
func TestRemovingAnyRulesChecksFails(t *testing.T) {
	rules, checks := repo(t)
	for _, r := range rules {
		var pruned []spec.Check
		for _, c := range checks {
			c2 := c
			c2.Rules = nil
			for _, n := range c.Rules {
				if n != r.N {
					c2.Rules = append(c2.Rules, n)
				}
			}
			pruned = append(pruned, c2)
		}
		found := false
		for _, p := range spec.Verify(rules, pruned) {
			if p.Check == nil && p.Rule == r.N {
				found = true
			}
		}
		if !found {
			t.Errorf("removing every check of %s was not reported", r.ID())
		}
	}
}

func TestCheckNamingUnknownRuleFails(t *testing.T) {
	got := verifyTree(t, map[string]string{
		"a_test.go": "package a\n\n// Checks: R1, R2, R3, R9\nfunc TestA(t *testing.T) {}\n",
	})
	want := []string{"a_test.go:3: a_test.go TestA names R9, which the specification does not have (it has R1..R3)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("problems (-want +got):\n%s", diff)
	}
}

func TestParseChecks(t *testing.T) {
	src := strings.Join([]string{
		"package x",
		"// Checks: R1, R12 (pause), R3.", // notes and final period allowed
		"// More doc.",
		"func (s *S) TestMethod() {}",
		"// Checks: lifecycle event order", // prose, not an annotation
		"func TestProse() {}",
		"\t// Checks: R4",
		"\t{Name: \"I3\", Check: f},",
		"# Checks: R5",
		"INVARIANT TypeOK",
	}, "\n")
	got, err := spec.ParseChecks("x.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.Check{
		{File: "x.go", Line: 2, Name: "TestMethod", Rules: []int{1, 12, 3}},
		{File: "x.go", Line: 7, Name: "I3", Rules: []int{4}},
		{File: "x.go", Line: 9, Name: "TypeOK", Rules: []int{5}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("checks (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"// Checks: R1, 12", "// Checks: R1 R2", "// Checks: R0", "// Checks: R1,"} {
		if _, err := spec.ParseChecks("y.go", []byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		} else if !strings.HasPrefix(err.Error(), "y.go:1: bad rule id") {
			t.Errorf("%q: error %q lacks position", bad, err)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, c := range []struct{ md, want string }{
		{"no rules here\n", "s.md:1: no rules found"},
		{"**R1 A.** x\n**R3 C.** y\n", "s.md:2: rule R3 out of order: want R2"},
		{"**R1 A.** x\n**R1 A again.** y\n", "s.md:2: rule R1 out of order: want R2"},
		{"**R1 A** x\n", `s.md:1: malformed rule heading "**R1 A** x" (want **R<n> Title.**)`},
	} {
		_, err := spec.ParseRules("s.md", []byte(c.md))
		if err == nil || err.Error() != c.want {
			t.Errorf("ParseRules(%q) = %v, want %s", c.md, err, c.want)
		}
	}
	// Rules inside a code fence are examples, not rules.
	rules, err := spec.ParseRules("s.md", []byte("**R1 A.** x\n```\n**R7 Example.** y\n```\n"))
	if err != nil || len(rules) != 1 || rules[0].Title != "A" || rules[0].ID() != "R1" {
		t.Fatalf("fenced example: %v, %v", rules, err)
	}
}

func TestReplaceBlock(t *testing.T) {
	doc := "a\n<!-- BEGIN GENERATED X -->\nold\n<!-- END GENERATED X -->\nb\n"
	got, err := spec.ReplaceBlock([]byte(doc), "X", "new")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\n<!-- BEGIN GENERATED X -->\nnew\n<!-- END GENERATED X -->\nb\n"; string(got) != want {
		t.Fatalf("got %q", got)
	}
	// Idempotent.
	again, _ := spec.ReplaceBlock(got, "X", "new")
	if string(again) != string(got) {
		t.Fatal("second replacement changed the document")
	}
	for _, bad := range []string{"no markers", "<!-- END GENERATED X --><!-- BEGIN GENERATED X -->",
		"<!-- BEGIN GENERATED X --><!-- BEGIN GENERATED X --><!-- END GENERATED X -->"} {
		if _, err := spec.ReplaceBlock([]byte(bad), "X", "y"); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestScanSkipsTestdata(t *testing.T) {
	root := writeTree(t, map[string]string{
		"testdata/x.go": "// Checks: R99\nfunc F() {}\n",
		".hidden/y.go":  "// Checks: R99\nfunc F() {}\n",
		"z.txt":         "// Checks: R99\n",
		"ok.go":         "// Checks: R2\nfunc F() {}\n",
	})
	checks, err := spec.ScanChecks(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 1 || checks[0].File != "ok.go" {
		t.Fatalf("checks = %+v", checks)
	}
}

// The committed diagrams are fsm's current ones (check-generated catches the
// same in CI; this says what to do when running go test alone).
func TestDiagramsAreCurrent(t *testing.T) {
	dot, err := os.ReadFile("lifecycle.dot")
	if err != nil {
		t.Fatal(err)
	}
	if string(dot) != fsm.DOT() {
		t.Error("spec/lifecycle.dot is stale: run go generate ./spec")
	}
	svg, err := os.ReadFile("lifecycle.svg")
	if err != nil {
		t.Fatal(err)
	}
	// Every status is a node of the rendered picture.
	for _, s := range fsm.Statuses() {
		if !strings.Contains(string(svg), "<title>"+s.String()+"</title>") {
			t.Errorf("lifecycle.svg has no node %s", s)
		}
	}
	block := "<!-- BEGIN GENERATED MERMAID -->\n```mermaid\n" + fsm.Mermaid() + "```\n<!-- END GENERATED MERMAID -->"
	for _, f := range []string{"README.md", "../README.md"} {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(md), block) {
			t.Errorf("%s: Mermaid block missing or stale: run go generate ./spec", f)
		}
	}
}
