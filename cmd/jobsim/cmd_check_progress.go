package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports a long check on stderr: a redrawn bar when stderr is a
// terminal, otherwise a plain line at every tenth of the way (so CI logs and
// pipes stay readable).
type progress struct {
	w       io.Writer
	tty     bool
	now     func() time.Time
	lastAt  time.Time
	lastTen int    // plain mode: the last tenth printed
	phase   string // plain mode: the phase lastTen belongs to
	drawn   bool   // tty mode: a bar is on the current line
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w), now: time.Now, lastTen: -1}
}

// update reports done of total units of phase; detail is a short status
// such as "12345 states".
func (p *progress) update(phase string, done, total int64, detail string) {
	if total <= 0 {
		total = 1
	}
	done = min(max(done, 0), total)
	pct := int(done * 100 / total)
	if !p.tty {
		ten := pct / 10
		if phase != p.phase {
			p.phase, p.lastTen = phase, -1
		}
		if ten > p.lastTen {
			p.lastTen = ten
			fmt.Fprintf(p.w, "check: %s %3d%% %s\n", phase, ten*10, detail)
		}
		return
	}
	// Redraw at most every 100ms, and always at the end of a phase.
	if t := p.now(); done < total && t.Sub(p.lastAt) < 100*time.Millisecond {
		return
	} else {
		p.lastAt = t
	}
	const width = 30
	fill := int(done * width / total)
	fmt.Fprintf(p.w, "\r\033[K%-9s [%s%s] %3d%% %s", phase, strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct, detail)
	p.drawn = true
}

// finish ends the current bar's line (terminal mode).
func (p *progress) finish() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\n")
		p.drawn = false
	}
}
