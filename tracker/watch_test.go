package tracker

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWatchReconnects: watch follows two backups while its connection
// breaks mid-command and the first redial is refused; it reconnects with
// backoff, decides both jobs and leaves none in QEMU. Virtual time moves
// only while watch waits (for an event or for its backoff), so the run is
// exact.
func TestWatchReconnects(t *testing.T) {
	w := newWorld(t, t.TempDir(), noBug)
	defer func() { _ = w.tr.Journal().Close() }()
	w.start("", w.spec("s0", "", "full", "on-success"))
	w.start("", w.spec("s1", "", "full", ""))
	idle := func() { w.d.Advance(50e6) }
	w.conn.idle = idle
	w.conn.breakAt = w.conn.n + 4
	var out bytes.Buffer
	var slept []time.Duration
	dials := 0
	st, err := w.tr.Watch(WatchOptions{
		Dial: func() (*Client, error) {
			dials++
			if dials == 1 {
				return nil, &ProtocolError{Op: "connect", Err: errors.New("connection refused")}
			}
			c := newSimConn(w.d)
			c.idle = idle
			return NewClient(c, 0)
		},
		Out:   &out,
		Poll:  time.Second,
		Sleep: func(d time.Duration) { slept = append(slept, d); w.d.Advance(int64(d)) },
	})
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, &out)
	}
	text := out.String()
	for _, want := range []string{"connection lost (QMP ", "reconnecting in 50ms: QMP connect: connection refused",
		"b1: succeeded\n", "b2: succeeded\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("watch output lacks %q:\n%s", want, text)
		}
	}
	if len(slept) != 1 || slept[0] != 50*time.Millisecond {
		t.Errorf("backoff sleeps %v, want [50ms]", slept)
	}
	if !st.Settled() || len(w.runningIDs()) != 0 {
		t.Fatalf("watch returned unsettled or left jobs in QEMU: %+v", st.Jobs)
	}
	w.check(st)
}
