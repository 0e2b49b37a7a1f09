package explore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Expectation is what a model config says checking it must report: its one
// `\* Expect:` comment line. The line is the single source of that fact;
// tla/check.sh greps it for TLC, and jobsim check and this package's tests
// read it through ReadExpectation for the explorer.
//
//	\* Expect: ok                   no error
//	\* Expect: deadlock             TLC's "Deadlock reached" (explorer: kind deadlock)
//	\* Expect: invariant TxnAtomic  that invariant violated
//	\* Expect: property T5          that (action or temporal) property violated
//
// An optional `\* Explorer: none` line says that model/explore does not model
// the config's spec (it is not a JobLifecycle config), so only TLC checks it.
type Expectation struct {
	Kind string // "ok", "deadlock", "invariant" or "property"
	Name string // the invariant or property; empty for ok and deadlock
	// NoExplorer is set by `\* Explorer: none`.
	NoExplorer bool
}

// String renders the expectation as its Expect line writes it.
func (e Expectation) String() string {
	if e.Name == "" {
		return e.Kind
	}
	return e.Kind + " " + e.Name
}

// OK reports whether the config must pass.
func (e Expectation) OK() bool { return e.Kind == "ok" }

// MetBy reports whether an exploration's outcome (nil: no violation) is the
// one expected.
func (e Expectation) MetBy(v *Violation) bool {
	switch e.Kind {
	case "ok":
		return v == nil
	case "deadlock":
		return v != nil && v.Kind == "deadlock"
	default:
		return v != nil && v.Kind == e.Kind && v.Name == e.Name
	}
}

const (
	expectPrefix   = `\* Expect:`
	explorerPrefix = `\* Explorer:`
)

// ReadExpectation reads the Expect (and Explorer) line of a model config.
func ReadExpectation(path string) (Expectation, error) {
	f, err := os.Open(path)
	if err != nil {
		return Expectation{}, err
	}
	defer f.Close()
	return ParseExpectation(path, f)
}

// ParseExpectation parses the `\* Expect:` line of a model config: there must
// be exactly one, at the start of a line. Errors are *ConfigError.
func ParseExpectation(name string, r io.Reader) (Expectation, error) {
	var e Expectation
	found, explorerLine := 0, 0
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		// At the start of the line, as tla/check.sh greps it.
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case strings.HasPrefix(line, expectPrefix):
			if found > 0 {
				return Expectation{}, &ConfigError{name, ln, fmt.Sprintf("second Expect line (the first is line %d): state the expected outcome once", found)}
			}
			found = ln
			f := strings.Fields(strings.TrimPrefix(line, expectPrefix))
			switch {
			case len(f) == 1 && (f[0] == "ok" || f[0] == "deadlock"):
				e.Kind = f[0]
			case len(f) == 2 && (f[0] == "invariant" || f[0] == "property"):
				e.Kind, e.Name = f[0], f[1]
			default:
				return Expectation{}, &ConfigError{name, ln, fmt.Sprintf("want `\\* Expect: ok|deadlock|invariant NAME|property NAME`, got %q", line)}
			}
		case strings.HasPrefix(line, explorerPrefix):
			if explorerLine > 0 {
				return Expectation{}, &ConfigError{name, ln, fmt.Sprintf("second Explorer line (the first is line %d)", explorerLine)}
			}
			explorerLine = ln
			f := strings.Fields(strings.TrimPrefix(line, explorerPrefix))
			if len(f) == 0 || f[0] != "none" {
				return Expectation{}, &ConfigError{name, ln, fmt.Sprintf("want `\\* Explorer: none [(why)]`, got %q", line)}
			}
			e.NoExplorer = true
		}
	}
	if err := sc.Err(); err != nil {
		return Expectation{}, err
	}
	if found == 0 {
		return Expectation{}, &ConfigError{name, 0, "no `\\* Expect:` line: state what checking this config must report (ok, deadlock, invariant NAME or property NAME)"}
	}
	return e, nil
}
