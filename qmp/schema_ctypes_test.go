package qmp

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// TestSizedIntegerErrors replays the answers qemu-storage-daemon 7.2 gave to
// integer members that are not int64 (recorded in
// testdata/int_ctype_errors.jsonl by probing every integer member of every
// command jobsim implements with a string, 1.5, -1, 2^32, 2^64-1 and 2^64):
// "Parameter 'server.to' expects uint64" for a non-integer,
// "Parameter 'to' expects uint16_t" out of range, and so on. The same
// requests replayed on qemu-storage-daemon 10.0.13 got the same 62
// answers, so every version must give them.
func TestSizedIntegerErrors(t *testing.T) {
	for _, v := range fsm.Versions() {
		t.Run(v.String(), func(t *testing.T) { sizedIntegerErrors(t, v) })
	}
}

func sizedIntegerErrors(t *testing.T, v fsm.Version) {
	f, err := os.Open("testdata/int_ctype_errors.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var c struct {
			Request json.RawMessage `json:"request"`
			Error   string          `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		d := NewDispatcher(Options{Version: v})
		s := d.Connect()
		s.HandleLine([]byte(`{"execute":"qmp_capabilities"}`))
		s.Take()
		s.HandleLine(c.Request)
		out := s.Take()
		if len(out) != 1 {
			t.Fatalf("%s: %d answers", c.Request, len(out))
		}
		var ans struct {
			Error struct{ Desc string } `json:"error"`
		}
		if err := json.Unmarshal(out[0], &ans); err != nil {
			t.Fatal(err)
		}
		if ans.Error.Desc != c.Error {
			t.Errorf("%s:\n got %q\nwant %q (QEMU %s)", c.Request, ans.Error.Desc, c.Error, v)
		}
	}
	if n < 60 {
		t.Fatalf("only %d recorded cases", n)
	}
}
