package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jobfsm/jobfsm/tracker"
)

func init() {
	register("tracker", "start backups and decide their outcome from a durable journal (backup, backup-group, status, watch)", runTracker)
}

const trackerUsage = `tracker --qmp SOCKET --journal FILE [--view FILE] COMMAND ...

commands:
  backup --job-id ID --device NODE --target NODE --sync full|top|none|incremental|bitmap
         [--bitmap NAME] [--bitmap-mode on-success|always|never] [--speed BYTES_PER_S]
      journal the intent, start the job, return once QEMU accepted it
  backup-group --backup SPEC [--backup SPEC ...]
      start several backups as one transaction with completion-mode grouped;
      SPEC is job-id=ID,device=NODE,target=NODE,sync=MODE[,bitmap=NAME][,bitmap-mode=MODE][,speed=N]
  status [--json] [--job ID]
      reconcile with QEMU (finalize, journal verdicts, dismiss), print the verdicts
  watch
      stay connected, show progress, reconnect with backoff, exit when every job is settled

--view FILE appends what the tracker saw and did (job events, commands,
connects, verdicts) as NDJSON; jobsim replay FILE draws it, one lane per job.`

func runTracker(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tracker", trackerUsage, stderr)
	sock := fs.String("qmp", "", "QMP Unix socket of qemu-storage-daemon or `jobsim qmp --socket`")
	journal := fs.String("journal", "", "the tracker's journal file (created if missing)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the QMP greeting")
	viewFile := fs.String("view", "", "append the tracker's view (events, commands, verdicts) to this NDJSON file for jobsim replay")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sock == "" || *journal == "" {
		return usageErr("--qmp and --journal are required")
	}
	if fs.NArg() == 0 {
		return usageErr("missing command (backup, backup-group, status, watch)")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	opts := tracker.Options{}
	// openView opens the view file; its write errors are reported after the
	// command did its work (the protocol never waits on its view)
	openView := func() (closeView func() error, err error) {
		if *viewFile == "" {
			return func() error { return nil }, nil
		}
		v, err := tracker.OpenView(*viewFile, nil)
		if err != nil {
			return nil, failure("%v", err)
		}
		opts.View = v
		return func() error {
			if err := v.Close(); err != nil {
				return failure("view %s: %v", *viewFile, err)
			}
			return nil
		}, nil
	}
	var do func(t *tracker.Tracker) error
	dial := func() (*tracker.Client, error) { return tracker.Dial(*sock, *timeout) }
	switch sub {
	case "backup":
		spec, err := parseBackupFlags(rest, stderr)
		if err != nil {
			return err
		}
		do = func(t *tracker.Tracker) error {
			if err := t.Backup(spec); err != nil {
				return err
			}
			_, err := fmt.Fprintf(stdout, "job %s started\n", spec.JobID)
			return err
		}
	case "backup-group":
		gfs := newFlagSet("tracker backup-group", "tracker ... backup-group --backup SPEC [--backup SPEC ...]", stderr)
		var specs specList
		gfs.Var(&specs, "backup", "one member: job-id=ID,device=NODE,target=NODE,sync=MODE[,bitmap=NAME][,bitmap-mode=MODE][,speed=N] (repeat)")
		if err := parseFlags(gfs, rest); err != nil {
			return err
		}
		if gfs.NArg() != 0 || len(specs) == 0 {
			return usageErr("backup-group takes one or more --backup SPEC and nothing else")
		}
		do = func(t *tracker.Tracker) error {
			if err := t.BackupGroup(specs); err != nil {
				return err
			}
			for _, s := range specs {
				if _, err := fmt.Fprintf(stdout, "job %s started\n", s.JobID); err != nil {
					return err
				}
			}
			return nil
		}
	case "status":
		sfs := newFlagSet("tracker status", "tracker ... status [--json] [--job ID]", stderr)
		asJSON := sfs.Bool("json", false, "print one JSON object on one line")
		only := sfs.String("job", "", "print only this tracked job")
		if err := parseFlagsOnly(sfs, rest); err != nil {
			return err
		}
		do = func(t *tracker.Tracker) error {
			if *only != "" {
				if _, ok := t.Journal().Job(*only); !ok {
					return failure("job '%s' is not tracked by this journal", *only)
				}
			}
			st, err := t.Reconcile()
			if err != nil {
				return err
			}
			if *only != "" {
				st = st.Only(*only)
			}
			return printStatus(stdout, st, *asJSON)
		}
	case "watch":
		if len(rest) != 0 {
			return usageErr("watch takes no arguments")
		}
		closeView, err := openView()
		if err != nil {
			return err
		}
		j, err := tracker.OpenJournal(*journal)
		if err != nil {
			closeView()
			return failure("%v", err)
		}
		defer j.Close()
		t := tracker.New(j, nil, opts)
		_, err = t.Watch(tracker.WatchOptions{Dial: dial, Out: stdout})
		if verr := closeView(); err == nil && verr != nil {
			return verr
		}
		if err != nil {
			return failure("%v", err)
		}
		return nil
	default:
		return usageErr("unknown tracker command %q (backup, backup-group, status, watch)", sub)
	}
	closeView, err := openView()
	if err != nil {
		return err
	}
	err = runTrackerCommand(*journal, dial, opts, sub != "status", do)
	if verr := closeView(); err == nil {
		err = verr
	}
	return err
}

// runTrackerCommand opens the journal, connects, reconciles first when
// asked to, and runs do.
func runTrackerCommand(journal string, dial func() (*tracker.Client, error), opts tracker.Options, reconcile bool, do func(t *tracker.Tracker) error) error {
	// validate the journal before touching QEMU: a bad journal changes
	// nothing anywhere
	j, err := tracker.OpenJournal(journal)
	if err != nil {
		return failure("%v", err)
	}
	defer j.Close()
	c, err := dial()
	if err != nil {
		return failure("%v", err)
	}
	defer c.Close()
	t := tracker.New(j, c, opts)
	if reconcile {
		// every connect reconciles first
		if _, err := t.Reconcile(); err != nil {
			return failure("%v", err)
		}
	}
	if err := do(t); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		var ue *tracker.UsageError
		if errors.As(err, &ue) {
			return usageErr("%v", err)
		}
		return failure("%v", err)
	}
	return nil
}

func parseBackupFlags(args []string, stderr io.Writer) (tracker.BackupSpec, error) {
	bfs := newFlagSet("tracker backup", "tracker ... backup --job-id ID --device NODE --target NODE --sync MODE [--bitmap NAME] [--bitmap-mode MODE] [--speed N]", stderr)
	var s tracker.BackupSpec
	backupFlags(bfs, &s)
	return s, parseFlagsOnly(bfs, args)
}

// backupFlags defines a backup's flags on fs: backup's flags and the keys of
// backup-group's --backup SPEC.
func backupFlags(fs *flag.FlagSet, s *tracker.BackupSpec) {
	fs.StringVar(&s.JobID, "job-id", "", "the job's id")
	fs.StringVar(&s.Device, "device", "", "source node")
	fs.StringVar(&s.Target, "target", "", "target node")
	fs.StringVar(&s.Sync, "sync", "", "full, top, none, incremental or bitmap")
	fs.StringVar(&s.Bitmap, "bitmap", "", "dirty bitmap on the source node")
	fs.StringVar(&s.BitmapMode, "bitmap-mode", "", "on-success, always or never")
	fs.Int64Var(&s.Speed, "speed", 0, "rate limit in bytes per second (0: none)")
}

// specList is backup-group's repeated --backup flag.
type specList []tracker.BackupSpec

func (l *specList) String() string { return fmt.Sprint(len(*l)) }

func (l *specList) Set(v string) error {
	var s tracker.BackupSpec
	keys := flag.NewFlagSet("backup", flag.ContinueOnError)
	backupFlags(keys, &s)
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", kv)
		}
		if keys.Lookup(k) == nil {
			var known []string
			keys.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
			return fmt.Errorf("unknown key %q (%s)", k, strings.Join(known, ", "))
		}
		if err := keys.Set(k, val); err != nil {
			return fmt.Errorf("%s %q is not an integer", k, val) // only speed can fail
		}
	}
	*l = append(*l, s)
	return nil
}

var _ flag.Value = (*specList)(nil)

func printStatus(w io.Writer, st tracker.Status, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, id := range st.SortedJobIDs() {
		j := st.Jobs[id]
		line := fmt.Sprintf("job %s: %s", id, j.Verdict)
		if j.Error != "" {
			line += ": " + j.Error
		}
		line += fmt.Sprintf(" (device %s, target %s, sync %s", j.Device, j.Target, j.Sync)
		if j.Bitmap != "" {
			line += ", bitmap " + j.Bitmap
		}
		fmt.Fprintln(w, line+")")
	}
	for _, k := range st.SortedBitmapKeys() {
		b := st.Bitmaps[k]
		fmt.Fprintf(w, "bitmap %s: %s: %s", k, b.Verdict, b.Reason)
		if len(b.Chain) > 0 {
			fmt.Fprintf(w, " (chain: %s)", strings.Join(b.Chain, " <- "))
		}
		fmt.Fprintln(w)
	}
	return nil
}
