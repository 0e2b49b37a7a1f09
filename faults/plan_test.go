package faults

import (
	"errors"
	"testing"
)

func TestParseNamesTheBadField(t *testing.T) {
	cases := []struct{ plan, want string }{
		{`[]`, `faults: a plan must be a JSON object with "rules"`},
		{`{"seed": 1}`, `faults: rules: missing`},
		{`{"rules": {}}`, `faults: rules: must be a list of rules`},
		{`{"rules": [], "seeds": 2}`, `faults: seeds: unknown field (want one of seed, rules)`},
		{`{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED"}}, {"drop": {}}, {"drop": {"event": "BLOCK_JOB_DONE"}}]}`,
			`faults: rules[1].drop: needs event or job (dropping every message is not a fault, it is a dead monitor: use close)`},
		{`{"rules": [{"drop": {"event": "BLOCK_JOB_COMPLETED"}}, {"delay": {"event": "BLOCK_JOB_READY", "messages": 1}}, {"drop": {"event": "BLOCK_JOB_DONE"}}]}`,
			`faults: rules[2].drop.event: unknown event "BLOCK_JOB_DONE"`},
		{`{"rules": [{"drop": {"event": "BLOCK_JOB_READY"}, "delay": {}}]}`, `faults: rules[0]: must have exactly one of drop, delay, close, restart, io`},
		{`{"rules": [{"crash": {}}]}`, `faults: rules[0].crash: unknown fault (want drop, delay, close, restart or io)`},
		{`{"rules": [{"drop": {"event": "BLOCK_JOB_READY", "probability": 2}}]}`, `faults: rules[0].drop.probability: must be a number from 0 to 1`},
		{`{"rules": [{"drop": {"event": "BLOCK_JOB_READY", "monitor": "one"}}]}`, `faults: rules[0].drop.monitor: must be an integer`},
		{`{"rules": [{"delay": {"event": "BLOCK_JOB_READY"}}]}`, `faults: rules[0].delay.messages: missing`},
		{`{"rules": [{"delay": {"event": "BLOCK_JOB_READY", "messages": 0}}]}`, `faults: rules[0].delay.messages: must be at least 1`},
		{`{"rules": [{"close": {"monitor": 1}}]}`, `faults: rules[0].close: needs exactly one of after_messages and before_event`},
		{`{"rules": [{"close": {"after_messages": 2, "before_event": "BLOCK_JOB_READY"}}]}`, `faults: rules[0].close: needs exactly one of after_messages and before_event`},
		{`{"rules": [{"restart": {"after_messages": 2, "job": "j0"}}]}`, `faults: rules[0].restart.job: only with before_event`},
		{`{"rules": [{"restart": {"before_event": "READY"}}]}`, `faults: rules[0].restart.before_event: unknown event "READY"`},
		{`{"rules": [{"io": {"offset": 0}}]}`, `faults: rules[0].io.node: missing`},
		{`{"rules": [{"io": {"node": "src"}}]}`, `faults: rules[0].io.offset: missing`},
		{`{"rules": [{"io": {"node": "src", "offset": -1}}]}`, `faults: rules[0].io.offset: must be at least 0`},
		{`{"rules": [{"io": {"node": "src", "offset": 0, "op": "flush"}}]}`, `faults: rules[0].io.op: must be read, write or any, not "flush"`},
		{`{"rules": [{"io": {"node": "src", "offset": 0, "event": "BLOCK_JOB_READY"}}]}`, `faults: rules[0].io.event: unknown field (want one of node, offset, length, op, errno, once, probability)`},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.plan))
		var pe *PlanError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%s) = %v, want a *PlanError", c.plan, err)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Parse(%s)\n got %s\nwant %s", c.plan, err, c.want)
		}
	}
}

func TestParseAcceptsEveryKind(t *testing.T) {
	p, err := Parse([]byte(`{"seed": 7, "rules": [
	  {"drop":    {"event": "BLOCK_JOB_COMPLETED", "job": "j0", "monitor": 2, "count": 1}},
	  {"delay":   {"event": "BLOCK_JOB_READY", "messages": 2, "probability": 0.25}},
	  {"close":   {"monitor": 1, "after_messages": 5}},
	  {"restart": {"before_event": "BLOCK_JOB_READY", "job": "m0"}},
	  {"io":      {"node": "src", "offset": 65536, "length": 512, "op": "read", "errno": 28, "once": true}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"drop event=BLOCK_JOB_COMPLETED job=j0 monitor=2",
		"delay event=BLOCK_JOB_READY messages=2",
		"close monitor=1 after_messages=5",
		"restart event=BLOCK_JOB_READY job=m0",
		"io node=src offset=65536 length=512 op=read errno=28",
	}
	if p.Seed != 7 || len(p.Rules) != len(want) {
		t.Fatalf("plan = %+v", p)
	}
	for i, r := range p.Rules {
		if r.String() != want[i] {
			t.Errorf("rules[%d] = %s, want %s", i, r, want[i])
		}
	}
	if p.Rules[1].Probability != 0.25 || p.Rules[0].Probability != 1 || !p.Rules[4].Once || p.Rules[0].Count != 1 {
		t.Errorf("probability/once/count not parsed: %+v", p.Rules)
	}
	if got := p.NeedsSocket(); got != "rules[2].close" {
		t.Errorf("NeedsSocket = %q, want rules[2].close", got)
	}
}

func TestScannerSplitsAClientStream(t *testing.T) {
	var s scanner
	var got []string
	for _, chunk := range []string{`{"execute": "a", "x": "}{"}  {'execute'`, `: 'b\'}'}`, "\n{\"execute\": [1, {\"y\": 2}]}"} {
		for _, m := range s.feed([]byte(chunk)) {
			got = append(got, string(m))
		}
	}
	want := []string{`{"execute": "a", "x": "}{"}`, `{'execute': 'b\'}'}`, `{"execute": [1, {"y": 2}]}`}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %q, want %q", i, got[i], want[i])
		}
	}
}
