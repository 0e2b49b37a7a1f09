package qmp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// QEMU writes a double id that overflowed as a bare inf (not JSON); so do we.
var nonFinite = regexp.MustCompile(`([:\[,] ?)(-?inf|nan)([,\]}])`)

// checkOutput asserts every line the server wrote is a QMP message: the
// greeting, a return, an error with class and desc, or an event.
func checkOutput(t *testing.T, lines [][]byte) {
	t.Helper()
	for _, l := range lines {
		var m map[string]any
		if bytes.Contains(l, []byte("inf")) || bytes.Contains(l, []byte("nan")) {
			l = nonFinite.ReplaceAll(l, []byte("${1}null$3"))
		}
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("output is not a JSON object: %.200q: %v", l, err)
		}
		switch {
		case m["QMP"] != nil, m["return"] != nil, m["event"] != nil:
		case m["error"] != nil:
			e, _ := m["error"].(map[string]any)
			if _, ok := e["class"].(string); !ok {
				t.Fatalf("error without class: %.200q", l)
			}
			if _, ok := e["desc"].(string); !ok {
				t.Fatalf("error without desc: %.200q", l)
			}
		default:
			t.Fatalf("not a QMP message: %.200q", l)
		}
	}
}

// FuzzDispatch feeds arbitrary bytes to a negotiated session: the decoder
// and the dispatcher (argument checks, every command, the test jobs) must
// never panic and must answer only with QMP messages.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		`{"execute":"query-jobs"}`,
		`{"execute":"job-pause","arguments":{"id":"j0"}}`,
		`{"execute":"x-jobsim-test-job","arguments":{"id":"j0","steps":2,"ready":true}}{"execute":"job-complete","arguments":{"id":"j0"}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"n0","size":1048576}}`,
		`{"execute":"block-dirty-bitmap-add","arguments":{"node":"n0","name":"b","granularity":512}}`,
		`{"execute":"block-dirty-bitmap-merge","arguments":{"node":"n0","target":"b","bitmaps":["b",{"node":"n0","name":"b"}]}}`,
		`{"execute":"transaction","arguments":{"actions":[{"type":"abort","data":{}}]}}`,
		`{"execute":"blockdev-backup","arguments":{"job-id":"j","device":"n0","target":"n0","sync":"full","speed":99999999999999999999}}`,
		`{'execute':'query-block-jobs','id':[1,2.5e400,-0,"\u00e9"]}`,
		`{"execute":"query-jobs","id":` + strings.Repeat("[", 1100),
		`{"a":@} 01 -} "\ud800" [1 2] {1:2} tru`,
		`{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}{"exec-oob":"query-jobs"}`,
		`{"execute":"block-job-set-speed","arguments":{"device":"j0","speed":-9223372036854775808}}`,
		"{\"execute\":\"query-jobs\",\"id\":\"\x01\"}\xff\xfe{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDispatcher(Options{TestCommands: true, Epoch: time.Unix(1, 0)})
		s := d.Connect()
		s.HandleLine([]byte(`{"execute":"qmp_capabilities"}`))
		s.HandleLine(data)
		// let the simulator run a bounded while: test jobs may be long
		for i := 0; i < 1000 && d.m.Step(); i++ {
			d.m.Settle()
		}
		checkOutput(t, s.Take())
	})
}

// serve runs a stdio-style server over in and returns what it wrote.
func serve(t *testing.T, in io.Reader) [][]byte {
	t.Helper()
	srv := NewServer(ServerOptions{Options: Options{TestCommands: true}, Clock: ClockVirtual})
	var out bytes.Buffer
	srv.Attach(in, &out, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background(), true) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop after its input closed")
	}
	return bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
}

// TestStreamEdges: huge lines, deep nesting, partial messages and an abrupt
// close end in QMP errors or a clean close, never a hang or a panic.
func TestStreamEdges(t *testing.T) {
	neg := `{"execute":"qmp_capabilities"}` + "\n"
	cases := []struct {
		name  string
		input string
		want  []string // substrings of the lines after greeting and negotiation
	}{
		{"10MiB string", neg + `{"execute":"query-jobs","id":"` + strings.Repeat("x", 10<<20) + `"}` + "\n" + `{"execute":"query-jobs","id":2}`,
			[]string{`{"return": [], "id": "xxxx`, `{"return": [], "id": 2}`}},
		{"10MiB of brackets", neg + strings.Repeat("[", 10<<20) + "\n" + `{"execute":"query-jobs","id":3}`,
			[]string{"JSON nesting depth limit exceeded"}},
		{"partial message then close", neg + `{"execute":"query-jobs","id":4}{"execute":"query-`, []string{`{"return": [], "id": 4}`}},
		{"garbage then close", neg + "\x00\xff@@@", []string{"stray"}},
		{"quit", neg + `{"execute":"quit"}` + "\n" + `{"execute":"query-jobs"}`, []string{`{"return": {}}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := serve(t, strings.NewReader(c.input))
			checkOutput(t, lines)
			if len(lines) < 2 {
				t.Fatalf("got %d lines", len(lines))
			}
			rest := lines[2:]
			for _, w := range c.want {
				found := false
				for _, l := range rest {
					if bytes.Contains(l, []byte(w)) {
						found = true
					}
				}
				if !found {
					t.Errorf("no line contains %q", w)
				}
			}
			if c.name == "quit" && len(rest) != 1 {
				t.Errorf("commands after quit were answered: %d lines", len(rest))
			}
		})
	}
}
