package timeline

import (
	"strings"

	"github.com/jobfsm/jobfsm/scenario"
)

// FromScenario turns a scenario run into a Run: its event log plus every
// step as a command, with the step's arguments as detail.
func FromScenario(res *scenario.Result) Run {
	r := Run{Events: res.Events}
	var steps []scenario.Step
	if s := res.Scenario; s != nil {
		r.Title, r.Note, steps = s.Name, s.Note, s.Steps
	}
	for _, sr := range res.Steps {
		c := Command{Op: sr.Op, Job: sr.ID, Time: sr.Time, EventSeq: sr.EventSeq, Error: sr.Error}
		if sr.Index >= 0 && sr.Index < len(steps) {
			c.Detail = stepDetail(steps[sr.Index])
		}
		r.Commands = append(r.Commands, c)
	}
	return r
}

func stepDetail(st scenario.Step) string {
	switch st.Op {
	case "block-job-cancel":
		if st.Force {
			return "force"
		}
	case "advance":
		return FormatTime(st.NS)
	case "until":
		return st.Status
	case "create":
		d := ""
		if st.Txn != "" {
			d = "txn " + st.Txn
		}
		if st.ManualFinalize {
			d += " manual-finalize"
		}
		if st.ManualDismiss {
			d += " manual-dismiss"
		}
		return strings.TrimSpace(d)
	}
	return ""
}
