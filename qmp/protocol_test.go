package qmp

import (
	"strings"
	"testing"
	"time"
)

// The expected lines below were produced by qemu-storage-daemon 7.2.22
// (Debian 1:7.2+dfsg-7+deb12u18) for the same input, byte for byte.
var qemuGreeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}`

func session(t *testing.T, opts Options) (*Dispatcher, *Session) {
	t.Helper()
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Unix(1700000000, 0)
	}
	d := NewDispatcher(opts)
	return d, d.Connect()
}

func exchange(s *Session, input string) []string {
	s.HandleLine([]byte(input))
	var out []string
	for _, l := range s.Take() {
		out = append(out, string(l))
	}
	return out
}

func checkLines(t *testing.T, got []string, want string) {
	t.Helper()
	w := strings.Split(strings.TrimSpace(want), "\n")
	for i := 0; i < len(w) || i < len(got); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(got) {
			b = got[i]
		}
		if a != b {
			t.Errorf("line %d:\nwant %s\ngot  %s", i, a, b)
		}
	}
}

func TestNegotiationAndRequestChecks(t *testing.T) {
	_, s := session(t, Options{})
	in := `{"execute":"query-version"}
{"execute":"qmp_capabilities","id":1}
{"execute":"qmp_capabilities","id":2}
{"execute":"query-version","id":3}
{"execute":"nope","id":4}
{"execute":"job-pause","id":5}
{"execute":"job-pause","arguments":{"id":1},"id":6}
{"execute":"job-pause","arguments":{"id":"x","foo":1},"id":7}
{"execute":"block-job-set-speed","arguments":{"device":"a","speed":"x"},"id":9}
{"execute":"block-job-set-speed","arguments":{"device":"a","speed":1.5},"id":10}
{"execute":"block-job-set-speed","arguments":{"device":"a","speed":99999999999999999999},"id":11}
{"foo":1}
[1]
{"execute":1}
garbage
{"execute":"query-jobs","arguments":[]}
{"execute":"query-jobs","id":{"a":[1]}}
{"exec-oob":"query-jobs","id":4}
{"execute":"query-jobs","control":{},"id":5}
{"execute":"query-jobs","id":6,"id":7}
{"execute":"job-pause","arguments":{"id":"nope"}}
{"execute":"block-job-pause","arguments":{"device":"nope"}}
{"execute":"quit","id":"q"}
`
	want := qemuGreeting + `
{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}}
{"return": {}, "id": 1}
{"id": 2, "error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}}
{"return": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "id": 3}
{"id": 4, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}
{"id": 5, "error": {"class": "GenericError", "desc": "Parameter 'id' is missing"}}
{"id": 6, "error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: string"}}
{"id": 7, "error": {"class": "GenericError", "desc": "Parameter 'foo' is unexpected"}}
{"id": 9, "error": {"class": "GenericError", "desc": "Invalid parameter type for 'speed', expected: integer"}}
{"id": 10, "error": {"class": "GenericError", "desc": "Invalid parameter type for 'speed', expected: integer"}}
{"id": 11, "error": {"class": "GenericError", "desc": "Invalid parameter type for 'speed', expected: integer"}}
{"error": {"class": "GenericError", "desc": "QMP input member 'foo' is unexpected"}}
{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}
{"error": {"class": "GenericError", "desc": "QMP input member 'execute' must be a string"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword 'garbage'"}}
{"error": {"class": "GenericError", "desc": "QMP input member 'arguments' must be an object"}}
{"return": [], "id": {"a": [1]}}
{"id": 4, "error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is unexpected"}}
{"id": 5, "error": {"class": "GenericError", "desc": "QMP input member 'control' is unexpected"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, duplicate key"}}
{"error": {"class": "GenericError", "desc": "Job not found"}}
{"error": {"class": "DeviceNotActive", "desc": "Block job 'nope' not found"}}
{"return": {}, "id": "q"}
`
	got := exchange(s, in)
	checkLines(t, got, want)
}

// TestMalformedJSON: QEMU's lexer and parser texts, and its recovery (a
// lexical error skips to the next structural or control character).
func TestMalformedJSON(t *testing.T) {
	_, s := session(t, Options{})
	exchange(s, `{"execute":"qmp_capabilities"}`)
	in := `{"execute":"query-jobs",}
{"execute":"query-jobs"
}
{"execute" "x"}
{'execute':'query-jobs','id':'sq'}
"str"
123
{"execute":"query-jobs","id":1}}
{"execute":"query-jobs","id":2.5e400}
{"execute":"query-jobs","id":"\u0000"}
{"execute":"query-jobs","id":"\x"}
{"execute":"query-jobs","id":1} {"execute":"query-jobs","id":2}
@
{"a":@}
{"execute":"query-jobs","id":01}
{"execute":"query-jobs","id":-}
{"execute":"query-jobs","id":"\ud800"}
{"execute":"query-jobs","id":[1,]}
{"execute":"query-jobs","id":[1 2]}
{"execute":"query-jobs" "id":1}
{1:2}
{"execute":"query-jobs","id":tru}
{"execute":"query-jobs","id":"é"}
]
{"execute":"query-jobs","id":null}
{"execute":"query-jobs","id":-5}
{"execute":"query-jobs","id":1.5}
{"execute":"query-jobs","id":18446744073709551615}
{"execute":"query-jobs","id":1e3}
{"execute":"query-jobs","id":"a\/b\n"}
`
	want := `{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"return": []}
{"error": {"class": "GenericError", "desc": "JSON parse error, missing : in object pair"}}
{"return": [], "id": "sq"}
{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}
{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}
{"return": [], "id": 1}
{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"return": [], "id": inf}
{"return": [], "id": "\u0000"}
{"error": {"class": "GenericError", "desc": "JSON parse error, invalid escape sequence in string"}}
{"return": [], "id": 1}
{"return": [], "id": 2}
{"error": {"class": "GenericError", "desc": "JSON parse error, stray '@'"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, stray '@'"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, stray '01'"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, stray '-}'"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, \\ud800 is not a valid Unicode character"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, expected separator in list"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, expected separator in dict"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, key is not a string in object"}}
{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword 'tru'"}}
{"return": [], "id": "\u00E9"}
{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}
{"return": [], "id": null}
{"return": [], "id": -5}
{"return": [], "id": 1.5}
{"return": [], "id": 18446744073709551615}
{"return": [], "id": 1000}
{"return": [], "id": "a/b\n"}
`
	checkLines(t, exchange(s, in), want)
}
