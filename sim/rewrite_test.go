package sim_test

// The -rewrite mechanics of TestLifecycleScenarios: replacing a scenario
// file's expected event log and nothing else.

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rewriteEvents replaces the "events" array of the scenario file f with
// events, leaving every other byte of the file as it is.
func rewriteEvents(f string, events []string) error {
	raw, err := os.ReadFile(f)
	if err != nil {
		return err
	}
	out, err := replaceEvents(raw, events)
	if err != nil {
		return err
	}
	return os.WriteFile(f, out, 0o644)
}

var (
	// errNoEvents: the scenario has no top-level "events" to replace.
	errNoEvents = errors.New(`no top-level "events" array`)
	// errNotObject: the file is not a JSON object, so not a scenario.
	errNotObject = errors.New("not a JSON object")
)

func replaceEvents(raw []byte, events []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.Join(errNotObject, err)
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
	if _, err := replaceEvents([]byte(`["j0 created"]`), nil); !errors.Is(err, errNotObject) {
		t.Errorf("an array, not a scenario: %v, want errNotObject", err)
	}
	if _, err := replaceEvents([]byte(`{"name": "x", "steps": []}`), nil); !errors.Is(err, errNoEvents) {
		t.Errorf("a scenario without events: %v, want errNoEvents", err)
	}
	if _, err := replaceEvents([]byte(`{"name": "x", "events": "j0 null"}`), nil); !errors.Is(err, errNoEvents) {
		t.Errorf("events that are not an array: %v, want errNoEvents", err)
	}
}
