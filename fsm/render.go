package fsm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Formats accepted by Render.
var Formats = []string{"json", "markdown", "dot", "mermaid", "tla"}

// Render returns DefaultVersion's table in the named format (For(v).Render
// for another version).
func Render(format string) ([]byte, error) { return defaultTable.Render(format) }

// JSON is For(DefaultVersion).JSON.
func JSON() []byte { return defaultTable.JSON() }

// Markdown is For(DefaultVersion).Markdown.
func Markdown() string { return defaultTable.Markdown() }

// DOT is For(DefaultVersion).DOT.
func DOT() string { return defaultTable.DOT() }

// Mermaid is For(DefaultVersion).Mermaid.
func Mermaid() string { return defaultTable.Mermaid() }

// TLA is For(DefaultVersion).TLA.
func TLA() string { return defaultTable.TLA() }

// Render returns the table in the named format, one of Formats.
func (t *Table) Render(format string) ([]byte, error) {
	switch format {
	case "json":
		return t.JSON(), nil
	case "markdown":
		return []byte(t.Markdown()), nil
	case "dot":
		return []byte(t.DOT()), nil
	case "mermaid":
		return []byte(t.Mermaid()), nil
	case "tla":
		return []byte(t.TLA()), nil
	}
	return nil, fmt.Errorf("unknown table format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// tableJSON is the fixed JSON shape of `jobsim table --format json`.
type tableJSON struct {
	Statuses    []Status            `json:"statuses"`
	Transitions []Transition        `json:"transitions"`
	Verbs       map[string][]Status `json:"verbs"`
}

// JSON renders {"statuses":[…], "transitions":[{"from","to"}…], "verbs":{verb:[statuses]}}.
func (t *Table) JSON() []byte {
	j := tableJSON{Statuses: Statuses(), Transitions: t.Transitions(), Verbs: map[string][]Status{}}
	for _, v := range t.verbs {
		j.Verbs[v.String()] = t.AcceptingStatuses(v)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		panic(err) // statuses always marshal; a failure here is a bug in this file
	}
	return append(b, '\n')
}

// abbrev is the one-letter column heading QEMU's job.c comments use.
var abbrev = [numStatuses]string{"U", "C", "R", "P", "Y", "S", "W", "D", "X", "E", "N"}

// Markdown renders the status transition table, the verb table and the
// trigger rules as Markdown tables.
func (t *Table) Markdown() string {
	var b strings.Builder
	b.WriteString("### Status transitions (JobSTT)\n\n| from \\ to |")
	for _, s := range Statuses() {
		b.WriteString(" " + abbrev[s] + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", int(numStatuses)) + "\n")
	for _, f := range Statuses() {
		fmt.Fprintf(&b, "| %s %s |", abbrev[f], f)
		for _, to := range Statuses() {
			b.WriteString(" " + mark(t.Allows(f, to)) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Verbs accepted per status (JobVerbTable)\n\n| verb \\ status |")
	for _, s := range Statuses() {
		b.WriteString(" " + abbrev[s] + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", int(numStatuses)) + "\n")
	for _, v := range t.verbs {
		fmt.Fprintf(&b, "| %s |", v)
		for _, s := range Statuses() {
			b.WriteString(" " + mark(t.Permits(s, v)) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Triggers\n\n| trigger | from | to | guard | QEMU function |\n|---|---|---|---|---|\n")
	for _, r := range t.rules {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | `%s` |\n", r.Trigger, joinStatuses(r.From, ", "), r.To, r.Guard, r.Source)
	}
	b.WriteString("\nLegend: ")
	for _, s := range Statuses() {
		fmt.Fprintf(&b, "%s=%s ", abbrev[s], s)
	}
	b.WriteString("\n")
	return b.String()
}

func mark(ok bool) string {
	if ok {
		return "1"
	}
	return "."
}

func joinStatuses(ss []Status, sep string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, sep)
}

// DOT renders the lifecycle in Graphviz DOT as stateless draws it (one edge
// per trigger, guards in brackets, verbs as internal transitions).
func (t *Table) DOT() string {
	return t.sm.ToGraph()
}

// Mermaid renders the JobSTT edges as a Mermaid state diagram, each edge
// labelled with the triggers that drive it.
func (t *Table) Mermaid() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	b.WriteString("    [*] --> undefined\n")
	for _, e := range t.Transitions() {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", mermaidID(e.From), mermaidID(e.To), strings.Join(t.triggersFor(e), ", "))
	}
	b.WriteString("    null --> [*]\n")
	return b.String()
}

// mermaidID avoids Mermaid's reserved words.
func mermaidID(s Status) string {
	if s == Null {
		return "null"
	}
	return s.String()
}

func (t *Table) triggersFor(e Transition) []string {
	var out []string
	for _, r := range t.rules {
		if r.To != e.To {
			continue
		}
		for _, f := range r.From {
			if f == e.From {
				out = append(out, r.Trigger.String())
			}
		}
	}
	return out
}

// TLAModule names the TLA+ module TLA renders: JobTable for QEMU 7.2,
// JobTable10_0 for 10.0 (TLA+ module names cannot contain dots).
func (t *Table) TLAModule() string { return t.tlaModule }

// TLA renders the TLA+ module TLAModule(): the statuses, the JobSTT edge set,
// the verb table, the trigger relation and the drainable statuses, for
// tla/JobLifecycle.tla to use in every legality check.
func (t *Table) TLA() string {
	var b bytes.Buffer
	dashes := strings.Repeat("-", max(4, (74-len(" MODULE  ")-len(t.tlaModule))/2))
	fmt.Fprintf(&b, "%s MODULE %s %s\n", dashes, t.tlaModule, dashes)
	b.WriteString("\\* GENERATED by `go generate ./tla` from fsm's canonical table. DO NOT EDIT.\n")
	fmt.Fprintf(&b, "\\* QEMU %s job.c JobSTT and JobVerbTable.\n\n", t.version)
	fmt.Fprintf(&b, "Statuses == {%s}\n\n", tlaStrings(Statuses()))
	fmt.Fprintf(&b, "Verbs == {%s}\n\n", tlaStrings(t.verbs))
	var edges [][]Status
	for _, e := range t.Transitions() {
		edges = append(edges, []Status{e.From, e.To})
	}
	fmt.Fprintf(&b, "\\* The JobSTT edges, as <<from, to>> pairs.\nEdges == {\n%s}\n\n", tlaTuples(edges))
	b.WriteString("\\* Allowed(from, to): from -> to is a JobSTT edge.\nAllowed(from, to) == <<from, to>> \\in Edges\n\n")
	b.WriteString("\\* The statuses in which each verb is accepted (JobVerbTable).\nVerbTable(v) ==\n")
	for i, v := range t.verbs {
		lead := "    CASE"
		if i > 0 {
			lead = "      []"
		}
		fmt.Fprintf(&b, "%s v = %q -> {%s}\n", lead, v.String(), tlaStrings(t.AcceptingStatuses(v)))
	}
	b.WriteString("\n\\* Permits(s, v): JobVerbTable accepts verb v in status s.\nPermits(s, v) == s \\in VerbTable(v)\n\n")
	fmt.Fprintf(&b, "\\* fsm's internal triggers, each named after what moves the job in QEMU.\nTriggers == {%s}\n\n", tlaStrings(Triggers()))
	var steps [][]fmt.Stringer
	var drainable []Status
	for _, tr := range Triggers() {
		for _, s := range Statuses() {
			if to, ok := t.Target(s, tr); ok {
				steps = append(steps, []fmt.Stringer{tr, s, to})
			}
		}
	}
	for _, s := range Statuses() {
		if t.Drainable(s) {
			drainable = append(drainable, s)
		}
	}
	fmt.Fprintf(&b, "\\* The trigger relation, rule by rule (guards aside): <<trigger, from, to>>.\nSteps == {\n%s}\n\n", tlaTuples(steps))
	b.WriteString("\\* Applies(t): the statuses in which trigger t has a rule.\n")
	b.WriteString("Applies(t) == {s \\in Statuses : \\E to \\in Statuses : <<t, s, to>> \\in Steps}\n\n")
	b.WriteString("\\* Target(t, s): where trigger t takes a job in status s (s \\in Applies(t)).\n")
	b.WriteString("Target(t, s) == CHOOSE to \\in Statuses : <<t, s, to>> \\in Steps\n\n")
	fmt.Fprintf(&b, "\\* The statuses in which a job can enter a drained section.\nDrainable == {%s}\n\n", tlaStrings(drainable))
	b.WriteString("=============================================================================\n")
	return b.String()
}

// tlaStrings renders names as TLA+ strings separated by commas.
func tlaStrings[T fmt.Stringer](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%q", x.String())
	}
	return strings.Join(parts, ", ")
}

// tlaTuples renders rows as TLA+ tuples of strings, one a line.
func tlaTuples[T fmt.Stringer](rows [][]T) string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = "    <<" + tlaStrings(r) + ">>"
	}
	return strings.Join(lines, ",\n") + "\n"
}

// tlaOperators are the definitions of every JobTable module, each with the
// expression that answers it from the instance %[1]s of one version's
// module. Permits also answers a verb the version does not know (change in
// 7.2): refused everywhere, as Table.Permits says, where the module's
// VerbTable has no CASE arm for it.
var tlaOperators = []struct{ decl, expr string }{
	{"Statuses", "%[1]s!Statuses"},
	{"Verbs", "%[1]s!Verbs"},
	{"Edges", "%[1]s!Edges"},
	{"Allowed(from, to)", "%[1]s!Allowed(from, to)"},
	{"VerbTable(v)", "%[1]s!VerbTable(v)"},
	{"Permits(s, v)", "v \\in %[1]s!Verbs /\\ %[1]s!Permits(s, v)"},
	{"Triggers", "%[1]s!Triggers"},
	{"Steps", "%[1]s!Steps"},
	{"Applies(t)", "%[1]s!Applies(t)"},
	{"Target(t, s)", "%[1]s!Target(t, s)"},
	{"Drainable", "%[1]s!Drainable"},
}

// TLAJobTables renders the TLA+ module JobTables: the constant QemuVersion
// ("7.2", "10.0") and every operator of the per-version JobTable modules,
// answered by the module of that version. tla/JobLifecycle.tla extends it,
// so a model config picks the table by setting QemuVersion.
func TLAJobTables() string {
	var b strings.Builder
	b.WriteString("------------------------------ MODULE JobTables ------------------------------\n")
	b.WriteString("\\* GENERATED by `go generate ./tla` from fsm's per-version tables. DO NOT EDIT.\n")
	b.WriteString("\\* The table of QEMU version QemuVersion: every operator of the generated\n")
	b.WriteString("\\* per-version modules, answered by that version's module.\n\n")
	b.WriteString("CONSTANT QemuVersion\n\n")
	fmt.Fprintf(&b, "QemuVersions == {%s}\n\n", tlaStrings(Versions()))
	b.WriteString("ASSUME QemuVersion \\in QemuVersions\n\n")
	inst := func(v Version) string { return "V" + strings.ReplaceAll(v.String(), ".", "_") }
	for _, v := range Versions() {
		fmt.Fprintf(&b, "%s == INSTANCE %s\n", inst(v), For(v).tlaModule)
	}
	for _, op := range tlaOperators {
		fmt.Fprintf(&b, "\n%s ==\n", op.decl)
		for i, v := range Versions() {
			lead := "    CASE"
			if i > 0 {
				lead = "      []"
			}
			fmt.Fprintf(&b, "%s QemuVersion = %q -> %s\n", lead, v.String(), fmt.Sprintf(op.expr, inst(v)))
		}
	}
	b.WriteString("\n=============================================================================\n")
	return b.String()
}
