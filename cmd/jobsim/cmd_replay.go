package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jobfsm/jobfsm/timeline"
)

func init() { register("replay", "render the timeline of a recorded trace or event log", runReplay) }

func runReplay(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", "replay [--format text|json|svg|html] TRACE\n\n"+
		"TRACE is NDJSON of sim trace records (the Tracer option's output) or of\n"+
		"events, or a JSON object with an \"events\" array (jobsim run --format json,\n"+
		"a QEMU transcript from qemu-transcripts/). \"-\" reads standard input.", stderr)
	format := timelineFormatFlag(fs)
	name, err := parseTimelineFlags(fs, args, format, "trace file")
	if err != nil {
		return err
	}
	var data []byte
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, timeline.MaxLogSize+1))
	} else {
		data, err = readLimited(name, timeline.MaxLogSize)
	}
	if err != nil {
		return inputErr("%v", err)
	}
	r, err := timeline.Load(data)
	if err != nil {
		return inputErr("%s: %v", name, err)
	}
	if r.Title == "" {
		r.Title = filepath.Base(name)
	}
	return writeTimeline(stdout, *format, r, 0, nil)
}

// readLimited reads a file, refusing one larger than limit bytes.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return data, nil
}
