// Command qemutrace converts recorded QEMU transcripts into TraceQemu group
// files and reads TLC's verdicts on them (tla/check.sh trace-check runs it).
//
//	qemutrace convert -out DIR -prefix P -max-drains M -scenarios DIR T.transcript.json...
//	    writes DIR/P-1.ndjson, … and prints "PATH TRACES" per group file
//	qemutrace verdict GROUP.ndjson TLC-DUMP [GROUP.ndjson TLC-DUMP]...
//	    prints each trace TLC did not explain and, per directory, how many
//	    it did; exits 1 when a trace is not explained
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jobfsm/jobfsm/conformance"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/tla/qemutrace"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	ok := true
	switch os.Args[1] {
	case "convert":
		err = convert(os.Args[2:])
	case "verdict":
		ok, err = verdict(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: qemutrace convert [-qemu VERSION] -out DIR -prefix P -max-drains M -scenarios DIR TRANSCRIPT...\n       qemutrace verdict GROUP.ndjson TLC-DUMP [GROUP.ndjson TLC-DUMP]...")
	os.Exit(2)
}

func convert(args []string) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	out := fs.String("out", "", "directory for the group files")
	prefix := fs.String("prefix", "qemu", "group file name prefix")
	drains := fs.Int("max-drains", 1, "MaxDrains of every group")
	scenarios := fs.String("scenarios", "", "directory of the scenarios of transcripts that have none beside them")
	root := fs.String("root", "", "directory the trace's source names are relative to")
	var version fsm.Version
	fs.Var(&version, "qemu", "the QEMU version that recorded every transcript given (7.2, 10.0): whose table explains them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fmt.Errorf("qemutrace convert: -out and at least one transcript are needed")
	}
	var traces []*qemutrace.Trace
	for _, p := range fs.Args() {
		name := strings.TrimSuffix(filepath.Base(p), ".transcript.json")
		// The scenario beside the transcript, else in -scenarios (the
		// QEMU 10.0 recordings replay the corpus's scenarios).
		sp := filepath.Join(filepath.Dir(p), name+".json")
		if _, err := os.Stat(sp); err != nil && *scenarios != "" {
			sp = filepath.Join(*scenarios, name+".json")
		}
		scn, err := conformance.LoadScenario(sp)
		if err != nil {
			return fmt.Errorf("qemutrace: scenario of %s: %w", p, err)
		}
		tr, err := conformance.LoadTranscript(p)
		if err != nil {
			return fmt.Errorf("qemutrace: %s: %w", p, err)
		}
		src := p
		if *root != "" {
			if r, err := filepath.Rel(*root, p); err == nil {
				src = r
			}
		}
		t, err := qemutrace.Convert(src, scn, tr)
		if err != nil {
			return err
		}
		t.Version = version
		traces = append(traces, t)
	}
	groups := qemutrace.GroupTraces(traces, *drains)
	paths, err := qemutrace.WriteGroups(*out, *prefix, groups)
	if err != nil {
		return err
	}
	for i, p := range paths {
		fmt.Printf("%s %d\n", p, len(groups[i].Traces))
	}
	return nil
}

func verdict(args []string) (bool, error) {
	if len(args) == 0 || len(args)%2 != 0 {
		usage()
	}
	type info struct {
		source       string
		events, cmds int
	}
	all := true
	total, explained := map[string]int{}, map[string]int{}
	var dirs []string
	for i := 0; i < len(args); i += 2 {
		group, err := os.ReadFile(args[i])
		if err != nil {
			return false, err
		}
		dump, err := os.ReadFile(args[i+1])
		if err != nil {
			return false, err
		}
		res, err := qemutrace.Verdicts(dump)
		if err != nil {
			return false, fmt.Errorf("%s: %w", args[i+1], err)
		}
		traces := map[int]*info{}
		var order []int
		sc := bufio.NewScanner(bytes.NewReader(group))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var l struct {
				Op     string `json:"op"`
				T      int    `json:"t"`
				Source string `json:"source"`
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return false, fmt.Errorf("qemutrace: %s: %w", args[i], err)
			}
			switch l.Op {
			case "trace":
				traces[l.T] = &info{source: l.Source}
				order = append(order, l.T)
			case "trigger":
				traces[l.T].events++
			case "create", "verb", "query", "early-fail":
				traces[l.T].cmds++
			}
		}
		for _, t := range order {
			in, p := traces[t], res[t]
			dir := filepath.Dir(in.source)
			if total[dir] == 0 {
				dirs = append(dirs, dir)
			}
			total[dir]++
			if p.Done {
				explained[dir]++
				continue
			}
			all = false
			fmt.Printf("REJECTED %s: TLC explained at most %d of %d status events and %d of %d commands\n",
				in.source, p.Events, in.events, p.Cmds, in.cmds)
		}
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		fmt.Printf("%s: %d of %d transcripts explained\n", d, explained[d], total[d])
	}
	return all, nil
}
