package tracegen

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
)

// TestDeterministic: the same seed gives the same trace, another seed a
// different one.
func TestDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	for _, x := range []struct {
		buf  *bytes.Buffer
		seed uint64
	}{{&a, 7}, {&b, 7}, {&c, 8}} {
		if err := Generate(x.buf, Options{Seed: x.seed}); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("seed 7 gave two different traces")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("seeds 7 and 8 gave the same trace")
	}
}

// TestTraceShape checks every trace of a few seeds line by line: a header
// first; trigger lines chain per job along fsm's table from undefined; verb
// lines name the job's current status; drains and monitors are well formed.
func TestTraceShape(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		var buf bytes.Buffer
		if err := Generate(&buf, Options{Seed: seed}); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		sc := bufio.NewScanner(&buf)
		var hdr Header
		if !sc.Scan() || json.Unmarshal(sc.Bytes(), &hdr) != nil || hdr.Op != "config" || hdr.N < 2 {
			t.Fatalf("seed %d: bad header %q", seed, sc.Text())
		}
		status := map[string]fsm.Status{}
		drains := map[string]int{}
		connected := map[int]bool{}
		for m := 1; m <= hdr.Monitors; m++ {
			connected[m] = true
		}
		for n := 2; sc.Scan(); n++ {
			var l Line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("seed %d line %d: %v", seed, n, err)
			}
			switch l.Op {
			case "trigger":
				if status[l.Job] != l.From || !fsm.Allows(l.From, l.To) && l.From != l.To {
					t.Fatalf("seed %d line %d: %s %s -> %s, job was %s", seed, n, l.Job, l.From, l.To, status[l.Job])
				}
				status[l.Job] = l.To
				if l.To == fsm.Null {
					drains[l.Job] = 0
				}
			case "verb":
				if status[l.Job] != l.From || (l.Verb == "cancel") != (l.Force != nil) {
					t.Fatalf("seed %d line %d: verb %s on %s in %s (job is %s)", seed, n, l.Verb, l.Job, l.From, status[l.Job])
				}
			case "drain":
				if l.Action == "begin" {
					drains[l.Job]++
				} else {
					drains[l.Job]--
				}
				if drains[l.Job] < 0 || drains[l.Job] > hdr.MaxDrains {
					t.Fatalf("seed %d line %d: %d drains on %s", seed, n, drains[l.Job], l.Job)
				}
			case "monitor":
				if l.Mon < 1 || l.Mon > hdr.Monitors {
					t.Fatalf("seed %d line %d: monitor %d of %d", seed, n, l.Mon, hdr.Monitors)
				}
				switch l.Action {
				case "connect", "disconnect":
					if connected[l.Mon] == (l.Action == "connect") {
						t.Fatalf("seed %d line %d: %s while connected=%v", seed, n, l.Action, connected[l.Mon])
					}
					connected[l.Mon] = l.Action == "connect"
				case "query":
					if !connected[l.Mon] || len(l.Seen) != hdr.N {
						t.Fatalf("seed %d line %d: bad query %s", seed, n, sc.Text())
					}
				}
			default:
				t.Fatalf("seed %d line %d: unknown op %q", seed, n, l.Op)
			}
		}
	}
}
