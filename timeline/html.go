package timeline

import (
	"fmt"
	"io"
	"strings"
)

// HTML writes the run as one self-contained page (no scripts, no external
// files): title, note, failure, the SVG timeline inline, the per-job summary
// and the full log with every event's QMP data.
func HTML(w io.Writer, r Run) error { return Build(r).HTML(w) }

// HTML writes the layout as HTML does.
func (l *Layout) HTML(w io.Writer) error {
	var b strings.Builder
	title := l.Run.Title
	if title == "" {
		title = "jobsim timeline"
	}
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title))
	b.WriteString(`<style>
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 20px; margin: 0 0 6px 0; }
p.note { max-width: 70em; color: #424242; margin: 4px 0 12px 0; }
div.failure { border-left: 6px solid #c62828; background: #ffebee; padding: 8px 12px; margin: 8px 0 16px 0; font-weight: bold; }
div.picture { overflow-x: auto; border: 1px solid #e0e0e0; margin: 8px 0 16px 0; }
ul.summary { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
table.log { border-collapse: collapse; font-size: 12px; }
table.log th, table.log td { border-bottom: 1px solid #eeeeee; padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
table.log td.data { font-family: "DejaVu Sans Mono", monospace; color: #555555; }
tr.command td { color: #0d47a1; font-weight: bold; }
tr.refused td { color: #c62828; font-weight: bold; }
span.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
</style>
</head>
<body>
`)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", esc(title))
	if l.Run.Note != "" {
		fmt.Fprintf(&b, "<p class=\"note\">%s</p>\n", esc(l.Run.Note))
	}
	if l.Run.Failure != "" {
		fmt.Fprintf(&b, "<div class=\"failure\">%s</div>\n", esc(l.Run.Failure))
	}
	b.WriteString("<div class=\"picture\">\n")
	b.WriteString(l.svg(false))
	b.WriteString("</div>\n<h2 style=\"font-size:16px\">Per job</h2>\n<ul class=\"summary\">\n")
	for _, s := range l.Summary() {
		fmt.Fprintf(&b, "<li>%s</li>\n", esc(s))
	}
	b.WriteString("</ul>\n<h2 style=\"font-size:16px\">Log</h2>\n<table class=\"log\">\n<tr><th>#</th><th>time</th><th>job</th><th>what</th><th>details</th></tr>\n")
	for i, en := range l.Entries {
		class, what, data := "", en.Label, ""
		switch en.Kind {
		case KindStatus:
			what = fmt.Sprintf("<span class=\"swatch\" style=\"background:%s\"></span>%s", statusColor[en.Status], esc(en.Label))
			data = esc(dataJSON(en.Event.Data()))
		case KindEvent:
			what = esc(string(en.Event.Name))
			data = esc(dataJSON(en.Event.Data()))
		case KindCommand:
			class, what = "command", "▶ "+esc(en.Label)
			if en.Error != "" {
				class, data = "refused", "error: "+esc(en.Error)
			}
		}
		fmt.Fprintf(&b, "<tr class=\"%s\"><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td class=\"data\">%s</td></tr>\n",
			class, i+1, esc(FormatTime(en.Time)), esc(en.Job), what, data)
	}
	b.WriteString("</table>\n</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
