package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jobfsm/jobfsm/model"
	"github.com/jobfsm/jobfsm/model/explore"
)

// The model's invariant catalogue (model.Catalogue) and the TLA+
// specification's invariants and step properties (mirrored by
// model/explore, under the same names) are numbered after the reference's
// invariants I1–I15, not after the rules. The specification's section
// "Invariants and rules" maps each invariant id to the rules it restates;
// DerivedChecks turns that map into checks, so the traceability table shows
// model invariants and TLA+ properties next to the tests without their
// sources carrying rule numbers.

// invRow matches a row of that table: "| I7 text | R31, R32 |".
var invRow = regexp.MustCompile(`^\|\s*(I[1-9][0-9]*)\b[^|]*\|\s*(R[0-9][R0-9 ,]*)\|\s*$`)

// InvariantMap parses the invariant → rules table of the specification.
func InvariantMap(name string, md []byte) (map[string][]int, error) {
	out := map[string][]int{}
	sc := bufio.NewScanner(bytes.NewReader(md))
	for ln := 1; sc.Scan(); ln++ {
		m := invRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if _, dup := out[m[1]]; dup {
			return nil, &Error{name, ln, "invariant " + m[1] + " mapped twice"}
		}
		for _, tok := range strings.Split(m[2], ",") {
			tok = strings.TrimSpace(tok)
			tm := ruleID.FindStringSubmatch(tok)
			if tm == nil {
				return nil, &Error{name, ln, fmt.Sprintf("bad rule id %q for %s", tok, m[1])}
			}
			n, _ := strconv.Atoi(tm[1])
			out[m[1]] = append(out[m[1]], n)
		}
	}
	if len(out) == 0 {
		return nil, &Error{name, 0, "no invariant → rules table found"}
	}
	return out, nil
}

// DerivedChecks returns one check per model invariant and per TLA+
// invariant or step property whose ids the map knows. root is the
// repository root: a TLA+ property is labelled with tla/JobLifecycle.tla
// only if that file defines it, otherwise with the explorer's Go mirror.
func DerivedChecks(root string, imap map[string][]int) []Check {
	var out []Check
	for _, inv := range model.Catalogue {
		if rs := rulesOf(imap, inv.ID); len(rs) > 0 {
			out = append(out, Check{File: "model/invariants.go", Name: inv.ID, Rules: rs, Derived: true})
		}
	}
	tla, _ := os.ReadFile(filepath.Join(root, "tla", "JobLifecycle.tla"))
	prop := func(name, ref string) {
		rs := rulesOf(imap, strings.Fields(strings.NewReplacer("/", " ", ",", " ").Replace(ref))...)
		if len(rs) == 0 {
			return
		}
		file := "model/explore/invariants.go"
		if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*==`).Match(tla) {
			file = "tla/JobLifecycle.tla"
		}
		out = append(out, Check{File: file, Name: name, Rules: rs, Derived: true})
	}
	for _, inv := range explore.Invariants {
		prop(inv.Name, inv.Ref)
	}
	for _, sp := range explore.StepProperties {
		prop(sp.Name, sp.Ref)
	}
	return out
}

// rulesOf is the sorted union of the rules mapped to ids.
func rulesOf(imap map[string][]int, ids ...string) []int {
	set := map[int]bool{}
	for _, id := range ids {
		for _, r := range imap[id] {
			set[r] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
