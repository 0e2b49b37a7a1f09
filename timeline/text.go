package timeline

import (
	"io"
	"strings"
	"unicode/utf8"
)

// maxCell bounds a job column's width in the text timeline; longer labels
// are cut with "…" (the full text is in the notes column or the JSON form).
const maxCell = 40

// Text writes the run as a table for terminals: one row per event or
// command, one column per job. A job's column shows its new status where it
// changes, "|" while the job exists, BLOCK_JOB_* events as "* NAME" and
// commands as "> op" ("> op  FAILED" when refused). The last column, after
// "--", holds a refused command's error and the steps that name no job. A
// per-job summary follows.
func Text(w io.Writer, r Run) error {
	return Build(r).Text(w)
}

// Text writes the layout as Text does.
func (l *Layout) Text(w io.Writer) error {
	var b strings.Builder
	if l.Run.Title != "" {
		b.WriteString(l.Run.Title + "\n")
	}
	if l.Run.Note != "" {
		b.WriteString(wrap(l.Run.Note, 78, "  ") + "\n")
	}
	if l.Run.Failure != "" {
		b.WriteString("FAILURE: " + l.Run.Failure + "\n")
	}
	if l.Run.Title != "" || l.Run.Note != "" || l.Run.Failure != "" {
		b.WriteString("\n")
	}

	laneOf := map[string]int{}
	for i, ln := range l.Lanes {
		laneOf[ln.Job] = i
	}
	// cells[i][lane] is what the lane shows at entry i.
	cells := make([][]string, len(l.Entries))
	notes := make([]string, len(l.Entries))
	for i := range cells {
		cells[i] = make([]string, len(l.Lanes))
	}
	for li, ln := range l.Lanes {
		for _, sg := range ln.Segments {
			for i := sg.From; i < sg.To; i++ {
				cells[i][li] = "|"
			}
		}
	}
	for i, en := range l.Entries {
		switch en.Kind {
		case KindStatus:
			cells[i][laneOf[en.Job]] = en.Label
		case KindEvent:
			cells[i][laneOf[en.Job]] = "* " + en.Label
		case KindCommand:
			label := "> " + en.Label
			if en.Error != "" {
				label += "  FAILED"
				notes[i] = "-- error: " + en.Error
			}
			if en.Job == "" {
				// A step that names no job (run, advance) has no lane.
				notes[i] = "-- > " + en.Label
				if en.Error != "" {
					notes[i] += ", error: " + en.Error
				}
				continue
			}
			cells[i][laneOf[en.Job]] = label
		}
	}

	width := make([]int, len(l.Lanes))
	for li, ln := range l.Lanes {
		width[li] = max(utf8.RuneCountInString(ln.Job), 4)
		for i := range cells {
			width[li] = max(width[li], min(utf8.RuneCountInString(cells[i][li]), maxCell))
		}
	}
	timeW := len("time")
	for _, en := range l.Entries {
		timeW = max(timeW, utf8.RuneCountInString(FormatTime(en.Time)))
	}

	row := func(t string, cs []string, note string) {
		line := pad(t, timeW, true)
		for li, c := range cs {
			line += "  " + pad(cut(c, maxCell), width[li], false)
		}
		if note != "" {
			line += "  " + note
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	heads := make([]string, len(l.Lanes))
	rules := make([]string, len(l.Lanes))
	for li, ln := range l.Lanes {
		heads[li] = ln.Job
		rules[li] = strings.Repeat("-", width[li])
	}
	row("time", heads, "")
	row(strings.Repeat("-", timeW), rules, "")
	last := int64(-1)
	for i, en := range l.Entries {
		t := ""
		if en.Time != last {
			t, last = FormatTime(en.Time), en.Time
		}
		row(t, cells[i], notes[i])
	}
	b.WriteString("\n")
	for _, s := range l.Summary() {
		b.WriteString(s + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pad(s string, w int, right bool) string {
	n := utf8.RuneCountInString(s)
	if n >= w {
		return s
	}
	if right {
		return strings.Repeat(" ", w-n) + s
	}
	return s + strings.Repeat(" ", w-n)
}

func cut(s string, w int) string {
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

// wrap breaks text into lines of at most w runes, each prefixed by indent.
func wrap(text string, w int, indent string) string {
	var lines []string
	line := indent
	for _, word := range strings.Fields(text) {
		if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > w && strings.TrimSpace(line) != "" {
			lines = append(lines, line)
			line = indent
		}
		if strings.TrimSpace(line) != "" {
			line += " "
		}
		line += word
	}
	if strings.TrimSpace(line) != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
