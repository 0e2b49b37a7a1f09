package fsm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
)

// Each version's typed-in job.c tables (fsm/testdata) and the verbs QAPI's
// JobVerb has in that version, written out here, not read from fsm.
var versionTestdata = []struct {
	v           fsm.Version
	stt, verbs  string
	verbNames   []string
	tlaModule   string
	tlaComment  string
	markdownHas []string
}{
	{fsm.QEMU7_2, "testdata/qemu72_jobstt.txt", "testdata/qemu72_jobverbtable.txt",
		[]string{"cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize"},
		"JobTable", "\\* QEMU 7.2 job.c JobSTT and JobVerbTable.", nil},
	{fsm.QEMU10_0, "testdata/qemu-10.0_jobstt.txt", "testdata/qemu-10.0_jobverbtable.txt",
		[]string{"cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize", "change"},
		"JobTable10_0", "\\* QEMU 10.0 job.c JobSTT and JobVerbTable.",
		[]string{"| change | . | 1 | 1 | 1 | 1 | 1 | . | . | . | . | . |\n"}},
}

// Every version's table against its own typed-in job.c arrays, cell by cell:
// JobSTT through Allows, JobVerbTable through Permits and a job's machine for
// every verb of the enum (a verb missing from the version's array, change in
// 7.2, must be refused everywhere).
func TestEveryVersionMatchesItsJobC(t *testing.T) {
	for _, c := range versionTestdata {
		t.Run(c.v.String(), func(t *testing.T) {
			tab := fsm.For(c.v)
			if tab.Version() != c.v {
				t.Fatalf("For(%s).Version() = %s", c.v, tab.Version())
			}
			var names []string
			for _, v := range tab.Verbs() {
				names = append(names, v.String())
			}
			if diff := cmp.Diff(c.verbNames, names); diff != "" {
				t.Errorf("Verbs (-qapi +fsm):\n%s", diff)
			}
			stt := readMatrix(t, c.stt)
			edges := 0
			for fi, from := range qapiStatuses {
				for ti, to := range qapiStatuses {
					if got := tab.Allows(fsm.Status(fi), fsm.Status(ti)); got != stt[from][ti] {
						t.Errorf("Allows(%s, %s) = %v, job.c says %v", from, to, got, stt[from][ti])
					}
					if stt[from][ti] {
						edges++
					}
				}
			}
			if len(tab.Transitions()) != edges {
				t.Errorf("Transitions() has %d edges, job.c %d", len(tab.Transitions()), edges)
			}
			vt := readMatrix(t, c.verbs)
			if len(vt) != len(c.verbNames) {
				t.Errorf("%s has %d rows, the version has %d verbs", c.verbs, len(vt), len(c.verbNames))
			}
			for _, name := range []string{"cancel", "pause", "resume", "set-speed", "complete", "dismiss", "finalize", "change"} {
				v := verbNamed(t, name)
				row := vt[name] // nil (all refused) for a verb the version lacks
				_, known := tab.ParseVerb(name)
				if known != (row != nil) {
					t.Errorf("ParseVerb(%q) knows it: %v; job.c has the row: %v", name, known, row != nil)
				}
				var accepting []string
				for si, sname := range qapiStatuses {
					s := fsm.Status(si)
					want := row != nil && row[si]
					if got := tab.Permits(s, v); got != want {
						t.Errorf("Permits(%s, %s) = %v, job.c says %v", sname, name, got, want)
					}
					err := tab.NewMachine(&job{status: s}).CheckVerb("j0", v)
					if want {
						accepting = append(accepting, sname)
						if err != nil {
							t.Errorf("CheckVerb(%s, %s) = %v, want nil", sname, name, err)
						}
						continue
					}
					wantText := fmt.Sprintf("Job 'j0' in state '%s' cannot accept command verb '%s'", sname, name)
					var ve *fsm.VerbError
					if !errors.As(err, &ve) || err.Error() != wantText {
						t.Errorf("CheckVerb(%s, %s) = %v, want %q", sname, name, err, wantText)
					}
				}
				var got []string
				for _, s := range tab.AcceptingStatuses(v) {
					got = append(got, s.String())
				}
				if diff := cmp.Diff(accepting, got); diff != "" {
					t.Errorf("AcceptingStatuses(%s) (-job.c +fsm):\n%s", name, diff)
				}
			}
		})
	}
}

// verbNamed finds a verb of the enum by name whatever the version: the
// default's ParseVerb does not know change, so look through 10.0's.
func verbNamed(t *testing.T, name string) fsm.Verb {
	t.Helper()
	v, ok := fsm.For(fsm.QEMU10_0).ParseVerb(name)
	if !ok {
		t.Fatalf("no verb %q in the enum", name)
	}
	return v
}

// The versions differ in the verb rows only: the trigger rules, the derived
// targets and the drain/pause answers are the same table.
func TestVersionsShareTheTriggerRules(t *testing.T) {
	t72, t10 := fsm.For(fsm.QEMU7_2), fsm.For(fsm.QEMU10_0)
	if diff := cmp.Diff(t72.Rules(), t10.Rules()); diff != "" {
		t.Errorf("rules differ (-7.2 +10.0):\n%s", diff)
	}
	if len(t10.Rules()) != 17 {
		t.Errorf("10.0 has %d rules, want 17", len(t10.Rules()))
	}
	for _, s := range fsm.Statuses() {
		for _, tr := range fsm.Triggers() {
			a, aok := t72.Target(s, tr)
			b, bok := t10.Target(s, tr)
			if a != b || aok != bok {
				t.Errorf("Target(%s, %s): 7.2 %s %v, 10.0 %s %v", s, tr, a, aok, b, bok)
			}
		}
		if t72.Drainable(s) != t10.Drainable(s) || t72.InPause(s) != t10.InPause(s) {
			t.Errorf("%s: drainable/in-pause differ between versions", s)
		}
	}
}

// A job's machine fires through the table it was made from: change is
// accepted by a 10.0 job in running and refused by a 7.2 one, and the
// package-level functions answer for 7.2.
func TestMachineRemembersItsTable(t *testing.T) {
	change := verbNamed(t, "change")
	m10 := fsm.For(fsm.QEMU10_0).NewMachine(&job{status: fsm.Running})
	m72 := fsm.For(fsm.QEMU7_2).NewMachine(&job{status: fsm.Running})
	if m10.Table() != fsm.For(fsm.QEMU10_0) || m72.Table() != fsm.For(fsm.QEMU7_2) {
		t.Fatal("a machine does not report the table it was made from")
	}
	if !m10.Accepts(change) || m72.Accepts(change) || fsm.NewMachine(&job{status: fsm.Running}).Accepts(change) {
		t.Errorf("change in running: 10.0 %v (want true), 7.2 %v, default %v (want false)",
			m10.Accepts(change), m72.Accepts(change), fsm.NewMachine(&job{status: fsm.Running}).Accepts(change))
	}
	if fsm.Permits(fsm.Running, change) || len(fsm.Verbs()) != 7 {
		t.Errorf("the package-level table must be 7.2's: Permits(running, change) %v, %d verbs",
			fsm.Permits(fsm.Running, change), len(fsm.Verbs()))
	}
	if _, _, err := m10.Fire(fsm.TriggerPausePoint); err != nil {
		t.Fatalf("10.0 running -> paused: %v", err)
	}
	if !m10.Accepts(change) {
		t.Error("10.0 refuses change in paused")
	}
}

// 7.2's renderings are today's (no change anywhere); 10.0's add the change
// row and its module name, and nothing else.
func TestRenderingsPerVersion(t *testing.T) {
	for _, c := range versionTestdata {
		tab := fsm.For(c.v)
		md := tab.Markdown()
		if strings.Contains(md, "change") != (c.v != fsm.QEMU7_2) {
			t.Errorf("%s markdown mentions change: %v", c.v, strings.Contains(md, "change"))
		}
		for _, want := range c.markdownHas {
			if !strings.Contains(md, want) {
				t.Errorf("%s markdown lacks %q", c.v, want)
			}
		}
		tla := tab.TLA()
		first, _, _ := strings.Cut(tla, "\n")
		if tab.TLAModule() != c.tlaModule || !strings.Contains(first, " MODULE "+c.tlaModule+" ") || !strings.Contains(tla, c.tlaComment+"\n") {
			t.Errorf("%s TLA+ module %q, first line %q", c.v, tab.TLAModule(), first)
		}
		for _, f := range fsm.Formats {
			out, err := tab.Render(f)
			// Mermaid draws the JobSTT edges only, which no version changed.
			wantChange := c.v != fsm.QEMU7_2 && f != "mermaid"
			if err != nil || strings.Contains(string(out), "change") != wantChange {
				t.Errorf("%s Render(%s): error %v, mentions change %v", c.v, f, err, strings.Contains(string(out), "change"))
			}
		}
	}
	if _, err := fsm.For(fsm.QEMU10_0).Render("yaml"); err == nil {
		t.Error("Render(yaml) succeeded")
	}
	// 10.0's markdown is 7.2's plus the one row.
	md72, md10 := fsm.For(fsm.QEMU7_2).Markdown(), fsm.For(fsm.QEMU10_0).Markdown()
	if strings.Replace(md10, versionTestdata[1].markdownHas[0], "", 1) != md72 {
		t.Error("10.0's markdown differs from 7.2's by more than the change row")
	}
}
