package sim_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// VerbCommands are exactly QEMU 7.2's job-control commands; every name
// parses to its command and back; names QEMU 7.2 does not have do not parse.
func TestParseVerbCommand(t *testing.T) {
	names := []string{"job-cancel", "job-pause", "job-resume", "job-complete", "job-dismiss", "job-finalize",
		"block-job-cancel", "block-job-pause", "block-job-resume", "block-job-set-speed", "block-job-complete",
		"block-job-dismiss", "block-job-finalize"}
	var got []string
	for _, c := range sim.VerbCommands() {
		got = append(got, c.Name())
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Errorf("VerbCommands() names %v, want %v", got, want)
	}
	for _, n := range names {
		c, ok := sim.ParseVerbCommand(n)
		if !ok || c.Name() != n {
			t.Errorf("ParseVerbCommand(%q) = %+v, %v; its name is %q", n, c, ok, c.Name())
		}
	}
	for _, n := range []string{"job-set-speed", "block-job-change", "job-", "pause", "query-jobs", "block-job-"} {
		if c, ok := sim.ParseVerbCommand(n); ok {
			t.Errorf("ParseVerbCommand(%q) = %+v, want no command", n, c)
		}
	}
}

// At 10.0 the commands are 7.2's plus block-job-change (there is no
// job-change), which parses to the verb change; at 7.2 it does not parse.
func TestParseVerbCommandAt(t *testing.T) {
	names := map[fsm.Version][]string{
		fsm.QEMU7_2: {"block-job-cancel", "block-job-complete", "block-job-dismiss", "block-job-finalize", "block-job-pause",
			"block-job-resume", "block-job-set-speed", "job-cancel", "job-complete", "job-dismiss", "job-finalize", "job-pause", "job-resume"},
		fsm.QEMU10_0: {"block-job-cancel", "block-job-change", "block-job-complete", "block-job-dismiss", "block-job-finalize", "block-job-pause",
			"block-job-resume", "block-job-set-speed", "job-cancel", "job-complete", "job-dismiss", "job-finalize", "job-pause", "job-resume"},
	}
	for _, v := range fsm.Versions() {
		var got []string
		for _, c := range sim.VerbCommandsAt(v) {
			got = append(got, c.Name())
		}
		slices.Sort(got)
		if !slices.Equal(got, names[v]) {
			t.Errorf("VerbCommandsAt(%s) names %v, want %v", v, got, names[v])
		}
	}
	c, ok := sim.ParseVerbCommandAt(fsm.QEMU10_0, "block-job-change")
	if !ok || c.Verb != fsm.VerbChange || !c.IsBlock() {
		t.Errorf("ParseVerbCommandAt(10.0, block-job-change) = %+v, %v; want the verb change, a block-job command", c, ok)
	}
	for _, n := range []string{"job-change", "block-job-"} {
		if c, ok := sim.ParseVerbCommandAt(fsm.QEMU10_0, n); ok {
			t.Errorf("ParseVerbCommandAt(10.0, %q) = %+v, want no command", n, c)
		}
	}
	if c, ok := sim.ParseVerbCommandAt(fsm.QEMU7_2, "block-job-change"); ok {
		t.Errorf("ParseVerbCommandAt(7.2, block-job-change) = %+v, want no command", c)
	}
}

// Apply looks a job up as the command's family does and returns QEMU's
// texts and classes (reference §2.1, §2.2), the lookup before any verb
// check.
func TestApplyLookupsAndTexts(t *testing.T) {
	m := sim.New(sim.Options{})
	for _, s := range []sim.JobSpec{
		{ID: "b", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1000})},
		{ID: "c", Driver: sim.NewTestDriver(sim.TestSpec{Steps: 1000, Type: sim.TypeCreate})},
	} {
		j, err := m.Create(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(j); err != nil {
			t.Fatal(err)
		}
	}
	m.Settle()
	for _, c := range []struct {
		cmd         sim.VerbCommand
		class, desc string // desc "" is success
	}{
		{sim.VerbCommand{Verb: fsm.VerbPause, ID: "x"}, qerr.GenericError, "Job not found"},
		{sim.VerbCommand{Verb: fsm.VerbPause, Block: true, ID: "x"}, qerr.DeviceNotActive, "Block job 'x' not found"},
		{sim.VerbCommand{Verb: fsm.VerbSetSpeed, ID: "x", Speed: -1}, qerr.DeviceNotActive, "Block job 'x' not found"},
		{sim.VerbCommand{Verb: fsm.VerbFinalize, Block: true, ID: "c"}, qerr.DeviceNotActive, "Block job 'c' not found"},
		{sim.VerbCommand{Verb: fsm.VerbFinalize, ID: "c"}, qerr.GenericError, "Job 'c' in state 'running' cannot accept command verb 'finalize'"},
		{sim.VerbCommand{Verb: fsm.VerbSetSpeed, ID: "b", Speed: -1}, qerr.GenericError, "Parameter 'speed' expects a non-negative value"},
		{sim.VerbCommand{Verb: fsm.VerbResume, Block: true, ID: "b"}, qerr.GenericError, "Can't resume a job that was not paused"},
		{sim.VerbCommand{Verb: fsm.VerbPause, ID: "b"}, "", ""},
		{sim.VerbCommand{Verb: fsm.VerbPause, Block: true, ID: "b"}, qerr.GenericError, "Job is already paused"},
		{sim.VerbCommand{Verb: fsm.VerbCancel, Block: true, ID: "b"}, qerr.GenericError, "The block job for device 'b' is currently paused"},
		// job-cancel always forces, whatever Force says.
		{sim.VerbCommand{Verb: fsm.VerbCancel, ID: "b"}, "", ""},
	} {
		err := m.Apply(c.cmd)
		if c.desc == "" {
			if err != nil {
				t.Errorf("%s %s: %v, want success", c.cmd.Name(), c.cmd.ID, err)
			}
			continue
		}
		if err == nil || err.Error() != c.desc || qerr.ClassOf(err) != c.class {
			t.Errorf("%s %s: %v (%s), want %s %q", c.cmd.Name(), c.cmd.ID, err, qerr.ClassOf(err), c.class, c.desc)
		}
	}
	var ve *fsm.VerbError
	if err := m.Apply(sim.VerbCommand{Verb: fsm.VerbComplete, ID: "c"}); !errors.As(err, &ve) {
		t.Errorf("job-complete on a running job: %v, want a *fsm.VerbError", err)
	}
}
