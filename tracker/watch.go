package tracker

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Dial opens a new QMP connection (each reconnect calls it again).
	Dial func() (*Client, error)
	// Out receives one line per change: progress, verdicts, reconnects.
	Out io.Writer
	// Poll is the longest wait for an event before reconciling anyway
	// (events are a hint: a dropped one only delays the next reconcile).
	Poll time.Duration
	// MaxBackoff bounds the wait between reconnect attempts.
	MaxBackoff time.Duration
	// Sleep waits between reconnect attempts (time.Sleep unless a test
	// replaces it).
	Sleep func(time.Duration)
}

// Watch stays connected, reconciles on every event and at least every
// Poll, prints what changed, reconnects with exponential backoff when the
// connection drops, and returns when every tracked job is settled.
func (t *Tracker) Watch(o WatchOptions) (Status, error) {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = time.Sleep
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	last := map[string]string{}
	backoff := 50 * time.Millisecond
	for {
		if t.c == nil {
			c, err := o.Dial()
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					return Status{}, err
				}
				t.opts.View.step("connect", "", "", err)
				fmt.Fprintf(o.Out, "reconnecting in %v: %v\n", backoff, err)
				o.Sleep(backoff)
				backoff = min(2*backoff, o.MaxBackoff)
				continue
			}
			t.SetClient(c)
		}
		st, err := t.Reconcile()
		if err == nil {
			backoff = 50 * time.Millisecond
			printChanges(o.Out, st, last)
			if st.Settled() {
				return st, nil
			}
			_, err = t.c.WaitEvent(o.Poll)
		}
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				return Status{}, err
			}
			t.c.Close()
			t.c = nil
			t.opts.View.step("disconnect", "", "", err)
			fmt.Fprintf(o.Out, "connection lost (%v); reconnecting\n", err)
		}
	}
}

func printChanges(w io.Writer, st Status, last map[string]string) {
	for _, id := range st.SortedJobIDs() {
		j := st.Jobs[id]
		var line string
		if j.Verdict == Running {
			line = fmt.Sprintf("%s: running (%s) %d/%d", id, j.State, j.Current, j.Total)
		} else {
			line = fmt.Sprintf("%s: %s", id, j.Verdict)
			if j.Error != "" {
				line += ": " + j.Error
			}
		}
		if last[id] != line {
			last[id] = line
			fmt.Fprintln(w, line)
		}
	}
}
