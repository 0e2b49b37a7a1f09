package qemutrace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jobfsm/jobfsm/tla/tracegen"
)

// MarshalJSON writes a query line's Listed as its "jobs" object.
func (l Line) MarshalJSON() ([]byte, error) {
	type plain Line
	if l.Op == "query" {
		listed := l.Listed
		if listed == nil {
			listed = map[string]string{}
		}
		return json.Marshal(struct {
			plain
			Jobs map[string]string `json:"jobs"`
		}{plain(l), listed})
	}
	return json.Marshal(plain(l))
}

// Header is a group file's first line: the trace header TraceJobLifecycle
// reads (tracegen.Header, the CONSTANTS TraceQemu.cfg substitutes; Seed
// stays 0, a recorded transcript has none) and the number of traces in the
// file.
type Header struct {
	tracegen.Header
	Traces int `json:"traces"`
}

// TraceLine opens trace T of a group file.
type TraceLine struct {
	Op     string   `json:"op"` // "trace"
	T      int      `json:"t"`
	Source string   `json:"source"`
	Names  []string `json:"names"`
}

// Group is the traces that share one set of CONSTANTS, checked in one TLC run.
type Group struct {
	Header Header
	Traces []*Trace
}

func ints(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// GroupTraces sorts traces into groups by the CONSTANTS they need. Every
// group has N = MaxJobs (jobs a trace does not create stay undefined), no
// monitors (the trace's queries are checked against the statuses directly)
// and maxDrains concurrent drained sections per job. Groups and their
// traces come out in a fixed order.
func GroupTraces(traces []*Trace, maxDrains int) []*Group {
	byKey := map[string]*Group{}
	var keys []string
	for _, t := range traces {
		h := Header{Header: tracegen.Header{Op: "config", N: MaxJobs, Grouped: ints(t.Grouped), ManualFinalize: ints(t.ManualFinalize),
			ManualDismiss: ints(t.ManualDismiss), Ready: ints(t.Ready), MayFail: ints(t.MayFail),
			StopOnError: ints(t.StopOnError), PrepareMayFail: ints(t.PrepareMayFail), MaxDrains: maxDrains, Qemu: t.Version}}
		b, _ := json.Marshal(h)
		k := string(b)
		g := byKey[k]
		if g == nil {
			g = &Group{Header: h}
			byKey[k] = g
			keys = append(keys, k)
		}
		g.Traces = append(g.Traces, t)
	}
	sort.Strings(keys)
	out := make([]*Group, len(keys))
	for i, k := range keys {
		g := byKey[k]
		sort.Slice(g.Traces, func(a, b int) bool { return g.Traces[a].Source < g.Traces[b].Source })
		g.Header.Traces = len(g.Traces)
		out[i] = g
	}
	return out
}

// Marshal writes the group file: the header, then each trace's "trace" line,
// its events and its commands, the commands placed after the events they
// are anchored to (for readers; TraceQemu.tla reads the two by op).
func (g *Group) Marshal() []byte {
	var b bytes.Buffer
	w := func(v any) {
		j, err := json.Marshal(v)
		if err != nil {
			panic(err) // only plain values: cannot happen
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	w(g.Header)
	for i, t := range g.Traces {
		n := i + 1
		w(TraceLine{Op: "trace", T: n, Source: t.Source, Names: append([]string{}, t.Names...)})
		e := 0
		for _, c := range t.Commands {
			for ; e < len(t.Events) && e < *c.After; e++ {
				l := t.Events[e]
				l.T = n
				w(l)
			}
			c.T = n
			w(c)
		}
		for ; e < len(t.Events); e++ {
			l := t.Events[e]
			l.T = n
			w(l)
		}
	}
	return b.Bytes()
}

// WriteGroups writes group files prefix-1.ndjson, prefix-2.ndjson, … into
// dir and returns their paths.
func WriteGroups(dir, prefix string, groups []*Group) ([]string, error) {
	var paths []string
	for i, g := range groups {
		p := filepath.Join(dir, fmt.Sprintf("%s-%d.ndjson", prefix, i+1))
		if err := os.WriteFile(p, g.Marshal(), 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Progress is how far TLC got in one trace of a group.
type Progress struct {
	Done         bool
	Events, Cmds int // lines explained (the most in any reachable state)
}

// Verdicts reads a TLC state dump (-dump) of a TraceQemu run and returns,
// per trace number, whether some reachable state explained all its lines,
// and otherwise the furthest it got (most events, then most commands).
func Verdicts(dump []byte) (map[int]Progress, error) {
	res := map[int]Progress{}
	for _, st := range strings.Split(string(dump), "\n\n") {
		vals := map[string]string{}
		for _, ln := range strings.Split(st, "\n") {
			ln = strings.TrimSpace(ln)
			if !strings.HasPrefix(ln, "/\\ ") {
				continue
			}
			kv := strings.SplitN(strings.TrimPrefix(ln, "/\\ "), " = ", 2)
			if len(kv) == 2 {
				vals[kv[0]] = kv[1]
			}
		}
		if vals["tr"] == "" {
			continue
		}
		var tr, l, c int
		if _, err := fmt.Sscan(vals["tr"], &tr); err != nil {
			return nil, fmt.Errorf("qemutrace: state dump: tr = %q", vals["tr"])
		}
		if _, err := fmt.Sscan(vals["l"], &l); err != nil {
			return nil, fmt.Errorf("qemutrace: state dump: l = %q", vals["l"])
		}
		if _, err := fmt.Sscan(vals["c"], &c); err != nil {
			return nil, fmt.Errorf("qemutrace: state dump: c = %q", vals["c"])
		}
		p := res[tr]
		p.Done = p.Done || vals["done"] == "TRUE"
		if l-1 > p.Events || (l-1 == p.Events && c-1 > p.Cmds) {
			p.Events, p.Cmds = l-1, c-1
		}
		res[tr] = p
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("qemutrace: state dump holds no TraceQemu state")
	}
	return res, nil
}
