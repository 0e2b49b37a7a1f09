package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// changeRow is 10.0's JobVerbTable row change as `jobsim table` prints it:
// accepted in created, running, paused, ready and standby (written out from
// fsm/testdata/qemu-10.0_jobverbtable.txt, not rendered by fsm).
const changeRow = "| change | . | 1 | 1 | 1 | 1 | 1 | . | . | . | . | . |\n"

// --qemu picks the table jobsim table prints: 10.0's has the change row in
// markdown (and the verb in json), 7.2's (the default) has not.
func TestTableQemuFlag(t *testing.T) {
	code, md10, errOut := jobsim(t, "table", "--qemu", "10.0", "--format", "markdown")
	if code != exitOK || !strings.Contains(md10, changeRow) {
		t.Errorf("table --qemu 10.0: exit %d (%s), change row missing:\n%s", code, errOut, md10)
	}
	_, md72, _ := jobsim(t, "table", "--qemu", "7.2", "--format", "markdown")
	_, mdDefault, _ := jobsim(t, "table")
	if strings.Contains(md72, "change") || md72 != mdDefault {
		t.Errorf("7.2's table mentions change or differs from the default:\n%s", md72)
	}
	if strings.Replace(md10, changeRow, "", 1) != md72 {
		t.Error("10.0's markdown table differs from 7.2's by more than the change row")
	}
	_, js, _ := jobsim(t, "table", "--qemu", "10.0", "--format", "json")
	var got struct {
		Verbs map[string][]string `json:"verbs"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Verbs) != 8 || strings.Join(got.Verbs["change"], " ") != "created running paused ready standby" {
		t.Errorf("10.0 json verbs: %v", got.Verbs)
	}
	_, tla, _ := jobsim(t, "table", "--qemu", "10.0", "--format", "tla")
	if !strings.Contains(tla, " MODULE JobTable10_0 ") {
		t.Errorf("10.0's TLA+ module: %.80s", tla)
	}
}

// An unknown version: one line naming the versions, exit 2, on every
// command that takes --qemu.
func TestQemuFlagRejectsUnknownVersions(t *testing.T) {
	for _, args := range [][]string{
		{"table", "--qemu", "9.0"},
		{"explore", "--config", "../../tla/MC_txn.cfg", "--qemu", "10"},
		{"check", "--qemu", "8.2", "--no-campaign"},
		{"run", "--qemu", "7.2.22", "x.json"},
		{"trace", "--qemu", "10.0.13"},
	} {
		code, out, errOut := jobsim(t, args...)
		bad := ""
		for i, a := range args {
			if a == "--qemu" {
				bad = args[i+1]
			}
		}
		wantLine := "jobsim " + args[0] + ": --qemu: unknown QEMU version \"" + bad + "\" (jobfsm speaks 7.2, 10.0)\n"
		if code != exitUsage || errOut != wantLine || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d and %q", args, code, errOut, out, exitUsage, wantLine)
		}
	}
}

// explore: a config's QemuVersion picks the table, --qemu overrides it; the
// 10.0 configs count TLC's states (tla/README.md).
func TestExploreQemuFlag(t *testing.T) {
	type out struct {
		Qemu     string `json:"qemu"`
		Distinct int    `json:"distinct_states"`
		Depth    int    `json:"depth"`
	}
	for _, c := range []struct {
		args []string
		want out
	}{
		{[]string{"--config", "../../tla/MC_txn_10_0.cfg"}, out{"10.0", 28588, 17}},
		{[]string{"--config", "../../tla/MC_txn.cfg"}, out{"7.2", 28588, 17}},
		{[]string{"--config", "../../tla/MC_txn.cfg", "--qemu", "10.0"}, out{"10.0", 28588, 17}},
		{[]string{"--config", "../../tla/MC_small_10_0.cfg", "--qemu", "7.2"}, out{"7.2", 2653, 19}},
	} {
		code, o, errOut := jobsim(t, append([]string{"explore", "--format", "json"}, c.args...)...)
		var got out
		if code != exitOK || json.Unmarshal([]byte(o), &got) != nil || got != c.want {
			t.Errorf("%v: exit %d (%s), got %+v, want %+v", c.args, code, errOut, got, c.want)
		}
	}
	code, o, _ := jobsim(t, "explore", "--config", "../../tla/MC_hang_10_0.cfg")
	if code != exitFailure || !strings.Contains(o, "(QEMU 10.0)") || !strings.Contains(o, "deadlock Deadlock violated") {
		t.Errorf("MC_hang_10_0: exit %d:\n%s", code, o)
	}
}

// check --qemu 10.0 explores 10.0's configs (the hang found as expected);
// the campaign, which runs at 7.2 only, must be turned off explicitly.
func TestCheckQemuFlag(t *testing.T) {
	code, out, errOut := jobsim(t, "check", "--qemu", "10.0", "--no-campaign")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, re := range []string{
		`over 3 model configs of QEMU 10\.0`,
		`MC_small_10_0\.cfg +2653 distinct states, depth 19: all hold`,
		`MC_txn_10_0\.cfg +28588 distinct states, depth 17: all hold`,
		`MC_hang_10_0\.cfg +\d+ distinct states, depth +3: Deadlock found as expected \(3-state trace\)`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
	if strings.Contains(out, "MC_small.cfg") {
		t.Errorf("check --qemu 10.0 ran a 7.2 config:\n%s", out)
	}
}

// check --qemu 10.0 runs the random campaign with sim and the model at
// 10.0: it passes, its summary names the version, and it is not 7.2's run
// under another name (10.0's block-job-change among the verbs changes what
// the same seed draws, and so the number of steps). 7.2's summary does not
// name a version, as before --qemu existed.
func TestCheckCampaignQemuFlag(t *testing.T) {
	args := []string{"check", "--no-explore", "--sequences", "20", "--steps", "30", "--seed", "7"}
	code10, out10, errOut := jobsim(t, append(args, "--qemu", "10.0")...)
	if code10 != exitOK {
		t.Fatalf("check --qemu 10.0: exit %d\n%s\n%s", code10, out10, errOut)
	}
	code72, out72, errOut := jobsim(t, args...)
	if code72 != exitOK {
		t.Fatalf("check at 7.2: exit %d\n%s\n%s", code72, out72, errOut)
	}
	re := regexp.MustCompile(`20 sequences of 30 random commands( of QEMU 10\.0)? \(seed 7\), (\d+) steps including drain-down`)
	m10, m72 := re.FindStringSubmatch(out10), re.FindStringSubmatch(out72)
	if m10 == nil || m10[1] == "" {
		t.Fatalf("check --qemu 10.0's summary does not name QEMU 10.0:\n%s", out10)
	}
	if m72 == nil || m72[1] != "" {
		t.Fatalf("check at 7.2's summary is not the one it always was:\n%s", out72)
	}
	if m10[2] == m72[2] {
		t.Errorf("10.0 and 7.2 campaigns took the same %s steps: was the campaign run at 10.0?", m10[2])
	}
}

// run --qemu 10.0 runs the scenario on a 10.0 manager. A job's cancel while
// running is the same on both versions (spec/qemu-10.0.md: no difference in
// this path), so the timelines are identical and the expectations hold.
func TestRunQemuFlag(t *testing.T) {
	path := writeFile(t, "s.json", cancelRunning)
	code72, out72, _ := jobsim(t, "run", "--format", "json", path)
	code10, out10, errOut := jobsim(t, "run", "--qemu", "10.0", "--format", "json", path)
	if code72 != exitOK || code10 != exitOK || out72 != out10 {
		t.Errorf("run --qemu 10.0: exit %d (%s); 7.2 exit %d; outputs equal: %v", code10, errOut, code72, out72 == out10)
	}
}

// trace: --qemu is the simulator's version, named in the trace's header
// (TraceJobLifecycle's QemuVersion picks the table from it).
func TestTraceQemuFlag(t *testing.T) {
	for version, want := range map[string]string{"": `"qemu":"7.2"}`, "7.2": `"qemu":"7.2"}`, "10.0": `"qemu":"10.0"}`} {
		args := []string{"trace", "--seed", "3", "--steps", "10"}
		if version != "" {
			args = append(args, "--qemu", version)
		}
		code, out, errOut := jobsim(t, args...)
		header, _, _ := strings.Cut(out, "\n")
		if code != exitOK || !strings.HasSuffix(header, want) {
			t.Errorf("%v: exit %d (%s), header %s; want it to end %s", args, code, errOut, header, want)
		}
	}
}
