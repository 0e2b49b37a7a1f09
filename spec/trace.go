package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Rule is one numbered rule of the specification.
type Rule struct {
	N     int    // the number in R<n>
	Title string // the bold title after the number
	Line  int    // 1-based line in the specification
}

// ID returns "R<n>".
func (r Rule) ID() string { return "R" + strconv.Itoa(r.N) }

// Check is one annotation naming the rules a test, invariant or property
// checks.
type Check struct {
	File  string // slash-separated path relative to the scanned root
	Line  int    // 1-based line of the "Checks:" comment
	Name  string // the declaration below the comment (function, TLA+ operator), or "" if none was recognised
	Rules []int  // the rule numbers named
	// Derived marks a check found through the invariant → rules map
	// (DerivedChecks) rather than a "Checks:" annotation.
	Derived bool
}

// Label is the check's name as the traceability table shows it:
// "path/file.go TestName".
func (c Check) Label() string {
	if c.Name == "" {
		return c.File
	}
	return c.File + " " + c.Name
}

// Error is a malformed specification or annotation, with its position.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ruleHead matches a rule's first line: **R12 Title.**
var ruleHead = regexp.MustCompile(`^\*\*R(\d+) ([^*]+?)\.\*\*`)

// ruleLike catches lines that look like a rule heading but are malformed, so
// a typo cannot silently drop a rule.
var ruleLike = regexp.MustCompile(`^\*\*R\d`)

// ParseRules reads the rules from the specification text. Rules must be
// numbered 1, 2, 3, … in order, each once.
func ParseRules(name string, md []byte) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	inFence := false
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence || !ruleLike.MatchString(line) {
			continue
		}
		m := ruleHead.FindStringSubmatch(line)
		if m == nil {
			return nil, &Error{name, ln, fmt.Sprintf("malformed rule heading %q (want **R<n> Title.**)", trunc(line))}
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n != len(rules)+1 {
			return nil, &Error{name, ln, fmt.Sprintf("rule R%s out of order: want R%d", m[1], len(rules)+1)}
		}
		rules = append(rules, Rule{N: n, Title: m[2], Line: ln})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nil, &Error{name, 1, "no rules found"}
	}
	return rules, nil
}

// checksLine matches an annotation in a Go (//), TLA+ (\*) or shell-style
// (#) comment. Text after "Checks:" that does not start with a rule id is
// free prose and is not an annotation.
var checksLine = regexp.MustCompile(`^\s*(?://|\\\*|#)\s*Checks:\s*(R.*)$`)

var ruleID = regexp.MustCompile(`^R([1-9][0-9]*)$`)

var paren = regexp.MustCompile(`\([^)]*\)`)

// declName recognises the declaration an annotation sits above.
var declName = []*regexp.Regexp{
	regexp.MustCompile(`^\s*func\s+(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)`),    // Go function or method
	regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*==`),      // TLA+ operator definition
	regexp.MustCompile(`^\s*(?:INVARIANTS?|PROPERTY|PROPERTIES)\s+(\w+)`),         // TLC config entry
	regexp.MustCompile(`^\s*(?:var|const)?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:)`), // Go var or table entry
	regexp.MustCompile(`^\s*\{\s*(?:Name|ID|Id)\s*:\s*"([^"]+)"`),                 // Go table row {Name: "I3", …}
	regexp.MustCompile(`^\s*"([^"]+)"\s*:`),                                       // map entry "I3": …
}

// ParseChecks returns the annotations in one source file's text.
func ParseChecks(file string, src []byte) ([]Check, error) {
	lines := strings.Split(string(src), "\n")
	var out []Check
	for i, line := range lines {
		m := checksLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c := Check{File: file, Line: i + 1}
		// "R1 (statuses), R2." — parenthesised notes and a final period are
		// allowed and dropped.
		list := strings.TrimSuffix(strings.TrimSpace(paren.ReplaceAllString(m[1], "")), ".")
		for _, tok := range strings.Split(list, ",") {
			tok = strings.TrimSpace(tok)
			tm := ruleID.FindStringSubmatch(tok)
			if tm == nil {
				return nil, &Error{file, i + 1, fmt.Sprintf("bad rule id %q in Checks annotation (want R<n>, comma-separated)", tok)}
			}
			n, _ := strconv.Atoi(tm[1])
			c.Rules = append(c.Rules, n)
		}
		c.Name = nameBelow(lines[i+1:])
		out = append(out, c)
	}
	return out, nil
}

// nameBelow finds the declaration after an annotation, skipping further
// comment lines (the annotation may sit inside a doc comment).
func nameBelow(rest []string) string {
	for _, l := range rest {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "//") || strings.HasPrefix(t, `\*`) || strings.HasPrefix(t, "#") {
			continue
		}
		for _, re := range declName {
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1]
			}
		}
		return ""
	}
	return ""
}

// scanned reports whether a file may hold annotations.
func scanned(name string) bool {
	switch filepath.Ext(name) {
	case ".go", ".tla", ".cfg":
		return true
	}
	return false
}

// ScanChecks walks root and returns every annotation, sorted by file and
// line. It skips hidden directories, vendor/ and testdata/ (test fixtures
// may hold deliberately broken annotations).
func ScanChecks(root string) ([]Check, error) {
	var out []Check
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (strings.HasPrefix(n, ".") || n == "vendor" || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !scanned(d.Name()) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		cs, err := ParseChecks(filepath.ToSlash(rel), src)
		if err != nil {
			return err
		}
		out = append(out, cs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

// Problem is one traceability failure.
type Problem struct {
	Rule  int    // the rule concerned
	Check *Check // the offending check, nil for an unchecked rule
	Msg   string
}

func (p Problem) String() string {
	if p.Check != nil {
		return fmt.Sprintf("%s:%d: %s", p.Check.File, p.Check.Line, p.Msg)
	}
	return p.Msg
}

// Verify reports every rule no check names and every check that names a rule
// the specification does not have, rules first, in order.
func Verify(rules []Rule, checks []Check) []Problem {
	known := map[int]bool{}
	for _, r := range rules {
		known[r.N] = true
	}
	covered := map[int]bool{}
	var bad []Problem
	for i := range checks {
		c := &checks[i]
		for _, n := range c.Rules {
			if !known[n] {
				bad = append(bad, Problem{Rule: n, Check: c, Msg: fmt.Sprintf("%s names R%d, which the specification does not have (it has R1..R%d)", c.Label(), n, len(rules))})
				continue
			}
			covered[n] = true
		}
	}
	var out []Problem
	for _, r := range rules {
		if !covered[r.N] {
			out = append(out, Problem{Rule: r.N, Msg: fmt.Sprintf("%s (%s) has no check: annotate a test, invariant or TLA+ property with \"Checks: %s\"", r.ID(), r.Title, r.ID())})
		}
	}
	return append(out, bad...)
}

// ChecksByRule groups checks by the rules they name.
func ChecksByRule(checks []Check) map[int][]Check {
	m := map[int][]Check{}
	for _, c := range checks {
		for _, n := range c.Rules {
			m[n] = append(m[n], c)
		}
	}
	return m
}

// kind classifies a check for the table: test, invariant, TLA+ or other.
func kind(c Check) string {
	switch {
	case strings.HasSuffix(c.File, ".tla"), strings.HasSuffix(c.File, ".cfg"):
		return "TLA+"
	case c.Derived && c.File == "model/invariants.go":
		return "model invariant"
	case c.Derived:
		return "explorer property"
	case strings.HasPrefix(c.Name, "Test"), strings.HasPrefix(c.Name, "Fuzz"):
		return "test"
	case strings.HasPrefix(c.Name, "Benchmark"):
		return "benchmark"
	case strings.HasPrefix(c.File, "model/"):
		return "model"
	}
	return "check"
}

// TraceabilityMarkdown renders the rule → checks table. It has no line
// numbers, so it changes only when annotations or rules change.
func TraceabilityMarkdown(rules []Rule, checks []Check) string {
	by := ChecksByRule(checks)
	var b strings.Builder
	b.WriteString("# Traceability: rule → checks\n\n")
	b.WriteString("Generated by `go generate ./spec` from the rules in [README.md](README.md), the\n")
	b.WriteString("`Checks: R<n>` annotations in the source tree, and the model's and the TLA+\n")
	b.WriteString("specification's invariants. Do not edit by hand.\n\n")
	total := 0
	for _, r := range rules {
		total += len(by[r.N])
	}
	derived := 0
	for _, c := range checks {
		if c.Derived {
			derived++
		}
	}
	fmt.Fprintf(&b, "%d rules; %d annotated checks, %d model invariants and TLA+ properties (through the\n", len(rules), len(checks)-derived, derived)
	b.WriteString("invariant → rules table of README.md §16); ")
	fmt.Fprintf(&b, "%d rule–check links.\n\n", total)
	b.WriteString("| rule | title | checked by |\n|---|---|---|\n")
	for _, r := range rules {
		cs := by[r.N]
		var parts []string
		seen := map[string]bool{}
		for _, c := range cs {
			l := fmt.Sprintf("%s `%s`", kind(c), c.Label())
			if !seen[l] {
				seen[l] = true
				parts = append(parts, l)
			}
		}
		cell := "**none**"
		if len(parts) > 0 {
			cell = strings.Join(parts, "<br>")
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.ID(), escCell(r.Title), cell)
	}
	return b.String()
}

func escCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// ReplaceBlock replaces the text between the marker lines
// "<!-- BEGIN GENERATED <name> -->" and "<!-- END GENERATED <name> -->" with
// body (the markers stay). It fails if the markers are missing, duplicated or
// out of order, so a generator never writes into the wrong place.
func ReplaceBlock(doc []byte, name, body string) ([]byte, error) {
	begin := "<!-- BEGIN GENERATED " + name + " -->"
	end := "<!-- END GENERATED " + name + " -->"
	s := string(doc)
	if strings.Count(s, begin) != 1 || strings.Count(s, end) != 1 {
		return nil, fmt.Errorf("want exactly one %q and one %q marker", begin, end)
	}
	i := strings.Index(s, begin) + len(begin)
	j := strings.Index(s, end)
	if j < i {
		return nil, fmt.Errorf("marker %q comes before %q", end, begin)
	}
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return []byte(s[:i] + "\n" + body + s[j:]), nil
}
