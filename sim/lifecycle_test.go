package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/scenario"
)

// rewrite replaces the expected event logs of testdata/lifecycle with what
// the simulator does now, as etcd's datadriven tests do: for a deliberate
// change of behaviour, after which the diff of those files is what a reviewer
// checks against QEMU. Nothing else in a file changes.
var rewrite = flag.Bool("rewrite", false, "rewrite the \"events\" of testdata/lifecycle/*.json from this run")

// TestLifecycleScenarios runs every scenario under testdata/lifecycle: the
// expected event logs and error texts in those files were written by hand
// from QEMU 7.2's job.c and the transcripts recorded on QEMU, never from
// this code's output (-rewrite is for reviewed, deliberate changes).
//
// Checks: R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R23, R24, R25, R26, R27, R28, R29, R30, R31, R33, R40, R41, R42.
func TestLifecycleScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/lifecycle/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("want at least 20 lifecycle scenarios, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			s, err := scenario.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if s.Events == nil {
				t.Fatal("scenario states no expected events")
			}
			// Every seed must give the same log: none of these scenarios
			// has two things due at the same instant whose order matters.
			var first []string
			for _, seed := range []uint64{0, 1, 2, 3} {
				s.Seed = seed
				res := s.Run()
				got := res.EventStrings()
				if *rewrite {
					if seed == 0 {
						first = got
					} else if diff := cmp.Diff(first, got); diff != "" {
						t.Fatalf("seed %d logs differently from seed 0, nothing to rewrite to (-seed 0 +seed %d):\n%s", seed, seed, diff)
					}
				} else if diff := cmp.Diff(s.Events, got); diff != "" {
					t.Errorf("seed %d: event log (-want +got):\n%s", seed, diff)
				}
				for _, m := range res.Mismatches {
					if !strings.HasPrefix(m, "event log differs") {
						t.Errorf("seed %d: %s", seed, m)
					}
				}
			}
			if *rewrite && !t.Failed() && !slices.Equal(s.Events, first) {
				if err := rewriteEvents(f, first); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// rewriteEvents replaces the "events" array of the scenario file f with
// events, leaving every other byte of the file as it is.
func rewriteEvents(f string, events []string) error {
	raw, err := os.ReadFile(f)
	if err != nil {
		return err
	}
	out, err := replaceEvents(raw, events)
	if err != nil {
		return fmt.Errorf("%s: %w", f, err)
	}
	return os.WriteFile(f, out, 0o644)
}

// errNoEvents: the scenario has no top-level "events" to replace.
var errNoEvents = errors.New(`no top-level "events" array`)

func replaceEvents(raw []byte, events []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object (%v)", err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		afterKey := dec.InputOffset()
		var v json.RawMessage // the decoder trims the white space around it
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if key != "events" {
			continue
		}
		if !bytes.HasPrefix(v, []byte("[")) {
			return nil, errNoEvents
		}
		end := dec.InputOffset()
		start := afterKey + int64(bytes.IndexByte(raw[afterKey:end], '['))
		quoted := make([]string, len(events))
		for i, e := range events {
			b, err := json.Marshal(e)
			if err != nil {
				return nil, err
			}
			quoted[i] = string(b)
		}
		// An array that was on one line stays on one line; one spread over
		// lines gets one event a line, indented one step past its key.
		sep, open, close := ", ", "[", "]"
		if bytes.IndexByte(raw[start:end], '\n') >= 0 {
			line := raw[bytes.LastIndexByte(raw[:start], '\n')+1 : start]
			indent := string(line[:len(line)-len(bytes.TrimLeft(line, " \t"))])
			sep, open, close = ",\n"+indent+"  ", "[\n"+indent+"  ", "\n"+indent+"]"
		}
		var b bytes.Buffer
		b.Write(raw[:start])
		b.WriteString(open + strings.Join(quoted, sep) + close)
		b.Write(raw[end:])
		return b.Bytes(), nil
	}
	return nil, errNoEvents
}

func TestReplaceEventsTouchesOnlyTheEvents(t *testing.T) {
	in := `{
  "name": "x",
  "events": ["a created",
             "a running"],
  "calls": {"a": ["events"]}
}
`
	want := `{
  "name": "x",
  "events": [
    "a created",
    "a \"quoted\"",
    "a null"
  ],
  "calls": {"a": ["events"]}
}
`
	got, err := replaceEvents([]byte(in), []string{"a created", `a "quoted"`, "a null"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	in = "{\n  \"events\": [\n    \"a created\"\n  ]\n}\n"
	want = "{\n  \"events\": [\n    \"a created\",\n    \"a null\"\n  ]\n}\n"
	got, err = replaceEvents([]byte(in), []string{"a created", "a null"})
	if err != nil || string(got) != want {
		t.Errorf("multi-line events: got %q, %v; want %q", got, err, want)
	}
	if _, err := replaceEvents([]byte(`{"name": "x", "steps": []}`), nil); !errors.Is(err, errNoEvents) {
		t.Errorf("a scenario without events: %v, want errNoEvents", err)
	}
	if _, err := replaceEvents([]byte(`{"name": "x", "events": "j0 null"}`), nil); !errors.Is(err, errNoEvents) {
		t.Errorf("events that are not an array: %v, want errNoEvents", err)
	}
}
