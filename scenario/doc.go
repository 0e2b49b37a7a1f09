// Package scenario runs scripted command sequences against the simulator.
//
// A scenario is a JSON file: jobs driven by sim's scriptable test driver,
// created alone or in grouped transactions, and a list of steps named after
// the QMP commands they stand for (job-pause, block-job-cancel, …) plus
// simulator steps (start, drain-begin, advance, run, until). Each step may
// state the error it expects; the scenario may state the whole event log it
// expects. The lifecycle tests in sim/testdata and `jobsim run` use this
// format, so a newcomer can write a scenario, run it, and read its timeline.
//
// A scenario follows QEMU 7.2 unless it says "qemu": "10.0" (`jobsim run
// --qemu` overrides either). The version decides which steps are commands:
// block-job-change (with "type", default mirror, and a mirror's
// "copy_mode") exists at 10.0 only, and at 7.2 fails with QEMU's
// CommandNotFound text. Its arguments are checked when the file is parsed,
// at either version. A test-driver job answers it as a backup does ("Job
// type does not support change") unless its driver says "changeable": true.
//
//	{
//	  "name": "cancel-running",
//	  "jobs": {"j0": {"steps": 5}},
//	  "steps": [
//	    {"op": "create", "id": "j0"},
//	    {"op": "start", "id": "j0"},
//	    {"op": "advance", "ns": 1500000},
//	    {"op": "job-cancel", "id": "j0"},
//	    {"op": "run"}
//	  ],
//	  "events": ["j0 created", "j0 running", "j0 aborting",
//	             "BLOCK_JOB_CANCELLED j0", "j0 concluded", "j0 null"]
//	}
package scenario
