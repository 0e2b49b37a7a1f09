package timeline

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

// Geometry of the picture, in SVG user units (pixels).
const (
	colW    = 30  // one entry
	laneH   = 40  // one job
	segH    = 22  // a status segment's height
	leftW   = 120 // job names
	headH   = 200 // rotated entry labels
	axisH   = 22  // virtual time ticks
	legendH = 74
	padR    = 160 // the last rotated labels lean right
)

// SVG writes the run as a standalone SVG picture.
func SVG(w io.Writer, r Run) error { return Build(r).SVG(w) }

// SVG writes the layout as a standalone SVG picture: a header of rotated
// labels, one column per entry, then one lane per job with its statuses as
// coloured segments, BLOCK_JOB_* events as circles on the segment's lower
// edge and commands as triangles above it (red when refused); hovering any
// mark shows its details.
func (l *Layout) SVG(w io.Writer) error {
	_, err := io.WriteString(w, l.svg(true))
	return err
}

func esc(s string) string { return html.EscapeString(s) }

func (l *Layout) colX(i int) int { return leftW + i*colW + colW/2 }

func (l *Layout) svg(standalone bool) string {
	n := len(l.Entries)
	width := leftW + max(n, 1)*colW + padR
	width = max(width, 720) // room for the legend
	lanesTop := headH + axisH
	height := lanesTop + max(len(l.Lanes), 1)*laneH + 10 + legendH

	var b strings.Builder
	ns := ""
	if standalone {
		ns = ` xmlns="http://www.w3.org/2000/svg"`
	}
	fmt.Fprintf(&b, `<svg%s width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">`+"\n", ns, width, height, width, height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)

	// Alternate lane backgrounds and job names.
	for li, ln := range l.Lanes {
		y := lanesTop + li*laneH
		if li%2 == 1 {
			fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="#f5f5f5"/>`+"\n", y, width, laneH)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-weight="bold" font-size="13">%s</text>`+"\n", leftW-12, y+laneH/2+5, esc(cut(ln.Job, 14)))
	}

	// Column grid and rotated header labels.
	for i, en := range l.Entries {
		x := l.colX(i)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#e0e0e0" stroke-width="1"/>`+"\n", x, headH, x, lanesTop+len(l.Lanes)*laneH)
		label, color, weight := en.Label, "#555555", "normal"
		if en.Job != "" {
			label = en.Job + " " + label
		}
		switch en.Kind {
		case KindCommand:
			label, color, weight = "▶ "+label, "#0d47a1", "bold"
			if en.Error != "" {
				label, color = label+" ✗", "#c62828"
			}
		case KindEvent:
			color = eventColor(en.Event)
		}
		fmt.Fprintf(&b, `<text transform="translate(%d,%d) rotate(-55)" fill="%s" font-weight="%s">%s<title>%s</title></text>`+"\n",
			x+4, headH-4, color, weight, esc(cut(label, 32)), esc(l.detail(i)))
	}

	// Virtual time, printed where it advances.
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#777777" font-size="11">virtual time</text>`+"\n", leftW-12, headH+15)
	last := int64(-1)
	lastX := -1000
	for i, en := range l.Entries {
		if en.Time == last {
			continue
		}
		last = en.Time
		x := l.colX(i)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#9e9e9e" stroke-width="1"/>`+"\n", x, headH+2, x, headH+axisH-2)
		if x-lastX >= 48 { // skip labels that would overlap the previous one
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#616161" font-size="11">%s</text>`+"\n", x+3, headH+15, esc(FormatTime(en.Time)))
			lastX = x
		}
	}

	// Status segments, then marks on top.
	for li, ln := range l.Lanes {
		yMid := lanesTop + li*laneH + laneH/2
		for _, sg := range ln.Segments {
			x0 := l.colX(sg.From)
			x1 := leftW + sg.To*colW
			if sg.To < n {
				x1 = l.colX(sg.To)
			}
			wd := max(x1-x0, 6)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="#ffffff" stroke-width="1"><title>%s: %s</title></rect>`+"\n",
				x0, yMid-segH/2, wd, segH, statusColor[sg.Status], esc(ln.Job), sg.Status)
			name := sg.Status.String()
			if wd >= 7*len(name)+8 {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" font-size="11" pointer-events="none">%s</text>`+"\n", x0+5, yMid+4, textOn(sg.Status), name)
			}
		}
		if ln.End >= 0 {
			x := l.colX(ln.End)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="4" height="%d" fill="#000000"><title>%s: null (dismissed)</title></rect>`+"\n", x-2, yMid-segH/2-3, segH+6, esc(ln.Job))
		}
		for _, i := range ln.Marks {
			en := l.Entries[i]
			x := l.colX(i)
			switch en.Kind {
			case KindEvent:
				// On the bar's lower edge, clear of the status name.
				fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="6" fill="%s" stroke="#ffffff" stroke-width="2"><title>%s</title></circle>`+"\n", x, yMid+segH/2, eventColor(en.Event), esc(l.detail(i)))
			case KindCommand:
				fill := "#0d47a1"
				if en.Error != "" {
					fill = "#c62828"
				}
				top := yMid - segH/2 - 2
				fmt.Fprintf(&b, `<path d="M %d %d L %d %d L %d %d Z" fill="%s" stroke="#ffffff" stroke-width="1"><title>%s</title></path>`+"\n",
					x-7, top-9, x+7, top-9, x, top+3, fill, esc(l.detail(i)))
			}
		}
	}

	l.legend(&b, lanesTop+max(len(l.Lanes), 1)*laneH+14)
	b.WriteString("</svg>\n")
	return b.String()
}

// legend draws the status colours and the mark shapes.
func (l *Layout) legend(b *strings.Builder, y int) {
	x := 12
	for _, s := range fsm.Statuses() {
		if s == fsm.Undefined || s == fsm.Null {
			continue
		}
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="14" rx="3" fill="%s"/><text x="%d" y="%d" font-size="11">%s</text>`+"\n", x, y, statusColor[s], x+18, y+11, s)
		x += 26 + 7*len(s.String())
	}
	y += 26
	x = 12
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="4" height="16" fill="#000000"/><text x="%d" y="%d" font-size="11">null</text>`+"\n", x+5, y-2, x+16, y+11)
	x += 56
	for _, m := range []struct{ color, text string }{
		{"#1b5e20", "COMPLETED"}, {"#b71c1c", "COMPLETED with error"}, {"#e65100", "CANCELLED"},
		{"#0d47a1", "READY"}, {"#4a148c", "PENDING"}, {"#d50000", "ERROR"},
	} {
		fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="6" fill="%s"/><text x="%d" y="%d" font-size="11">%s</text>`+"\n", x+6, y+6, m.color, x+16, y+10, m.text)
		x += 28 + 7*len(m.text)
	}
	y += 22
	x = 12
	fmt.Fprintf(b, `<path d="M %d %d L %d %d L %d %d Z" fill="#0d47a1"/><text x="%d" y="%d" font-size="11">command</text>`+"\n", x, y, x+14, y, x+7, y+12, x+18, y+10)
	x += 82
	fmt.Fprintf(b, `<path d="M %d %d L %d %d L %d %d Z" fill="#c62828"/><text x="%d" y="%d" font-size="11">refused command (hover for the error)</text>`+"\n", x, y, x+14, y, x+7, y+12, x+18, y+10)
}

// detail is the hover text of entry i: the event's QMP payload or the
// command with its outcome.
func (l *Layout) detail(i int) string {
	en := l.Entries[i]
	t := "t=" + FormatTime(en.Time) + " "
	switch en.Kind {
	case KindCommand:
		s := t + en.Label
		if en.Job != "" {
			s = t + en.Label + " " + en.Job
		}
		if en.Error != "" {
			return s + " -> error: " + en.Error
		}
		return s + " -> ok"
	default:
		return t + string(en.Event.Name) + " " + dataJSON(en.Event.Data())
	}
}

// dataJSON renders an event's data with sorted keys.
func dataJSON(d map[string]any) string {
	keys := slices.Sorted(maps.Keys(d))
	parts := make([]string, len(keys))
	for i, k := range keys {
		v, _ := json.Marshal(d[k])
		parts[i] = fmt.Sprintf("%q: %s", k, v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
